"""Clone cache against a local authenticated http remote (git http-backend).

A generated repository of 20,000 files and 5,000 commits. Figures, all in the same run,
interleaved, after one discarded warm-up round:
- a fresh full clone (``git clone``), the baseline;
- the first (cold) operation on the URL: ``detect_packages(url)`` = shallow sparse clone into the
  cache + detection read from git objects;
- a second ``detect_packages(url)`` on the cached clone (shallow fetch, no re-clone).
Targets: second <= 0.2x a full clone, cold <= 0.5x.
Runs in the system temp directory, on the disk where the cache normally lives; BENCH_DIR=/dev/shm
gives the write-free case (tmpfs), where the Python scan of 20,000 YAML files is the floor.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from doubles.world import World  # noqa: E402
from gitops_mcp.services import Services  # noqa: E402

FILES, COMMITS = 20_000, 5_000


def generate(bare: Path) -> None:
    """Build the history with git fast-import (one commit adding every file, then one change each)."""
    lines: list[bytes] = []
    ts = 1_700_000_000
    lines.append(b"commit refs/heads/main\nmark :1\n")
    lines.append(f"committer Bench <b@example.com> {ts} +0000\n".encode())
    lines.append(b"data 7\ninitial\n")
    for i in range(FILES):
        d = f"apps/team{i % 100}/svc{i // 100 % 20}"
        body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\ndata:\n  v: '0'\n".encode()
        lines.append(f"M 100644 inline {d}/cm{i}.yaml\ndata {len(body)}\n".encode() + body + b"\n")
    for c in range(2, COMMITS + 1):
        i = (c * 7919) % FILES
        d = f"apps/team{i % 100}/svc{i // 100 % 20}"
        body = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\ndata:\n  v: '{c}'\n".encode()
        msg = f"change {c}".encode()
        lines.append(f"commit refs/heads/main\nmark :{c}\ncommitter Bench <b@example.com> {ts + c} +0000\n".encode())
        lines.append(f"data {len(msg)}\n".encode() + msg + f"\nfrom :{c - 1}\n".encode())
        lines.append(f"M 100644 inline {d}/cm{i}.yaml\ndata {len(body)}\n".encode() + body + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(lines), check=True)
    subprocess.run(["git", "gc", "--quiet", "--aggressive"], cwd=bare, check=True)


def timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    where = os.environ.get("BENCH_DIR") or None
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        tmpd = Path(tmp)
        with World(tmpd) as world:
            url = world.create_repo("org/big.git")
            t = time.perf_counter()
            generate(world.repos[url])
            print(f"generated {FILES} files, {COMMITS} commits in {time.perf_counter() - t:.1f} s")
            full: list[float] = []
            cold: list[float] = []
            warm: list[float] = []
            found = 0
            for r in range(runs + 1):
                dest = tmpd / f"full{r}"
                t_full = timed(lambda d=dest: world.git(tmpd, "clone", "--quiet", url, str(d)))
                shutil.rmtree(dest)
                settings = world.settings(cache_dir=tmpd / f"cache{r}")
                app = Services(settings)
                t_cold = timed(lambda a=app: a.inspect.detect(url))
                t_warm = timed(lambda a=app: a.inspect.detect(url))
                found = len(app.inspect.detect(url).packages)
                shutil.rmtree(tmpd / f"cache{r}")
                if r > 0:  # round 0 warms the server and the page cache up
                    full.append(t_full)
                    cold.append(t_cold)
                    warm.append(t_warm)
    f, c, w = statistics.median(full), statistics.median(cold), statistics.median(warm)
    print(f"working directory: {where or tempfile.gettempdir()}; packages detected: {found}")
    print(f"fresh full clone (baseline):             {f * 1000:8.0f} ms (median of {runs})")
    print(f"cold detect_packages(url) (clone+scan):  {c * 1000:8.0f} ms  ratio {c / f:.2f}x (target <= 0.5x)")
    print(f"second detect_packages(url) on cache:    {w * 1000:8.0f} ms  ratio {w / f:.2f}x (target <= 0.2x)")


if __name__ == "__main__":
    main()
