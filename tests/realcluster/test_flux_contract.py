"""The Flux contract: the same scenarios on the simulated Flux (tests/doubles, backend ``fake``) and on
the real source-, kustomize- and helm-controller of Flux 2.9.3 on the testbed (backend ``real``),
asserting what gitops-mcp reports: the controller's reason and words, revisions ``main@sha1:<sha>``,
inventories, observedGeneration, reconcile requests, a HelmRelease's health, suspend.

The rule: the fake may only say what the real controllers say. One scenario stays on the testbed
(test_flux.py): a private repository without credentials, since the simulator reads repositories from
disk and never authenticates. The fake runs in the fast suite; the real backend is marked slow and
realcluster like the rest of this directory.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, need_shared
from gitops_mcp.errors import UserInputError

from .backends import HR, KS, SOURCE, Backend, FakeBackend, RealBackend, git_repository, helm_release, kustomization
from .conftest import Testbed

REAL = pytest.param("real", marks=[pytest.mark.slow, pytest.mark.realcluster])
IMAGE = "ghcr.io/stefanprodan/podinfo:6.9.0"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: blue\n"
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: %s
"""
KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n%s"
MONITOR = (
    "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n"
    "spec:\n  selector:\n    matchLabels: {app: web}\n  endpoints:\n    - port: http\n"
)


@pytest.fixture
def testbed(request: pytest.FixtureRequest) -> Testbed | None:
    """The session's testbed (conftest.py) for the real backend; None for the fake, which must not start
    it. Named ``testbed`` so that a failure on the testbed reports the controllers' logs and the objects."""
    if request.node.callspec.params.get("backend") == "fake":
        return None
    return request.getfixturevalue("testbed")  # type: ignore[no-any-return]


@pytest.fixture(params=["fake", REAL])
def backend(request: pytest.FixtureRequest, testbed: Testbed | None, tmp_path: Path) -> Iterator[Backend]:
    b: Backend = FakeBackend(tmp_path) if testbed is None else RealBackend(testbed, tmp_path)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(autouse=True)
