"""The two backends the Flux contract suite (test_flux_contract.py) runs the same scenarios on:

- ``fake``: the fake API server and the simulated Flux controllers of tests/doubles (reading the
  remote's repositories from disk);
- ``real``: the testbed's kube-apiserver and the real source-, kustomize- and helm-controller, which
  fetch from the remote over HTTP (anonymous reads; pushes need the token).

Both give the scenario a work clone whose pushes go to the authenticated `git http-backend` remote,
a way to apply Flux objects as the cluster's admin, to read any object raw, and gitops-mcp's Services
(on the testbed: as the gitops-mcp ServiceAccount, deploy/kubernetes' RBAC).
"""

from __future__ import annotations

import json
import subprocess
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from doubles import world as fake_world
from doubles.git_remote import GitHttpServer
from gitops_mcp.services import Services
from gitops_mcp.settings import PolicySettings, Settings

from .conftest import Testbed
from .world import TOKEN, USER, unique

Obj = dict[str, Any]
SOURCE = "source.toolkit.fluxcd.io/v1"
KS = "kustomize.toolkit.fluxcd.io/v1"
HR = "helm.toolkit.fluxcd.io/v2"


class Backend:
    """What a scenario may do; the subclasses do it on the fake or on the testbed."""

    name: str
    root: Path
    work: Path
    url: str
    remote: GitHttpServer

    def unique(self, prefix: str) -> str:
        return unique(prefix)

    def git(self, *args: str) -> str:
        env = self.remote.client_env(USER)
        return subprocess.run(
            ["git", *args], cwd=self.work, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def push(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (None: delete) files in the work clone, commit, push main; the new commit's SHA."""
        for rel, text in files.items():
            p = self.work / rel
            if text is None:
                p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        self.git("add", "-A")
        self.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", message)
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")

    def settings(self, kubeconfig: Path) -> Settings:
        return Settings(
            allowed_roots=[self.root],
            state_dir=self.root / "state",
            cache_dir=self.root / "cache",
            git_token=TOKEN,
            allowed_git_hosts=[f"127.0.0.1:{self.remote.port}"],
            git_allow_http=True,
            kubeconfig=kubeconfig,
            policy=PolicySettings(secure_git_urls=False),
        )

    # -- what the subclasses provide -------------------------------------------------------------------------
    def app(self) -> Services:
        raise NotImplementedError

    def apply(self, doc: Obj) -> None:
        raise NotImplementedError

    def namespace(self, name: str) -> None:
        raise NotImplementedError

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class FakeBackend(Backend):
    name = "fake"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stack = ExitStack()
        self.w = self._stack.enter_context(fake_world.World(root, TOKEN))
        self.remote = self.w.remote
        self.work = root / "work"
        self.url = self.w.seed("org/apps.git", self.work, {"README.md": "apps\n"})
        self.w.kube.ensure_namespace("flux-system")
        self.sim = self._stack.enter_context(self.w.controllers())

    def app(self) -> Services:
        return Services(self.settings(self.w.kube.kubeconfig(self.root / "kubeconfig")))

    def apply(self, doc: Obj) -> None:
        self.w.kube.put(doc)

    def namespace(self, name: str) -> None:
        self.w.kube.ensure_namespace(name)

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        return self.w.kube.find(api_version, kind, namespace, name)

    def close(self) -> None:
        self._stack.close()


class RealBackend(Backend):
    name = "real"

    def __init__(self, tb: Testbed, root: Path) -> None:
        self.tb = tb
        self.root = root
        self.remote = GitHttpServer(root / "srv", users={USER: TOKEN}, anonymous_read=True)
        self.remote.__enter__()
        self.created: list[tuple[str, str, str | None]] = []  # (kind, name, namespace) to delete after
        repo = f"org/{unique('apps')}.git"
        self.url = self.remote.url(repo)
        self.remote.create_repo(repo)
        self.work = root / "work"
        self.work.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", self.url)
        self.push({"README.md": "apps\n"}, "initial")

    def app(self) -> Services:
        return Services(self.settings(self.tb.server_kubeconfig))

    def apply(self, doc: Obj) -> None:
        self.tb.plane.apply(json.dumps(doc))
        meta = doc["metadata"]
        self.created.append((doc["kind"], meta["name"], meta.get("namespace")))

    def namespace(self, name: str) -> None:
        self.tb.namespace(name)
        self.created.append(("Namespace", name, None))

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        what = f"{kind.lower()}.{api_version.rsplit('/', 1)[-1]}.{group}" if group else kind.lower()
        args = ["get", what, name, "--ignore-not-found", "-o", "json"]
        out = self.tb.kubectl(*args, *(["-n", namespace] if namespace else []))
        return json.loads(out) if out.strip() else None

    def close(self) -> None:
        try:
            # the appliers first (their finalizers garbage-collect what they applied), then the rest
            order = {"Kustomization": 0, "HelmRelease": 0, "GitRepository": 1, "Namespace": 2}
            for kind, name, ns in sorted(self.created, key=lambda c: order.get(c[0], 1)):
                args = ["delete", kind.lower(), name, "--wait=false", "--ignore-not-found"]
                self.tb.kubectl(*args, *(["-n", ns] if ns else []))
        finally:
            self.remote.__exit__(None, None, None)


def git_repository(name: str, url: str, **spec: Any) -> Obj:
    return {
        "apiVersion": SOURCE,
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "url": url, "ref": {"branch": "main"}, **spec},
    }


def kustomization(name: str, path: str, source: str, **spec: Any) -> Obj:
    return {
        "apiVersion": KS,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": path,
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": source},
            **spec,
        },
    }


def helm_release(name: str, chart: str, source: str, target_namespace: str, **spec: Any) -> Obj:
    return {
        "apiVersion": HR,
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "targetNamespace": target_namespace,
            "chart": {
                "spec": {
                    "chart": chart,
                    "reconcileStrategy": "Revision",
                    "sourceRef": {"kind": "GitRepository", "name": source},
                }
            },
            **spec,
        },
    }
