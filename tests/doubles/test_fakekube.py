"""The fake API server against the official kubernetes client: strict enough that client mistakes fail."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from doubles.clock import virtual_time
from doubles.kube import FakeKube

KS = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
TOKEN = "kube-token-0123456789"


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube(token=TOKEN) as k:
        k.ensure_namespace("flux-system")
        yield k


@pytest.fixture
def api(kube: FakeKube, tmp_path: Path) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kube.kubeconfig(tmp_path / "kubeconfig")), client_configuration=cfg)
    with client.ApiClient(cfg) as a:
        yield a


def ks(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system", "labels": {"team": "a"}},
        "spec": {"interval": "5m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "r"}, **spec},
    }


def deployment(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


def test_crud_generation_and_status(api: client.ApiClient) -> None:
    co = client.CustomObjectsApi(api)
    created = co.create_namespaced_custom_object(*KS[:2], "flux-system", KS[2], ks("apps"))
    assert created["metadata"]["generation"] == 1 and "status" not in created
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object(*KS[:2], "flux-system", KS[2], ks("apps"))
    assert err.value.status == 409
    # metadata-only change: generation unchanged; spec change: bumped
    p = co.patch_namespaced_custom_object(
        *KS[:2], "flux-system", KS[2], "apps", {"metadata": {"annotations": {"a": "b"}}}
    )
    assert p["metadata"]["generation"] == 1
    p = co.patch_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "apps", {"spec": {"interval": "10m"}})
    assert p["metadata"]["generation"] == 2
    # status only through /status, which changes nothing else
    s = co.patch_namespaced_custom_object_status(
        *KS[:2], "flux-system", KS[2], "apps", {"status": {"observedGeneration": 2}, "spec": {"interval": "1h"}}
    )
    assert s["status"] == {"observedGeneration": 2} and s["spec"]["interval"] == "10m"
    p = co.patch_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "apps", {"status": {"observedGeneration": 9}})
    assert p["status"] == {"observedGeneration": 2}
    # JSON patch needs its content type; the sync client sends merge-patch for dicts
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(
            *KS[:2], "flux-system", KS[2], "apps", [{"op": "replace", "path": "/spec/interval", "value": "2m"}]
        )
    assert err.value.status in (400, 422)
    p = co.patch_namespaced_custom_object(
        *KS[:2],
        "flux-system",
        KS[2],
        "apps",
        [{"op": "replace", "path": "/spec/interval", "value": "2m"}],
        _content_type="application/json-patch+json",
    )
    assert p["spec"]["interval"] == "2m"
    # stale replace
    old = co.get_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "apps")
    co.patch_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "apps", {"spec": {"wait": True}})
    with pytest.raises(ApiException) as err:
        co.replace_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "apps", old)
    assert err.value.status == 409
    co.delete_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "apps")
    with pytest.raises(ApiException) as err:
        co.get_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "apps")
    assert err.value.status == 404


def test_selectors_namespaces_and_typed_api(kube: FakeKube, api: client.ApiClient) -> None:
    kube.ensure_namespace("web")
    apps = client.AppsV1Api(api)
    for name, labels in (("a", {"app": "a", "tier": "fe"}), ("b", {"app": "b"})):
        apps.create_namespaced_deployment("web", deployment(name, labels))

    def names(sel: str) -> list[str]:
        return sorted(d.metadata.name for d in apps.list_deployment_for_all_namespaces(label_selector=sel).items)

    assert names("app=a") == ["a"] and names("app in (a,b)") == ["a", "b"] and names("tier") == ["a"]
    assert names("!tier") == ["b"] and names("app!=a") == ["b"]
    got = apps.list_namespaced_deployment("web", field_selector="metadata.name=b").items
    assert [d.metadata.name for d in got] == ["b"]
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment("missing", deployment("x", {"app": "x"}))
    assert err.value.status == 404
    assert client.VersionApi(api).get_code().git_version.startswith("v1.33")
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"kustomize.toolkit.fluxcd.io", "argoproj.io", "apps"} <= groups


def test_events_through_both_apis(kube: FakeKube, api: client.ApiClient) -> None:
    """One Event storage served as core/v1 and events.k8s.io/v1, with each API's field labels."""
    core, new = client.CoreV1Api(api), client.EventsV1Api(api)
    regarding = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "flux-system", "uid": "u1"}
    core.create_namespaced_event(
        "flux-system",
        {
            "metadata": {"name": "web.1"},
            "involvedObject": regarding,
            "reason": "ProgressDeadlineExceeded",
            "message": "web has timed out progressing",
            "type": "Warning",
            "source": {"component": "deployment-controller"},
            "count": 3,
            "lastTimestamp": "2026-01-01T00:00:00Z",
        },
    )
    with pytest.raises(ApiException) as err:  # events.k8s.io/v1 checks what a new Event must say
        new.create_namespaced_event(
            "flux-system", {"metadata": {"name": "x"}, "regarding": regarding, "eventTime": "2026-01-01T00:00:00Z"}
        )
    assert err.value.status == 422 and "reportingController: Required value" in err.value.body
    new.create_namespaced_event(
        "flux-system",
        {
            "metadata": {"name": "ks.1"},
            "regarding": {**regarding, "kind": "Kustomization", "name": "apps", "uid": "u2"},
            "eventTime": "2026-01-01T00:00:01.000000Z",
            "reportingController": "kustomize-controller",
            "reportingInstance": "kustomize-controller-0",
            "action": "Reconcile",
            "reason": "HealthCheckFailed",
            "note": "health check failed",
            "type": "Warning",
        },
    )
    raw = new.list_namespaced_event(
        "flux-system", field_selector="regarding.name=web,regarding.kind=Deployment", _preload_content=False
    )
    got = json.loads(raw.data)
    assert got["apiVersion"] == "events.k8s.io/v1" and got["kind"] == "EventList"
    assert [(e["note"], e["deprecatedCount"], e["regarding"]["uid"], e["eventTime"]) for e in got["items"]] == [
        ("web has timed out progressing", 3, "u1", None)  # recorded through core/v1: no eventTime
    ]
    listed = core.list_namespaced_event("flux-system", field_selector="involvedObject.name=apps,type=Warning")
    assert [(e.message, e.source, e.reporting_component) for e in listed.items] == [
        ("health check failed", None, "kustomize-controller")
    ]
    assert len(core.list_namespaced_event("flux-system", field_selector="source=kustomize-controller").items) == 1
    assert new.read_namespaced_event("ks.1", "flux-system").regarding.name == "apps"
    for lister, selector in ((new, "involvedObject.name=web"), (core, "regarding.name=web"), (core, "note=x")):
        with pytest.raises(ApiException) as err:
            lister.list_namespaced_event("flux-system", field_selector=selector)
        assert err.value.status == 400 and "field label not supported" in err.value.body
    w = watch.Watch()
    with virtual_time(kube):  # the watch's timeoutSeconds passes on the test's clock
        seen = [
            ev["object"].note
            for ev in w.stream(
                new.list_namespaced_event, "flux-system", field_selector="regarding.uid=u2", timeout_seconds=1
            )
        ]
    assert seen == ["health check failed"]


