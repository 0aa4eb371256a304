"""Why it is not healthy (issue 21, item 7): get_sync_status and a failed wait_for_sync carry the
object's recent Events and the unhealthy objects it manages, in their own words, bounded in size;
against the fake API server (Events through both APIs) and the simulated controllers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import REGISTRY
from doubles.controllers import GitOpsSimulator
from doubles.kube import FakeKube
from doubles.world import application, git_repository, kustomization
from gitops_mcp.cluster import diagnose as dg
from gitops_mcp.cluster.client import KubeClient
from gitops_mcp.cluster.ops import get_status, reconcile, wait_for_sync
from gitops_mcp.providers.live import ObjectRef
from gitops_mcp.settings import Settings

URL = "https://git.example/org/apps.git"
KS_API = "kustomize.toolkit.fluxcd.io/v1"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n"
    "  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n"
    "    spec:\n      containers:\n        - name: c\n          image: {image}\n"
)
JOB = (
    "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  backoffLimit: 1\n  template:\n"
    "    spec:\n      restartPolicy: Never\n      containers:\n        - name: c\n          image: {image}\n"
)
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n"


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Env:
    kube: FakeKube
    client: KubeClient
    work: Path
    sim: GitOpsSimulator

    def commit(self, files: dict[str, str]) -> str:
        for rel, text in files.items():
            (self.work / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.work / rel).write_text(text, encoding="utf-8")
        sh(self.work, "add", "-A")
        sh(self.work, "commit", "-qm", "change")
        sh(self.work, "push", "-q", "origin", "main")
        return sh(self.work, "rev-parse", "HEAD")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    bare = tmp_path / "apps.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    sh(work, "checkout", "-q", "-b", "main")
    with FakeKube(token="cluster-token-0123456789") as kube:
        for ns in ("flux-system", "argocd", "web"):
            kube.ensure_namespace(ns)
        settings = Settings(kubeconfig=kube.kubeconfig(tmp_path / "kubeconfig"), allowed_roots=[tmp_path])
        with GitOpsSimulator(kube, {URL: bare}) as sim, KubeClient(settings, registry=REGISTRY) as client:
            e = Env(kube, client, work, sim)
            e.commit({"apps/web/deploy.yaml": DEPLOY.format(name="web", image="nginx:1"), "apps/web/cm.yaml": CM})
            yield e
            assert sim.errors == []


def test_a_failed_wait_says_which_deployment_and_job_fail_and_why(env: Env) -> None:
    env.kube.put(git_repository("apps", URL))
    ks = kustomization("web", "./apps/web", "apps", target_namespace="web")
    ks["spec"]["wait"] = True
    env.kube.put(ks)
    ok = wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY)
    assert ok.outcome == "synced" and ok.status.diagnosis is None  # a success carries nothing more
    sha = env.commit({"apps/web/deploy.yaml": DEPLOY.format(name="web", image="registry/fail:1")})
    reconcile(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY)
    r = wait_for_sync(env.client, "Kustomization", "web", "flux-system", sha, 20, registry=REGISTRY)
    assert r.outcome == "failed" and "health check failed" in r.message
    d = r.status.diagnosis
    assert d is not None and d.notes == []
    assert d.events[0].type == "Warning" and d.events[0].reason == "HealthCheckFailed"
    assert d.events[0].source == "kustomize-controller" and "Deployment/web/web" in d.events[0].message
    assert any(e.reason == "ReconciliationSucceeded" and e.type == "Normal" for e in d.events)
    # the Deployment and the ConfigMap are in the inventory; only the Deployment is read and judged
    assert d.checked == 1 and [(i.kind, i.name, i.state) for i in d.unhealthy] == [("Deployment", "web", "failed")]
    dep = d.unhealthy[0]
    assert "ProgressDeadlineExceeded" in dep.message and "has timed out progressing" in dep.message
    assert {(c.type, c.reason) for c in dep.conditions} == {
        ("Available", "MinimumReplicasUnavailable"),
        ("Progressing", "ProgressDeadlineExceeded"),
    }
    # a failing Job
    sha = env.commit(
        {
            "apps/web/deploy.yaml": DEPLOY.format(name="web", image="nginx:2"),
            "apps/web/job.yaml": JOB.format(image="registry/fail:1"),
        }
    )
    reconcile(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY)
    assert wait_for_sync(env.client, "Kustomization", "web", "flux-system", sha, 20, registry=REGISTRY).outcome == (
        "failed"
    )
    st = get_status(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY, diagnose=True)
    assert st.state == "failed" and st.diagnosis is not None
    job = next(i for i in st.diagnosis.unhealthy if i.kind == "Job")
    assert job.state == "failed" and "BackoffLimitExceeded" in job.message
    assert [(e.reason, e.source) for e in job.events] == [("BackoffLimitExceeded", "job-controller")]
    assert st.diagnosis.events[0].reason == "HealthCheckFailed" and "Job/web/migrate" in st.diagnosis.events[0].message


def test_an_application_names_its_degraded_and_missing_resources(env: Env) -> None:
    env.commit({"apps/web/deploy.yaml": DEPLOY.format(name="web", image="registry/fail:1")})
    env.kube.put(application("web", URL, "apps/web", "web", automated=True))
    r = wait_for_sync(env.client, "Application", "web", "argocd", None, 20, registry=REGISTRY)
    assert r.outcome == "failed" and "exceeded its progress deadline" in r.message
    d = r.status.diagnosis
    assert d is not None and d.events[0].reason == "OperationCompleted"
    assert d.events[0].source == "argocd-application-controller"
    # Argo CD's own health picks what to read: the ConfigMap has none, the Deployment is Degraded
    assert d.checked == 1 and [(i.kind, i.state) for i in d.unhealthy] == [("Deployment", "failed")]
    assert any(c.reason == "ProgressDeadlineExceeded" for c in d.unhealthy[0].conditions)
    # a resource Argo CD reports Missing is named without reading it
    app = env.kube.find("argoproj.io/v1alpha1", "Application", "argocd", "web")
    assert app is not None
    status = app["status"]
    status["resources"].append(
        {
            "group": "",
            "version": "v1",
            "kind": "Service",
            "namespace": "web",
            "name": "web",
            "health": {"status": "Missing"},
        }
    )
    env.kube.patch_status("argoproj.io/v1alpha1", "Application", "argocd", "web", status)
    st = get_status(env.client, "Application", "web", "argocd", registry=REGISTRY, diagnose=True)
    assert st.diagnosis is not None
    assert [(i.kind, i.state) for i in st.diagnosis.unhealthy] == [("Deployment", "failed"), ("Service", "missing")]


def _deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {}},
    }


def test_the_diagnosis_is_bounded(env: Env) -> None:
    """Sixty failing Deployments in an inventory: 40 read, 5 described, messages cut, the rest counted."""
    long = "x" * 2000
    for i in range(60):
        name = f"d{i:02d}"
        env.kube.put(_deployment(name))
        env.kube.patch_status(
            "apps/v1",
            "Deployment",
            "web",
            name,
            {
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": long}
                ]
            },
        )
    ks = env.kube.put(kustomization("many", "./apps", "apps"))
    # its source does not exist: the simulated kustomize-controller says so first, else its status
    # could land after (and wipe) the one set below (seen under load, with two test processes)
    env.sim.settle()
    env.kube.patch_status(
        KS_API,
        "Kustomization",
        "flux-system",
        "many",
        {
            "observedGeneration": ks["metadata"]["generation"],
            "conditions": [{"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "message": long}],
            "inventory": {"entries": [{"id": f"web_d{i:02d}_apps_Deployment", "v": "v1"} for i in range(60)]},
        },
    )
    for i in range(12):
        env.kube.put(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"many.{i}", "namespace": "flux-system"},
                "involvedObject": {
                    "kind": "Kustomization",
                    "name": "many",
                    "namespace": "flux-system",
                    "uid": ks["metadata"]["uid"],
                },
                "type": "Warning",
                "reason": "HealthCheckFailed",
                "message": long,
                "lastTimestamp": f"2099-01-01T00:00:{i:02d}Z",
            }
        )
    before = len(env.kube.requests)
    st = get_status(env.client, "Kustomization", "many", "flux-system", registry=REGISTRY, diagnose=True)
    d = st.diagnosis
    assert d is not None
    assert [e.last_seen for e in d.events] == [f"2099-01-01T00:00:{i:02d}Z" for i in (11, 10, 9, 8, 7)]
    assert d.checked == dg.READS and len(d.unhealthy) == dg.ISSUES and d.more == dg.READS - dg.ISSUES
    assert d.notes == ["20 more managed objects not read"]
    assert all(len(i.message) <= dg.TEXT and len(e.message) <= dg.TEXT for i in d.unhealthy for e in d.events)
    # the object and its events, a read per managed object read, the events of those described,
    # and the discovery of Events and Deployments (no provider manages them)
    sent = [r for r in env.kube.requests[before:] if r.method == "GET"]
    assert len(sent) == 2 + dg.READS + dg.ISSUES + 2, [r.path for r in sent]
    assert len(json.dumps(st.model_dump(mode="json"))) < 12_000


def test_events_recorded_through_either_api_and_a_forbidden_list(env: Env) -> None:
    env.kube.put(git_repository("apps", URL))
    env.kube.put(kustomization("web", "./apps/web", "apps", target_namespace="web"))
    assert wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY).outcome == (
        "synced"
    )
    ks = env.kube.find(KS_API, "Kustomization", "flux-system", "web")
    assert ks is not None
    env.kube.put(  # a newer recorder writes events.k8s.io/v1: the same storage
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web.new", "namespace": "flux-system"},
            "regarding": {
                "kind": "Kustomization",
                "name": "web",
                "namespace": "flux-system",
                "uid": ks["metadata"]["uid"],
            },
            "eventTime": "2099-01-01T00:00:00.000000Z",
            "reportingController": "example.test/auditor",
            "reportingInstance": "auditor-0",
            "action": "Audit",
            "reason": "Audited",
            "note": "looked at it",
            "type": "Normal",
        }
    )
    env.kube.put(  # an event about an earlier object of the same name (another uid) is not its
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.old", "namespace": "flux-system"},
            "involvedObject": {"kind": "Kustomization", "name": "web", "namespace": "flux-system", "uid": "gone"},
            "type": "Warning",
            "reason": "Old",
            "message": "from before",
        }
    )
    st = get_status(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY, diagnose=True)
    assert st.diagnosis is not None
    assert st.diagnosis.events[0].reason == "Audited" and st.diagnosis.events[0].source == "example.test/auditor"
    assert "Old" not in {e.reason for e in st.diagnosis.events}
    assert st.diagnosis.unhealthy == [] and st.diagnosis.checked == 0  # ready: nothing managed is read
    env.kube.forbid("list", "events")
    st = get_status(env.client, "Kustomization", "web", "flux-system", registry=REGISTRY, diagnose=True)
    assert st.state == "ready" and st.diagnosis is not None and st.diagnosis.events == []
    assert len(st.diagnosis.notes) == 1 and "403" in st.diagnosis.notes[0]


@pytest.mark.parametrize(
    ("obj", "state", "words"),
    [
        (
            {
                "kind": "Pod",
                "status": {
                    "phase": "Running",
                    "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
                },
            },
            "failed",
            "CrashLoopBackOff",
        ),
        ({"kind": "Pod", "status": {"phase": "Succeeded"}}, None, ""),
        ({"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}, "progressing", "Pending"),
        ({"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}, None, ""),
        ({"kind": "StatefulSet", "spec": {"replicas": 3}, "status": {"readyReplicas": 1}}, "progressing", "1/3"),
        ({"kind": "DaemonSet", "status": {"desiredNumberScheduled": 2, "numberReady": 2}}, None, ""),
        (
            {
                "kind": "Deployment",
                "metadata": {"generation": 3},
                "spec": {"replicas": 1},
                "status": {"observedGeneration": 2},
            },
            "progressing",
            "latest generation",
        ),
        (
            {"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}},
            None,
            "",
        ),
        (
            {
                "kind": "Certificate",
                "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending"}]},
            },
            "failed",
            "Ready=False Pending",
        ),
    ],
)
def test_judge(obj: dict[str, Any], state: str | None, words: str) -> None:
    verdict = dg.judge(obj)
    assert (verdict[0] if verdict else None) == state
    assert words in (verdict[1] if verdict else "")


def test_inventories_and_resource_lists_as_each_engine_keeps_them() -> None:
    flux = REGISTRY.get("flux")
    ks = {
        "status": {
            "inventory": {
                "entries": [
                    {"id": "web_api_apps_Deployment", "v": "v1"},
                    {"id": "_system__controller__x_rbac.authorization.k8s.io_ClusterRole", "v": "v1"},
                    {"id": "broken", "v": "v1"},
                ]
            }
        }
    }
    got = flux.managed_objects(ObjectRef(api_version=KS_API, kind="Kustomization", name="k"), ks)
    assert got is not None
    assert [(m.ref.api_version, m.ref.kind, m.ref.name, m.ref.namespace) for m in got] == [
        ("apps/v1", "Deployment", "api", "web"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "system:controller:x", None),
    ]
    assert (
        flux.managed_objects(ObjectRef(api_version="source.toolkit.fluxcd.io/v1", kind="GitRepository", name="g"), {})
        is None
    )
    argo = REGISTRY.get("argocd")
    app = {
        "status": {
            "resources": [
                {"version": "v1", "kind": "Service", "name": "s", "namespace": "n", "health": {"status": "Missing"}}
            ]
        }
    }
    found = argo.managed_objects(ObjectRef(api_version="argoproj.io/v1alpha1", kind="Application", name="a"), app)
    assert found is not None and [(m.ref.api_version, m.health) for m in found] == [("v1", "Missing")]
