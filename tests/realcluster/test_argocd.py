"""The story on real Kubernetes with the real Argo CD application controller and repo-server (the
testbed): a new user's first deploy of podinfo through the wizard with `register` until live at the
pushed SHA, an image remediation pushed and verified live with find_owner reading Argo CD's own
tracking, a refresh honoured, and failures in Argo CD's own words. The remote needs credentials for
reads too: the repo-server gets them from a repository credential Secret in the argocd namespace."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import wizard_to_preview
from doubles.git_remote import GitHttpServer

from .conftest import Testbed
from .world import TOKEN, USER, RealWorld, podinfo_world, reconciled, set_image_goes_live, unique

pytestmark = [pytest.mark.realcluster, pytest.mark.slow]
APP = ("argoproj.io/v1alpha1", "Application")


@pytest.fixture
def world(argocd: Testbed, tmp_path: Path) -> Iterator[RealWorld]:
    from gitops_testbed.argocd import NAMESPACE, repository_secret

    with GitHttpServer(tmp_path / "srv", users={USER: TOKEN}) as remote:
        creds = unique("creds")
        argocd.plane.apply(repository_secret(creds, f"{remote.base}/", USER, TOKEN, prefix=True))
        try:
            w = podinfo_world(argocd, tmp_path, remote)
            # The testbed serves no metrics API, so the HPA cannot read CPU use (FailedGetResourceMetric)
            # and Argo CD rightly calls the app Degraded ("Caused by autoscaling/HorizontalPodAutoscaler:...")
            # soon after it went Healthy; Flux does not health-check it. Without the HPA here:
            kustomization = w.work / "kustomize/kustomization.yaml"
            kustomization.write_text(kustomization.read_text(encoding="utf-8").replace("  - hpa.yaml\n", ""), "utf-8")
            w.commit_and_push("no HPA: no metrics API")
            yield w
        finally:
            argocd.kubectl("delete", "secret", creds, "-n", NAMESPACE, "--ignore-not-found")


def first_deploy(w: RealWorld, *, wait: bool = True) -> tuple[Any, str, str]:
    name = unique("podinfo")
    app = w.app()
    v = wizard_to_preview(
        app, w.work, {"package": "kustomize", "provider": "argocd", "namespace": name, "app_name": name}
    )
    assert "register" in {q.id for q in v.questions}, "nothing in the cluster syncs this repository yet"
    v = app.wizard.answer("local", v.session_id, {"delivery": "push", "wait": wait, "register": True})
    assert v.status == "done" and v.result is not None, v.errors
    return v.result, name, name


def application(tb: Testbed, name: str) -> dict[str, Any]:
    return tb.get("application", name, "argocd")


def test_the_argocd_version_is_what_the_testbed_pins(argocd: Testbed) -> None:
    assert argocd.plane.info["argocd"] == "v3.6.2"
    logs = Path(argocd.plane.state) / "logs"
    for proc in ("argocd-application-controller", "argocd-repo-server"):
        first = (logs / f"{proc}.log").read_text(errors="replace").splitlines()[0]
        assert "version=v3.6.2" in first, first  # what the binary itself says at start


def test_first_deploy_registers_an_application_and_is_live_at_the_pushed_sha(world: RealWorld) -> None:
    r, name, ns = first_deploy(world)
    assert r.registered is not None and r.registered.ok, r.message
    assert [(o.kind, o.name) for o in r.registered.applied] == [("Application", name)]
    assert r.commit_sha == world.head()
    assert r.live is True, r.message
    assert r.verification[-1].status.revision == r.commit_sha
    app = application(world.tb, name)
    assert app["status"]["sync"] == {**app["status"]["sync"], "status": "Synced", "revision": r.commit_sha}
    assert app["status"]["health"]["status"] == "Healthy"
    fields = json.loads(
        world.tb.kubectl("get", "application", name, "-n", "argocd", "-o", "json", "--show-managed-fields")
    )
    assert [m["manager"] for m in fields["metadata"]["managedFields"] if m["operation"] == "Apply"] == ["gitops-mcp"]
    dep = world.tb.get("deployment", "podinfo", ns)
    assert dep["status"].get("availableReplicas", 0) >= 1, dep["status"]  # kwok made its Pods Ready
    assert dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == f"{name}:apps/Deployment:{ns}/podinfo"
    # find_owner reads Argo CD's tracking annotation and the Application's status.resources
    owner = world.app().cluster.find_owner("apps/v1", "Deployment", "podinfo", ns, repo_path=str(world.work))
    assert owner.managed and [(c.kind, c.name) for c in owner.chain] == [("Application", name)], owner.message
    assert owner.chain[0].via.endswith("+ status.resources"), owner.chain[0].via
    assert owner.git is not None and owner.git.url == world.url and owner.git.path == "kustomize"
    assert owner.git.applied_revision == r.commit_sha
    assert owner.file is not None and owner.file.file == "kustomize/deployment.yaml"
    # the token reached Argo CD only through its Secret: not the result, the Application, nor Argo CD's logs
    logs = Path(world.tb.plane.state) / "logs"
    said = [r.model_dump_json(), owner.model_dump_json(), json.dumps(app)]
    said += [
        (logs / f"{p}.log").read_text(errors="replace") for p in ("argocd-repo-server", "argocd-application-controller")
    ]
    assert not [s for s in said if TOKEN in s]


def test_image_remediation_is_pushed_and_verified_live(world: RealWorld) -> None:
    r, _name, ns = first_deploy(world)
    assert r.live, r.message
    live = set_image_goes_live(world, ns)
    assert live["status"].get("updatedReplicas") == live["spec"]["replicas"], live["status"]


def test_a_refresh_is_honoured_long_before_argocds_own_three_minute_poll(world: RealWorld) -> None:
    r, name, ns = first_deploy(world)
    assert r.live, r.message
    app = world.app()
    path = world.work / "kustomize/deployment.yaml"
    text = path.read_text(encoding="utf-8")
    assert "#34577c" in text
    path.write_text(text.replace("#34577c", "#7c3457"), encoding="utf-8")
    commit = app.git.commit(str(world.work), ["kustomize/deployment.yaml"], "another colour")
    w, took = reconciled(app, "Application", name, "argocd", commit.commit_sha)
    assert w.outcome == "synced", w.message
    assert took < 60  # timeout.reconciliation is 180 s: the refresh was honoured
    env = world.tb.get("deployment", "podinfo", ns)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "PODINFO_UI_COLOR", "value": "#7c3457"} in env


def register_app(
    w: RealWorld, name: str, path: str, files: dict[str, str], *, create_ns: bool = True
) -> tuple[Any, str]:
    """Push ``files`` and an automated Application of ``path`` in clusters/dev/<name>.yaml, register it
    with the tool (dry run, then server-side apply) and wait up to 45 s: (the wait's result, the SHA)."""
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": w.url, "targetRevision": "main", "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"] if create_ns else []},
        },
    }
    rel = f"clusters/dev/{name}.yaml"
    for f, text in {**files, rel: json.dumps(doc, indent=1) + "\n"}.items():
        (w.work / f).parent.mkdir(parents=True, exist_ok=True)
        (w.work / f).write_text(text, encoding="utf-8")
    sha = w.commit_and_push(f"add {rel}")
    app = w.app()
    reg = app.registrar.register(str(w.work), rel)
    assert reg.ok and [o.name for o in reg.applied] == [name], reg.message
    t0 = time.monotonic()
    res = app.cluster.wait("Application", name, "argocd", sha, 45)
    assert time.monotonic() - t0 < 45
    return res, sha


