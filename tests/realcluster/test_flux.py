"""The story on real Kubernetes with the real Flux controllers (the testbed): a new user's first deploy
with `register` until live at the pushed SHA (a Kustomize package; a Helm chart from Git as a
HelmRelease), remediations pushed and verified live with find_owner reading the real inventories,
reconcile honoured on a 10-minute interval, and failures in the controller's own words within the
caller's timeout. The server runs as the gitops-mcp ServiceAccount (deploy/kubernetes' RBAC)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import wizard_to_preview
from doubles.git_remote import GitHttpServer
from gitops_mcp.remediation import SetHelmValues

from .conftest import Testbed
from .world import TOKEN, USER, RealWorld, bootstrap, cleanup, podinfo_world, reconciled, set_image_goes_live, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]


@pytest.fixture
def world(testbed: Testbed, tmp_path: Path) -> Iterator[RealWorld]:
    # Reads need no credentials (a public repository: the wizard's GitRepository has no secretRef);
    # pushes need the token.
    with GitHttpServer(tmp_path / "srv", users={USER: TOKEN}, anonymous_read=True) as remote:
        w = podinfo_world(testbed, tmp_path, remote)
        try:
            yield w
        finally:
            cleanup(w)


def first_deploy(w: RealWorld, package: str, *, namespace: str = "exists", register: bool = True) -> Any:
    """The wizard's first deploy of podinfo: with `register` when nothing in the cluster syncs the
    repository, else into the bootstrap's directory (found in the cluster). ``namespace``: "exists"
    (made before), "new" (the wizard adds it, register creates it) or "vanishes" (there at the preview,
    deleted before the push)."""
    name = unique("podinfo")
    if namespace != "new":
        w.tb.namespace(name)
    app = w.app()
    v = wizard_to_preview(app, w.work, {"package": package, "provider": "flux", "namespace": name, "app_name": name})
    assert ("register" in {q.id for q in v.questions}) is register, v.questions
    if namespace == "vanishes":
        w.tb.kubectl("delete", "namespace", name, "--wait=true", "--timeout=60s")
    answers: dict[str, Any] = {"delivery": "push", "wait": True} | ({"register": True} if register else {})
    v = app.wizard.answer("local", v.session_id, answers)
    assert v.status == "done" and v.result is not None, v.errors
    r = v.result
    if r.registered is not None:
        w.created += [f"{o.kind.lower()}/{o.name}" for o in r.registered.applied if o.namespace == "flux-system"]
    return r, name, name


def deployment(tb: Testbed, name: str, ns: str) -> dict[str, Any]:
    return tb.get("deployment", name, ns)


def ready_message(tb: Testbed, kind: str, name: str) -> str:
    if kind == "kustomization-source":  # the GitRepository the Kustomization reads
        kind, name = "gitrepository", tb.get("kustomization", name, "flux-system")["spec"]["sourceRef"]["name"]
    obj = tb.get(kind, name, "flux-system")
    return next(c["message"] for c in obj["status"]["conditions"] if c["type"] == "Ready")


def test_versions_are_what_the_testbed_pins(testbed: Testbed) -> None:
    v = json.loads(testbed.kubectl("version", "-o", "json"))["serverVersion"]
    assert v["gitVersion"] == "v1.37.2" and (v["major"], v["minor"]) == ("1", "37")
    info = testbed.plane.info
    assert (info["source-controller"], info["kustomize-controller"], info["helm-controller"]) == (
        "v1.9.3",
        "v1.9.4",
        "v1.6.3",
    )


def test_first_deploy_of_a_kustomize_package_registers_and_is_live(world: RealWorld) -> None:
    r, name, ns = first_deploy(world, "kustomize")
    assert r.registered is not None and r.registered.ok, r.message
    assert [o.kind for o in r.registered.applied] == ["GitRepository", "Kustomization"]
    assert r.commit_sha == world.head()
    assert r.live is True, r.message
    assert r.verification[-1].status.revision == f"main@sha1:{r.commit_sha}"
    dep = deployment(world.tb, "podinfo", ns)
    assert dep["status"].get("availableReplicas", 0) >= 1, dep["status"]  # kwok made its Pods Ready
    assert dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == name
    ks = world.tb.get("kustomization", name, "flux-system")
    assert [m["manager"] for m in ks["metadata"]["managedFields"] if m["operation"] == "Apply"] == ["gitops-mcp"]
    # find_owner reads the real inventory (status.inventory) and the GitRepository
    owner = world.app().cluster.find_owner("apps/v1", "Deployment", "podinfo", ns, repo_path=str(world.work))
    assert owner.managed and [(c.kind, c.name) for c in owner.chain][:1] == [("Kustomization", name)], owner.message
    assert owner.git is not None and owner.git.url == world.url and owner.git.path == "./kustomize"
    assert owner.file is not None and owner.file.file == "kustomize/deployment.yaml"


def test_first_deploy_of_a_helm_chart_from_git_is_live(world: RealWorld) -> None:
    r, name, ns = first_deploy(world, "charts/podinfo")
    assert r.registered is not None and r.registered.ok, r.message
    assert "HelmRelease" in [o.kind for o in r.registered.applied]
    assert r.live is True, r.message
    hr = world.tb.get("helmrelease", name, "flux-system")
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in hr["status"]["conditions"]), hr["status"]
    deps = json.loads(world.tb.kubectl("get", "deployments", "-n", ns, "-o", "json"))["items"]
    assert deps and all(d["status"].get("availableReplicas", 0) >= 1 for d in deps)


def test_image_remediation_is_pushed_and_verified_live(world: RealWorld) -> None:
    r, _name, ns = first_deploy(world, "kustomize")
    assert r.live, r.message
    set_image_goes_live(world, ns)


def test_helm_value_remediation_is_pushed_and_verified_live(world: RealWorld) -> None:
    # The HelmRelease in the bootstrap's directory: find_owner reads HelmRelease -> Kustomization ->
    # GitRepository from the real inventories and finds the file that holds its values. (After
    # `register` no Kustomization applies the HelmRelease, and remediation refuses: see the report.)
    parent = bootstrap(world)
    r, name, ns = first_deploy(world, "charts/podinfo", register=False)
    assert r.live, r.message
    assert r.file == f"clusters/dev/{name}.yaml" and [v.status.name for v in r.verification] == [parent, name]
    dep_name = json.loads(world.tb.kubectl("get", "deployments", "-n", ns, "-o", "json"))["items"][0]["metadata"][
        "name"
    ]
    app = world.app()
    fix = app.remediation.remediate(
        "apps/v1", "Deployment", dep_name, ns, SetHelmValues(values={"replicaCount": 2}), mode="push",
        repo_path=str(world.work),
    )  # fmt: skip
    assert fix.live_ok is True, fix.message
    live = deployment(world.tb, dep_name, ns)
    assert live["spec"]["replicas"] == 2 and live["status"].get("availableReplicas") == 2, live["status"]
    owner = app.cluster.find_owner("apps/v1", "Deployment", dep_name, ns, repo_path=str(world.work))
    assert [(c.kind, c.name) for c in owner.chain] == [
        ("HelmRelease", name),
        ("Kustomization", parent),
        ("GitRepository", parent),
    ], owner.message


def test_reconcile_is_honoured_long_before_the_interval(world: RealWorld) -> None:
    r, name, _ns = first_deploy(world, "kustomize")
    assert r.live, r.message
    ks = world.tb.get("kustomization", name, "flux-system")
    assert ks["spec"]["interval"] in ("5m", "10m"), ks["spec"]  # the wizard writes 5m
    app = world.app()
    path = world.work / "kustomize/deployment.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("replicas: 2", "replicas: 3"), encoding="utf-8")
    commit = app.git.commit(str(world.work), ["kustomize/deployment.yaml"], "three replicas")
    w, took = reconciled(app, "Kustomization", name, "flux-system", commit.commit_sha)
    assert w.outcome == "synced", w.message
    assert took < 60  # far inside the 10-minute interval: the request was honoured


def break_and_wait(w: RealWorld, name: str, files: dict[str, str], timeout: float = 45) -> tuple[Any, float]:
    for rel, text in files.items():
        (w.work / rel).write_text(text, encoding="utf-8")
    app = w.app()
    commit = app.git.commit(str(w.work), list(files), "a change the controller rejects")
    return reconciled(app, "Kustomization", name, "flux-system", commit.commit_sha, timeout)


def test_a_kustomization_that_does_not_build_fails_in_the_controllers_words(world: RealWorld) -> None:
    r, name, _ns = first_deploy(world, "kustomize")
    assert r.live, r.message
    res, took = break_and_wait(
        world, name, {"kustomize/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: [x\n"}
    )
    assert res.outcome == "failed" and took < 45, (res.outcome, took, res.message)
    said = ready_message(world.tb, "kustomization", name)
    assert "kustomize build failed" in said and said[:80] in res.message, (said, res.message)


def test_a_missing_crd_fails_in_the_controllers_words(world: RealWorld) -> None:
    r, name, _ns = first_deploy(world, "kustomize")
    assert r.live, r.message
    kustomization = (world.work / "kustomize/kustomization.yaml").read_text(encoding="utf-8")
    monitor = (
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: podinfo\n"
        "spec:\n  selector:\n    matchLabels:\n      app: podinfo\n  endpoints:\n    - port: http\n"
    )
    res, took = break_and_wait(world, name, {
        "kustomize/servicemonitor.yaml": monitor,
        "kustomize/kustomization.yaml": re.sub(r"resources:\n", "resources:\n  - servicemonitor.yaml\n", kustomization),
    })  # fmt: skip
    assert res.outcome == "failed" and took < 45, (res.outcome, took, res.message)
    said = ready_message(world.tb, "kustomization", name)
    assert "ServiceMonitor" in said and said[:60] in res.message, (said, res.message)


def test_a_new_namespace_is_created_by_register_with_create_only(world: RealWorld) -> None:
    """The wizard adds the missing namespace; register creates it with the registration RBAC's
    `create` (an apply would need `patch` on namespaces too, which the server is not given)."""
    r, _name, ns = first_deploy(world, "kustomize", namespace="new")
    assert r.registered is not None and r.registered.ok, r.message
    assert "Namespace" in {o.kind for o in r.registered.applied}, r.registered.applied
    world.created.append(f"namespace/{ns}")
    assert r.live, r.message
    assert world.tb.get("namespace", ns, "default")["status"]["phase"] == "Active"


def test_a_missing_namespace_fails_in_the_controllers_words(world: RealWorld) -> None:
    t0 = time.monotonic()
    r, name, ns = first_deploy(world, "kustomize", namespace="vanishes")
    assert r.registered is not None and r.registered.ok, r.message
    assert r.live is False and time.monotonic() - t0 < 60, r.message  # not the wizard's whole 120 s
    said = ready_message(world.tb, "kustomization", name)
    assert f'namespaces "{ns}" not found' in said, said
    assert said[:60] in r.message, (said, r.message)


def test_a_private_repository_without_credentials_fails_in_the_source_controllers_words(
    testbed: Testbed, tmp_path: Path
) -> None:
    """The real source-controller must authenticate (the simulator reads repositories from disk, so this
    stays on the testbed); the Kustomization only says "Source artifact not found", and the wait reports
    its source's own failure at once instead of timing out."""
    with GitHttpServer(tmp_path / "srv", users={USER: TOKEN}) as remote:
        w = podinfo_world(testbed, tmp_path, remote)
        try:
            t0 = time.monotonic()
            r, name, _ns = first_deploy(w, "kustomize")
            assert r.registered is not None and r.registered.ok, r.message
            assert r.live is False and time.monotonic() - t0 < 60, r.message  # not the wizard's whole 120 s
            said = ready_message(testbed, "kustomization-source", name)
            assert "authentication required" in said, said
            assert "authentication required" in r.message, r.message
        finally:
            cleanup(w)


