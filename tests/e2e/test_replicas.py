"""Replicas: two ``gitops-mcp serve --transport http`` processes on one real redis-server, behind a
round-robin balancer with no sticky sessions. Sessions cross replicas, concurrent answers from
both lose nothing, a wizard survives a replica killed midway, 50 clients never see each other's
sessions, and everything survives a restart of every replica."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult

from doubles.balancer import Balancer
from doubles.mcp_server import ServerProcess
from doubles.redis_server import RedisServer, need_redis
from loadgen import run_clients

pytestmark = pytest.mark.slow
TOKENS = {"alice": "tok-alice-replica-0123456789ab", "bob": "tok-bob-replica-0123456789abcd"}
REDIS_PASSWORD = "redis-replica-pw-9f8e7d6c5b4a"


@dataclass
class Cluster:
    redis: RedisServer
    replicas: list[ServerProcess]
    balancer: Balancer
    env: dict[str, str]
    tmp: Path
    made: list[ServerProcess]

    def replica(self, i: int) -> ServerProcess:
        """Replica ``i`` (its own clone cache, as on its own machine); stopped with the cluster."""
        r = ServerProcess(self.tmp, env={**self.env, "GITOPS_MCP_CACHE_DIR": str(self.tmp / f"cache-{i}")})
        self.made.append(r)
        return r

    def logs(self) -> str:
        return "".join(line for r in self.made for line in r.stderr)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    need_redis()
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer(tmp_path / "redis", password=REDIS_PASSWORD, persist=True))
        env = {
            "GITOPS_MCP_SESSION_STORE": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis.port}/0",
            "GITOPS_MCP_AUTH_TOKENS": json.dumps(TOKENS),
        }
        c = Cluster(redis, [], None, env, tmp_path, [])  # type: ignore[arg-type]
        stack.callback(lambda: [r.stop() for r in c.made])  # every replica made, restarts too
        c.replicas = [c.replica(0).start(), c.replica(1).start()]
        c.balancer = stack.enter_context(Balancer([f"http://127.0.0.1:{r.port}" for r in c.replicas]))
        yield c
        assert REDIS_PASSWORD not in c.logs()


def http(token: str) -> Any:
    import httpx2

    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30.0, read=60.0))


@asynccontextmanager
async def client(url: str, who: str = "alice", mode: str = "legacy", **kw: Any) -> AsyncIterator[Client]:
    """An SDK client; ``legacy`` = the 2025 initialize handshake that hosts speak today."""
    async with http(TOKENS[who]) as h, Client(streamable_http_client(url, http_client=h), mode=mode, **kw) as c:
        yield c


async def call(c: Client, tool: str, **args: Any) -> dict[str, Any]:
    r = await c.call_tool(tool, args)
    assert not r.is_error, r.content
    assert r.structured_content is not None
    return r.structured_content


async def error(c: Client, tool: str, **args: Any) -> str:
    r = await c.call_tool(tool, args)
    assert r.is_error, r.structured_content
    return " ".join(getattr(x, "text", "") for x in r.content)


@pytest.mark.anyio
async def test_a_session_started_on_one_replica_is_answered_on_the_other(
    cluster: Cluster, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    a, b = cluster.replicas
    async with client(a.url) as on_a:
        v = await call(on_a, "start_deployment", repo_path=str(repo), provider="flux")
    sid = v["session_id"]
    async with client(b.url) as on_b, client(b.url, "bob") as bob:
        v = await call(on_b, "answer_questions", session_id=sid, answers={"package": "charts/podinfo"})
        assert v["step"] == "common" and v["answers"]["package"] == "charts/podinfo"
        assert [s["session_id"] for s in (await call(on_b, "list_sessions"))["sessions"]] == [sid]
        assert "no session" in await error(bob, "get_session", session_id=sid)  # another caller: not there
        assert (await call(bob, "list_sessions"))["sessions"] == []
    # each request of a legacy client had a transport of its own: no log line for each (server.run)
    assert "Terminating session" not in cluster.logs()
    # every replica restarted (killed, new processes): the session is still there
    for r in cluster.replicas:
        r.kill()
    cluster.replicas = [cluster.replica(0).start(), cluster.replica(1).start()]
    async with client(cluster.replicas[1].url, mode="auto") as c:
        v = await call(c, "get_session", session_id=sid)
        assert (v["step"], v["answers"]["package"]) == ("common", "charts/podinfo")


@pytest.mark.anyio
async def test_concurrent_answers_from_both_replicas_lose_none(
    cluster: Cluster, fixture_repo: Callable[..., Path]
) -> None:
    """Four clients, two on each replica, each answering its own question of one session at the same
    moment, round after round: every answer of every round is in the session afterwards."""
    repo = fixture_repo("podinfo", origin=None)  # no origin: repo_url stays unanswered, the step stays
    a, b = cluster.replicas
    async with client(a.url) as c:
        sid = (
            await call(c, "start_deployment", repo_path=str(repo), provider="flux", answers={"package": "kustomize"})
        )["session_id"]
    writers = [("namespace", a), ("app_name", b), ("revision", a), ("path", b)]

    def value(qid: str, n: int) -> str:
        return ("kustomize", "deploy", "charts/podinfo")[n % 3] if qid == "path" else f"{qid[:3]}{n}"

    async def answer(c: Client, qid: str, n: int) -> None:
        v = await call(c, "answer_questions", session_id=sid, answers={qid: value(qid, n)})
        assert not v["errors"] and not v["ignored"], v

    async with (
        client(writers[0][1].url) as c0,
        client(writers[1][1].url) as c1,
        client(writers[2][1].url) as c2,
        client(writers[3][1].url) as c3,
    ):
        clients = [c0, c1, c2, c3]
        for n in range(8):
            async with anyio.create_task_group() as tg:
                for (qid, _), c in zip(writers, clients, strict=True):
                    tg.start_soon(answer, c, qid, n)
            got = (await call(c0, "get_session", session_id=sid))["answers"]
            assert {q: got.get(q) for q, _ in writers} == {q: value(q, n) for q, _ in writers}, n
    # the replicas did race (their saves were refused and the answers applied again), 24 of 32 in one run
    assert cluster.logs().count("another call stored an answer first") > 0


@pytest.mark.anyio
async def test_a_wizard_survives_a_replica_killed_midway(cluster: Cluster, fixture_repo: Callable[..., Path]) -> None:
    """The issue's done-when: an assistant's wizard through the balancer; one replica is killed (-9)
    mid-way and the session is finished through the other. The client declares elicitation; the
    questions come back in the results (stateless replicas send no request to the client)."""
    repo = fixture_repo("podinfo")
    asked: list[str] = []

    async def elicit(ctx: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="decline")

    lb = cluster.balancer
    async with client(lb.url(), elicitation_callback=elicit) as c:
        v = await call(c, "start_deployment", repo_path=str(repo), provider="flux")
        v = await call(c, "answer_questions", session_id=v["session_id"], answers={"package": "charts/podinfo"})
        assert v["step"] == "common" and lb.served[0] > 0 and lb.served[1] > 0  # both replicas took part
        cluster.replicas[0].kill()
        before = lb.served[1]
        answers: dict[str, Any] = {"output_path": "clusters/dev/podinfo.yaml"}
        for _ in range(6):
            if v["step"] == "preview":
                break
            v = await call(c, "answer_questions", session_id=v["session_id"], answers=answers, accept_defaults=True)
            answers = {}
        assert v["step"] == "preview" and v["preview"]["validation"]["valid"], v
        v = await call(c, "answer_questions", session_id=v["session_id"], answers={"delivery": "write"})
    assert v["status"] == "done" and (repo / "clusters/dev/podinfo.yaml").is_file()
    assert lb.refused[0] > 0 and lb.served[1] > before  # the dead replica was skipped
    assert asked == []


@pytest.mark.anyio
async def test_without_stateless_mode_the_balancer_breaks_sessions(tmp_path: Path) -> None:
    """The control: the same balancer in front of replicas that keep MCP sessions in memory (and
    SQLite each): a legacy client's second request lands on the other replica, which knows nothing
    of it. Stateless mode (the default with Redis) is what makes the replicas above work."""
    env = {"GITOPS_MCP_AUTH_TOKENS": json.dumps(TOKENS), "GITOPS_MCP_STATELESS_HTTP": "false"}
    with ExitStack() as stack:
        a, b = (stack.enter_context(ServerProcess(tmp_path, env=env)) for _ in range(2))
        lb = stack.enter_context(Balancer([f"http://127.0.0.1:{a.port}", f"http://127.0.0.1:{b.port}"]))
        with pytest.raises(BaseExceptionGroup) as exc, anyio.fail_after(30):
            async with client(lb.url()) as c:
                await c.list_tools()
                await c.list_tools()
        assert "Session not found" in [str(e) for e in leaves(exc.value)]
        assert lb.served[0] and lb.served[1]


def leaves(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)
    return [x for e in inner for x in leaves(e)] if inner else [exc]


def test_fifty_clients_across_both_replicas_never_cross_sessions(
    cluster: Cluster, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    clients = 50
    principal = {i: ("alice" if i % 2 else "bob") for i in range(clients)}
    started: dict[str, set[str]] = {"alice": set(), "bob": set()}

    def step(i: int, n: int) -> tuple[str, dict[str, Any]]:
        return ("start_deployment", {"repo_path": str(repo), "provider": "flux"}) if n == 0 else ("list_sessions", {})

    def check(i: int, result: dict[str, Any]) -> str | None:
        if "session_id" in result:
            started[principal[i]].add(result["session_id"])
            return None
        seen = {s["session_id"] for s in result.get("sessions", [])}
        crossed = seen & started["bob" if principal[i] == "alice" else "alice"]
        return f"sees {len(crossed)} session(s) of the other caller" if crossed else None

    lb = cluster.balancer
    result = anyio.run(
        lambda: run_clients(
            lb.url(),
            clients,
            3,
            step,
            lambda i: TOKENS[principal[i]],
            check,
            deadline_s=240,
            legacy=lambda i: i % 4 < 2,
        )
    )
    assert not result.failures, result.failures[:5]
    assert len(result.latencies_ms) == clients * 3
    assert len(started["alice"]) == len(started["bob"]) == clients // 2
    assert min(lb.served) > clients  # both replicas answered a good share
