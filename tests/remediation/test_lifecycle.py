"""Remove, suspend and resume through Git on the fake cluster, for Flux and Argo CD: the document
leaves the file that defines it (the file and its kustomization entry when it was alone), the
controllers prune what they managed and it is gone; what would leave live objects behind (pruning
off, a bootstrap's own objects) is refused before anything is written; a suspended engine stops
applying new commits and a resumed one applies them again."""

from __future__ import annotations

import posixpath
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from doubles.controllers import GitOpsSimulator
from doubles.world import World, git_repository, kustomization
from gitops_mcp.remediation import Refused, Remove, Suspension
from gitops_mcp.services import Services

NS = "web"
MERGE = "application/merge-patch+json"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n"
    "    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n"
    "      containers:\n        - name: web\n          image: nginx:1.25\n"
)
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  a: '1'\n"
KUSTOMIZATION = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deploy.yaml\n  - cm.yaml\n"
)


def flux_child(prune: bool = True) -> str:
    return (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n"
        f"  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps/web\n  prune: {str(prune).lower()}\n"
        f"  targetNamespace: {NS}\n  sourceRef:\n    kind: GitRepository\n    name: apps\n"
    )


def argo_child(url: str, prune: bool = True) -> str:
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\n"
        "  finalizers:\n    - resources-finalizer.argocd.argoproj.io\nspec:\n  project: default\n  source:\n"
        f"    repoURL: {url}\n    targetRevision: main\n    path: apps/web\n  destination:\n"
        f"    server: https://kubernetes.default.svc\n    namespace: {NS}\n  syncPolicy:\n    automated:\n"
        f"      prune: {str(prune).lower()}\n"
    )


