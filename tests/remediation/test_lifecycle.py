"""Remove, suspend and resume through Git on the fake cluster, for Flux and Argo CD: the document
leaves the file that defines it (the file and its kustomization entry when it was alone), the
controllers prune what they managed and it is gone; what would leave live objects behind (pruning
off, a bootstrap's own objects) is refused before anything is written; a suspended engine stops
applying new commits and a resumed one applies them again."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_mcp.remediation import Refused, Remove, Suspension
from lifecycle_kit import DEPLOY, MERGE, NS, Env, make_env


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
