"""Push -> verified live on the real-cluster testbed for an Argo CD Application (real application
controller and repo-server; see bench/realcluster_sync.py for the Flux Kustomization).

An automated Application follows a repository on the project's git remote (`git http-backend`,
127.0.0.1; the repo-server reads it with a repo-creds Secret). Each run commits a change, pushes,
asks for a refresh (`reconcile`) and waits with `wait_for_sync` as the gitops-mcp ServiceAccount.
In the same run an independent watch (admin credentials) records when the API server sends the
event in which Argo CD showed the pushed revision Synced and Healthy with its sync operation done
(the moment it is "set"), and a `kubectl wait`-style loop reads the Application every 2 s.
Reported (median, p95): the whole time (push -> wait_for_sync returns); what our side adds (set ->
wait_for_sync returns; target <= 100 ms median) against the 2 s poll's (set -> poll sees it).

Run: `.venv/bin/python bench/realcluster_argocd_sync.py` (builds what is missing and starts its own
testbed; or GITOPS_MCP_TESTBED_STATE=<dir> of a running `scripts/testbed up --argocd`). BENCH_RUNS
(default 12).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "testbed")]

from gitops_testbed import argocd  # noqa: E402
from gitops_testbed.plane import Plane  # noqa: E402

from doubles.git_remote import GitHttpServer  # noqa: E402
from realcluster_timing import TOKEN, USER, Target, bench_settings, on_testbed, report, seed_repo, timed_runs  # noqa: E402

NAME = "bench-argocd"
APPS = f"/apis/argoproj.io/v1alpha1/namespaces/{argocd.NAMESPACE}/applications"


def live_at(obj: dict[str, Any], sha: str) -> bool:
    st = obj.get("status") or {}
    op = st.get("operationState") or {}
    return (
        (st.get("sync") or {}).get("status") == "Synced"
        and (st.get("sync") or {}).get("revision") == sha
        and (st.get("health") or {}).get("status") == "Healthy"
        and op.get("phase") not in ("Running", "Terminating")
        and not obj.get("operation")
    )


TARGET = Target("Application", NAME, argocd.NAMESPACE, APPS, live=live_at, revision=lambda sha: sha)


def run(tb: Plane, root: Path, runs: int) -> dict[str, list[float]]:
    with GitHttpServer(root / "srv", users={USER: TOKEN}) as remote:
        work, url = seed_repo(remote, root)
        tb.apply(argocd.repository_secret("bench-creds", f"{remote.base}/", USER, TOKEN, prefix=True))
        tb.apply(f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {NAME}, namespace: {argocd.NAMESPACE}}}
spec:
  project: default
  source: {{repoURL: "{url}", targetRevision: main, path: apps}}
  destination: {{server: "https://kubernetes.default.svc", namespace: bench-argocd}}
  syncPolicy: {{automated: {{}}, syncOptions: [CreateNamespace=true]}}
""")
        return timed_runs(tb, TARGET, work, bench_settings(tb, remote, root), runs)


def cleanup(tb: Plane) -> None:
    tb.kubectl("delete", "application", NAME, "-n", argocd.NAMESPACE, "--ignore-not-found", "--wait=false")
    tb.kubectl("delete", "secret", "bench-creds", "-n", argocd.NAMESPACE, "--ignore-not-found")


def main() -> None:
    tb, res = on_testbed("argocd", run, cleanup)
    print(f"Argo CD {tb.info.get('argocd')} on Kubernetes {tb.info.get('kubernetes')}")
    report(res, "Synced+Healthy")


if __name__ == "__main__":
    main()
