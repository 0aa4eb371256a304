"""The Redis session store on a real redis-server: key TTLs (Redis expires sessions, no sweeper),
credentials that never show, one clear error when Redis is down (the other tools keep working),
reconnecting after a restart with the sessions kept, and concurrent answers from two replicas."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from doubles.mcp_server import free_port
from doubles.redis_server import RedisServer, make_tls
from gitops_mcp.errors import NotFoundError, StoreUnavailable
from gitops_mcp.services import Services
from gitops_mcp.sessions.backends import open_store
from gitops_mcp.sessions.models import SessionContext, SessionState
from gitops_mcp.sessions.redis_store import PAGE, RedisSessionStore
from gitops_mcp.sessions.sqlite_store import SqliteSessionStore
from gitops_mcp.sessions.store import new_session_id
from gitops_mcp.settings import Settings, parse_redis_url

PASSWORD = "redis-pw-5e0c1d9a7b3f"


def state(principal: str = "me") -> SessionState:
    return SessionState(
        id=new_session_id(), principal=principal, created_at=0, updated_at=0, expires_at=0, context=SessionContext()
    )


def settings_for(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(
        allowed_roots=[tmp_path], state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", allowed_git_hosts=[], **kw
    )


def test_store_is_chosen_by_settings(tmp_path: Path, redis_server: RedisServer) -> None:
    assert isinstance(open_store(settings_for(tmp_path)), SqliteSessionStore)
    assert isinstance(open_store(settings_for(tmp_path, session_store="sqlite")), SqliteSessionStore)
    s = settings_for(tmp_path, session_store=redis_server.url)
    store = open_store(s)
    assert isinstance(store, RedisSessionStore) and store.describe() == f"Redis {redis_server.url}"
    assert s.http_stateless and not settings_for(tmp_path).http_stateless
    assert not settings_for(tmp_path, session_store=redis_server.url, stateless_http=False).http_stateless


def test_key_ttl_is_the_session_ttl_and_every_save_restarts_it(redis_server: RedisServer) -> None:
    store = RedisSessionStore(parse_redis_url(redis_server.url), 600, prefix="ttl:")
    r: Any = redis_server.client(decode_responses=True)
    s = store.create(state())
    (key,) = r.keys(f"ttl:*:s:{s.id}")
    index = key.replace(f":s:{s.id}", ":index")
    assert 590_000 < r.pttl(key) <= 600_000 and 590_000 < r.pttl(index) <= 600_000
    r.pexpire(key, 5_000)
    r.pexpire(index, 5_000)
    store.save(store.get(s.id, "me"))
    assert 590_000 < r.pttl(key) <= 600_000 and 590_000 < r.pttl(index) <= 600_000
    assert r.hget(key, "owner") == "me" and r.hget(key, "version") == "2"


def test_redis_itself_expires_idle_sessions(redis_server: RedisServer) -> None:
    store = RedisSessionStore(parse_redis_url(redis_server.url), 1, prefix="exp:")
    r: Any = redis_server.client(decode_responses=True)
    s = store.create(state())
    keep = RedisSessionStore(parse_redis_url(redis_server.url), 3600, prefix="exp:").create(state())
    (key,) = r.keys(f"exp:*:s:{s.id}")
    assert 0 < r.pttl(key) <= 1000  # the store gave the key its TTL; shortened so the test does not wait it out
    r.pexpire(key, 20)
    deadline = time.monotonic() + 10
    while r.exists(key) and time.monotonic() < deadline:  # Redis removes the key: nothing of ours sweeps
        time.sleep(0.05)
    assert not r.exists(key)
    index = key.replace(f":s:{s.id}", ":index")
    assert r.zscore(index, s.id) is not None  # the index still names it ...
    assert [x.session_id for x in store.summaries("me")] == [keep.id]
    assert r.zscore(index, s.id) is None  # ... until a listing drops it
    with pytest.raises(NotFoundError):
        store.get(s.id, "me")


def test_a_listing_reads_each_page_in_one_round_trip(redis_server: RedisServer) -> None:
    """Ids and fields of a page come in one reply, and a short page is the last: a worker thread
    waits for the GIL again after each round trip (start_deployment counts its caller's sessions)."""
    ticks = itertools.count(1_000_000.0)  # one tick a call: the newest first, no two at the same time
    store = RedisSessionStore(
        parse_redis_url(redis_server.url), 3600, lambda: next(ticks), prefix=f"rt-{new_session_id()}:"
    )
    made = [store.create(state("many")).id for _ in range(2 * PAGE + 20)]
    one = store.create(state("one")).id
    store.summaries("none")  # the script is loaded (a first call may find Redis without it)
    sent: list[str] = []
    real = store._redis.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        sent.append(str(args[0]))
        return real(*args, **kwargs)

    store._redis.execute_command = counted  # type: ignore[method-assign]
    assert [s.session_id for s in store.summaries("many", 1 << 30)] == made[::-1]
    assert sent == ["EVALSHA"] * 3  # 50, 50, then 20: no fourth call to find the end
    sent.clear()
    assert [s.id for s in store.list("many", limit=PAGE + 10)] == made[::-1][: PAGE + 10] and len(sent) == 2
    sent.clear()
    assert [s.session_id for s in store.summaries("one")] == [one] and sent == ["EVALSHA"]
    sent.clear()
    assert store.summaries("none") == [] and sent == ["EVALSHA"]


def test_password_from_the_url_or_the_environment_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with RedisServer(tmp_path / "redis", password=PASSWORD) as srv:
        bare = f"redis://127.0.0.1:{srv.port}/0"
        in_url = settings_for(tmp_path, session_store=f"redis://:{PASSWORD}@127.0.0.1:{srv.port}/0")
        monkeypatch.setenv("GITOPS_MCP_SESSION_STORE", bare)
        monkeypatch.setenv("GITOPS_MCP_REDIS_PASSWORD", PASSWORD)
        from_env = Settings()
        shown: list[str] = []
        for s in (in_url, from_env):
            assert PASSWORD in s.secret_values()  # the scrubber masks it wherever it would appear
            store = open_store(s)
            made = store.create(state())
            assert store.get(made.id, "me").id == made.id
            shown += [repr(s), str(s.model_dump()), repr(store), store.describe(), repr(s.redis_target)]
        errors: list[str] = []
        for url in (bare, f"redis://:wrong-{PASSWORD}@127.0.0.1:{srv.port}/0"):
            with pytest.raises(StoreUnavailable) as exc:
                RedisSessionStore(parse_redis_url(url), 60).get("s_x", "me")
            errors.append(str(exc.value))
        assert f"Redis at 127.0.0.1:{srv.port} requires a password; give it in" in errors[0]
        assert "refused the credentials" in errors[1] and f"127.0.0.1:{srv.port}" in errors[1]
    with pytest.raises(ValidationError) as bad:
        Settings(session_store=f"http://:{PASSWORD}@127.0.0.1:1/0")
    for text in [*shown, *errors, str(bad.value), caplog.text]:
        assert PASSWORD not in text and PASSWORD[:10] not in text, text


def test_rediss_speaks_tls_and_verifies_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = make_tls(tmp_path / "tls")
    with RedisServer(tmp_path / "redis", password=PASSWORD, tls=tls) as srv:
        url = f"rediss://:{PASSWORD}@127.0.0.1:{srv.port}/0"
        with pytest.raises(StoreUnavailable) as untrusted:  # a certificate of a CA nobody trusts: refused
            RedisSessionStore(parse_redis_url(url), 60).get("s_x", "me")
        assert f"cannot reach Redis at 127.0.0.1:{srv.port}" in str(untrusted.value)
        assert "certificate verify failed" in str(untrusted.value) and PASSWORD not in str(untrusted.value)
        monkeypatch.setenv("SSL_CERT_FILE", str(tls[2]))  # the private CA trusted, as in a cluster
        store = open_store(settings_for(tmp_path, session_store=url))
        assert store.describe() == f"Redis rediss://127.0.0.1:{srv.port}/0"
        s = store.create(state())
        assert store.get(s.id, "me").id == s.id
        with pytest.raises(StoreUnavailable, match="cannot reach Redis"):  # plain text on the TLS port
            RedisSessionStore(parse_redis_url(url.replace("rediss", "redis")), 60, timeout=2).get("s_x", "me")


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://127.0.0.1:6379", "must be 'sqlite' or redis://"),
        ("redis://127.0.0.1:notaport/0", "not a valid URL"),
        ("redis:///0", "names no host"),
        ("redis://127.0.0.1:6379/zero", "database after the host must be a number"),
        ("redis://127.0.0.1:6379/0?password=x", "no query"),
    ],
)
def test_settings_refuse_bad_store_urls(url: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(session_store=url)


def test_redis_down_is_one_clear_error_and_other_tools_keep_working(
    tmp_path: Path, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    port = free_port()  # nothing listens there
    app = Services(settings_for(tmp_path, session_store=f"redis://:{PASSWORD}@127.0.0.1:{port}/0"))
    try:
        assert app.inspect.detect(str(repo)).packages  # needs no session
        expected = (
            f"session store unavailable: cannot reach Redis at 127.0.0.1:{port} (Connection refused); "
            "the session tools need it, the other tools still work"
        )
        for call in (
            lambda: app.wizard.start("me", str(repo)),
            lambda: app.wizard.list_sessions("me"),
            lambda: app.wizard.get("me", "s_x"),
            lambda: app.wizard.answer("me", "s_x", {"namespace": "x"}),
            lambda: app.wizard.cancel("me", "s_x"),
        ):
            with pytest.raises(StoreUnavailable) as exc:
                call()
            assert str(exc.value) == expected
    finally:
        app.close()


def test_a_restarted_redis_keeps_sessions_and_the_store_reconnects(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis", persist=True) as srv:
        store = RedisSessionStore(parse_redis_url(srv.url), 3600)
        s = store.create(state())
        s.answers["namespace"] = "web"
        store.save(s)
        srv.kill()
        with pytest.raises(StoreUnavailable, match="cannot reach Redis"):
            store.get(s.id, "me")
        srv.start()
        got = store.get(s.id, "me")  # the same store (its pooled connections died with Redis)
        assert got.answers == {"namespace": "web"} and got.version == 2


def test_concurrent_answers_on_two_replicas_lose_nothing(
    tmp_path: Path, redis_server: RedisServer, fixture_repo: Callable[..., Path]
) -> None:
    """Replica A reads the session; before it stores its answer, replica B stores another. A's
    save is refused (optimistic locking), A reads again and applies its answer on top of B's."""
    repo = fixture_repo("podinfo")
    a = Services(settings_for(tmp_path, session_store=redis_server.url))
    b = Services(settings_for(tmp_path, session_store=redis_server.url))
    try:
        view = a.wizard.start("me", str(repo), answers={"package": "charts/podinfo", "provider": "flux"})
        assert view.step == "common"
        real_save = a.shared.store.save
        saves: list[int] = []

        def save_after_b(new: SessionState) -> SessionState:
            if not saves:
                b.wizard.answer("me", view.session_id, {"app_name": "from-b"})
            saves.append(new.version)
            return real_save(new)

        a.shared.store.save = save_after_b  # type: ignore[method-assign]
        got = a.wizard.answer("me", view.session_id, {"namespace": "from-a"})
        assert saves == [1, 2]  # read at version 1: refused (B stored 2 first); read again at 2 and stored
        assert (got.answers["app_name"], got.answers["namespace"]) == ("from-b", "from-a")
        assert b.wizard.get("me", view.session_id).answers == got.answers
    finally:
        a.close()
        b.close()
