"""What the build sandbox costs: the preflight's package check of podinfo's kustomization.

Figures, interleaved in the same run after one discarded warm-up round (median of ROUNDS):
- ``kubectl kustomize`` (or ``kustomize build``) run plainly with ``subprocess.run``, the baseline;
- the same build through :func:`gitops_mcp.sandbox.run_build` (the shim, limits, a network
  namespace, a bare environment);
- the whole :func:`check_kustomize` (the input checks of every file it reads, then the sandboxed build).
Target: the sandboxed build <= 1.5x the plain one.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "fixtures" / "podinfo"

from gitops_mcp.manifests.preflight import check_kustomize  # noqa: E402
from gitops_mcp.sandbox import Limits, run_build, which  # noqa: E402

ROUNDS = 15


def main() -> int:
    tool = which("kustomize", "kubectl")
    if tool is None or not SHARED.is_dir():
        print("needs kustomize or kubectl on PATH and ../shared/fixtures/podinfo")
        return 1
    argv = [tool, "build", "."] if tool.endswith("kustomize") else [tool, "kustomize", "."]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(SHARED, root)
        app = root / "kustomize"
        plain: list[float] = []
        boxed: list[float] = []
        check: list[float] = []
        for i in range(ROUNDS + 1):
            t = time.perf_counter()
            subprocess.run(argv, cwd=app, capture_output=True, check=True)
            t1 = time.perf_counter()
            run = run_build(argv, app, Limits())
            t2 = time.perf_counter()
            c = check_kustomize(root, "kustomize")
            t3 = time.perf_counter()
            assert run.ok and run.isolated and c.ok, (run, c)
            if i:
                plain.append(t1 - t)
                boxed.append(t2 - t1)
                check.append(t3 - t2)
    p, b, c_ = (statistics.median(x) * 1000 for x in (plain, boxed, check))
    print(f"plain {Path(tool).name} build   {p:7.1f} ms (baseline)")
    print(f"sandboxed build        {b:7.1f} ms  {b / p:4.2f}x  (target <= 1.5x)")
    print(f"check_kustomize        {c_:7.1f} ms  {c_ / p:4.2f}x")
    return 0 if b / p <= 1.5 else 2


if __name__ == "__main__":
    sys.exit(main())
