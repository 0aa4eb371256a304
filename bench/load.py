"""50 concurrent streamable HTTP clients against one server, vs the same calls from one client.

Targets (hardening issue): list_sessions p95 <= 250 ms and start_deployment p95 <= 1 s with
50 clients on this 2-core machine, 0 failed calls.

    .venv/bin/python bench/load.py [--clients 50] [--calls 10]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from doubles.mcp_server import ServerProcess  # noqa: E402
from loadgen import LoadResult, run_clients  # noqa: E402

TOKEN = "bench-load-token-0123456789abcdef"


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


def line(name: str, r: LoadResult, base: LoadResult | None = None) -> str:
    ratio = f"  ({r.p95 / base.p95:.1f}x one client)" if base and base.p95 else ""
    return (
        f"{name:<34} calls {len(r.latencies_ms):>4}  p50 {r.p50:7.1f} ms  p95 {r.p95:7.1f} ms  "
        f"failed {len(r.failures)}{ratio}"
    )


async def measure(url: str, repo: Path, clients: int, calls: int) -> None:
    def ls(i: int, n: int) -> tuple[str, dict[str, object]]:
        return "list_sessions", {}

    def start(i: int, n: int) -> tuple[str, dict[str, object]]:
        return "start_deployment", {"repo_path": str(repo), "provider": "flux"}

    tok = lambda i: TOKEN  # noqa: E731
    one_start = await run_clients(url, 1, calls, start, tok)
    many_start = await run_clients(url, clients, 1, start, tok)
    one_ls = await run_clients(url, 1, calls * 5, ls, tok)
    many_ls = await run_clients(url, clients, calls, ls, tok)
    print(line("start_deployment, 1 client", one_start))
    print(line(f"start_deployment, {clients} at once", many_start, one_start))
    print(line("list_sessions, 1 client", one_ls))
    print(line(f"list_sessions, {clients} clients", many_ls, one_ls))
    for r in (one_start, many_start, one_ls, many_ls):
        for f in r.failures[:3]:
            print("  failure:", f[:300])
    ok = many_ls.p95 <= 250 and many_start.p95 <= 1000 and not (many_ls.failures or many_start.failures)
    print("targets (list_sessions p95 <= 250 ms, start_deployment p95 <= 1 s, 0 failures):", "met" if ok else "NOT met")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--calls", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        repo = podinfo_repo(tmp)
        env = {"GITOPS_MCP_AUTH_TOKEN": TOKEN}
        with ServerProcess(tmp, env=env) as srv:
            anyio.run(measure, srv.url, repo, a.clients, a.calls)


if __name__ == "__main__":
    main()