def root_app(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "root", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": url, "targetRevision": "main", "path": "apps/root"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "argocd"},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }


@dataclass
class Env:
    world: World
    app: Services
    url: str
    engine: str
    work: Path
    sim: GitOpsSimulator
    name: str = "org/apps.git"

    @property
    def root(self) -> tuple[str, str, str]:
        return (
            ("Kustomization", "flux-system", "flux-system")
            if self.engine == "flux"
            else ("Application", "root", "argocd")
        )

    @property
    def child(self) -> tuple[str, str, str]:
        return ("Kustomization", "web", "flux-system") if self.engine == "flux" else ("Application", "web", "argocd")

    def live(self, api: str, kind: str, name: str, ns: str | None = NS) -> dict | None:
        return self.world.kube.find(api, kind, ns, name)

    def synced(self, kind: str, name: str, ns: str, revision: str | None = None) -> None:
        r = self.app.cluster.wait(kind, name, ns, revision, 30)
        assert r.outcome == "synced", r.message

    def push(self, rel: str, text: str) -> str:
        """A commit by someone else on main: ``rel`` set to ``text``; its SHA."""
        w = self.world
        w.git(self.work, "pull", "-q", "--rebase", "origin", "main")
        (self.work / rel).write_text(text, encoding="utf-8")
        w.git(self.work, "add", "-A")
        w.git(self.work, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", f"edit {rel}")
        w.git(self.work, "push", "-q", "origin", "main")
        return w.remote.head(self.name) or ""

    def has(self, rel: str) -> bool:
        bare = self.world.repos[self.url]
        return subprocess.run(["git", "-C", str(bare), "cat-file", "-e", f"main:{rel}"]).returncode == 0


def make_env(tmp: Path, engine: str, *, prune: bool = True) -> Iterator[Env]:
    with World(tmp) as w:
        url = w.remote.url("org/apps.git")
        parent = "clusters/dev/web.yaml" if engine == "flux" else "apps/root/web.yaml"
        files = {
            "apps/web/kustomization.yaml": KUSTOMIZATION,
            "apps/web/deploy.yaml": DEPLOY,
            "apps/web/cm.yaml": CM,
            parent: flux_child(prune) if engine == "flux" else argo_child(url, prune),
            posixpath.join(
                posixpath.dirname(parent), "ns.yaml"
            ): f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NS}\n",
        }
        if engine == "flux":  # a piece of the Flux installation, applied by flux-system
            files["clusters/dev/controller.yaml"] = DEPLOY.replace(
                "name: web\n", "name: source-controller\n  namespace: flux-system\n", 1
            )
        else:  # the app-of-apps root manages itself
            files["apps/root/root.yaml"] = yaml.safe_dump(root_app(url))
        assert w.seed("org/apps.git", tmp / "work", files) == url
        w.kube.ensure_namespace(NS)
        if engine == "flux":
            w.kube.ensure_namespace("flux-system")
            w.kube.put(git_repository("apps", url))
            w.kube.put(kustomization("flux-system", "./clusters/dev", "apps"))
        else:
            w.kube.ensure_namespace("argocd")
            w.kube.put(root_app(url))
        app = Services(w.settings())
        try:
            with w.controllers() as sim:
                env = Env(w, app, url, engine, tmp / "work", sim)
                env.synced(*env.root)
                env.synced(*env.child)
                assert env.live("apps/v1", "Deployment", "web") is not None
                yield env
        finally:
            app.close()


@pytest.fixture(params=["flux", "argocd"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    yield from make_env(tmp_path, request.param)


def test_remove_a_live_deployment(env: Env) -> None:
    r = env.app.remediation.remediate("apps/v1", "Deployment", "web", NS, Remove(), mode="push")
    assert r.commit is not None and r.commit.status == "pushed", r.message
    assert r.live_ok is True, r.message
    assert env.live("apps/v1", "Deployment", "web") is None
    assert env.live("v1", "ConfigMap", "web-config") is not None  # only the Deployment was removed
    assert not env.has("apps/web/deploy.yaml")  # alone in its file: the file goes
    kust = env.world.remote.show(env.name, "main", "apps/web/kustomization.yaml")
    assert "deploy.yaml" not in kust and "- cm.yaml" in kust
    bare = env.world.repos[env.url]
    subject = subprocess.run(
        ["git", "-C", str(bare), "log", "-1", "--format=%s", "main"], capture_output=True, text=True
    )
    assert subject.stdout.strip() == "Remove Deployment web/web"


def test_remove_the_apps_gitops_object_prunes_everything_it_managed(env: Env) -> None:
    kind, name, ns = env.child
    api = "kustomize.toolkit.fluxcd.io/v1" if env.engine == "flux" else "argoproj.io/v1alpha1"
    r = env.app.remediation.remediate(api, kind, name, ns, Remove(), mode="push")
    assert r.live_ok is True, r.message
    assert "the 2 objects it applied are gone" in r.live_detail
    assert env.live(api, kind, name, ns) is None
    assert env.live("apps/v1", "Deployment", "web") is None and env.live("v1", "ConfigMap", "web-config") is None
    parent = "clusters/dev/web.yaml" if env.engine == "flux" else "apps/root/web.yaml"
    assert not env.has(parent) and env.has("apps/web/deploy.yaml")  # the app's own files are left in Git


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_removal_with_pruning_off_is_refused_before_writing(tmp_path: Path, engine: str) -> None:
    for e in make_env(tmp_path, engine, prune=False):
        head = e.world.remote.head(e.name)
        with pytest.raises(Refused, match=r"live objects would stay: .*prune.*nothing was written") as refused:
            e.app.remediation.remediate("apps/v1", "Deployment", "web", NS, Remove(), mode="push")
        assert "orphan: true" in str(refused.value)
        assert e.world.remote.head(e.name) == head
        r = e.app.remediation.remediate("apps/v1", "Deployment", "web", NS, Remove(orphan=True), mode="push")
        assert r.commit is not None and not e.has("apps/web/deploy.yaml")
        assert any("stays after the merge" in n for n in r.plan.notes if r.plan)  # type: ignore[union-attr]
        assert e.live("apps/v1", "Deployment", "web") is not None  # the controller leaves it, as it said


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_bootstrap_objects_are_refused_unless_asked(tmp_path: Path, engine: str) -> None:
    for e in make_env(tmp_path, engine):
        head = e.world.remote.head(e.name)
        if engine == "flux":
            target = ("apps/v1", "Deployment", "source-controller", "flux-system")
            match = "part of the Flux installation"
        else:
            target = ("argoproj.io/v1alpha1", "Application", "root", "argocd")
            match = "is the app-of-apps root"
        with pytest.raises(Refused, match=match) as refused:
            e.app.remediation.remediate(*target, Remove(), mode="push")
        assert "bootstrap: true" in str(refused.value)
        assert e.world.remote.head(e.name) == head
        if engine == "flux":  # said explicitly: removed and pruned
            r = e.app.remediation.remediate(*target, Remove(bootstrap=True), mode="push")
            assert r.live_ok is True, r.message
            assert e.live("apps/v1", "Deployment", "source-controller", "flux-system") is None


def test_suspend_then_resume(env: Env, tmp_path: Path) -> None:
    kind, name, ns = env.child
    api = "kustomize.toolkit.fluxcd.io/v1" if env.engine == "flux" else "argoproj.io/v1alpha1"
    r = env.app.remediation.remediate(api, kind, name, ns, Suspension(type="suspend"), mode="push")
    assert r.live_ok is True, r.message
    assert "is suspended" in r.live_detail
    again = env.app.remediation.remediate(api, kind, name, ns, Suspension(type="suspend"), mode="push")
    assert again.commit is None and "already suspended" in again.message
    sha = env.push("apps/web/deploy.yaml", DEPLOY.replace("nginx:1.25", "nginx:1.27"))
    env.app.cluster.reconcile(*env.root, True, True)
    env.synced(*env.root, sha)  # the parent applied the new commit ...
    ask = "reconcile.fluxcd.io/requestedAt" if env.engine == "flux" else "argocd.argoproj.io/refresh"
    kube = env.world.kube  # asked directly (the tools refuse to reconcile a suspended object)
    kube.patch(kube.resource_for(api, kind), ns, name, {"metadata": {"annotations": {ask: "now"}}}, MERGE)
    env.sim.settle(5)
    image = env.live("apps/v1", "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]  # type: ignore[index]
    assert image == "nginx:1.25"  # ... the suspended one did not
    r = env.app.remediation.remediate(api, kind, name, ns, Suspension(type="resume"), mode="push")
    assert r.live_ok is True, r.message
    assert r.commit is not None and r.commit.commit_sha
    env.synced(kind, name, ns, r.commit.commit_sha)
    image = env.live("apps/v1", "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]  # type: ignore[index]
    assert image == "nginx:1.27"
