"""Sync status, reconcile and wait_for_sync against the fake API server and the simulated controllers."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import CRDS, REGISTRY
from doubles.clock import virtual_time
from doubles.controllers import GitOpsSimulator
from doubles.kube import FakeKube
from doubles.world import application, git_repository, kustomization
from gitops_mcp.cluster.client import KubeClient
from gitops_mcp.cluster.ops import get_status, reconcile, wait_for_sync
from gitops_mcp.cluster.status import commit_of
from gitops_mcp.errors import ClusterError, ClusterUnavailable, UserInputError
from gitops_mcp.settings import Settings

URL = "https://git.example/org/apps.git"
KS_API = "kustomize.toolkit.fluxcd.io/v1"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {n}\n"
    "  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n"
    "    spec:\n      containers:\n        - name: web\n          image: {image}\n"
)


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Env:
    kube: FakeKube
    sim: GitOpsSimulator | None  # None: no simulated controllers (the test writes every status)
    client: KubeClient
    work: Path

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for rel, text in files.items():
            p = self.work / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        sh(self.work, "add", "-A")
        sh(self.work, "commit", "-qm", message)
        sh(self.work, "push", "-q", "origin", "main")
        return sh(self.work, "rev-parse", "HEAD")


@contextmanager
def make_env(
    tmp_path: Path,
    files: dict[str, str],
    namespaces: tuple[str, ...] = ("flux-system", "argocd"),
    simulate: bool = True,
    **client: Any,
) -> Iterator[Env]:
    """A bare repository served to the simulated controllers as URL with ``files`` pushed to main, a
    work clone, the fake API server with ``namespaces``, and a KubeClient on it (``client``: its
    other arguments); the simulator must end without errors. ``simulate=False``: no controllers, for
    a test that writes every object and status itself (the simulator, on the wall clock, would
    rewrite them while it does)."""
    bare = tmp_path / "apps.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    sh(work, "checkout", "-q", "-b", "main")
    with FakeKube(token="cluster-token-0123456789") as kube:
        for ns in namespaces:
            kube.ensure_namespace(ns)
        settings = Settings(kubeconfig=kube.kubeconfig(tmp_path / "kubeconfig"), allowed_roots=[tmp_path])
        with ExitStack() as stack:
            sim = stack.enter_context(GitOpsSimulator(kube, {URL: bare})) if simulate else None
            e = Env(kube, sim, stack.enter_context(KubeClient(settings, **client)), work)
            e.commit(files, "initial")
            yield e
            assert sim is None or sim.errors == []


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    web = {
        "apps/web/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
        "apps/web/deploy.yaml": DEPLOY.format(n=1, image="nginx:1"),
    }
    with make_env(tmp_path, web) as e:
        yield e


def flux_app(kube: FakeKube, interval: str = "10m", path: str = "./apps/web") -> None:
    kube.put(git_repository("apps", URL, interval=interval))
    kube.put(kustomization("web", path, "apps", target_namespace="web", interval=interval))


def test_flux_push_reconcile_wait(env: Env) -> None:
    sha1 = sh(env.work, "rev-parse", "HEAD")
    flux_app(env.kube)
    r = wait_for_sync(env.client, "Kustomization", "web", "flux-system", sha1, 20, registry=REGISTRY)
    assert r.outcome == "synced", r
    assert r.status.revision == f"main@sha1:{sha1}" and commit_of(r.status.revision) == sha1
    dep = env.kube.find("apps/v1", "Deployment", "web", "web")
    assert dep is not None and dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "web"
    # a new commit is not picked up before the 10m interval ... unless reconcile asks for it
    sha2 = env.commit({"apps/web/deploy.yaml": DEPLOY.format(n=3, image="nginx:2")})
    with virtual_time(env.client, tick=1.0):  # the timeout passes on the test's clock, not in real time
        early = wait_for_sync(env.client, "Kustomization", "web", "flux-system", sha2, 1, registry=REGISTRY)
    assert early.outcome == "timeout" and "waiting for" in early.message
    rec = reconcile(env.client, "Kustomization", "web", "flux-system", with_source=True, registry=REGISTRY)
    assert rec.handled and rec.requested == ["GitRepository/flux-system/apps", "Kustomization/flux-system/web"]
    done = wait_for_sync(env.client, "Kustomization", "web", "flux-system", sha2, 20, registry=REGISTRY)
    assert done.outcome == "synced"
    assert env.kube.find("apps/v1", "Deployment", "web", "web")["spec"]["replicas"] == 3  # type: ignore[index]


def test_flux_failure_reports_the_controller_message(env: Env) -> None:
    flux_app(env.kube)
    assert (
        wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY).outcome
        == "synced"
    )
    bad = env.commit({"apps/web/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: [broken\n"})
    # the controller answers a failed build too: confirmed at once, not after the confirmation's timeout
    assert reconcile(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY).handled
    r = wait_for_sync(env.client, "Kustomization", "web", "flux-system", bad, 20, registry=REGISTRY)
    assert r.outcome == "failed" and "kustomize build failed" in r.message
    assert r.status.attempted_revision == f"main@sha1:{bad}" and r.status.revision != r.status.attempted_revision
    st = get_status(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY)
    # as the real kustomize-controller writes it: Reconciling=True/ProgressingWithRetry, then Ready=False
    assert st.state == "failed" and [(c.type, c.reason) for c in st.conditions] == [
        ("Reconciling", "ProgressingWithRetry"),
        ("Ready", "BuildFailed"),
    ]


def test_missing_path_and_suspend(env: Env) -> None:
    flux_app(env.kube, path="./does/not/exist")
    r = wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY)
    assert r.outcome == "failed" and "path not found" in r.message
    env.kube.patch(
        env.kube.resource_for(KS_API, "Kustomization"),
        "flux-system",
        "web",
        {"spec": {"suspend": True}},
        "application/merge-patch+json",
    )
    with pytest.raises(UserInputError, match="suspended"):
        reconcile(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY)
    assert get_status(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY).state == "suspended"


def test_argocd_auto_and_manual_sync(env: Env) -> None:
    sha = sh(env.work, "rev-parse", "HEAD")
    app = application("web", URL, "apps/web", "web", create_namespace=True)
    env.kube.put(app)
    env.sim.settle()  # the controller had its passes: manual, it applies nothing
    with virtual_time(env.client, env.kube):  # the timeout passes on the test's clock, not in real time
        r = wait_for_sync(env.client, "Application", "web", "argocd", sha, 2, registry=REGISTRY)
    assert r.outcome == "timeout" and r.status.sync_status == "OutOfSync"  # manual: nothing applied
    rec = reconcile(env.client, "Application", "web", "argocd", sync=True, registry=REGISTRY)
    assert rec.sync_started and rec.handled
    done = wait_for_sync(env.client, "Application", "web", "argocd", sha, 20, registry=REGISTRY)
    assert done.outcome == "synced" and done.status.health_status == "Healthy"
    dep = env.kube.find("apps/v1", "Deployment", "web", "web")
    assert dep is not None
    assert dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == "web:apps/Deployment:web/web"
    env.sim.fail_next("Application", "web", "one or more objects failed to apply: admission webhook denied")
    env.kube.patch(
        env.kube.resource_for("argoproj.io/v1alpha1", "Application"),
        "argocd",
        "web",
        {"operation": {"sync": {}}},
        "application/merge-patch+json",
    )
    failed = wait_for_sync(env.client, "Application", "web", "argocd", None, 20, registry=REGISTRY)
    assert failed.outcome == "failed" and "admission webhook" in failed.message


def test_wait_reports_progress_at_least_every_few_seconds(env: Env) -> None:
    flux_app(env.kube)
    seen: list[tuple[float, str]] = []
    with virtual_time(env.client, env.kube):  # half a minute on the test's clock: the watches end on it too
        r = wait_for_sync(
            env.client,
            "Kustomization",
            "web",
            "flux-system",
            "f" * 40,
            30,
            progress=lambda t, m: seen.append((t, m)),
            registry=REGISTRY,
        )
    assert r.outcome == "timeout" and r.waited_s >= 30
    times = [t for t, _ in seen]
    assert len(times) >= 6 and max(b - a for a, b in zip([0.0, *times], [*times, r.waited_s], strict=True)) <= 5.5


def test_not_found_and_errors(env: Env, tmp_path: Path) -> None:
    assert get_status(env.client, "Kustomization", "nope", "flux-system", registry=REGISTRY).state == "not_found"
    assert (
        wait_for_sync(env.client, "Kustomization", "nope", "flux-system", None, 1, registry=REGISTRY).outcome
        == "not_found"
    )
    with pytest.raises(UserInputError, match="kind must be one of"):
        get_status(env.client, "Deployment", "web", "web", registry=REGISTRY)
    env.kube.fail_next("GET", "kustomizations/web$", 403, times=1)
    with pytest.raises(ClusterError, match="RBAC"):
        get_status(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY)
    env.kube.fail_next("GET", "kustomizations/web$", 503, times=2)  # transient: retried, backing off
    with virtual_time(env.client) as clock:
        assert get_status(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY).state == "not_found"
    assert clock.slept == [0.2, 0.4]
    with pytest.raises(ClusterUnavailable, match="KUBECONFIG"):
        KubeClient(Settings(kubeconfig=None), None) if not (Path.home() / ".kube/config").exists() else (
            _raise_unavailable()
        )


def _raise_unavailable() -> Any:
    raise ClusterUnavailable("no Kubernetes cluster is configured: set GITOPS_MCP_KUBECONFIG or KUBECONFIG")


def test_unreachable_cluster(tmp_path: Path) -> None:
    with FakeKube() as kube:
        path = kube.kubeconfig(tmp_path / "kc")
    client = KubeClient(Settings(kubeconfig=path, kube_timeout_seconds=2))
    with pytest.raises(ClusterUnavailable, match="unreachable"):
        client.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "x", "flux-system")


def test_watch_wakes_on_status_change(env: Env) -> None:
    """No polling: the status written by the controller ends the wait right away."""
    flux_app(env.kube)
    assert (
        wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY).outcome
        == "synced"
    )
    target = "e" * 40
    t = threading.Timer(
        0.3,
        lambda: env.kube.patch_status(
            KS_API,
            "Kustomization",
            "flux-system",
            "web",
            {
                **(env.kube.find(KS_API, "Kustomization", "flux-system", "web") or {})["status"],
                "lastAppliedRevision": f"main@sha1:{target}",
            },
        ),
    )
    t.start()
    r = wait_for_sync(env.client, "Kustomization", "web", "flux-system", target, 20, registry=REGISTRY)
    assert r.outcome == "synced" and r.waited_s < 5


# -- through MCP -------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cluster_tools_over_mcp(env: Env, tmp_path: Path) -> None:
    from mcp import Client

    from gitops_mcp.server import build_server

    shared = CRDS / "flux"
    if shared.exists():  # the cluster's own CRDs (the real Flux ones) drive validation and the controller check
        import yaml as pyyaml

        for f in sorted(shared.glob("*.yaml")):
            for doc in pyyaml.safe_load_all(f.read_text(encoding="utf-8")):
                if doc:
                    env.kube.put(doc)
    flux_app(env.kube)
    sha = sh(env.work, "rev-parse", "HEAD")
    settings = Settings(kubeconfig=tmp_path / "kubeconfig", allowed_roots=[tmp_path], state_dir=tmp_path / "s")
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, msg: str | None) -> None:
        progress.append((p, total, msg))

    async with Client(build_server(settings)) as c:
        r = await c.call_tool(
            "wait_for_sync",
            {"kind": "Kustomization", "name": "web", "namespace": "flux-system", "revision": sha, "timeout_s": 20},
            progress_callback=on_progress,
        )
        assert not r.is_error, r.content
        assert r.structured_content["outcome"] == "synced"  # type: ignore[index]
        st = await c.call_tool("get_sync_status", {"kind": "Kustomization", "name": "web", "namespace": "flux-system"})
        assert st.structured_content["state"] == "ready"  # type: ignore[index]
        rec = await c.call_tool("reconcile", {"kind": "Kustomization", "name": "web", "namespace": "flux-system"})
        assert rec.structured_content["handled"] is True  # type: ignore[index]
        owner = await c.call_tool(
            "find_owner",
            {
                "api_version": "apps/v1",
                "kind": "Deployment",
                "name": "web",
                "namespace": "web",
                "repo_path": str(env.work),
            },
        )
        assert not owner.is_error, owner.content
        assert owner.structured_content["file"]["file"] == "apps/web/deploy.yaml"  # type: ignore[index]
        bad = await c.call_tool("get_sync_status", {"kind": "Deployment", "name": "x", "namespace": "y"})
        assert bad.is_error
        providers = await c.call_tool("list_providers", {})
        report = providers.structured_content
        assert report is not None and report["cluster"] == env.kube.base
        if shared.exists():
            flux = next(x for x in report["controllers"] if x["provider"] == "flux")
            assert flux["installed"] and any(crd["kind"] == "Kustomization" for crd in flux["crds"])
            v = await c.call_tool(
                "validate_manifests",
                {
                    "yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
                    "kind: Kustomization\nmetadata: {name: a, namespace: flux-system}\n"
                    "spec: {interval: 5m, prune: true, prnue: 1, sourceRef: {kind: GitRepository, "
                    "name: r}}\n"
                },
            )
            vr = v.structured_content
            assert vr is not None and vr["schema_source"] == "cluster" and not vr["valid"]
    assert progress and progress[-1][2] and "ready" in progress[-1][2]


def test_health_check_failure_and_running_sync_refused(env: Env) -> None:
    flux_app(env.kube)
    env.kube.patch(
        env.kube.resource_for(KS_API, "Kustomization"),
        "flux-system",
        "web",
        {"spec": {"wait": True}},
        "application/merge-patch+json",
    )
    assert (
        wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY).outcome
        == "synced"
    )
    sha = env.commit({"apps/web/deploy.yaml": DEPLOY.format(n=1, image="registry/fail:latest")})
    assert reconcile(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY).handled
    r = wait_for_sync(env.client, "Kustomization", "web", "flux-system", sha, 20, registry=REGISTRY)
    assert r.outcome == "failed" and "health check failed" in r.message
    env.kube.put(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "busy", "namespace": "argocd"},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://nowhere.example/x.git", "path": "."},
                "destination": {"namespace": "web"},
            },
        }
    )
    env.kube.patch_status(
        "argoproj.io/v1alpha1", "Application", "argocd", "busy", {"operationState": {"phase": "Running"}}
    )
    with pytest.raises(UserInputError, match="already has a sync operation running"):
        reconcile(env.client, "Application", "busy", "argocd", sync=True, registry=REGISTRY)
