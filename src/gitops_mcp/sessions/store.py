"""Session persistence: SQLite (WAL), one transaction per transition, expiry by TTL.

Sessions are keyed by an unguessable id *and* their owner: a caller never sees, changes or
learns of another caller's session (a wrong owner looks exactly like a missing id).
"""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from gitops_mcp.errors import GitOpsError, NotFoundError
from gitops_mcp.sessions.models import SessionState, SessionSummary

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


class ConcurrentUpdateError(GitOpsError):
    """The session changed while this call was working on it."""


def new_session_id() -> str:
    return "s_" + secrets.token_urlsafe(24)


class SessionStore:
    """SQLite-backed store. Thread-safe; one connection per thread."""

    def __init__(self, path: Path, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.ttl = ttl_seconds
        self.clock = clock
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = self._conn()
        db.executescript(_SCHEMA)
        if "summary" not in {row[1] for row in db.execute("PRAGMA table_info(sessions)")}:
            db.execute("ALTER TABLE sessions ADD COLUMN summary TEXT")  # stores from before summaries
        with suppress(OSError):
            path.chmod(0o600)

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
        state = state.model_copy(
            update={"created_at": now, "updated_at": now, "expires_at": now + self.ttl, "version": 1}
        )
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO sessions (id, owner, created_at, updated_at, expires_at, version, data, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (state.id, state.owner, now, now, state.expires_at, 1, state.model_dump_json(), _summary(state)),
            )
        return state

    def get(self, session_id: str, owner: str) -> SessionState:
        row = (
            self._conn()
            .execute(
                "SELECT data FROM sessions WHERE id = ? AND owner = ? AND expires_at > ?",
                (session_id, owner, self.clock()),
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError(
                f"no session {session_id!r} (it never existed, expired, or belongs to another caller); "
                "start a new one with start_deployment"
            )
        return SessionState.model_validate_json(row[0])

    def save(self, state: SessionState) -> SessionState:
        """Store a transition; fails if someone else stored one since ``state`` was read."""
        now = self.clock()
        new = state.model_copy(update={"updated_at": now, "expires_at": now + self.ttl, "version": state.version + 1})
        with self._tx() as db:
            cur = db.execute(
                "UPDATE sessions SET updated_at = ?, expires_at = ?, version = ?, data = ?, summary = ? "
                "WHERE id = ? AND owner = ? AND version = ?",
                (
                    now,
                    new.expires_at,
                    new.version,
                    new.model_dump_json(),
                    _summary(new),
                    state.id,
                    state.owner,
                    state.version,
                ),
            )
            if cur.rowcount != 1:
                raise ConcurrentUpdateError(
                    f"session {state.id} was changed by another call at the same time; read it again with "
                    "get_session and retry"
                )
        return new

    def delete(self, session_id: str, owner: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE id = ? AND owner = ?", (session_id, owner)).rowcount == 1

    def list(self, owner: str, limit: int = 50) -> list[SessionState]:
        rows = (
            self._conn()
            .execute(
                "SELECT data FROM sessions WHERE owner = ? AND expires_at > ? ORDER BY updated_at DESC LIMIT ?",
                (owner, self.clock(), limit),
            )
            .fetchall()
        )
        return [SessionState.model_validate_json(r[0]) for r in rows]

    def summaries(self, owner: str, limit: int = 50) -> builtins.list[SessionSummary]:
        """The caller's sessions, newest first, read from the summary column (not the whole state)."""
        rows = (
            self._conn()
            .execute(
                "SELECT id, updated_at, expires_at, summary, CASE WHEN summary IS NULL THEN data END "
                "FROM sessions WHERE owner = ? AND expires_at > ? ORDER BY updated_at DESC LIMIT ?",
                (owner, self.clock(), limit),
            )
            .fetchall()
        )
        out: builtins.list[SessionSummary] = []
        for sid, updated, expires, summary, data in rows:
            fields = json.loads(summary) if summary else json.loads(_summary(SessionState.model_validate_json(data)))
            out.append(SessionSummary(session_id=sid, updated_at=updated, expires_at=expires, **fields))
        return out


def _summary(state: SessionState) -> str:
    """What list_sessions shows of a session, stored beside it so that listing parses no state."""
    a = state.answers
    return json.dumps(
        {
            "status": state.status,
            "step": state.step,
            "app_name": a.get("app_name"),
            "provider": a.get("provider"),
            "package": a.get("package"),
        }
    )
