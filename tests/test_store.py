"""The SQLite session store: persistence, ownership, expiry, concurrent transitions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gitops_mcp.errors import NotFoundError
from gitops_mcp.sessions.models import SessionContext, SessionState
from gitops_mcp.sessions.store import ConcurrentUpdateError, SessionStore, new_session_id


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def state(owner: str = "me") -> SessionState:
    return SessionState(
        id=new_session_id(), owner=owner, created_at=0, updated_at=0, expires_at=0, context=SessionContext()
    )


def test_roundtrip_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = SessionStore(db, 3600)
    s = store.create(state())
    s.answers["package"] = "charts/x"
    store.save(s)
    store.close()
    again = SessionStore(db, 3600).get(s.id, "me")
    assert again.answers == {"package": "charts/x"} and again.version == 2
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_ids_are_unguessable() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) >= 32 for i in ids)


def test_owner_isolation(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db", 3600)
    s = store.create(state("alice"))
    with pytest.raises(NotFoundError):
        store.get(s.id, "bob")
    assert store.list("bob") == [] and not store.delete(s.id, "bob")
    assert [x.id for x in store.list("alice")] == [s.id]


def test_expiry(tmp_path: Path) -> None:
    clock = Clock()
    store = SessionStore(tmp_path / "s.db", 60, clock)
    s = store.create(state())
    clock.now += 59
    store.save(store.get(s.id, "me"))  # activity extends the TTL
    clock.now += 59
    assert store.get(s.id, "me")
    clock.now += 61
    with pytest.raises(NotFoundError, match="expired"):
        store.get(s.id, "me")
    assert store.purge_expired() == 1


def test_concurrent_transition_is_detected(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db", 3600)
    s = store.create(state())
    a, b = store.get(s.id, "me"), store.get(s.id, "me")
    store.save(a)
    with pytest.raises(ConcurrentUpdateError):
        store.save(b)


def test_summaries_come_from_their_own_column_and_old_stores_still_list(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    clock = Clock()
    store = SessionStore(db, 3600, clock)
    a = store.create(state())
    a.answers.update(app_name="web", provider="flux", package="charts/web")
    a.step = "preview"
    a = store.save(a)
    clock.now += 1
    b = store.create(state())
    store.create(state(owner="other"))
    got = store.summaries("me")
    assert [s.session_id for s in got] == [b.id, a.id]
    assert (got[1].app_name, got[1].provider, got[1].package, got[1].step) == ("web", "flux", "charts/web", "preview")
    store.close()
    # A store written before the summary column existed: the column is added, rows without one still list.
    conn = sqlite3.connect(db)
    conn.execute("UPDATE sessions SET summary = NULL")
    conn.commit()
    conn.close()
    again = SessionStore(db, 3600, clock).summaries("me")
    assert [(s.session_id, s.app_name) for s in again] == [(b.id, None), (a.id, "web")]
    legacy = tmp_path / "legacy.db"
    conn = sqlite3.connect(legacy)
    conn.execute(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at REAL NOT NULL, "
        "updated_at REAL NOT NULL, expires_at REAL NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL)"
    )
    old = state()
    conn.execute(
        "INSERT INTO sessions VALUES (?, 'me', 1, 1, ?, 1, ?)", (old.id, clock.now + 100, old.model_dump_json())
    )
    conn.commit()
    conn.close()
    assert [s.session_id for s in SessionStore(legacy, 3600, clock).summaries("me")] == [old.id]
