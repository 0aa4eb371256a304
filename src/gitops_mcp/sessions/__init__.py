"""Wizard sessions: the pure state machine (flow), models and the SQLite store."""