def test_remove_suspend_and_resume_through_git_on_the_real_controllers(world: RealWorld) -> None:
    """The app in the bootstrap's directory: a removal with pruning off is refused before anything is
    written; a live Deployment removed is pruned by kustomize-controller; the app's Kustomization
    suspended stops applying new commits and resumed applies them; the app's Kustomization removed is
    pruned by the bootstrap and garbage-collects everything it applied."""
    from gitops_mcp.errors import UserInputError
    from gitops_mcp.remediation import Refused, Remove, Suspension

    parent = bootstrap(world)
    r, name, ns = first_deploy(world, "kustomize", register=False)
    assert r.live, r.message
    app = world.app()
    ks_api = "kustomize.toolkit.fluxcd.io/v1"
    # pruning off (live): refused, nothing written
    head = world.head()
    world.tb.kubectl(
        "patch", "kustomization", name, "-n", "flux-system", "--type=merge", "-p", '{"spec":{"prune":false}}'
    )
    with pytest.raises(Refused, match="prune: false"):
        app.remediation.remediate("apps/v1", "Deployment", "podinfo", ns, Remove(), mode="push")
    assert world.head() == head
    world.tb.kubectl(
        "patch", "kustomization", name, "-n", "flux-system", "--type=merge", "-p", '{"spec":{"prune":true}}'
    )
    # a live Deployment removed: its file and kustomization entry go, kustomize-controller prunes it
    gone = app.remediation.remediate("apps/v1", "Deployment", "podinfo", ns, Remove(), mode="push")
    assert gone.live_ok is True, gone.message
    assert "deployment.yaml" not in world.remote.show(world.repo, "main", "kustomize/kustomization.yaml")
    assert world.tb.kubectl("get", "deployment", "podinfo", "-n", ns, "--ignore-not-found", "-o", "name") == ""
    # suspended: a new commit is not applied (even when asked); resumed: it is
    s = app.remediation.remediate(ks_api, "Kustomization", name, "flux-system", Suspension(type="suspend"), mode="push")
    assert s.live_ok is True and world.tb.get("kustomization", name, "flux-system")["spec"]["suspend"] is True, (
        s.message
    )
    applied = world.tb.get("kustomization", name, "flux-system")["status"]["lastAppliedRevision"]
    svc = world.work / "kustomize/service.yaml"
    world.git("pull", "-q", "--rebase", "origin", "main")
    svc.write_text(svc.read_text(encoding="utf-8").replace("name: podinfo", "name: podinfo\n  labels: {tier: web}", 1))
    change = app.git.commit(str(world.work), ["kustomize/service.yaml"], "label the service")
    app.cluster.reconcile("Kustomization", parent, "flux-system", with_source=True)
    assert app.cluster.wait("Kustomization", parent, "flux-system", change.commit_sha, 60).outcome == "synced"
    with pytest.raises(UserInputError, match="suspended"):
        app.cluster.reconcile("Kustomization", name, "flux-system")
    assert world.tb.get("kustomization", name, "flux-system")["status"]["lastAppliedRevision"] == applied
    res = app.remediation.remediate(
        ks_api, "Kustomization", name, "flux-system", Suspension(type="resume"), mode="push"
    )
    assert res.live_ok is True and res.commit is not None, res.message
    app.cluster.reconcile("Kustomization", name, "flux-system", with_source=True)
    assert app.cluster.wait("Kustomization", name, "flux-system", res.commit.commit_sha, 60).outcome == "synced"
    assert world.tb.get("service", "podinfo", ns)["metadata"]["labels"].get("tier") == "web"
    # the app's Kustomization removed: the bootstrap prunes it, its finalizer deletes what it applied
    out = app.remediation.remediate(ks_api, "Kustomization", name, "flux-system", Remove(), mode="push")
    assert out.live_ok is True and "objects it applied" in out.live_detail, out.message
    for kind, obj_name, obj_ns in (("kustomization", name, "flux-system"), ("service", "podinfo", ns)):
        assert world.tb.kubectl("get", kind, obj_name, "-n", obj_ns, "--ignore-not-found", "-o", "name") == ""
