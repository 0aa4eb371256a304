"""Remediation end to end on the simulator: owner lookup -> edit -> push -> reconcile -> wait ->
live check, for a Deployment applied by a Flux Kustomization (interval 10 minutes) from an
authenticated http remote. Target: <= 5 s."""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fakekube import FakeKube  # noqa: E402
from git_server import GitHttpServer  # noqa: E402
from gitops_mcp.cluster.client import KubeClient  # noqa: E402
from gitops_mcp.cluster.ops import wait_for_sync  # noqa: E402
from gitops_mcp.remediation import SetReplicas  # noqa: E402
from gitops_mcp.services import Services  # noqa: E402
from gitops_mcp.settings import PolicySettings, Settings  # noqa: E402
from gitops_sim import GitOpsSimulator  # noqa: E402

TOKEN = "bench-token-0123456789"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n"
    "    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n"
    "      containers:\n        - name: web\n          image: nginx:1\n"
)


def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with GitHttpServer(tmp / "srv", users={"x-access-token": TOKEN}) as srv:
            bare = srv.create_repo("org/apps.git")
            url = srv.url("org/apps.git")
            basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
            env = {
                **os.environ,
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{srv.base}/.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
            work = tmp / "work"
            subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
            (work / "apps/web").mkdir(parents=True)
            (work / "apps/web/deploy.yaml").write_text(DEPLOY, encoding="utf-8")
            for args in (
                ["add", "-A"],
                ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "init"],
                ["remote", "add", "origin", url],
                ["push", "-q", "origin", "main"],
            ):
                subprocess.run(["git", *args], cwd=work, check=True, env=env)
            with FakeKube() as kube:
                for ns in ("flux-system", "web"):
                    kube.ensure_namespace(ns)
                kube.put(
                    {
                        "apiVersion": "source.toolkit.fluxcd.io/v1",
                        "kind": "GitRepository",
                        "metadata": {"name": "apps", "namespace": "flux-system"},
                        "spec": {"interval": "10m", "url": url, "ref": {"branch": "main"}},
                    }
                )
                kube.put(
                    {
                        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                        "kind": "Kustomization",
                        "metadata": {"name": "web", "namespace": "flux-system"},
                        "spec": {
                            "interval": "10m",
                            "path": "./apps/web",
                            "prune": True,
                            "targetNamespace": "web",
                            "sourceRef": {"kind": "GitRepository", "name": "apps"},
                        },
                    }
                )
                settings = Settings(
                    kubeconfig=kube.kubeconfig(tmp / "kubeconfig"),
                    git_token=TOKEN,
                    git_allow_http=True,
                    allowed_git_hosts=[f"127.0.0.1:{srv.port}"],
                    allowed_roots=[tmp],
                    state_dir=tmp / "state",
                    git_author_name="bench",
                    git_author_email="b@example.com",
                    policy=PolicySettings(secure_git_urls=False),
                )
                app = Services(settings)
                times = []
                with GitOpsSimulator(kube, {url: bare}) as sim, KubeClient(settings) as client:
                    wait_for_sync(client, "Kustomization", "web", "flux-system", None, 30)
                    for i in range(runs):
                        start = time.perf_counter()
                        r = app.remediation.remediate(
                            "apps/v1",
                            "Deployment",
                            "web",
                            "web",
                            SetReplicas(replicas=2 + i),
                            mode="push",
                            repo_path=str(work),
                        )
                        times.append(time.perf_counter() - start)
                        assert r.live_ok, r.message
                    assert not sim.errors, sim.errors
    print(
        f"remediation end to end (owner -> edit -> push -> reconcile -> wait -> live check): "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {runs} "
        "(target <= 5000 ms)"
    )


if __name__ == "__main__":
    main()
