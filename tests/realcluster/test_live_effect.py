"""The live effect before a merge, on the real API server with the real Flux and Argo CD controllers:
what gitops-mcp says a change will do (a real kustomize build, a server-side dry run as the
controller's field manager) is what the controller then does, for an image change (the changed
field, and nothing else), a new object (created) and a removal (pruned with what it applied).
Pull requests go to the fake forge on the same git remote, and are merged there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer
from gitops_mcp.cluster.fielddiff import object_diff
from gitops_mcp.remediation import Remove, SetImage
from gitops_mcp.services import Services

from .conftest import Testbed
from .world import TOKEN, USER, RealWorld, bootstrap, cleanup, podinfo_world, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]
IMAGE = "ghcr.io/stefanprodan/podinfo"
FORGE_TOKEN = "ghp_" + "L" * 36
ROLLOUT = 'metadata.annotations["deployment.kubernetes.io/revision"]'  # the Deployment controller's, not Git's
IMAGE_FIELD = "spec.template.spec.containers[name=podinfod].image"


def forge_app(w: RealWorld, forge: FakeForge) -> Services:
    return Services(w.settings(forge="github", github_api_url=forge.github_api, github_token=FORGE_TOKEN))


def repo(w: RealWorld) -> str:
    return w.repo.removesuffix(".git")


def pr_body(forge: FakeForge, w: RealWorld) -> str:
    return str(forge.store.pulls[repo(w)][-1]["body"])


def changed_live(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [p for p in object_diff(before, after) if p != ROLLOUT]


def branch_with(w: RealWorld, branch: str, files: dict[str, str], drop: str | None = None) -> None:
    """A branch of main with ``files`` written (and the kustomize/ resource ``drop`` left out)."""
    w.git("fetch", "-q", "origin", "main")
    w.git("checkout", "-qB", branch, "origin/main")
    for rel, text in files.items():
        (w.work / rel).write_text(text, encoding="utf-8")
    if drop:
        k = w.work / "kustomize/kustomization.yaml"
        k.write_text(k.read_text(encoding="utf-8").replace(f"  - {drop}\n", ""), encoding="utf-8")
    w.git("add", "-A")
    w.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", f"branch {branch}")
    w.git("push", "-q", "origin", branch)
    w.git("checkout", "-q", "main")


def merge_branch(w: RealWorld, branch: str) -> str:
    w.git("fetch", "-q", "origin", branch, "main")
    w.git("checkout", "-qB", "main", "origin/main")
    w.git("merge", "-q", "--ff-only", f"origin/{branch}")
    w.git("push", "-q", "origin", "main")
    return w.git("rev-parse", "HEAD")


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo-extra\ndata:\n  greeting: hello\n"


def add_configmap(w: RealWorld) -> dict[str, str]:
    k = (w.work / "kustomize/kustomization.yaml").read_text(encoding="utf-8")
    return {
        "kustomize/extra.yaml": CM,
        "kustomize/kustomization.yaml": k.replace("resources:\n", "resources:\n  - extra.yaml\n", 1),
    }


DRY_RUN_RBAC = Path(__file__).resolve().parents[2] / "deploy/kubernetes/dry-run/rbac.yaml"
SA = "system:serviceaccount:gitops-mcp:gitops-mcp"


@pytest.fixture
def dry_run_rights(testbed: Testbed) -> Iterator[None]:
    """deploy/kubernetes/dry-run bound to the server's ServiceAccount (removed after: the testbed is shared)."""
    from gitops_testbed.procs import TestbedError, wait_until

    testbed.plane.apply(DRY_RUN_RBAC.read_text(encoding="utf-8"))

    def allowed() -> bool:
        try:
            return (
                testbed.kubectl("auth", "can-i", "patch", "deployments", "--as", SA, "-n", "default").strip() == "yes"
            )
        except TestbedError:  # "no" exits 1
            return False

    try:
        wait_until(allowed, "the dry-run ClusterRole to take effect", 30)  # the authorizer's cache
        yield
    finally:
        testbed.kubectl(
            "delete", "--ignore-not-found", "clusterrolebinding/gitops-mcp-dry-run", "clusterrole/gitops-mcp-dry-run"
        )


