"""The live effect before a merge, on the real API server with the real Flux and Argo CD controllers:
what gitops-mcp says a change will do (a real kustomize build, a server-side dry run as the
controller's field manager) is what the controller then does, for an image change (the changed
field, and nothing else), a new object (created) and a removal (pruned with what it applied).
Pull requests go to the fake forge on the same git remote, and are merged there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from doubles.forge import FakeForge
from doubles.git_remote import GitHttpServer
from gitops_mcp.cluster.fielddiff import object_diff
from gitops_mcp.providers.effects import LiveEffect
from gitops_mcp.remediation import Remove, SetImage
from gitops_mcp.services import Services

from . import test_argocd
from .conftest import Testbed
from .flow import FORGE_TOKEN, forge_app
from .world import IMAGE, TOKEN, USER, RealWorld, bootstrap, cleanup, podinfo_world, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]
ROLLOUT = 'metadata.annotations["deployment.kubernetes.io/revision"]'  # the Deployment controller's, not Git's
IMAGE_FIELD = "spec.template.spec.containers[name=podinfod].image"
world = test_argocd.world  # the fixture: podinfo (no HPA) on the remote, Argo CD's credential for it


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
    w.commit_and_push(f"branch {branch}", branch)
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


@dataclass(frozen=True)
class Synced:
    """A Kustomization or Application and how the test brings it to a commit: a reconcile request (with
    ``how``), then wait_for_sync for up to ``seconds``."""

    kind: str
    name: str
    namespace: str
    seconds: int
    how: dict[str, bool] = field(default_factory=dict)

    def to(self, app: Services, sha: str) -> None:
        app.cluster.reconcile(self.kind, self.name, self.namespace, **self.how)
        res = app.cluster.wait(self.kind, self.name, self.namespace, sha, self.seconds)
        assert res.outcome == "synced", res.message


def an_image_change(app: Services, w: RealWorld, forge: FakeForge, ns: str, synced: Synced) -> LiveEffect:
    """An image change proposed in a pull request: its live effect and description say the one field
    that changes; merged and synced, it is the one that did. The effect, for the engine's own notes."""
    before = w.tb.get("deployment", "podinfo", ns)
    fix = app.remediation.remediate(
        "apps/v1", "Deployment", "podinfo", ns, SetImage(image=f"{IMAGE}:6.14.2"), mode="pull_request"
    )
    assert fix.plan is not None
    e = fix.plan.live_effect
    assert e is not None and e.skipped is None, e
    assert [(c.kind, c.name, c.fields) for c in e.changed] == [("Deployment", "podinfo", [IMAGE_FIELD])], e
    assert not (e.created or e.pruned or e.refused), e
    assert f"- change: Deployment {ns}/podinfo: {IMAGE_FIELD}" in pr_body(forge, w)
    synced.to(app, forge.merge(repo(w), 1))
    assert changed_live(before, w.tb.get("deployment", "podinfo", ns)) == [IMAGE_FIELD]
    return e


def a_new_object_on_a_branch(app: Services, w: RealWorld, ns: str, synced: Synced) -> None:
    """A ConfigMap added on a branch (get_sync_status with revision): created, nothing else moves;
    merged, it exists and nothing else moved."""
    w.git("fetch", "-q", "origin", "main")
    w.git("checkout", "-qB", "main", "origin/main")
    branch_with(w, "extra", add_configmap(w))
    s = app.cluster.sync_status(synced.kind, synced.name, synced.namespace, revision="extra")
    e = s.live_effect
    assert e is not None and e.skipped is None, e
    assert [(c.kind, c.namespace, c.name) for c in e.created] == [("ConfigMap", ns, "podinfo-extra")], e
    assert not (e.changed or e.pruned or e.refused), e
    before = w.tb.get("deployment", "podinfo", ns)
    synced.to(app, merge_branch(w, "extra"))
    assert w.tb.get("configmap", "podinfo-extra", ns)["data"] == {"greeting": "hello"}
    assert changed_live(before, w.tb.get("deployment", "podinfo", ns)) == []


