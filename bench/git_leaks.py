"""1,000 commit+push cycles in one process: open file descriptors, child processes, RSS.

The remote is a local git http-backend with Basic auth (the tests' server, run in this
process's threads). Figures after a warm-up, then after the cycles. Targets: no growth in
file descriptors or child processes; RSS growth <= 20 MB.

Then the same from a git URL (``BENCH_URL_CYCLES``, default 300): each cycle a fresh working
tree of the clone cache, alternately pushing from it and keeping the change on a kept branch
that ``commit_and_push`` with the URL then delivers. Also targets: no working tree, worktree
entry or kept branch left behind, and the token in no cache config, kept record or commit.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from doubles.world import World  # noqa: E402
from gitops_mcp.git.delivery import GitDelivery  # noqa: E402


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
        with World(tmpd) as world:
            work = tmpd / "work"
            url = world.seed("org/leak.git", work, {"README.md": "x\n"})
            settings = world.settings(git_author_name="bench", git_author_email="bench@example.com")
            delivery = GitDelivery(settings)

            def cycle(i: int) -> None:
                (work / "apps").mkdir(exist_ok=True)
                (work / "apps" / "cm.yaml").write_text(
                    f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n", encoding="utf-8"
                )
                r = delivery.commit_and_push(work, ["apps/cm.yaml"], f"cycle {i}")
                assert r.status == "pushed", r

            def url_cycle(i: int) -> None:
                text = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: u{i}\n"
                with delivery.workspace(url) as ws:
                    (ws.root / "apps").mkdir(exist_ok=True)
                    (ws.root / "apps" / "url.yaml").write_text(text, encoding="utf-8")
                    if i % 2:
                        kept = delivery.keep_written(ws.root, ["apps/url.yaml"], f"url cycle {i}")
                        assert kept is not None
                    else:
                        r = delivery.commit_and_push(ws.root, ["apps/url.yaml"], f"url cycle {i}")
                        assert r.status == "pushed", r
                if i % 2:
                    r = delivery.deliver_kept(url, "local", ["apps/url.yaml"], f"url cycle {i}")
                    assert r.status == "pushed", r

            report("commit+push cycles from a local clone", cycle, cycles)
            url_cycles = int(os.environ.get("BENCH_URL_CYCLES", "300"))
            report(
                "cycles from the git URL (a working tree each; every other one kept, then delivered)",
                url_cycle,
                url_cycles,
            )
            pushed = world.git(world.repos[url], "rev-list", "--count", "main")
            cache = settings.cache_dir
            cached = delivery.cache.find(url)
            assert cached is not None
            left = sorted(p.name for p in (cache / "work").iterdir())
            entries = world.git(cached, "worktree", "list", "--porcelain").count("worktree ")
            kept = world.git(cached, "for-each-ref", "refs/heads/gitops-mcp/kept/")
            texts = [world.git(cached, "log", "--all", "-p", "--format=%H %an %ae%n%B")]
            texts += [
                p.read_text(errors="replace") for p in cache.rglob("*") if p.name == "config" or p.suffix == ".json"
            ]
            leaked = sum(world.token in t for t in texts)
    print(f"{pushed} commits on the remote")
    print(
        f"working trees left: {len(left)}; worktree entries besides the clone: {entries - 1}; kept branches left: "
        f"{len(kept.split())} (targets 0, 0, 0)"
    )
    print(f"files and commits in the cache holding the token: {leaked} of {len(texts)} searched (target 0)")


def report(what: str, cycle: Callable[[int], None], cycles: int) -> None:
    for i in range(20):
        cycle(10_000 + i)
    base = (fds(), children(), rss_mb())
    t = time.perf_counter()
    for i in range(cycles):
        cycle(i)
    elapsed = time.perf_counter() - t
    after = (fds(), children(), rss_mb())
    print(f"{cycles} {what} in {elapsed:.1f} s ({elapsed / cycles * 1000:.0f} ms each)")
    print(f"  open file descriptors: {base[0]} -> {after[0]} (growth {after[0] - base[0]}; target 0)")
    print(f"  child processes:       {base[1]} -> {after[1]} (growth {after[1] - base[1]}; target 0)")
    print(
        f"  RSS:                   {base[2]:.1f} MB -> {after[2]:.1f} MB (growth {after[2] - base[2]:.1f} MB; "
        "target <= 20 MB)"
    )


if __name__ == "__main__":
    main()