# -- Flux ----------------------------------------------------------------------------------------------------
@pytest.fixture
def flux_world(testbed: Testbed, tmp_path: Path, dry_run_rights: None) -> Iterator[tuple[RealWorld, FakeForge]]:
    """With the optional dry-run rights: the API server checks every object."""
    with GitHttpServer(tmp_path / "srv", users={USER: TOKEN}, anonymous_read=True) as remote:
        w = podinfo_world(testbed, tmp_path, remote)
        with FakeForge(remote.root, FORGE_TOKEN) as forge:
            try:
                yield w, forge
            finally:
                cleanup(w)


def test_flux_live_effect_is_what_kustomize_controller_does(flux_world: tuple[RealWorld, FakeForge]) -> None:
    from .test_flux import first_deploy

    w, forge = flux_world
    parent = bootstrap(w)
    r, name, ns = first_deploy(w, "kustomize", register=False)
    assert r.live, r.message
    app = forge_app(w, forge)
    ks_api = "kustomize.toolkit.fluxcd.io/v1"

    # an image change proposed: the description says the one field that changes; merged, it is the one that did
    before = w.tb.get("deployment", "podinfo", ns)
    fix = app.remediation.remediate(
        "apps/v1", "Deployment", "podinfo", ns, SetImage(image=f"{IMAGE}:6.14.2"), mode="pull_request"
    )
    assert fix.plan is not None
    e = fix.plan.live_effect
    assert e is not None and e.skipped is None, e
    assert [(c.kind, c.name, c.fields) for c in e.changed] == [("Deployment", "podinfo", [IMAGE_FIELD])], e
    assert not (e.created or e.pruned or e.refused) and e.unchanged >= 2, e
    assert not e.notes, e.notes  # every object dry-run by the API server
    assert f"- change: Deployment {ns}/podinfo: {IMAGE_FIELD}" in pr_body(forge, w)
    sha = forge.merge(repo(w), 1)
    app.cluster.reconcile("Kustomization", name, "flux-system", with_source=True)
    assert app.cluster.wait("Kustomization", name, "flux-system", sha, 90).outcome == "synced"
    after = w.tb.get("deployment", "podinfo", ns)
    assert changed_live(before, after) == [IMAGE_FIELD]

    # a new object on a branch (get_sync_status with revision): created, nothing else moves; merged, it exists
    w.git("fetch", "-q", "origin", "main")
    w.git("checkout", "-qB", "main", "origin/main")
    branch_with(w, "extra", add_configmap(w))
    s = app.cluster.sync_status("Kustomization", name, "flux-system", revision="extra")
    e = s.live_effect
    assert e is not None and e.skipped is None, e
    assert [(c.kind, c.namespace, c.name) for c in e.created] == [("ConfigMap", ns, "podinfo-extra")], e
    assert not (e.changed or e.pruned or e.refused), e
    before = w.tb.get("deployment", "podinfo", ns)
    sha = merge_branch(w, "extra")
    app.cluster.reconcile("Kustomization", name, "flux-system", with_source=True)
    assert app.cluster.wait("Kustomization", name, "flux-system", sha, 90).outcome == "synced"
    assert w.tb.get("configmap", "podinfo-extra", ns)["data"] == {"greeting": "hello"}
    assert changed_live(before, w.tb.get("deployment", "podinfo", ns)) == []

    # the app's Kustomization removed through a pull request: pruned by the bootstrap, with what it applied
    inventory = len(w.tb.get("kustomization", name, "flux-system")["status"]["inventory"]["entries"])
    out = app.remediation.remediate(ks_api, "Kustomization", name, "flux-system", Remove(), mode="pull_request")
    assert out.plan is not None
    e = out.plan.live_effect
    assert e is not None and e.skipped is None, e
    assert [(p.kind, p.name, p.note) for p in e.pruned] == [
        ("Kustomization", name, f"with the {inventory} objects it applied")
    ], e
    assert not (e.changed or e.created or e.refused), e
    assert f"- prune: Kustomization flux-system/{name} (with the {inventory} objects it applied)" in pr_body(forge, w)
    sha = forge.merge(repo(w), 2)
    app.cluster.reconcile("Kustomization", parent, "flux-system", with_source=True)
    assert app.cluster.wait("Kustomization", parent, "flux-system", sha, 90).outcome == "synced"
    w.tb.kubectl(
        "wait", "--for=delete", "--timeout=60s", "-n", ns, "deployment/podinfo", "configmap/podinfo-extra", timeout=70
    )
    assert w.tb.kubectl("get", "kustomization", name, "-n", "flux-system", "--ignore-not-found", "-o", "name") == ""


