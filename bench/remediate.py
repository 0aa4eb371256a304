"""Remediation end to end on the simulator: owner lookup -> edit -> push -> reconcile -> wait ->
live check, for a Deployment applied by a Flux Kustomization (interval 10 minutes) from an
authenticated http remote. Target: <= 5 s.

Remote-first, in the same run: the same remediation with no local clone (repo_path omitted: the
owner chain's git URL, worked on in a fresh working tree of the clone cache) with a warm cache,
against today's local-clone path (target: <= 1.5x), and cold (the first use of the repository: a
new cache directory each run) reported beside it. The runs are interleaved (local, warm, cold)
so that drift hits all three alike; the local clone is brought up to date before each of its
runs, untimed, as a user's clone would be.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from doubles.world import USER, World  # noqa: E402
from gitops_mcp.cluster.client import KubeClient  # noqa: E402
from gitops_mcp.cluster.ops import wait_for_sync  # noqa: E402
from gitops_mcp.providers import default_registry  # noqa: E402
from gitops_mcp.remediation import SetReplicas  # noqa: E402
from gitops_mcp.services import Services  # noqa: E402

DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n"
    "    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n"
    "      containers:\n        - name: web\n          image: nginx:1\n"
)

REGISTRY = default_registry()


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with World(tmp) as world:
            work = tmp / "work"
            url = world.seed("org/apps.git", work, {"apps/web/deploy.yaml": DEPLOY})
            world.flux("web", url, "./apps/web", source="apps", target_namespace="web")
            settings = world.settings(git_author_name="bench", git_author_email="b@example.com")
            app = Services(settings)
            times: dict[str, list[float]] = {"local": [], "warm": [], "cold": []}
            replicas = iter(range(2, 1000))

            def remediate(svc: Services, repo_path: str | None) -> float:
                start = time.perf_counter()
                r = svc.remediation.remediate(
                    "apps/v1", "Deployment", "web", "web", SetReplicas(replicas=next(replicas)), "push", True, repo_path
                )
                elapsed = time.perf_counter() - start
                assert r.live_ok, r.message
                return elapsed

            with world.controllers(), KubeClient(settings) as client:
                wait_for_sync(client, "Kustomization", "web", "flux-system", None, 30, registry=REGISTRY)
                remediate(app, None)  # warms the clone cache
                for i in range(runs):
                    env = world.remote.client_env(USER)
                    subprocess.run(["git", "pull", "-q", "--ff-only", "origin", "main"], cwd=work, env=env, check=True)
                    times["local"].append(remediate(app, str(work)))
                    times["warm"].append(remediate(app, None))
                    cold = Services(settings.model_copy(update={"cache_dir": tmp / f"cold-{i}"}))
                    times["cold"].append(remediate(cold, None))
                    cold.close()
            app.close()
    t_local, t_warm, t_cold = (statistics.median(times[k]) for k in ("local", "warm", "cold"))
    print(
        f"remediation end to end (owner -> edit -> push -> reconcile -> wait -> live check), {runs} runs each:\n"
        f"  local clone (repo_path):            {ms(times['local'])} (target <= 5000 ms)\n"
        f"  git URL, warm cache (no repo_path): {ms(times['warm'])}: {t_warm / t_local:.2f}x local (target <= 1.5x)\n"
        f"  git URL, cold (first use):          {ms(times['cold'])}: {t_cold / t_local:.2f}x local"
    )


if __name__ == "__main__":
    main()
