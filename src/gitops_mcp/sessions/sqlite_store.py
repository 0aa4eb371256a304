"""The embedded session store: one SQLite file (WAL), one transaction per transition, expiry by TTL."""

from __future__ import annotations

import builtins
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from gitops_mcp.errors import StoreUnavailable
from gitops_mcp.sessions.models import SessionState, SessionSummary
from gitops_mcp.sessions.store import (
    conflict,
    created,
    not_found,
    state_json,
    summary,
    summary_json,
    transitioned,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    summary TEXT
);
CREATE INDEX IF NOT EXISTS sessions_owner ON sessions(owner, updated_at);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions(expires_at);
"""


class SqliteSessionStore:
    """SQLite-backed store (the default). Thread-safe; one connection per thread."""

    local = True

    def __init__(self, path: Path, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.ttl = ttl_seconds
        self.clock = clock
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = self._conn()
            db.executescript(_SCHEMA)
            if "summary" not in {row[1] for row in db.execute("PRAGMA table_info(sessions)")}:
                db.execute("ALTER TABLE sessions ADD COLUMN summary TEXT")  # stores from before summaries
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"session store unavailable: cannot open {path} ({exc})") from None
        with suppress(OSError):
            path.chmod(0o600)

    def describe(self) -> str:
        return f"SQLite {self.path}"

    def __repr__(self) -> str:
        return f"SqliteSessionStore({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- operations -----------------------------------------------------------------------------
    def purge_expired(self) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE expires_at <= ?", (self.clock(),)).rowcount

    def create(self, state: SessionState) -> SessionState:
        now = self.clock()
        state = created(state, now, self.ttl)
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO sessions (id, owner, created_at, updated_at, expires_at, version, data, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    state.id,
                    state.principal,
                    now,
                    now,
                    state.expires_at,
                    1,
                    state_json(state),
                    summary_json(state),
                ),
            )
        return state

    def get(self, session_id: str, principal: str) -> SessionState:
        row = (
            self._conn()
            .execute(
                "SELECT data FROM sessions WHERE id = ? AND owner = ? AND expires_at > ?",
                (session_id, principal, self.clock()),
            )
            .fetchone()
        )
        if row is None:
            raise not_found(session_id)
        return SessionState.model_validate_json(row[0])

    def save(self, state: SessionState) -> SessionState:
        """Store a transition; fails if someone else stored one since ``state`` was read."""
        now = self.clock()
        new = transitioned(state, now, self.ttl)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE sessions SET updated_at = ?, expires_at = ?, version = ?, data = ?, summary = ? "
                "WHERE id = ? AND owner = ? AND version = ?",
                (
                    now,
                    new.expires_at,
                    new.version,
                    state_json(new),
                    summary_json(new),
                    state.id,
                    state.principal,
                    state.version,
                ),
            )
            if cur.rowcount != 1:
                raise conflict(state.id)
        return new

    def delete(self, session_id: str, principal: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE id = ? AND owner = ?", (session_id, principal)).rowcount == 1

    def list(self, principal: str, limit: int = 50) -> builtins.list[SessionState]:
        rows = (
            self._conn()
            .execute(
                "SELECT data FROM sessions WHERE owner = ? AND expires_at > ? ORDER BY updated_at DESC LIMIT ?",
                (principal, self.clock(), limit),
            )
            .fetchall()
        )
        return [SessionState.model_validate_json(r[0]) for r in rows]

    def summaries(self, principal: str, limit: int = 50) -> builtins.list[SessionSummary]:
        """The caller's sessions, newest first, read from the summary column (not the whole state)."""
        rows = (
            self._conn()
            .execute(
                "SELECT id, updated_at, expires_at, summary, CASE WHEN summary IS NULL THEN data END "
                "FROM sessions WHERE owner = ? AND expires_at > ? ORDER BY updated_at DESC LIMIT ?",
                (principal, self.clock(), limit),
            )
            .fetchall()
        )
        return [
            summary(sid, updated, expires, fields or summary_json(SessionState.model_validate_json(data)))
            for sid, updated, expires, fields, data in rows
        ]