# -- Argo CD -------------------------------------------------------------------------------------------------
@pytest.fixture
def argo_world(argocd: Testbed, tmp_path: Path) -> Iterator[tuple[RealWorld, FakeForge]]:
    from gitops_testbed.argocd import NAMESPACE, repository_secret

    with GitHttpServer(tmp_path / "srv", users={USER: TOKEN}) as remote:
        creds = unique("creds")
        argocd.plane.apply(repository_secret(creds, f"{remote.base}/", USER, TOKEN, prefix=True))
        try:
            w = podinfo_world(argocd, tmp_path, remote)
            k = w.work / "kustomize/kustomization.yaml"  # no HPA: the testbed has no metrics API (see test_argocd)
            k.write_text(k.read_text(encoding="utf-8").replace("  - hpa.yaml\n", ""), "utf-8")
            w.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qam", "no HPA")
            w.git("push", "-q", "origin", "main")
            with FakeForge(remote.root, FORGE_TOKEN) as forge:
                yield w, forge
        finally:
            argocd.kubectl("delete", "secret", creds, "-n", NAMESPACE, "--ignore-not-found")


def test_argocd_live_effect_is_what_the_application_controller_does(argo_world: tuple[RealWorld, FakeForge]) -> None:
    """An app of apps: the root (pruning) applies clusters/dev, where the app's Application (automated,
    pruning, with the resources finalizer) deploys kustomize/."""
    w, forge = argo_world
    name, root = unique("podinfo"), unique("root")
    child = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": "default",
            "source": {"repoURL": w.url, "targetRevision": "main", "path": "kustomize"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]},
        },
    }
    (w.work / f"clusters/dev/{name}.yaml").write_text(yaml.safe_dump(child, sort_keys=False), encoding="utf-8")
    keep = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {root}\ndata:\n  a: '1'\n"  # the root never empties
    (w.work / f"clusters/dev/{root}.yaml").write_text(keep, encoding="utf-8")
    w.git("add", "-A")
    w.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", f"app {name}")
    w.git("push", "-q", "origin", "main")
    sha = w.git("rev-parse", "HEAD")
    root_app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": root, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": w.url, "targetRevision": "main", "path": "clusters/dev"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "argocd"},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
    w.tb.plane.apply(json.dumps(root_app))
    app = forge_app(w, forge)
    try:
        assert app.cluster.wait("Application", root, "argocd", sha, 120).outcome == "synced"
        assert app.cluster.wait("Application", name, "argocd", sha, 120).outcome == "synced"
        ns = name

        # an image change proposed, then merged: the one field predicted is the one that changed
        before = w.tb.get("deployment", "podinfo", ns)
        fix = app.remediation.remediate(
            "apps/v1", "Deployment", "podinfo", ns, SetImage(image=f"{IMAGE}:6.14.2"), mode="pull_request"
        )
        assert fix.plan is not None
        e = fix.plan.live_effect
        assert e is not None and e.skipped is None, e
        assert [(c.kind, c.name, c.fields) for c in e.changed] == [("Deployment", "podinfo", [IMAGE_FIELD])], e
        assert not (e.created or e.pruned or e.refused), e
        assert any("may not dry-run" in n for n in e.notes), e.notes  # the default RBAC: compared, not dry-run
        assert f"- change: Deployment {ns}/podinfo: {IMAGE_FIELD}" in pr_body(forge, w)
        sha = forge.merge(repo(w), 1)
        app.cluster.reconcile("Application", name, "argocd", sync=True)
        assert app.cluster.wait("Application", name, "argocd", sha, 120).outcome == "synced"
        assert changed_live(before, w.tb.get("deployment", "podinfo", ns)) == [IMAGE_FIELD]

        # a new object on a branch: created; merged, it exists and nothing else moved
        w.git("fetch", "-q", "origin", "main")
        w.git("checkout", "-qB", "main", "origin/main")
        branch_with(w, "extra", add_configmap(w))
        s = app.cluster.sync_status("Application", name, "argocd", revision="extra")
        e = s.live_effect
        assert e is not None and e.skipped is None, e
        assert [(c.kind, c.namespace, c.name) for c in e.created] == [("ConfigMap", ns, "podinfo-extra")], e
        assert not (e.changed or e.pruned or e.refused), e
        before = w.tb.get("deployment", "podinfo", ns)
        sha = merge_branch(w, "extra")
        app.cluster.reconcile("Application", name, "argocd", sync=True)
        assert app.cluster.wait("Application", name, "argocd", sha, 120).outcome == "synced"
        assert w.tb.get("configmap", "podinfo-extra", ns)["data"] == {"greeting": "hello"}
        assert changed_live(before, w.tb.get("deployment", "podinfo", ns)) == []

        # the Application removed through a pull request: the root prunes it, its finalizer deletes its objects
        managed = len(w.tb.get("application", name, "argocd")["status"]["resources"])
        out = app.remediation.remediate(
            *("argoproj.io/v1alpha1", "Application"), name, "argocd", Remove(), mode="pull_request"
        )
        assert out.plan is not None
        e = out.plan.live_effect
        assert e is not None and e.skipped is None, e
        assert [(p.kind, p.name, p.note) for p in e.pruned] == [
            ("Application", name, f"with the {managed} objects it applied")
        ], e
        assert not (e.changed or e.created or e.refused), e
        sha = forge.merge(repo(w), 2)
        app.cluster.reconcile("Application", root, "argocd")  # a refresh: its automated sync prunes
        assert app.cluster.wait("Application", root, "argocd", sha, 120).outcome == "synced"
        w.tb.kubectl(
            "wait",
            "--for=delete",
            "--timeout=90s",
            "-n",
            ns,
            "deployment/podinfo",
            "configmap/podinfo-extra",
            timeout=100,
        )
        assert w.tb.kubectl("get", "application", name, "-n", "argocd", "--ignore-not-found", "-o", "name") == ""
    finally:
        w.tb.kubectl("delete", "application", root, "-n", "argocd", "--ignore-not-found", "--wait=false")


