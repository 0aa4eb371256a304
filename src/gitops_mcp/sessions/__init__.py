"""Wizard sessions: the pure state machine (flow), models and the stores (SQLite, Redis)."""