def testbed_tools_on_path(testbed: Testbed | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The directory's autouse fixture, which the fake backend does without."""
    if testbed is not None:
        tools = {Path(testbed.plane.bin(b)).parent for b in ("kustomize", "helm", "kubectl")}
        monkeypatch.setenv("PATH", os.pathsep.join([*sorted(map(str, tools)), os.environ["PATH"]]))


def app_dir(b: Backend, name: str, files: dict[str, str]) -> dict[str, str]:
    """apps/<name>/ with a kustomization.yaml listing ``files``."""
    listing = "".join(f"  - {f}\n" for f in files)
    return {f"apps/{name}/kustomization.yaml": KUSTOMIZATION % listing} | {
        f"apps/{name}/{f}": text for f, text in files.items()
    }


def deploy_app(b: Backend, files: dict[str, str], *, create_ns: bool = True, **spec: Any) -> tuple[str, str, str]:
    """Push apps/<name>, apply a GitRepository and a Kustomization (targetNamespace <name>); (name, ns, sha)."""
    name = b.unique("app")
    if create_ns:
        b.namespace(name)
    sha = b.push(app_dir(b, name, files), f"add {name}")
    b.apply(git_repository(name, b.url))
    b.apply(kustomization(name, f"./apps/{name}", name, targetNamespace=name, **spec))
    return name, name, sha


def wait(b: Backend, name: str, sha: str | None, timeout: float = 60, kind: str = "Kustomization") -> Any:
    return b.app().cluster.wait(kind, name, "flux-system", sha, timeout)


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")


def conds(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((c["type"], c["status"], c["reason"]) for c in obj["status"].get("conditions") or [])


# -- a Kustomization applies the pushed commit -----------------------------------------------------------------


def test_a_kustomization_applies_the_pushed_commit(backend: Backend) -> None:
    b = backend
    name, ns, sha = deploy_app(b, {"cm.yaml": CM, "web.yaml": DEPLOY % IMAGE})
    res = wait(b, name, sha)
    rev = f"main@sha1:{sha}"
    assert res.outcome == "synced", res.message
    assert res.message == f"Kustomization flux-system/{name} applied {rev} and is ready"
    st = res.status
    assert (st.revision, st.attempted_revision, st.generation, st.observed_generation) == (rev, rev, 1, 1)
    ks = b.get(KS, "Kustomization", "flux-system", name)
    assert ks is not None
    assert conds(ks) == [("Ready", "True", "ReconciliationSucceeded")]
    assert ready(ks)["message"] == f"Applied revision: {rev}" and ready(ks)["observedGeneration"] == 1
    assert sorted(ks["status"]["inventory"]["entries"], key=lambda e: e["id"]) == [
        {"id": f"{ns}_settings__ConfigMap", "v": "v1"},
        {"id": f"{ns}_web_apps_Deployment", "v": "v1"},
    ]
    src = b.app().cluster.sync_status("GitRepository", name, "flux-system")
    assert (src.state, src.revision, src.message) == ("ready", rev, f"stored artifact for revision '{rev}'")
    gitrepo = b.get(SOURCE, "GitRepository", "flux-system", name)
    assert gitrepo is not None
    assert conds(gitrepo) == [("ArtifactInStorage", "True", "Succeeded"), ("Ready", "True", "Succeeded")]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", gitrepo["status"]["artifact"]["digest"])
    web = b.get("apps/v1", "Deployment", ns, "web")
    assert web is not None
    labels = web["metadata"]["labels"]
    assert (labels["kustomize.toolkit.fluxcd.io/name"], labels["kustomize.toolkit.fluxcd.io/namespace"]) == (
        name,
        "flux-system",
    )
    owner = b.app().cluster.find_owner("apps/v1", "Deployment", "web", ns)
    assert [(c.kind, c.name) for c in owner.chain] == [("Kustomization", name), ("GitRepository", name)]


def test_a_reconcile_request_is_handled_and_the_next_commit_applied(backend: Backend) -> None:
    b = backend
    name, ns, sha = deploy_app(b, {"cm.yaml": CM})
    assert wait(b, name, sha).outcome == "synced"
    # nothing new in Git: the Kustomization itself is asked, and says it handled the token
    app = b.app()
    same = app.cluster.reconcile("Kustomization", name, "flux-system", with_source=True)
    assert same.handled and same.requested == [f"GitRepository/flux-system/{name}", f"Kustomization/flux-system/{name}"]
    ks = b.get(KS, "Kustomization", "flux-system", name)
    assert ks is not None and ks["status"]["lastHandledReconcileAt"] == same.token
    assert ks["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"] == same.token
    # a new commit: the source fetches it on request and the Kustomization applies it (10m interval)
    new = b.push({f"apps/{name}/cm.yaml": CM.replace("blue", "green")}, "green")
    t0 = time.monotonic()
    moved = app.cluster.reconcile("Kustomization", name, "flux-system", with_source=True)
    res = wait(b, name, new, 30)
    assert moved.handled and res.outcome == "synced" and time.monotonic() - t0 < 30, res.message
    src = b.get(SOURCE, "GitRepository", "flux-system", name)
    assert src is not None and src["status"]["lastHandledReconcileAt"] == moved.token
    cm = b.get("v1", "ConfigMap", ns, "settings")
    assert cm is not None and cm["data"] == {"colour": "green"}


# -- failures in the controller's own words, within the caller's timeout ----------------------------------------


def failed_after(b: Backend, name: str, files: dict[str, str | None], timeout: float = 45) -> tuple[Any, str]:
    """Push a change to a live app, ask for a reconcile, wait; (result, the commit)."""
    new = b.push(files, "a change the controller rejects")
    t0 = time.monotonic()
    b.app().cluster.reconcile("Kustomization", name, "flux-system", with_source=True)
    res = wait(b, name, new, timeout)
    assert res.outcome == "failed" and time.monotonic() - t0 < timeout, (res.outcome, res.message)
    return res, new


def assert_retrying(b: Backend, name: str, old: str | None, new: str, reason: str, doing: str) -> dict[str, Any]:
    """A failed reconcile as both report it: Ready=False/<reason>, Reconciling=True/ProgressingWithRetry
    naming the stage (``doing``), the new revision attempted, the old one still applied (None: never)."""
    ks = b.get(KS, "Kustomization", "flux-system", name)
    assert ks is not None
    assert conds(ks) == [("Ready", "False", reason), ("Reconciling", "True", "ProgressingWithRetry")]
    reconciling = next(c for c in ks["status"]["conditions"] if c["type"] == "Reconciling")
    assert reconciling["message"] == f"{doing} for revision main@sha1:{new} with a timeout of 9m30s"
    st = ks["status"]
    assert st["lastAttemptedRevision"] == f"main@sha1:{new}"
    assert st.get("lastAppliedRevision") == (f"main@sha1:{old}" if old else None)
    return ks


def test_a_kustomization_that_does_not_build(backend: Backend) -> None:
    b = backend
    name, _ns, sha = deploy_app(b, {"cm.yaml": CM})
    assert wait(b, name, sha).outcome == "synced"
    res, new = failed_after(b, name, {f"apps/{name}/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [x\n"})
    ks = assert_retrying(b, name, sha, new, "BuildFailed", "Building manifests")
    said = ready(ks)["message"]
    assert said == (
        "kustomize build failed: accumulating resources: accumulating resources from 'cm.yaml': "
        "MalformedYAMLError: yaml: line 2: did not find expected ',' or ']' in File: cm.yaml"
    )
    assert said in res.message
    assert res.status.revision == f"main@sha1:{sha}" and res.status.attempted_revision == f"main@sha1:{new}"


def test_a_missing_crd(backend: Backend) -> None:
    b = backend
    name, ns, sha = deploy_app(b, {"cm.yaml": CM})
    assert wait(b, name, sha).outcome == "synced"
    res, new = failed_after(b, name, app_dir(b, name, {"cm.yaml": CM, "monitor.yaml": MONITOR}))
    ks = assert_retrying(b, name, sha, new, "ReconciliationFailed", "Detecting drift")
    said = ready(ks)["message"]
    assert said == (
        f'ServiceMonitor/{ns}/web dry-run failed: no matches for kind "ServiceMonitor" in version '
        '"monitoring.coreos.com/v1"\n'
    )
    assert said.strip() in res.message


def test_a_missing_namespace_on_the_first_reconcile(backend: Backend) -> None:
    b = backend
    name, ns, sha = deploy_app(b, {"cm.yaml": CM}, create_ns=False)
    t0 = time.monotonic()
    res = wait(b, name, sha, 45)
    assert res.outcome == "failed" and time.monotonic() - t0 < 45, res.message
    ks = assert_retrying(b, name, None, sha, "ReconciliationFailed", "Detecting drift")
    said = ready(ks)["message"]
    assert said == f'ConfigMap/{ns}/settings not found: namespaces "{ns}" not found\n'
    assert said.strip() in res.message
    # never applied: status.observedGeneration stays -1, the condition carries the generation judged
    assert ks["status"]["observedGeneration"] == -1 and ready(ks)["observedGeneration"] == 1
    assert res.status.observed_generation is None and res.status.revision is None


def test_an_object_the_api_server_rejects(backend: Backend) -> None:
    b = backend
    name, ns, sha = deploy_app(b, {"web.yaml": DEPLOY % IMAGE})
    assert wait(b, name, sha).outcome == "synced"
    bad = (DEPLOY % IMAGE).replace("- name: web", "- name: Web")
    res, new = failed_after(b, name, {f"apps/{name}/web.yaml": bad})
    ks = assert_retrying(b, name, sha, new, "ReconciliationFailed", "Detecting drift")
    said = ready(ks)["message"]
    assert said == (
        f'Deployment/{ns}/web dry-run failed (Invalid): Deployment.apps "web" is invalid: '
        'spec.template.spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of '
        "lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. "
        "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')\n"
    )
    assert said.strip() in res.message


def test_a_repository_that_does_not_exist_fails_in_the_source_controllers_words(backend: Backend) -> None:
    b = backend
    name = b.unique("nosuch")
    url = b.url.replace("/org/", "/org/no-such-")
    b.apply(git_repository(name, url))
    b.apply(kustomization(name, "./apps", name))
    t0 = time.monotonic()
    res = wait(b, name, None, 45)
    assert res.outcome == "failed" and time.monotonic() - t0 < 45, res.message
    src = b.get(SOURCE, "GitRepository", "flux-system", name)
    assert src is not None
    said = ready(src)["message"]
    assert said == f"failed to checkout and determine revision: unable to clone '{url}': repository not found: "
    assert conds(src) == [
        ("FetchFailed", "True", "GitOperationFailed"),
        ("Ready", "False", "GitOperationFailed"),
        ("Reconciling", "True", "ProgressingWithRetry"),
    ]
    assert next(c for c in src["status"]["conditions"] if c["type"] == "Reconciling")["message"] == "building artifact"
    assert src["status"]["observedGeneration"] == -1 and "artifact" not in src["status"]
    ks = b.get(KS, "Kustomization", "flux-system", name)
    assert ks is not None and conds(ks) == [("Ready", "False", "ArtifactFailed")]
    assert ready(ks)["message"] == "Source artifact not found, retrying in 30s"
    assert ks["status"]["observedGeneration"] == -1 and "lastAttemptedRevision" not in ks["status"]
    assert res.message == f"{ready(ks)['message']}: GitRepository flux-system/{name} failed: {said}"


# -- suspend, HelmRelease ------------------------------------------------------------------------------------


def test_a_suspended_kustomization_applies_nothing_until_resumed(backend: Backend) -> None:
    b = backend
    name, ns, sha = deploy_app(b, {"cm.yaml": CM})
    assert wait(b, name, sha).outcome == "synced"
    b.apply(kustomization(name, f"./apps/{name}", name, targetNamespace=ns, suspend=True))
    app = b.app()
    st = app.cluster.sync_status("Kustomization", name, "flux-system")
    assert st.state == "suspended" and st.message.startswith("suspended: Flux applies nothing until it is resumed")
    with pytest.raises(UserInputError, match="suspended"):
        app.cluster.reconcile("Kustomization", name, "flux-system")
    new = b.push({f"apps/{name}/cm.yaml": CM.replace("blue", "green")}, "green")
    app.cluster.reconcile("GitRepository", name, "flux-system")
    assert wait(b, name, new, 10, kind="GitRepository").outcome == "synced"
    gone = wait(b, name, new, 3)
    assert gone.outcome == "failed" and gone.status.state == "suspended", gone.message
    ks = b.get(KS, "Kustomization", "flux-system", name)
    assert ks is not None and ks["status"]["lastAppliedRevision"] == f"main@sha1:{sha}"
    b.apply(kustomization(name, f"./apps/{name}", name, targetNamespace=ns, suspend=False))
    res = wait(b, name, new, 30)
    assert res.outcome == "synced", res.message
    cm = b.get("v1", "ConfigMap", ns, "settings")
    assert cm is not None and cm["data"] == {"colour": "green"}


def test_a_helm_release_of_a_chart_from_git_is_healthy(backend: Backend) -> None:
    b = backend
    chart = need_shared(FIXTURES / "podinfo" / "charts" / "podinfo")
    files = {f"charts/podinfo/{p.relative_to(chart)}": p.read_text(encoding="utf-8") for p in chart.rglob("*")
             if p.is_file()}  # fmt: skip
    name = b.unique("hr")
    b.namespace(name)
    sha = b.push(files, "the podinfo chart")
    b.apply(git_repository(name, b.url))
    b.apply(helm_release(name, "./charts/podinfo", name, name))
    res = wait(b, name, sha, 90, kind="HelmRelease")
    assert res.outcome == "synced", res.message
    hr = b.get(HR, "HelmRelease", "flux-system", name)
    assert hr is not None
    version = f"6.14.1+{sha[:12]}"
    assert res.status.revision == version and res.status.attempted_revision == version
    said = f"Helm install succeeded for release {name}/{name}-{name}.v1 with chart podinfo@{version}"
    assert conds(hr) == [("Ready", "True", "InstallSucceeded"), ("Released", "True", "InstallSucceeded")]
    assert ready(hr)["message"] == said and res.status.message == said
    assert history(hr) == [("install", "podinfo", version, "6.14.1", "deployed", 1, f"{name}-{name}", name)]
    assert hr["status"]["observedGeneration"] == 1 and hr["status"]["lastAttemptedReleaseAction"] == "install"
    # a value changed in Git: an upgrade, the first release superseded
    values = files["charts/podinfo/values.yaml"].replace("replicaCount: 1", "replicaCount: 2", 1)
    sha2 = b.push({"charts/podinfo/values.yaml": values}, "two replicas")
    b.app().cluster.reconcile("HelmRelease", name, "flux-system", with_source=True)
    res = wait(b, name, sha2, 90, kind="HelmRelease")
    assert res.outcome == "synced", res.message
    hr = b.get(HR, "HelmRelease", "flux-system", name)
    assert hr is not None
    v2 = f"6.14.1+{sha2[:12]}"
    assert conds(hr) == [("Ready", "True", "UpgradeSucceeded"), ("Released", "True", "UpgradeSucceeded")]
    assert ready(hr)["message"] == f"Helm upgrade succeeded for release {name}/{name}-{name}.v2 with chart podinfo@{v2}"
    assert history(hr) == [
        ("upgrade", "podinfo", v2, "6.14.1", "deployed", 2, f"{name}-{name}", name),
        (None, "podinfo", version, "6.14.1", "superseded", 1, f"{name}-{name}", name),
    ]
    assert res.status.revision == v2


def history(hr: dict[str, Any]) -> list[tuple[Any, ...]]:
    keys = ("action", "chartName", "chartVersion", "appVersion", "status", "version", "name", "namespace")
    return [tuple(h.get(k) for k in keys) for h in hr["status"]["history"]]
