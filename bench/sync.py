"""Sync verification on the simulator.

1. Latency from "the controller writes the status" to "wait_for_sync returns", against a plain
   2 s polling loop measured in the same run. Target: median <= 100 ms and >= 10x better.
2. Push -> verified for a Kustomization whose interval is 10 minutes, with reconcile (source
   first), through a real authenticated http remote and the simulated controllers. Target <= 3 s.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fakekube import FakeKube  # noqa: E402
from git_server import GitHttpServer  # noqa: E402
from gitops_mcp.cluster.client import KubeClient  # noqa: E402
from gitops_mcp.cluster.ops import get_status, reconcile, wait_for_sync  # noqa: E402
from gitops_mcp.git.delivery import GitDelivery  # noqa: E402
from gitops_mcp.settings import Settings  # noqa: E402
from gitops_sim import GitOpsSimulator  # noqa: E402

KS = "kustomize.toolkit.fluxcd.io/v1"
TOKEN = "bench-token-0123456789"


def ks(name: str) -> dict[str, object]:
    return {
        "apiVersion": KS,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": "./",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "none"},
        },
    }


def ready_status(rev: str) -> dict[str, object]:
    return {
        "observedGeneration": 1,
        "lastAppliedRevision": rev,
        "lastAttemptedRevision": rev,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "ReconciliationSucceeded",
                "message": f"Applied revision: {rev}",
                "observedGeneration": 1,
            }
        ],
    }


def latency(tmp: Path, runs: int) -> tuple[list[float], list[float]]:
    with FakeKube() as kube:
        kube.ensure_namespace("flux-system")
        kube.put(ks("bench"))
        settings = Settings(kubeconfig=kube.kubeconfig(tmp / "kubeconfig"))
        watched: list[float] = []
        polled: list[float] = []
        with KubeClient(settings) as client:
            for i in range(runs):
                rev = f"main@sha1:{i:040x}"
                result: dict[str, float] = {}
                before = len(kube.requests)

                def waiter(rev: str = rev, result: dict[str, float] = result) -> None:
                    wait_for_sync(client, "Kustomization", "bench", "flux-system", rev, 30)
                    result["end"] = time.perf_counter()

                t = threading.Thread(target=waiter)
                t.start()
                while not any(r.query.get("watch") for r in kube.requests[before:]):
                    time.sleep(0.005)  # the bench waits for the watch to be open, then writes the status
                start = time.perf_counter()
                kube.patch_status(KS, "Kustomization", "flux-system", "bench", ready_status(rev))
                t.join(30)
                watched.append(result["end"] - start)
            for i in range(max(3, runs // 4)):
                rev = f"main@sha1:{i + 1000:040x}"
                result = {}

                def poller(rev: str = rev, result: dict[str, float] = result) -> None:
                    while True:  # the baseline: read, sleep 2 s, read again
                        if get_status(client, "Kustomization", "bench", "flux-system").revision == rev:
                            result["end"] = time.perf_counter()
                            return
                        time.sleep(2.0)

                t = threading.Thread(target=poller)
                t.start()
                time.sleep(0.1 + (i % 4) * 0.45)  # spread the write over the polling period
                start = time.perf_counter()
                kube.patch_status(KS, "Kustomization", "flux-system", "bench", ready_status(rev))
                t.join(30)
                polled.append(result["end"] - start)
    return watched, polled


def push_to_verified(tmp: Path, runs: int) -> list[float]:
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
        (work / "apps").mkdir()
        (work / "apps/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", encoding="utf-8")
        for args in (
            ["add", "-A"],
            ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "init"],
            ["remote", "add", "origin", url],
            ["push", "-q", "origin", "main"],
        ):
            subprocess.run(["git", *args], cwd=work, check=True, env=env)
        with FakeKube() as kube:
            for ns in ("flux-system", "apps"):
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
                    "apiVersion": KS,
                    "kind": "Kustomization",
                    "metadata": {"name": "apps", "namespace": "flux-system"},
                    "spec": {
                        "interval": "10m",
                        "path": "./apps",
                        "prune": True,
                        "targetNamespace": "apps",
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
                git_author_name="bench",
                git_author_email="b@example.com",
            )
            delivery = GitDelivery(settings)
            out: list[float] = []
            with GitOpsSimulator(kube, {url: bare}) as sim, KubeClient(settings) as client:
                wait_for_sync(client, "Kustomization", "apps", "flux-system", None, 30)
                for i in range(runs):
                    (work / "apps/cm.yaml").write_text(
                        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  n: '{i}'\n", encoding="utf-8"
                    )
                    start = time.perf_counter()
                    sha = delivery.commit_and_push(work, ["apps/cm.yaml"], f"change {i}").commit_sha
                    reconcile(client, "Kustomization", "apps", "flux-system", with_source=True)
                    r = wait_for_sync(client, "Kustomization", "apps", "flux-system", sha, 30)
                    out.append(time.perf_counter() - start)
                    assert r.outcome == "synced", r
                assert not sim.errors, sim.errors
    return out


def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "20"))
    with tempfile.TemporaryDirectory() as tmp:
        watched, polled = latency(Path(tmp), runs)
        verified = push_to_verified(Path(tmp), max(3, runs // 4))
    w, p = statistics.median(watched), statistics.median(polled)
    print(
        f"status written -> wait_for_sync returns: median {w * 1000:.1f} ms over {len(watched)} "
        f"(max {max(watched) * 1000:.1f} ms; target <= 100 ms)"
    )
    print(
        f"plain 2 s polling loop, same writes:     median {p * 1000:.1f} ms over {len(polled)}; "
        f"ratio {p / w:.0f}x (target >= 10x)"
    )
    print(
        f"push -> verified, 10m interval, with reconcile: median {statistics.median(verified) * 1000:.0f} ms, "
        f"max {max(verified) * 1000:.0f} ms over {len(verified)} (target <= 3000 ms)"
    )


if __name__ == "__main__":
    main()