def removed_by_its_parent(
    app: Services, w: RealWorld, forge: FakeForge, obj: Synced, applied: int, parent: Synced, seconds: int
) -> None:
    """``obj`` (which applied ``applied`` objects into the namespace of its name) removed through a
    pull request: pruned with what it applied, said so in the description; merged and ``parent``
    synced, it is gone and what it applied (the podinfo Deployment and ConfigMap) is deleted within
    ``seconds``."""
    api = {"Kustomization": "kustomize.toolkit.fluxcd.io/v1", "Application": "argoproj.io/v1alpha1"}[obj.kind]
    kind, name, where, ns = obj.kind, obj.name, obj.namespace, obj.name
    out = app.remediation.remediate(api, kind, name, where, Remove(), mode="pull_request")
    assert out.plan is not None
    e = out.plan.live_effect
    assert e is not None and e.skipped is None, e
    note = f"with the {applied} objects it applied"
    assert [(p.kind, p.name, p.note) for p in e.pruned] == [(kind, name, note)], e
    assert not (e.changed or e.created or e.refused), e
    assert f"- prune: {kind} {where}/{name} ({note})" in pr_body(forge, w)
    parent.to(app, forge.merge(repo(w), 2))
    w.tb.kubectl(
        *("wait", "--for=delete", f"--timeout={seconds}s", "-n", ns, "deployment/podinfo", "configmap/podinfo-extra"),
        timeout=seconds + 10,
    )
    assert w.tb.kubectl("get", kind.lower(), name, "-n", where, "--ignore-not-found", "-o", "name") == ""


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
    synced = Synced("Kustomization", name, "flux-system", 90, {"with_source": True})
    e = an_image_change(app, w, forge, ns, synced)
    assert e.unchanged >= 2 and not e.notes, e  # every object dry-run by the API server
    a_new_object_on_a_branch(app, w, ns, synced)
    # the app's Kustomization removed: pruned by the bootstrap, with what it applied
    inventory = len(w.tb.get("kustomization", name, "flux-system")["status"]["inventory"]["entries"])
    boot = Synced("Kustomization", parent, "flux-system", 90, {"with_source": True})
    removed_by_its_parent(app, w, forge, synced, inventory, boot, 60)


# -- Argo CD -------------------------------------------------------------------------------------------------
@pytest.fixture
def argo_world(world: RealWorld) -> Iterator[tuple[RealWorld, FakeForge]]:
    """test_argocd's world (podinfo without its HPA, Argo CD's credential for the remote) and a forge."""
    with FakeForge(world.remote.root, FORGE_TOKEN) as forge:
        yield world, forge


def test_argocd_live_effect_is_what_the_application_controller_does(argo_world: tuple[RealWorld, FakeForge]) -> None:
    """An app of apps: the root (pruning) applies clusters/dev, where the app's Application (automated,
    pruning, with the resources finalizer) deploys kustomize/."""
    w, forge = argo_world
    name, root, sha = test_argocd.app_of_apps(w, prune=True)
    app = forge_app(w, forge)
    try:
        assert app.cluster.wait("Application", root, "argocd", sha, 120).outcome == "synced"
        assert app.cluster.wait("Application", name, "argocd", sha, 120).outcome == "synced"
        synced = Synced("Application", name, "argocd", 120, {"sync": True})
        e = an_image_change(app, w, forge, name, synced)
        assert any("may not dry-run" in n for n in e.notes), e.notes  # the default RBAC: compared, not dry-run
        a_new_object_on_a_branch(app, w, name, synced)
        # the Application removed: the root prunes it (a refresh: its automated sync), its finalizer deletes its objects
        managed = len(w.tb.get("application", name, "argocd")["status"]["resources"])
        removed_by_its_parent(app, w, forge, synced, managed, Synced("Application", root, "argocd", 120), 90)
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
