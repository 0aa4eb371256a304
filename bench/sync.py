"""Sync verification on the simulator.

1. Latency from "the controller writes the status" to "wait_for_sync returns", against a plain
   2 s polling loop measured in the same run. Target: median <= 100 ms and >= 10x better.
2. Push -> verified for a Kustomization whose interval is 10 minutes, with reconcile (source
   first), through a real authenticated http remote and the simulated controllers. Target <= 3 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from doubles.kube import FakeKube  # noqa: E402
from doubles.world import World, kustomization  # noqa: E402
from gitops_mcp.cluster.client import KubeClient  # noqa: E402
from gitops_mcp.cluster.ops import get_status, reconcile, wait_for_sync  # noqa: E402
from gitops_mcp.git.delivery import GitDelivery  # noqa: E402
from gitops_mcp.providers import default_registry  # noqa: E402
from gitops_mcp.settings import Settings  # noqa: E402

KS = "kustomize.toolkit.fluxcd.io/v1"

REGISTRY = default_registry()


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
        kube.put(kustomization("bench", "./", "none"))
        settings = Settings(kubeconfig=kube.kubeconfig(tmp / "kubeconfig"))
        watched: list[float] = []
        polled: list[float] = []
        with KubeClient(settings) as client:
            for i in range(runs):
                rev = f"main@sha1:{i:040x}"
                result: dict[str, float] = {}
                before = len(kube.requests)

                def waiter(rev: str = rev, result: dict[str, float] = result) -> None:
                    wait_for_sync(client, "Kustomization", "bench", "flux-system", rev, 30, registry=REGISTRY)
                    result["end"] = time.perf_counter()

                t = threading.Thread(target=waiter)
                t.start()
                kube.wait_request(lambda r: bool(r.query.get("watch")), after=before)  # the watch is open
                start = time.perf_counter()
                kube.patch_status(KS, "Kustomization", "flux-system", "bench", ready_status(rev))
                t.join(30)
                watched.append(result["end"] - start)
            for i in range(max(3, runs // 4)):
                rev = f"main@sha1:{i + 1000:040x}"
                result = {}

                def poller(rev: str = rev, result: dict[str, float] = result) -> None:
                    while True:  # the baseline: read, sleep 2 s, read again
                        if (
                            get_status(client, "Kustomization", "bench", "flux-system", registry=REGISTRY).revision
                            == rev
                        ):
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
    with World(tmp) as world:
        work = tmp / "work"
        cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
        url = world.seed("org/apps.git", work, {"apps/cm.yaml": cm})
        world.flux("apps", url, "./apps", target_namespace="apps")
        settings = world.settings(git_author_name="bench", git_author_email="b@example.com")
        delivery = GitDelivery(settings)
        out: list[float] = []
        with world.controllers(), KubeClient(settings) as client:
            wait_for_sync(client, "Kustomization", "apps", "flux-system", None, 30, registry=REGISTRY)
            for i in range(runs):
                (work / "apps/cm.yaml").write_text(
                    f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  n: '{i}'\n", encoding="utf-8"
                )
                start = time.perf_counter()
                sha = delivery.commit_and_push(work, ["apps/cm.yaml"], f"change {i}").commit_sha
                reconcile(client, "Kustomization", "apps", "flux-system", with_source=True, registry=REGISTRY)
                r = wait_for_sync(client, "Kustomization", "apps", "flux-system", sha, 30, registry=REGISTRY)
                out.append(time.perf_counter() - start)
                assert r.outcome == "synced", r
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
