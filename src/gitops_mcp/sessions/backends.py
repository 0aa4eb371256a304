"""The session store the settings choose: SQLite (embedded, the default) or Redis (replicas)."""

from __future__ import annotations

from gitops_mcp.sessions.sqlite_store import SqliteSessionStore
from gitops_mcp.sessions.store import SessionStore
from gitops_mcp.settings import Settings


def open_store(settings: Settings) -> SessionStore:
    """GITOPS_MCP_SESSION_STORE=redis://... or rediss://... -> Redis; unset or 'sqlite' -> the SQLite
    file GITOPS_MCP_SESSION_DB (default <state_dir>/sessions.db). Opening Redis does not connect."""
    target = settings.redis_target
    if target is None:
        return SqliteSessionStore(settings.session_db_path, settings.session_ttl_seconds)
    from gitops_mcp.sessions.redis_store import RedisSessionStore

    return RedisSessionStore(target, settings.session_ttl_seconds, timeout=settings.redis_timeout_seconds)