def operation_message(tb: Testbed, name: str) -> str:
    return str((application(tb, name)["status"].get("operationState") or {}).get("message"))


def test_a_path_that_does_not_exist_fails_in_argocds_words(world: RealWorld) -> None:
    name = unique("nopath")
    res, _sha = register_app(world, name, "no/such/dir", {})
    assert res.outcome == "failed", (res.outcome, res.message)
    status = application(world.tb, name)["status"]
    said = next(c["message"] for c in status["conditions"] if c["type"] == "ComparisonError")
    assert "no/such/dir: app path does not exist" in said, said
    assert status["sync"] == {**status["sync"], "status": "Unknown", "revision": "main"}  # no commit named
    assert said in res.message, (said, res.message)


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: blue\n"
MONITOR = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: podinfo\nspec: {}\n"


def test_a_missing_namespace_fails_in_argocds_words(world: RealWorld) -> None:
    name = unique("nons")
    res, sha = register_app(world, name, f"apps/{name}", {f"apps/{name}/cm.yaml": CM}, create_ns=False)
    assert res.outcome == "failed" and res.status.attempted_revision == sha, (res.outcome, res.message)
    said = operation_message(world.tb, name)
    assert said.startswith(f'one or more objects failed to apply, reason: namespaces "{name}" not found. Retrying')
    assert said in res.message, (said, res.message)


def test_a_missing_crd_fails_in_argocds_words(world: RealWorld) -> None:
    name = unique("nocrd")
    res, sha = register_app(world, name, f"apps/{name}", {f"apps/{name}/cm.yaml": CM, f"apps/{name}/sm.yaml": MONITOR})
    assert res.outcome == "failed" and res.status.attempted_revision == sha, (res.outcome, res.message)
    said = operation_message(world.tb, name)
    assert said.startswith("one or more synchronization tasks are not valid: ") and "monitoring.coreos.com/v1" in said
    assert said in res.message, (said, res.message)


def test_an_object_the_api_server_rejects_fails_in_argocds_words(world: RealWorld) -> None:
    r, name, _ns = first_deploy(world)
    assert r.live, r.message
    app = world.app()
    path = world.work / "kustomize/deployment.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("name: podinfod", "name: Podinfod"), encoding="utf-8")
    commit = app.git.commit(str(world.work), ["kustomize/deployment.yaml"], "a container name the API server rejects")
    res, took = reconciled(app, "Application", name, "argocd", commit.commit_sha)
    op = application(world.tb, name)["status"].get("operationState") or {}
    assert res.outcome == "failed" and took < 60, (res.outcome, took, res.message, op)
    assert "Podinfod" in op.get("message", ""), op
    assert op["message"][:80] in res.message, (op["message"], res.message)


