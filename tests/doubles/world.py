"""The end-to-end world the tests and the benches share: an authenticated git remote, the fake API
server, the simulated controllers reading the remote's repositories, and gitops-mcp's settings for
all of it; with the Flux and Argo CD objects that wire a repository to the cluster.

    with World(tmp) as w:
        url = w.seed("org/apps.git", tmp / "work", {"apps/cm.yaml": CM})
        w.flux("apps", url, "./apps", target_namespace="apps")
        settings = w.settings()
        with w.controllers() as sim:
            ...
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from doubles.controllers import GitOpsSimulator
from doubles.git_remote import GitHttpServer
from doubles.kube import FakeKube
from doubles.kube.resources import Obj
from gitops_mcp.settings import PolicySettings, Settings

USER = "x-access-token"
TOKEN = "world-token-0123456789"


def git_repository(name: str, url: str, *, branch: str = "main", interval: str = "10m") -> Obj:
    """A Flux GitRepository in flux-system following ``branch`` of ``url``."""
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": interval, "url": url, "ref": {"branch": branch}},
    }


def kustomization(
    name: str, path: str, source: str, *, target_namespace: str | None = None, interval: str = "10m"
) -> Obj:
    """A Flux Kustomization in flux-system applying (and pruning) ``path`` of the GitRepository ``source``."""
    spec: Obj = {"interval": interval, "path": path, "prune": True}
    if target_namespace is not None:
        spec["targetNamespace"] = target_namespace
    spec["sourceRef"] = {"kind": "GitRepository", "name": source}
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": spec,
    }


def crd(group: str, kind: str, versions: tuple[str, ...] = ("v1",)) -> Obj:
    """A namespaced CustomResourceDefinition of ``kind`` (plural: lower case + s) in ``group``, serving
    ``versions``, the last one stored."""
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural},
            "scope": "Namespaced",
            "versions": [{"name": v, "served": True, "storage": v == versions[-1]} for v in versions],
        },
    }


def application(
    name: str,
    url: str,
    path: str,
    destination: str,
    *,
    revision: str = "HEAD",
    automated: bool = False,
    create_namespace: bool = False,
) -> Obj:
    """An Argo CD Application in argocd deploying ``path`` of ``url`` at ``revision`` into the
    namespace ``destination`` of the local cluster; manual sync unless ``automated``."""
    policy: Obj = {}
    if automated:
        policy["automated"] = {}
    if create_namespace:
        policy["syncOptions"] = ["CreateNamespace=true"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": url, "targetRevision": revision, "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": destination},
            "syncPolicy": policy,
        },
    }


class World:
    """The git remote (Basic auth: ``x-access-token`` / ``token``) and the fake API server, both
    serving while the world is entered; the controllers run inside :meth:`controllers`. Every file
    (the remote's repositories, kubeconfig, state, cache) lives under ``root``."""

    def __init__(self, root: Path, token: str = TOKEN) -> None:
        self.root = root
        self.token = token
        self.remote = GitHttpServer(root / "srv", users={USER: token})
        self.kube = FakeKube()
        self.repos: dict[str, Path] = {}  # URL -> bare repository: what the controllers fetch
        self._stack = ExitStack()

    def __enter__(self) -> World:
        with ExitStack() as stack:
            stack.enter_context(self.remote)
            stack.enter_context(self.kube)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def git(self, cwd: Path, *args: str) -> str:
        """``git args`` in ``cwd``, authenticated to the remote; its output."""
        env = self.remote.client_env(USER)
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def create_repo(self, name: str) -> str:
        """A new empty repository ``name`` on the remote, known to the controllers; its URL."""
        url = self.remote.url(name)
        self.repos[url] = self.remote.create_repo(name)
        return url

    def seed(self, name: str, work: Path, files: Mapping[str, str]) -> str:
        """A new repository ``name`` on the remote whose main is one commit of ``files``, pushed from
        ``work``, a new working repository with the remote as its origin; the remote's URL."""
        url = self.create_repo(name)
        work.mkdir(parents=True)
        self.git(work, "init", "-q", "-b", "main")
        for rel, text in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text, encoding="utf-8")
        self.git(work, "add", "-A")
        self.git(work, "-c", "user.name=World", "-c", "user.email=world@example.com", "commit", "-qm", "initial")
        self.git(work, "remote", "add", "origin", url)
        self.git(work, "push", "-q", "origin", "main")
        return url

    def flux(
        self, name: str, url: str, path: str, *, source: str | None = None, target_namespace: str | None = None
    ) -> None:
        """Flux applying ``path`` of ``url``'s main branch: the GitRepository ``source`` (default:
        ``name``) and the Kustomization ``name``, in flux-system; the namespaces they need are made."""
        for ns in ("flux-system", target_namespace):
            if ns is not None:
                self.kube.ensure_namespace(ns)
        self.kube.put(git_repository(source or name, url))
        self.kube.put(kustomization(name, path, source or name, target_namespace=target_namespace))

    def settings(self, **overrides: Any) -> Settings:
        """gitops-mcp in this world: roots, state and cache under ``root``, the token for the remote
        (its loopback host allowed over plain http), the fake API server's kubeconfig."""
        base: dict[str, Any] = {
            "allowed_roots": [self.root],
            "state_dir": self.root / "state",
            "cache_dir": self.root / "cache",
            "git_token": self.token,
            "allowed_git_hosts": [f"127.0.0.1:{self.remote.port}"],
            "git_allow_http": True,
            "kubeconfig": self.kube.kubeconfig(self.root / "kubeconfig"),
            "policy": PolicySettings(secure_git_urls=False),  # the remote is plain http on loopback
        }
        return Settings(**{**base, **overrides})

    @contextmanager
    def controllers(self) -> Iterator[GitOpsSimulator]:
        """The simulated Flux and Argo CD controllers, running while the block runs; when it ends
        without an exception, they must not have raised any."""
        with GitOpsSimulator(self.kube, self.repos) as sim:
            yield sim
            assert sim.errors == [], sim.errors