def test_argocd_directory_include_exclude_is_what_the_repo_server_reads(
    argo_world: tuple[RealWorld, FakeForge],
) -> None:
    """A directory source with recurse, include and exclude (glob alternatives, ``*`` across ``/``)
    and the skip marker: the live effect of ``main`` lists exactly what Argo CD then applies."""
    w, forge = argo_world
    name = unique("plain")
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  a: '1'\n".format
    files = {
        "plain/a.yaml": cm("a"),
        "plain/b.yml": cm("b"),  # not included
        "plain/skip-c.yaml": cm("c"),  # excluded
        "plain/d.yaml": "# +argocd:skip-file-rendering\n" + cm("d"),
        "plain/values.yaml": "replicas: 2\n",  # not an object: ignored
        "plain/sub/e.yaml": cm("e"),  # excluded
        "plain/sub/g.yaml": cm("g"),
        "plain/sub/deeper/f.json": json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f"}}),
        "plain/sub/deeper/h.yml": cm("h"),
    }
    for rel, text in files.items():
        (w.work / rel).parent.mkdir(parents=True, exist_ok=True)
        (w.work / rel).write_text(text, encoding="utf-8")
    w.git("add", "-A")
    w.git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "plain")
    w.git("push", "-q", "origin", "main")
    sha = w.git("rev-parse", "HEAD")
    w.tb.kubectl("create", "namespace", name)
    directory = {"recurse": True, "include": "{*.yaml,sub/deeper/*.json}", "exclude": "{skip-*,sub/e.*}"}
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": w.url, "targetRevision": "main", "path": "plain", "directory": directory},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    }
    w.tb.plane.apply(json.dumps(application))
    app = forge_app(w, forge)
    try:
        e = app.cluster.sync_status("Application", name, "argocd", revision="main").live_effect
        assert e is not None and e.skipped is None, e
        assert sorted(c.name for c in e.created) == ["a", "f", "g"], e
        assert not (e.changed or e.pruned or e.refused), e
        app.cluster.reconcile("Application", name, "argocd", sync=True)
        assert app.cluster.wait("Application", name, "argocd", sha, 120).outcome == "synced"
        applied = w.tb.get("application", name, "argocd")["status"]["resources"]
        assert sorted(r["name"] for r in applied) == ["a", "f", "g"], applied
        live = w.tb.kubectl("get", "configmap", "-n", name, "-o", "jsonpath={.items[*].metadata.name}").split()
        assert sorted(n for n in live if n != "kube-root-ca.crt") == ["a", "f", "g"]
    finally:
        w.tb.kubectl("delete", "application", name, "-n", "argocd", "--ignore-not-found", "--wait=false")
        w.tb.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")