def app_of_apps(w: RealWorld, *, prune: bool) -> tuple[str, str, str]:
    """An app of apps: a root Application (automated, pruning) applies clusters/dev, where the app's
    Application (automated, pruning if ``prune``, with the resources finalizer) deploys kustomize/
    into a namespace of its name. (The app's name, the root's, the pushed SHA.)"""
    name, root = unique("podinfo"), unique("root")
    child = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
        "spec": {
            "project": "default",
            "source": {"repoURL": w.url, "targetRevision": "main", "path": "kustomize"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"automated": {"prune": prune}, "syncOptions": ["CreateNamespace=true"]},
        },
    }
    (w.work / f"clusters/dev/{name}.yaml").write_text(yaml.safe_dump(child, sort_keys=False), encoding="utf-8")
    keep = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {root}\ndata:\n  a: '1'\n"  # the root never empties
    (w.work / f"clusters/dev/{root}.yaml").write_text(keep, encoding="utf-8")
    sha = w.commit_and_push(f"app {name}")
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
    return name, root, sha


def test_remove_suspend_and_resume_through_git_on_the_real_controller(world: RealWorld) -> None:
    """An app of apps (a root Application applying clusters/dev, pruning): the app's Application syncs
    without pruning, so a removal is refused before anything is written; pruning turned on through Git,
    a live Deployment removed is pruned; the Application suspended (automated sync off) does not apply
    a new commit and resumed applies it; the Application removed is pruned by the root, and its
    resources finalizer deletes what it deployed."""
    from gitops_mcp.remediation import MergePatch, Refused, Remove, Suspension

    name, root, sha = app_of_apps(world, prune=False)
    app = world.app()
    try:
        assert app.cluster.wait("Application", root, "argocd", sha, 90).outcome == "synced"
        first = app.cluster.wait("Application", name, "argocd", sha, 90)
        assert first.outcome == "synced", first.message
        head = world.head()
        with pytest.raises(Refused, match="syncs without pruning"):
            app.remediation.remediate("apps/v1", "Deployment", "podinfo", name, Remove(), mode="push")
        assert world.head() == head
        on = MergePatch(patch={"spec": {"syncPolicy": {"automated": {"prune": True}}}})
        r = app.remediation.remediate(*APP, name, "argocd", on, mode="push")
        assert r.verification is not None and r.verification.outcome == "synced", r.message
        gone = app.remediation.remediate("apps/v1", "Deployment", "podinfo", name, Remove(), mode="push")
        assert gone.live_ok is True, gone.message
        assert world.tb.kubectl("get", "deployment", "podinfo", "-n", name, "--ignore-not-found", "-o", "name") == ""
        s = app.remediation.remediate(*APP, name, "argocd", Suspension(type="suspend"), mode="push")
        assert s.live_ok is True, s.message
        assert application(world.tb, name)["spec"]["syncPolicy"]["automated"]["enabled"] is False
        world.git("pull", "-q", "--rebase", "origin", "main")
        svc = world.work / "kustomize/service.yaml"
        svc.write_text(
            svc.read_text(encoding="utf-8").replace("name: podinfo", "name: podinfo\n  labels: {tier: web}", 1)
        )
        change = app.git.commit(str(world.work), ["kustomize/service.yaml"], "label the service")
        app.cluster.reconcile("Application", root, "argocd", sync=True)
        assert app.cluster.wait("Application", root, "argocd", change.commit_sha, 90).outcome == "synced"
        app.cluster.reconcile("Application", name, "argocd")  # a refresh: it compares, it does not apply
        svc_live = world.tb.get("service", "podinfo", name)
        assert "tier" not in (svc_live["metadata"].get("labels") or {})
        res = app.remediation.remediate(*APP, name, "argocd", Suspension(type="resume"), mode="push")
        assert res.live_ok is True and res.commit is not None, res.message
        app.cluster.reconcile("Application", name, "argocd")
        assert app.cluster.wait("Application", name, "argocd", res.commit.commit_sha, 90).outcome == "synced"
        assert world.tb.get("service", "podinfo", name)["metadata"]["labels"].get("tier") == "web"
        out = app.remediation.remediate(*APP, name, "argocd", Remove(), mode="push")
        assert out.live_ok is True and "objects it applied" in out.live_detail, out.message
        assert world.tb.kubectl("get", "application", name, "-n", "argocd", "--ignore-not-found", "-o", "name") == ""
        assert world.tb.kubectl("get", "service", "podinfo", "-n", name, "--ignore-not-found", "-o", "name") == ""
    finally:
        world.tb.kubectl("delete", "application", root, "-n", "argocd", "--ignore-not-found", "--wait=false")
