"""The session store contract, run against both stores (SQLite, and Redis on a real redis-server):
persistence, ownership, expiry, one atomic versioned transition. Store-specific checks after."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from doubles.redis_server import RedisServer
from gitops_mcp.errors import NotFoundError
from gitops_mcp.sessions.models import SessionContext, SessionState
from gitops_mcp.sessions.redis_store import RedisSessionStore
from gitops_mcp.sessions.sqlite_store import SqliteSessionStore
from gitops_mcp.sessions.store import ConcurrentUpdateError, SessionStore, new_session_id
from gitops_mcp.settings import parse_redis_url


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def state(principal: str = "me") -> SessionState:
    return SessionState(
        id=new_session_id(), principal=principal, created_at=0, updated_at=0, expires_at=0, context=SessionContext()
    )


MakeStore = Callable[..., SessionStore]


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """``make_store(ttl, clock)``: a store; called again, another store on the same storage."""
    opened: list[SessionStore] = []
    prefix = f"t-{new_session_id()}:"  # every test its own keys on the module's redis-server

    def make(ttl: int = 3600, clock: Callable[[], float] | None = None) -> SessionStore:
        kw: dict[str, Any] = {"clock": clock} if clock else {}
        if request.param == "sqlite":
            store: SessionStore = SqliteSessionStore(tmp_path / "s.db", ttl, **kw)
        else:
            srv: RedisServer = request.getfixturevalue("redis_server")
            store = RedisSessionStore(parse_redis_url(srv.url), ttl, prefix=prefix, **kw)
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


# -- the contract -------------------------------------------------------------------------------------
def test_roundtrip_and_reopen(make_store: MakeStore) -> None:
    store = make_store()
    s = store.create(state())
    assert s.version == 1 and s.expires_at == s.created_at + 3600
    s.answers["package"] = "charts/x"
    store.save(s)
    store.close()
    again = make_store().get(s.id, "me")
    assert again.answers == {"package": "charts/x"} and again.version == 2


def test_ids_are_unguessable() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) >= 32 for i in ids)


def test_owner_isolation(make_store: MakeStore) -> None:
    store = make_store()
    s = store.create(state("alice"))
    with pytest.raises(NotFoundError) as missing:
        store.get(s.id, "bob")
    unknown = new_session_id()
    with pytest.raises(NotFoundError) as never:
        store.get(unknown, "bob")
    assert str(missing.value) == str(never.value).replace(unknown, s.id)  # a wrong owner reads as a missing id
    assert store.list("bob") == [] and store.summaries("bob") == [] and not store.delete(s.id, "bob")
    stolen = s.model_copy(update={"principal": "bob"})
    with pytest.raises(ConcurrentUpdateError):
        store.save(stolen)
    assert [x.id for x in store.list("alice")] == [s.id]
    assert store.get(s.id, "alice").version == 1


def test_expiry(make_store: MakeStore) -> None:
    clock = Clock()
    store = make_store(60, clock)
    s = store.create(state())
    clock.now += 59
    store.save(store.get(s.id, "me"))  # activity extends the TTL
    clock.now += 59
    assert store.get(s.id, "me")
    clock.now += 61
    with pytest.raises(NotFoundError, match="expired"):
        store.get(s.id, "me")
    assert store.list("me") == [] and store.summaries("me") == []


def test_concurrent_transition_is_detected(make_store: MakeStore) -> None:
    store = make_store()
    s = store.create(state())
    a, b = store.get(s.id, "me"), store.get(s.id, "me")
    a.answers["namespace"] = "a"
    b.answers["namespace"] = "b"
    store.save(a)
    with pytest.raises(ConcurrentUpdateError, match="changed by another call"):
        store.save(b)
    assert store.get(s.id, "me").answers == {"namespace": "a"}


def test_one_writer_wins_among_threads(make_store: MakeStore) -> None:
    store, other = make_store(), make_store()  # two stores on one storage: two replicas
    s = store.create(state())
    read = [st.get(s.id, "me") for st in (store, other) * 4]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(read))

    def write(i: int) -> None:
        read[i].answers["app_name"] = f"w{i}"
        barrier.wait(10)
        try:
            (store if i % 2 == 0 else other).save(read[i])
            outcomes.append(f"w{i}")
        except ConcurrentUpdateError:
            outcomes.append("lost")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(read))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [o for o in outcomes if o != "lost"]
    assert len(outcomes) == len(read) and len(winners) == 1
    got = other.get(s.id, "me")
    assert got.version == 2 and got.answers == {"app_name": winners[0]}


def test_delete(make_store: MakeStore) -> None:
    store = make_store()
    s = store.create(state())
    assert store.delete(s.id, "me") and not store.delete(s.id, "me")
    with pytest.raises(NotFoundError):
        store.get(s.id, "me")
    assert store.list("me") == [] and store.summaries("me") == []


def test_summaries_newest_first_with_limit(make_store: MakeStore) -> None:
    clock = Clock()
    store = make_store(3600, clock)
    a = store.create(state())
    a.answers.update(app_name="web", provider="flux", package="charts/web")
    a.step = "preview"
    clock.now += 1
    b = store.create(state())
    store.create(state(principal="other"))
    clock.now += 1
    a = store.save(a)  # the most recently updated comes first
    got = store.summaries("me")
    assert [s.session_id for s in got] == [a.id, b.id]
    assert (got[0].app_name, got[0].provider, got[0].package, got[0].step) == ("web", "flux", "charts/web", "preview")
    assert (got[0].updated_at, got[0].expires_at, got[0].status) == (clock.now, clock.now + 3600, "open")
    assert [s.id for s in store.list("me")] == [a.id, b.id]
    assert [s.session_id for s in store.summaries("me", limit=1)] == [a.id]
    many = [store.create(state("crowd")).id for _ in range(120)]  # more than one page of the index
    assert {s.session_id for s in store.summaries("crowd", limit=200)} == set(many)
    assert len(store.list("crowd", limit=70)) == 70


# -- SQLite only -----------------------------------------------------------------------------------------
def test_sqlite_file_is_wal_private_and_purged(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    clock = Clock()
    store = SqliteSessionStore(db, 60, clock)
    store.create(state())
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    clock.now += 61
    assert store.purge_expired() == 1
    assert sqlite3.connect(db).execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_sqlite_stores_from_before_summaries_still_list(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    clock = Clock()
    store = SqliteSessionStore(db, 3600, clock)
    a = store.create(state())
    a.answers.update(app_name="web")
    a = store.save(a)
    clock.now += 1
    b = store.create(state())
    store.close()
    # A store written before the summary column existed: the column is added, rows without one still list.
    conn = sqlite3.connect(db)
    conn.execute("UPDATE sessions SET summary = NULL")
    conn.commit()
    conn.close()
    again = SqliteSessionStore(db, 3600, clock).summaries("me")
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
    assert [s.session_id for s in SqliteSessionStore(legacy, 3600, clock).summaries("me")] == [old.id]


def test_sessions_stored_by_older_versions_still_load() -> None:
    """The caller is the session's ``principal``; what older versions stored says ``owner``."""
    old = state("alice").model_dump(mode="json")
    old["owner"] = old.pop("principal")
    assert SessionState.model_validate(old).principal == "alice"
    assert "owner" not in state("alice").model_dump()
