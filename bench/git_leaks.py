"""1,000 commit+push cycles in one process: open file descriptors, child processes, RSS.

The remote is a local git http-backend with Basic auth (the tests' server, run in this
process's threads). Figures after a warm-up, then after the cycles. Targets: no growth in
file descriptors or child processes; RSS growth <= 20 MB.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from git_server import GitHttpServer  # noqa: E402
from gitops_mcp.git.delivery import GitDelivery  # noqa: E402
from gitops_mcp.settings import Settings  # noqa: E402

TOKEN = "bench-token-0123456789"


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def children() -> int:
    me, n = str(os.getpid()), 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                    if fh.read().rsplit(")", 1)[1].split()[1] == me:
                        n += 1
            except OSError:
                continue
    return n


def rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    cycles = int(os.environ.get("BENCH_CYCLES", "1000"))
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        with GitHttpServer(tmpd / "srv", users={"x-access-token": TOKEN}) as srv:
            srv.create_repo("org/leak.git")
            work = tmpd / "work"
            basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
            env = {
                **os.environ,
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{srv.base}/.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
            subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
            (work / "README.md").write_text("x\n", encoding="utf-8")
            for args in (
                ["add", "-A"],
                ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "init"],
                ["remote", "add", "origin", srv.url("org/leak.git")],
                ["push", "-q", "origin", "main"],
            ):
                subprocess.run(["git", *args], cwd=work, check=True, env=env)
            settings = Settings(
                allowed_roots=[tmpd],
                git_token=TOKEN,
                git_allow_http=True,
                allowed_git_hosts=[f"127.0.0.1:{srv.port}"],
                git_author_name="bench",
                git_author_email="bench@example.com",
            )
            delivery = GitDelivery(settings)

            def cycle(i: int) -> None:
                (work / "apps").mkdir(exist_ok=True)
                (work / "apps" / "cm.yaml").write_text(
                    f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n", encoding="utf-8"
                )
                r = delivery.commit_and_push(work, ["apps/cm.yaml"], f"cycle {i}")
                assert r.status == "pushed", r

            for i in range(20):
                cycle(i)
            base = (fds(), children(), rss_mb())
            t = time.perf_counter()
            for i in range(20, 20 + cycles):
                cycle(i)
            elapsed = time.perf_counter() - t
            after = (fds(), children(), rss_mb())
            pushed = subprocess.run(
                ["git", "rev-list", "--count", "main"],
                cwd=srv.root / "org/leak.git",
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
    print(
        f"{cycles} commit+push cycles in {elapsed:.1f} s ({elapsed / cycles * 1000:.0f} ms each); "
        f"{pushed} commits on the remote"
    )
    print(f"open file descriptors: {base[0]} -> {after[0]} (growth {after[0] - base[0]}; target 0)")
    print(f"child processes:       {base[1]} -> {after[1]} (growth {after[1] - base[1]}; target 0)")
    print(
        f"RSS:                   {base[2]:.1f} MB -> {after[2]:.1f} MB (growth {after[2] - base[2]:.1f} MB; "
        "target <= 20 MB)"
    )


if __name__ == "__main__":
    main()
