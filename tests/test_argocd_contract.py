"""The simulated Argo CD against what the real one (3.6.2, tests/realcluster/test_argocd.py) said on the
testbed for the same scenarios: the same outcome, revision and wording, so the fast tests that keep
using the simulator see what users see."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from doubles import world as shared
from gitops_mcp.providers.argocd.status import normalize_status
from gitops_mcp.providers.live import ObjectRef

TOKEN = "contract-token-0123456789"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: blue\n"
BROKEN = "apiVersion: v1\nkind: ConfigMap\nmetadata: [x\n"
MONITOR = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: podinfo\nspec: {}\n"


@pytest.fixture
def w(tmp_path: Path) -> Iterator[shared.World]:
    with shared.World(tmp_path, TOKEN) as world:
        world.kube.ensure_namespace("argocd")
        world.seed("org/apps.git", tmp_path / "work", {"README.md": "apps\n"})
        yield world


def register_app(w: shared.World, name: str, path: str, files: dict[str, str], *, create_ns: bool = True) -> Any:
    """As the real-cluster test does: push files + an Application, register it, wait up to 45 s."""
    from gitops_mcp.services import Services

    work = w.root / "work"
    url = w.remote.url("org/apps.git")
    doc = shared.application(name, url, path, name, revision="main", automated=True, create_namespace=create_ns)
    rel = f"clusters/dev/{name}.yaml"
    for f, text in {**files, rel: json.dumps(doc) + "\n"}.items():
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        (work / f).write_text(text, encoding="utf-8")
    w.git(work, "add", "-A")
    w.git(work, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", f"add {rel}")
    w.git(work, "push", "-q", "origin", "main")
    sha = w.git(work, "rev-parse", "HEAD")
    app = Services(w.settings())
    with w.controllers():
        reg = app.registrar.register(str(work), rel)
        assert reg.ok, reg.message
        res = app.cluster.wait("Application", name, "argocd", sha, 45)
    return res, sha, w.kube.find("argoproj.io/v1alpha1", "Application", "argocd", name)


def test_a_path_that_does_not_exist(w: shared.World) -> None:
    res, _sha, app = register_app(w, "nopath", "no/such/dir", {})
    assert res.outcome == "failed" and res.waited_s < 10, res.message
    said = app["status"]["conditions"][0]["message"]
    assert said.startswith("Failed to load target state: failed to generate manifest for source 1 of 1: rpc error:")
    assert said.endswith("no/such/dir: app path does not exist") and said in res.message
    assert app["status"]["sync"] == {"status": "Unknown", "revision": "main"}
    assert "operationState" not in app["status"]


def test_a_missing_namespace(w: shared.World) -> None:
    res, sha, app = register_app(w, "nons", "apps/nons", {"apps/nons/cm.yaml": CM}, create_ns=False)
    assert res.outcome == "failed" and res.status.attempted_revision == sha, res.message
    op = app["status"]["operationState"]
    assert op["phase"] == "Running" and op["retryCount"] == 1 and op["operation"]["retry"] == {"limit": 5}
    assert op["message"].startswith(
        'one or more objects failed to apply, reason: namespaces "nons" not found. Retrying'
    )
    assert op["message"] in res.message
    assert app["status"]["sync"] == {"status": "OutOfSync", "revision": sha}


def test_a_missing_crd(w: shared.World) -> None:
    res, sha, app = register_app(w, "nocrd", "apps/nocrd", {"apps/nocrd/cm.yaml": CM, "apps/nocrd/sm.yaml": MONITOR})
    assert res.outcome == "failed" and res.status.attempted_revision == sha, res.message
    said = app["status"]["operationState"]["message"]
    assert said.startswith(
        "one or more synchronization tasks are not valid: failed to discover server resources for group version"
        " monitoring.coreos.com/v1: the server could not find the requested resource. Retrying attempt #1 at "
    ), said


def test_a_kustomization_that_does_not_build(w: shared.World) -> None:
    kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n"
    files = {"apps/nobuild/kustomization.yaml": kustomization, "apps/nobuild/cm.yaml": BROKEN}
    res, _sha, app = register_app(w, "nobuild", "apps/nobuild", files)
    assert res.outcome == "failed" and res.waited_s < 10, res.message
    said = app["status"]["conditions"][0]["message"]
    assert said == (  # what the real repo-server said (tests/realcluster/test_failures.py)
        "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown "
        "desc = `kustomize build <path to cached source>/apps/nobuild` failed exit status 1: Error: accumulating "
        "resources: accumulating resources from 'cm.yaml': MalformedYAMLError: yaml: line 2: did not find expected "
        "',' or ']' in File: cm.yaml"
    )
    assert res.message == f"ComparisonError: {said}"
    assert app["status"]["sync"] == {"status": "Unknown", "revision": "main"}


def test_an_object_the_api_server_rejects(w: shared.World) -> None:
    web = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
    web += "spec:\n  selector:\n    matchLabels: {app: web}\n"
    web += "  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: Web\n"
    res, sha, app = register_app(w, "rej", "apps/rej", {"apps/rej/web.yaml": web + "          image: podinfo\n"})
    assert res.outcome == "failed" and res.status.attempted_revision == sha, res.message
    op = app["status"]["operationState"]
    assert op["phase"] == "Running" and op["retryCount"] == 1
    assert op["message"].startswith(  # what the real controller said for a new object (seen on the testbed)
        'one or more objects failed to apply, reason: Deployment.apps "web" is invalid: '
        'spec.template.spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of '
        "lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. "
        "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'). Retrying attempt #1 "
    ), op["message"]
    assert op["message"] in res.message


def test_a_synced_application_lists_its_resources_without_health(w: shared.World) -> None:
    res, sha, app = register_app(w, "ok", "apps/ok", {"apps/ok/cm.yaml": CM})
    assert res.outcome == "synced" and app["status"]["sync"] == {"status": "Synced", "revision": sha}
    assert app["status"]["resources"] == [
        {"version": "v1", "kind": "ConfigMap", "namespace": "ok", "name": "settings", "status": "Synced"}
    ]
    cm = w.kube.find("v1", "ConfigMap", "ok", "settings")
    assert (
        cm is not None
        and cm["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == "ok:/ConfigMap:ok/settings"
    )
    assert "app.kubernetes.io/instance" not in (cm["metadata"].get("labels") or {})


# -- the normalised status of what the real controller wrote (recorded on the testbed) ------------------

REF = ObjectRef(api_version="argoproj.io/v1alpha1", kind="Application", name="web", namespace="argocd")
SHA = "adbe70b8af55e5dec0c6cfa796d54737716872f7"
REJECTED = (
    'one or more synchronization tasks completed unsuccessfully, reason: error when patching "/dev/shm/3845434197": '
    'Deployment.apps "podinfo" is invalid: spec.template.spec.containers[0].name: Invalid value: "Podinfod"'
)


def app_status(op: dict[str, Any], sync: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 3}, "status": {"operationState": op, "sync": sync, **extra}}


def test_an_automated_sync_waiting_to_retry_is_a_failure_in_argocds_words() -> None:
    op = {
        "phase": "Running",
        "retryCount": 2,
        "finishedAt": "2026-12-06T08:17:23Z",
        "message": f"{REJECTED}. Retrying attempt #2 at 2026-12-06T08:17:33Z.",
        "operation": {"initiatedBy": {"automated": True}, "retry": {"limit": 5}, "sync": {"revision": SHA}},
    }
    st = normalize_status(REF, app_status(op, {"status": "OutOfSync", "revision": SHA}))
    assert st.state == "failed" and st.message == op["message"] and st.attempted_revision == SHA


def test_a_sync_that_runs_is_progressing() -> None:
    op = {"phase": "Running", "startedAt": "2026-12-06T08:17:13Z", "message": "waiting for healthy state"}
    st = normalize_status(REF, app_status(op, {"status": "OutOfSync", "revision": SHA}))
    assert st.state == "progressing"


def test_a_comparison_error_at_the_unresolved_revision_has_given_up() -> None:
    said = "Failed to load target state: ... desc = x: app path does not exist"
    obj = app_status(
        {}, {"status": "Unknown", "revision": "main"}, conditions=[{"type": "ComparisonError", "message": said}]
    )
    st = normalize_status(REF, obj)
    assert st.state == "failed" and said in st.message
    assert [(c.type, c.status, c.reason) for c in st.conditions][-1] == ("Stalled", "True", "ComparisonError")
    at_sha = app_status(
        {}, {"status": "Unknown", "revision": SHA}, conditions=[{"type": "ComparisonError", "message": said}]
    )
    assert [c.type for c in normalize_status(REF, at_sha).conditions] == ["ComparisonError"]  # a commit is named
