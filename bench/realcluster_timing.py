"""What the push -> verified-live benches on the real-cluster testbed share (not a bench itself):
bench/realcluster_sync.py (a Flux Kustomization) and bench/realcluster_argocd_sync.py (an Argo CD
Application) differ only in the object they follow and when it counts as live.

Each run commits a change, pushes, asks for a reconcile and waits with `wait_for_sync` as the
gitops-mcp ServiceAccount. In the same run an independent watch (admin credentials) records when the
API server sends the event that first shows the object live at the pushed revision (the moment it is
"set"), and a `kubectl wait`-style loop reads the object every 2 s with its own client.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gitops_testbed import stack
from gitops_testbed.identity import server_kubeconfig  # the bench put testbed/ and tests/ on sys.path
from gitops_testbed.plane import Plane

from doubles.git_remote import GitHttpServer
from gitops_mcp.cluster.client import KubeClient
from gitops_mcp.cluster.ops import get_status, reconcile, wait_for_sync
from gitops_mcp.git.delivery import GitDelivery
from gitops_mcp.providers import default_registry
from gitops_mcp.settings import PolicySettings, Settings

USER, TOKEN = "x-access-token", "bench-token-0123456789"
REGISTRY = default_registry()
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


@dataclass(frozen=True)
class Target:
    """The object a bench follows: kind and API path for the watch, and its two readings of "live"."""

    kind: str  # as wait_for_sync and kubectl take it
    name: str
    namespace: str
    path: str  # the collection's API path, for the raw watch
    live: Callable[[dict[str, Any], str], bool]  # the raw object shows the pushed commit sha live
    revision: Callable[[str], str]  # get_status's revision for the pushed commit sha


class Observer(threading.Thread):
    """A raw watch on the target: the arrival time of the first event that shows it live at sha."""

    def __init__(self, plane: Plane, target: Target, sha: str, rv: str) -> None:
        super().__init__(daemon=True)
        self.plane, self.target, self.sha, self.rv = plane, target, sha, rv
        self.seen: float | None = None
        self.opened = threading.Event()

    def run(self) -> None:
        params = {"watch": "1", "fieldSelector": f"metadata.name={self.target.name}", "resourceVersion": self.rv,
                  "timeoutSeconds": "120"}  # fmt: skip
        with (
            httpx.Client(verify=self.plane.ssl_context(), timeout=130) as c,
            c.stream("GET", self.plane.server + self.target.path, params=params) as r,
        ):
            self.opened.set()
            for line in r.iter_lines():
                t = time.perf_counter()
                if line and self.target.live(json.loads(line)["object"], self.sha):
                    self.seen = t
                    return


def seed_repo(remote: GitHttpServer, root: Path) -> tuple[Path, str]:
    """org/bench.git on the remote with one ConfigMap in apps/; returns the work clone and the URL."""
    url = remote.url("org/bench.git")
    remote.create_repo("org/bench.git")
    work = root / "work"
    (work / "apps").mkdir(parents=True)
    env = remote.client_env(USER)

    def git(*a: str) -> None:
        subprocess.run(["git", *a], cwd=work, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (work / "apps/cm.yaml").write_text(CM)
    git("add", "-A")
    git("-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "init")
    git("remote", "add", "origin", url)
    git("push", "-q", "origin", "main")
    return work, url


def bench_settings(tb: Plane, remote: GitHttpServer, root: Path) -> Settings:
    return Settings(
        kubeconfig=server_kubeconfig(tb), allowed_roots=[root], state_dir=root / "state", cache_dir=root / "cache",
        git_token=TOKEN, allowed_git_hosts=[f"127.0.0.1:{remote.port}"], git_allow_http=True,
        git_author_name="bench", git_author_email="b@example.com", policy=PolicySettings(secure_git_urls=False),
    )  # fmt: skip


def timed_runs(tb: Plane, target: Target, work: Path, settings: Settings, runs: int) -> dict[str, list[float]]:
    """Seconds per run: "whole" (push -> wait_for_sync returns), "ours" (set -> wait_for_sync
    returns) and "poll" (set -> the 2 s poll sees it)."""
    out: dict[str, list[float]] = {"whole": [], "ours": [], "poll": []}
    kind, name, ns = target.kind, target.name, target.namespace
    delivery = GitDelivery(settings)
    with KubeClient(settings) as client, KubeClient(settings) as pclient:  # the poll has its own
        first = wait_for_sync(client, kind, name, ns, None, 120, registry=REGISTRY)
        assert first.outcome == "synced", first.message
        for i in range(runs):
            (work / "apps/cm.yaml").write_text(f"{CM}data:\n  n: '{i}'\n", encoding="utf-8")
            rv = json.loads(tb.kubectl("get", kind.lower(), name, "-n", ns, "-o", "json"))["metadata"]
            start = time.perf_counter()
            sha = delivery.commit_and_push(work, ["apps/cm.yaml"], f"change {i}").commit_sha
            assert sha is not None, "the change made no commit"
            obs = Observer(tb, target, sha, rv["resourceVersion"])
            obs.start()
            obs.opened.wait(10)
            polled: dict[str, float] = {}

            def poll(rev: str = target.revision(sha), polled: dict[str, float] = polled) -> None:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    st = get_status(pclient, kind, name, ns, registry=REGISTRY)
                    if st.state == "ready" and st.revision == rev:
                        polled["t"] = time.perf_counter()
                        return
                    time.sleep(2.0)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            reconcile(client, kind, name, ns, with_source=True, registry=REGISTRY)
            r = wait_for_sync(client, kind, name, ns, sha, 120, registry=REGISTRY)
            done = time.perf_counter()
            assert r.outcome == "synced", r.message
            obs.join(30)
            poller.join(130)
            assert obs.seen is not None and "t" in polled
            out["whole"].append(done - start)
            out["ours"].append(done - obs.seen)
            out["poll"].append(polled["t"] - obs.seen)
    return out


def on_testbed(
    layer: str, run: Callable[[Plane, Path, int], dict[str, list[float]]], after: Callable[[Plane], None] | None = None
) -> tuple[Plane, dict[str, list[float]]]:
    """``run`` BENCH_RUNS times (default 12) on a testbed with ``layer``: the running one at
    GITOPS_MCP_TESTBED_STATE, else one started here and stopped after; ``after`` cleans up either way."""
    runs = int(os.environ.get("BENCH_RUNS", "12"))
    reuse = os.environ.get("GITOPS_MCP_TESTBED_STATE")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tb = Plane.load(Path(reuse)) if reuse else stack.up([layer], root / "testbed")
        assert tb is not None and layer in tb.layers, f"no testbed with {layer} in {reuse}"
        try:
            return tb, run(tb, root, runs)
        finally:
            if after is not None:
                after(tb)
            if not reuse:
                stack.down(tb.state)


def report(res: dict[str, list[float]], setting: str) -> None:
    """Median and p95 of each figure (``setting``: what the controller sets, e.g. "Ready"), and the
    ratio of the 2 s poll's added delay to ours."""
    ms = {k: [x * 1000 for x in v] for k, v in res.items()}
    print(f"{len(ms['whole'])} runs")
    for key, label in (
        ("whole", "push -> wait_for_sync returns"),
        ("ours", f"{setting} set -> wait_for_sync returns (ours)"),
        ("poll", f"{setting} set -> 2 s poll sees it (baseline)"),
    ):
        print(f"  {label:<52} median {statistics.median(ms[key]):8.1f} ms   p95 {p95(ms[key]):8.1f} ms")
    ratio = statistics.median(ms["poll"]) / max(statistics.median(ms["ours"]), 0.001)
    print(f"  the 2 s poll's added delay / ours (median): {ratio:.1f}x; target ours <= 100 ms median")
