"""Push -> verified live on the real-cluster testbed (real kube-apiserver and Flux controllers).

A Flux Kustomization with a 10-minute interval follows a repository on the project's git remote
(`git http-backend`, 127.0.0.1). Each run commits a change, pushes, asks for a reconcile (source
first) and waits with `wait_for_sync` as the server's gitops-mcp ServiceAccount. In the same run:
- an independent watch (admin credentials) records when the API server sends the event in which
  the controller set Ready=True for the pushed revision: the moment it is "set";
- a `kubectl wait`-style loop reads the object every 2 s until it shows the same.
Reported (median, p95): the whole time (push -> wait_for_sync returns); what our side adds (Ready
set -> wait_for_sync returns; target <= 100 ms median) against the 2 s poll's (Ready set -> poll
sees it).

Run: `.venv/bin/python bench/realcluster_sync.py` (builds what is missing and starts its own testbed;
or GITOPS_MCP_TESTBED_STATE=<dir> of a running `scripts/testbed up --flux`). BENCH_RUNS (default 12).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "testbed")]

from gitops_testbed.plane import Plane  # noqa: E402

from doubles.git_remote import GitHttpServer  # noqa: E402
from realcluster_timing import TOKEN, USER, Target, bench_settings, on_testbed, report, seed_repo, timed_runs  # noqa: E402

KS_PATH = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations"
NAME = "bench"


def ready_for(obj: dict[str, Any], rev: str) -> bool:
    st = obj.get("status") or {}
    ok = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
    return ok and st.get("lastAppliedRevision") == rev


TARGET = Target(
    "Kustomization", NAME, "flux-system", KS_PATH,
    live=lambda obj, sha: ready_for(obj, f"main@sha1:{sha}"), revision=lambda sha: f"main@sha1:{sha}",
)  # fmt: skip


def run(tb: Plane, root: Path, runs: int) -> dict[str, list[float]]:
    with GitHttpServer(root / "srv", users={USER: TOKEN}, anonymous_read=True) as remote:
        work, url = seed_repo(remote, root)
        tb.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n")
        tb.apply(f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: {NAME}, namespace: flux-system}}
spec: {{interval: 10m, url: "{url}", ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {NAME}, namespace: flux-system}}
spec:
  {{interval: 10m, path: ./apps, prune: true, targetNamespace: bench, sourceRef: {{kind: GitRepository, name: {NAME}}}}}
""")
        return timed_runs(tb, TARGET, work, bench_settings(tb, remote, root), runs)


def main() -> None:
    tb, res = on_testbed("flux", run)
    i = tb.info
    print(f"testbed: Kubernetes {i['kubernetes']}, Flux {i['flux']} (source-controller {i['source-controller']}, "
          f"kustomize-controller {i['kustomize-controller']}); 10m interval, with reconcile")  # fmt: skip
    report(res, "Ready")


if __name__ == "__main__":
    main()
