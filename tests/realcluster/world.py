"""A real-cluster world: the project's authenticated `git http-backend` remote on 127.0.0.1, a work
clone of the podinfo fixture pushed to it, and gitops-mcp's Services talking to the testbed's API
server as the gitops-mcp ServiceAccount (the RBAC of deploy/kubernetes)."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import FIXTURES, make_repo, need_shared
from doubles.git_remote import GitHttpServer
from gitops_mcp.remediation import SetImage
from gitops_mcp.services import Services
from gitops_mcp.settings import PolicySettings, Settings

from .conftest import Testbed

USER = "x-access-token"
TOKEN = "realcluster-token-0123456789"
IMAGE = "ghcr.io/stefanprodan/podinfo"
_seq = itertools.count(1)


def reconciled(app: Services, kind: str, name: str, namespace: str, sha: str, seconds: float = 60) -> tuple[Any, float]:
    """A reconcile request (its source first), then wait_for_sync for ``sha`` up to ``seconds``:
    (the result, how long both took)."""
    t0 = time.monotonic()
    app.cluster.reconcile(kind, name, namespace, with_source=True)
    return app.cluster.wait(kind, name, namespace, sha, seconds), time.monotonic() - t0


def unique(prefix: str) -> str:
    """A name no other test of this session uses (the testbed is shared)."""
    return f"{prefix}-{os.getpid() % 1000}-{next(_seq)}"


@dataclass
class RealWorld:
    tb: Testbed
    remote: GitHttpServer
    root: Path
    work: Path
    url: str
    repo: str
    created: list[str]  # kind/name of the Flux objects in flux-system this world made, deleted after

    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = self.remote.client_env(USER)
        return subprocess.run(
            ["git", *args], cwd=cwd or self.work, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit_and_push(self, message: str, branch: str = "main") -> str:
        """Commit all that changed in the work clone and push it to ``branch``; the new SHA."""
        self.git("add", "-A")
        self.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", message)
        self.git("push", "-q", "origin", branch)
        return self.git("rev-parse", "HEAD")

    def head(self) -> str | None:
        return self.remote.head(self.repo)

    def settings(self, **overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "allowed_roots": [self.root],
            "state_dir": self.root / "state",
            "cache_dir": self.root / "cache",
            "git_token": TOKEN,
            "allowed_git_hosts": [f"127.0.0.1:{self.remote.port}"],
            "git_allow_http": True,
            "kubeconfig": self.tb.server_kubeconfig,
            "policy": PolicySettings(secure_git_urls=False),  # the remote is plain http on loopback
            "wizard_wait_seconds": 120,
        }
        return Settings(**{**base, **overrides})

    def app(self, **overrides: Any) -> Services:
        return Services(self.settings(**overrides))


def podinfo_world(tb: Testbed, root: Path, remote: GitHttpServer) -> RealWorld:
    """podinfo (the shared fixture) pushed to a new repository on ``remote``, cloned to root/work."""
    repo = f"org/{unique('podinfo')}.git"
    url = remote.url(repo)
    remote.create_repo(repo)
    seed = make_repo(root / "seed", need_shared(FIXTURES / "podinfo"))
    (seed / "clusters/dev").mkdir(parents=True)
    (seed / "clusters/dev/README.md").write_text("The dev cluster syncs this directory.\n", encoding="utf-8")
    w = RealWorld(tb, remote, root, root / "work", url, repo, [])
    w.git("add", "-A", cwd=seed)
    w.git("commit", "-qm", "clusters/dev", cwd=seed)
    w.git("push", "-q", url, "main", cwd=seed)
    w.git("clone", "-q", url, str(w.work), cwd=root)
    return w


def set_image_goes_live(w: RealWorld, ns: str) -> dict[str, Any]:
    """remediate set_image (push, on the work clone) on the podinfo Deployment in ``ns``: the one file
    edited, pushed, verified live, and the Deployment runs the new image. The live Deployment."""
    fix = w.app().remediation.remediate(
        "apps/v1", "Deployment", "podinfo", ns, SetImage(image=f"{IMAGE}:6.14.2"), mode="push",
        repo_path=str(w.work),
    )  # fmt: skip
    assert fix.live_ok is True, fix.message
    assert fix.plan is not None and [e.file for e in fix.plan.edits] == ["kustomize/deployment.yaml"]
    assert fix.commit is not None and fix.commit.commit_sha == w.head()
    live = w.tb.get("deployment", "podinfo", ns)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:6.14.2"
    return live


def bootstrap(w: RealWorld) -> str:
    """What `flux bootstrap` leaves: a GitRepository and a Kustomization applying ./clusters/dev of the
    repository (applied as admin); returns the Kustomization's name once it is Ready."""
    name = unique("dev")
    w.tb.plane.apply(
        f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: {name}, namespace: flux-system}}
spec: {{interval: 10m, url: "{w.url}", ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: flux-system}}
spec: {{interval: 10m, path: ./clusters/dev, prune: true, sourceRef: {{kind: GitRepository, name: {name}}}}}
"""
    )
    w.created += [f"kustomization/{name}", f"gitrepository/{name}"]
    w.tb.kubectl(
        "wait", "--for=condition=Ready", "--timeout=60s", "-n", "flux-system", f"kustomization/{name}", timeout=70
    )
    return name


def cleanup(w: RealWorld) -> None:
    """Delete the Flux objects the world made (their applied objects are pruned with them)."""
    if w.created:
        w.tb.kubectl("delete", "--wait=false", "--ignore-not-found", "-n", "flux-system", *w.created)
