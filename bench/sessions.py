"""Session answer round trip over streamable HTTP: the Redis session store vs SQLite, same run.

Four servers, each its own process: SQLite (the default) and Redis (a local redis-server started
here), each in stateful HTTP and in stateless HTTP (as replicas run), to tell the store's share
from the HTTP mode's. Each answer_questions call is one read and one
versioned write of the session; the calls are interleaved round by round over the servers, so
drift on the shared machine falls on all of them alike. One client, then several at once (each on
its own session). Redis keeps an append-only file with its default ``appendfsync everysec``, the
durability SQLite's WAL with ``synchronous=NORMAL`` has (``--fsync always``: every write on disk
first). Target: Redis p50 and p95 within 1.5x SQLite's in the same HTTP mode.

    .venv/bin/python bench/sessions.py [--answers 300] [--clients 8] [--rounds 60] [--fsync always]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from doubles.mcp_server import ServerProcess  # noqa: E402
from doubles.redis_server import REDIS_SERVER, RedisServer  # noqa: E402
from load import podinfo_repo  # noqa: E402

TOKEN = "bench-sessions-token-0123456789ab"
TARGET = 1.5


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * (len(s) - 1)))]


async def connect(stack: AsyncExitStack, url: str) -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = await stack.enter_async_context(
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(60.0))
    )
    client = Client(streamable_http_client(url, http_client=http), mode="legacy")  # as hosts speak today
    return await stack.enter_async_context(client)


async def answer(c: Any, sid: str, n: int) -> float:
    t0 = time.perf_counter()
    r = await c.call_tool("answer_questions", {"session_id": sid, "answers": {"namespace": f"ns{n}"}})
    took = (time.perf_counter() - t0) * 1000
    if r.is_error:
        raise SystemExit(f"answer_questions failed: {r.content}")
    return took


async def measure(
    urls: dict[str, str], repo: Path, answers: int, clients: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {name: {"one": [], "many": []} for name in urls}
    async with AsyncExitStack() as stack:
        conns = {name: [await connect(stack, url) for _ in range(clients)] for name, url in urls.items()}
        sids: dict[str, list[str]] = {}
        for name, cs in conns.items():
            sids[name] = []
            for c in cs:
                r = await c.call_tool(
                    "start_deployment",
                    {"repo_path": str(repo), "provider": "flux", "answers": {"package": "charts/podinfo"}},
                )
                sids[name].append(r.structured_content["session_id"])
            for n in range(10):  # warm-up: connections, imports, caches
                await answer(cs[0], sids[name][0], n)
        for n in range(answers):  # one client at a time, interleaved over the servers
            for name, cs in conns.items():
                out[name]["one"].append(await answer(cs[0], sids[name][0], n))
        for n in range(rounds):  # `clients` at once, each on its own session
            for name, cs in conns.items():
                async with anyio.create_task_group() as tg:

                    async def one(c: Any, sid: str, n: int = n, name: str = name) -> None:
                        out[name]["many"].append(await answer(c, sid, n))

                    for c, sid in zip(cs, sids[name], strict=True):
                        tg.start_soon(one, c, sid)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=300, help="answers per server, one client")
    ap.add_argument("--clients", type=int, default=8, help="clients at once in the second part")
    ap.add_argument("--rounds", type=int, default=60, help="rounds of the clients at once")
    ap.add_argument(
        "--fsync", choices=["everysec", "always"], default="everysec", help="Redis appendfsync (default: Redis')"
    )
    a = ap.parse_args()
    if REDIS_SERVER is None:
        sys.exit("redis-server is not installed (Debian package redis-server)")
    with tempfile.TemporaryDirectory() as d, RedisServer(Path(d) / "redis", persist=True, fsync=a.fsync) as redis:
        tmp = Path(d)
        repo = podinfo_repo(tmp)
        base = {"GITOPS_MCP_AUTH_TOKEN": TOKEN}
        configs = {
            "SQLite (stateful HTTP)": {"GITOPS_MCP_SESSION_DB": str(tmp / "a.db")},
            "Redis (stateful HTTP)": {"GITOPS_MCP_SESSION_STORE": redis.url, "GITOPS_MCP_STATELESS_HTTP": "0"},
            "Redis (stateless HTTP)": {"GITOPS_MCP_SESSION_STORE": redis.url},
            "SQLite (stateless HTTP)": {"GITOPS_MCP_SESSION_DB": str(tmp / "b.db"), "GITOPS_MCP_STATELESS_HTTP": "1"},
        }
        servers = [ServerProcess(tmp, env={**base, **env}) for env in configs.values()]
        try:
            for s in servers:
                s.start()
            urls = {name: s.url for name, s in zip(configs, servers, strict=True)}
            res = anyio.run(measure, urls, repo, a.answers, a.clients, a.rounds)
        finally:
            for s in servers:
                s.stop()
    print(
        f"answer_questions round trip over streamable HTTP (redis-server on 127.0.0.1, AOF, appendfsync {a.fsync}; "
        "SQLite WAL, synchronous=NORMAL)"
    )
    sqlite = res["SQLite (stateful HTTP)"]
    ok = True
    for part, label in (("one", "1 client"), ("many", f"{a.clients} clients at once")):
        print(f"-- {label}")
        b50, b95 = statistics.median(sqlite[part]), pct(sqlite[part], 95)
        for name, r in res.items():
            p50, p95 = statistics.median(r[part]), pct(r[part], 95)
            mode = name[name.index("(") :]
            same = res[f"SQLite {mode}"][part]  # the store's share: Redis against SQLite in the same HTTP mode
            s50, s95 = p50 / statistics.median(same), p95 / pct(same, 95)
            print(
                f"  {name:<24} n {len(r[part]):>4}  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  "
                f"({p50 / b50:.2f}x / {p95 / b95:.2f}x SQLite stateful"
                + (f"; {s50:.2f}x / {s95:.2f}x SQLite {mode[1:-1]})" if name.startswith("Redis") else ")")
            )
            if name.startswith("Redis"):
                ok = ok and s50 <= TARGET and s95 <= TARGET
    print(
        f"target (Redis p50 and p95 within {TARGET}x SQLite's in the same HTTP mode, same run):",
        "met" if ok else "NOT met",
    )


if __name__ == "__main__":
    main()