def test_auth_and_faults(kube: FakeKube, tmp_path: Path) -> None:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kube.kubeconfig(tmp_path / "bad", token="wrong")), client_configuration=cfg)
    with client.ApiClient(cfg) as a, pytest.raises(ApiException) as err:
        client.CoreV1Api(a).list_namespace()
    assert err.value.status == 401
    kube.fail_next("GET", r"/namespaces$", 503)
    cfg2 = client.Configuration()
    config.load_kube_config(config_file=str(kube.kubeconfig(tmp_path / "kc")), client_configuration=cfg2)
    with client.ApiClient(cfg2) as a:
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(a).list_namespace()
        assert err.value.status == 503
        assert [n.metadata.name for n in client.CoreV1Api(a).list_namespace().items] == ["default", "flux-system"]


def test_watch_initial_resume_and_timeout(kube: FakeKube, api: client.ApiClient) -> None:
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(*KS[:2], "flux-system", KS[2], ks("one"))
    listed = co.list_namespaced_custom_object(*KS[:2], "flux-system", KS[2])
    rv = listed["metadata"]["resourceVersion"]

    def later() -> None:
        kube.patch_status(
            "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "one", {"observedGeneration": 1}
        )

    threading.Timer(0.2, later).start()
    w = watch.Watch()
    events = []
    for ev in w.stream(
        co.list_namespaced_custom_object, *KS[:2], "flux-system", KS[2], resource_version=rv, timeout_seconds=5
    ):
        events.append((ev["type"], ev["object"]["metadata"]["name"]))
        w.stop()
    assert events == [("MODIFIED", "one")]
    # without a resourceVersion: the existing objects first; the stream ends at timeoutSeconds (of the test's clock)
    with virtual_time(kube) as clock:
        got = [
            ev["type"]
            for ev in watch.Watch().stream(
                co.list_namespaced_custom_object, *KS[:2], "flux-system", KS[2], timeout_seconds=30
            )
        ]
    assert got == ["ADDED"] and sum(clock.slept) == 30


def test_watch_expired_resource_version(tmp_path: Path) -> None:
    with FakeKube(history=5) as kube:
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kube.kubeconfig(tmp_path / "kc")), client_configuration=cfg)
        for i in range(20):
            kube.ensure_namespace(f"n{i}")
        with client.ApiClient(cfg) as a:
            stream = watch.Watch().stream(client.CoreV1Api(a).list_namespace, resource_version="2", timeout_seconds=2)
            with pytest.raises(ApiException) as err:
                list(stream)
            assert err.value.status == 410
