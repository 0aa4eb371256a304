"""The fake world of the remove/suspend/resume tests (tests/remediation/test_lifecycle.py), shared with the
live-effect tests (tests/services/test_live_effect.py): a repository whose app `web` (a Deployment and a
ConfigMap in namespace web) is applied by a Flux Kustomization or an Argo CD Application under an
app-of-apps root, the simulated controllers running, both synced."""

from __future__ import annotations

import posixpath
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from doubles.controllers import GitOpsSimulator
from doubles.world import World, git_repository, kustomization
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
