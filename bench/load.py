"""50 concurrent streamable HTTP clients against one server, vs the same calls from one client,
with each session store in the same run: SQLite (stateful HTTP, the default) and Redis (a local
redis-server; stateless HTTP, its default, as replicas run).

Targets (hardening issues): list_sessions p95 <= 250 ms and start_deployment p95 <= 1 s with 50
clients on this 2-core machine, for both stores, the load generator in the same run; 0 failed
calls. Where the time goes: the CPU the server process and the load generator each spend per
call (from the kernel's accounting), printed beside the latencies.

    .venv/bin/python bench/load.py [--clients 50] [--calls 10] [--stores sqlite,redis] [--legacy]

The clients speak the SDK's default 2026 protocol (one self-contained POST a call, the same path
in stateful and stateless HTTP); ``--legacy``: the 2025 initialize handshake, as hosts speak
today, which stateless HTTP serves on a new transport for every request.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from doubles.mcp_server import ServerProcess  # noqa: E402
from doubles.redis_server import REDIS_SERVER, RedisServer  # noqa: E402
from loadgen import LoadResult, run_clients  # noqa: E402

TOKEN = "bench-load-token-0123456789abcdef"
TICK = os.sysconf("SC_CLK_TCK")


def podinfo_repo(tmp: Path) -> Path:
    src = HERE.parent.parent / "shared" / "fixtures" / "podinfo"
    if not src.is_dir():
        sys.exit(f"{src} is absent: the shared/ directory must sit beside the project")
    repo = tmp / "repos" / "podinfo"
    shutil.copytree(src, repo, symlinks=True)
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    return repo


def server_cpu_s(pid: int) -> float:
    """utime + stime of a process (and its reaped children), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICK


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages (other work on the same cores)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Measured:
    def __init__(self, result: LoadResult, server_ms: float, client_ms: float, wall_s: float) -> None:
        self.r, self.server_ms, self.client_ms, self.wall_s = result, server_ms, client_ms, wall_s


async def measured(pid: int, run: Callable[[Callable[[], None]], Awaitable[LoadResult]]) -> Measured:
    """``run(on_start)``: the CPU and wall time are counted from ``on_start`` (every client connected)."""
    at: list[float] = []

    def on_start() -> None:
        at.extend((server_cpu_s(pid), own_cpu_s(), time.perf_counter()))

    r = await run(on_start)
    s0, c0, t0 = at
    n = max(1, len(r.latencies_ms))
    wall = time.perf_counter() - t0
    return Measured(r, (server_cpu_s(pid) - s0) * 1000 / n, (own_cpu_s() - c0) * 1000 / n, wall)


def line(name: str, m: Measured, base: Measured | None = None) -> str:
    r = m.r
    ratio = (
        f"  (p50 {r.p50 / base.r.p50:5.1f}x, p95 {r.p95 / base.r.p95:5.1f}x one client)" if base and base.r.p95 else ""
    )
    return (
        f"  {name:<30} calls {len(r.latencies_ms):>4}  p50 {r.p50:7.1f} ms  p95 {r.p95:7.1f} ms  "
        f"failed {len(r.failures)}  cpu/call: server {m.server_ms:5.2f} ms, clients {m.client_ms:5.2f} ms  "
        f"{len(r.latencies_ms) / m.wall_s:6.0f} calls/s{ratio}"
    )


async def measure(
    pid: int, url: str, repo: Path, clients: int, calls: int, freeze: bool, legacy: bool
) -> tuple[bool, list[str]]:
    def ls(i: int, n: int) -> tuple[str, dict[str, object]]:
        return "list_sessions", {}

    def start(i: int, n: int) -> tuple[str, dict[str, object]]:
        return "start_deployment", {"repo_path": str(repo), "provider": "flux"}

    def clients_making(
        n: int, each: int, call: Callable[[int, int], tuple[str, dict[str, object]]]
    ) -> Callable[[Callable[[], None]], Awaitable[LoadResult]]:
        return lambda go: run_clients(
            url, n, each, call, lambda i: TOKEN, on_start=go, freeze=freeze, legacy=lambda i: legacy
        )

    one_start = await measured(pid, clients_making(1, calls, start))
    many_start = await measured(pid, clients_making(clients, 1, start))
    one_ls = await measured(pid, clients_making(1, calls * 5, ls))
    many_ls = await measured(pid, clients_making(clients, calls, ls))
    out = [
        line("start_deployment, 1 client", one_start),
        line(f"start_deployment, {clients} at once", many_start, one_start),
        line("list_sessions, 1 client", one_ls),
        line(f"list_sessions, {clients} clients", many_ls, one_ls),
    ]
    for m in (one_start, many_start, one_ls, many_ls):
        out += [f"    failure: {f[:300]}" for f in m.r.failures[:3]]
    ok = many_ls.r.p95 <= 250 and many_start.r.p95 <= 1000 and not (many_ls.r.failures or many_start.r.failures)
    return ok, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--stores", default="sqlite,redis", help="comma-separated: sqlite, redis")
    ap.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the load generator's garbage collector as Python sets it (see tests/loadgen.py)",
    )
    ap.add_argument("--legacy", action="store_true", help="clients speak the 2025 initialize handshake")
    a = ap.parse_args()
    stores = a.stores.split(",")
    if "redis" in stores and REDIS_SERVER is None:
        sys.exit("redis-server is not installed (Debian package redis-server); or --stores sqlite")
    with tempfile.TemporaryDirectory() as d, ExitStack() as stack:
        tmp = Path(d)
        repo = podinfo_repo(tmp)
        # one caller opens 10 + clients sessions: above the default cap on open sessions
        base = {"GITOPS_MCP_AUTH_TOKEN": TOKEN, "GITOPS_MCP_MAX_OPEN_SESSIONS": "100000"}
        configs: dict[str, dict[str, str]] = {}
        if "sqlite" in stores:
            configs["SQLite (stateful HTTP)"] = {"GITOPS_MCP_SESSION_DB": str(tmp / "a.db")}
        if "redis" in stores:
            redis = stack.enter_context(RedisServer(tmp / "redis", persist=True, fsync="everysec"))
            configs["Redis (stateless HTTP)"] = {"GITOPS_MCP_SESSION_STORE": redis.url}
        print(
            f"{a.clients} clients, {os.cpu_count()} cores, load generator in this process"
            f"{' (its collector as Python sets it)' if a.no_freeze else ''}"
            f"; {'2025 protocol (initialize handshake)' if a.legacy else '2026 protocol'}"
            f"; load average {load_average()}"
        )
        met = True
        for name, env in configs.items():
            srv = stack.enter_context(ServerProcess(tmp, env={**base, **env}))
            assert srv.proc is not None
            ok, out = anyio.run(measure, srv.proc.pid, srv.url, repo, a.clients, a.calls, not a.no_freeze, a.legacy)
            srv.stop()
            print(name)
            print("\n".join(out))
            met = met and ok
    print(f"load average {load_average()}")
    print(
        "targets (list_sessions p95 <= 250 ms, start_deployment p95 <= 1 s, 0 failures; every store):",
        "met" if met else "NOT met",
    )


if __name__ == "__main__":
    main()
