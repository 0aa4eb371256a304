"""The deploy base's RBAC is enough, and no more (issue 12): the fake API server authorizes every
request of the server's own code with the rules of the ClusterRole that deploy/kubernetes binds to
its ServiceAccount. Status, waiting, reconcile (Flux with its source, an Argo CD sync), owner
lookups and the installed controllers work; registering a new root object is refused until the
registration/ rules are added; Secrets and patches beyond the reconcile kinds stay refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from deploy_kit import DEPLOY, NAMESPACE, REGISTRATION, Obj, pick, render
from doubles import world as shared
from doubles.kube import FakeKube
from gitops_mcp.errors import ClusterError
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

WEB = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
"""


def roots_file(url: str) -> str:
    """A committed file with root GitOps objects nothing has applied yet (what registration applies)."""
    objs = [shared.git_repository("more", url), shared.kustomization("more", "./apps", "more", target_namespace="more")]
    return yaml.safe_dump_all(objs, sort_keys=False)


def bound_rules(docs: list[Obj], name: str) -> list[Obj]:
    """The rules of ClusterRole ``name``, checked to be bound to the server's ServiceAccount."""
    binding = pick(docs, "ClusterRoleBinding", name)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
    assert {"kind": "ServiceAccount", "name": "gitops-mcp", "namespace": NAMESPACE} in binding["subjects"]
    return list(pick(docs, "ClusterRole", name)["rules"])


@dataclass
class Env:
    w: shared.World
    work: Path
    app: Services
    rules: list[Obj]
    registration: list[Obj]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """A fleet repository synced by Flux (apps -> namespace apps) and by an Argo CD Application (->
    guest); the API server then answers the server only what the base's ClusterRole allows."""
    rules, registration = (
        bound_rules(render(DEPLOY), "gitops-mcp"),
        bound_rules(render(REGISTRATION), "gitops-mcp-registration"),
    )
    with shared.World(tmp_path) as w:
        work = tmp_path / "work"
        url = w.seed("org/fleet.git", work, {"apps/web.yaml": WEB})
        (work / "clusters/dev").mkdir(parents=True)
        (work / "clusters/dev/more.yaml").write_text(roots_file(url), encoding="utf-8")
        w.git(work, "add", "-A")
        w.git(work, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "more")
        w.git(work, "push", "-q", "origin", "main")
        w.flux("apps", url, "./apps", target_namespace="apps")
        for ns in ("argocd", "guest", "more"):
            w.kube.ensure_namespace(ns)
        w.kube.put(shared.application("guestbook", url, "apps", "guest"))
        w.kube.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "apps"}})
        w.kube.user = f"system:serviceaccount:{NAMESPACE}:gitops-mcp"
        w.kube.allow(rules)
        app = Services(w.settings())
        try:
            yield Env(w, work, app, rules, registration)
        finally:
            app.close()


def test_the_cluster_tools_work_within_the_base_rules(env: Env) -> None:
    app = env.app
    with env.w.controllers():
        done = app.cluster.wait("Kustomization", "apps", "flux-system", None, 30)
        assert done.outcome == "synced", done.message
        st = app.cluster.sync_status("Kustomization", "apps", "flux-system")
        assert st.state == "ready" and st.diagnosis is not None and st.diagnosis.notes == [], st.diagnosis
        assert any(e.reason == "ReconciliationSucceeded" for e in st.diagnosis.events)  # events: get/list granted
        r = app.cluster.reconcile("Kustomization", "apps", "flux-system", with_source=True)
        assert r.handled and r.requested == ["GitRepository/flux-system/apps", "Kustomization/flux-system/apps"]
        r = app.cluster.reconcile("Application", "guestbook", "argocd", sync=True)
        assert r.handled and r.sync_started, r.message
        owner = app.cluster.find_owner("apps/v1", "Deployment", "web", "apps", repo_path=str(env.work))
        assert [c.kind for c in owner.chain] == ["Kustomization", "GitRepository"], owner.message
        assert owner.file is not None and owner.file.file == "apps/web.yaml"
        owner = app.cluster.find_owner("apps/v1", "Deployment", "web", "guest")
        assert owner.manager == "argocd" and [c.kind for c in owner.chain] == ["Application"], owner.message
        report = app.inspect.provider_report(repo_path=str(env.work))
        assert report.cluster_error is None


def test_registration_needs_the_registration_rules(env: Env) -> None:
    refused = env.app.registrar.register(str(env.work), "clusters/dev/more.yaml")
    assert not refused.ok and refused.applied == []
    assert 'cannot create resource "gitrepositories"' in refused.message, refused.message
    assert env.w.kube.find("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "more") is None
    env.w.kube.allow(env.rules + env.registration)
    done = env.app.registrar.register(str(env.work), "clusters/dev/more.yaml")
    assert done.ok, done.message
    assert [a.kind for a in done.applied] == ["GitRepository", "Kustomization"]


def test_what_the_base_does_not_grant_is_refused(env: Env) -> None:
    with pytest.raises(ClusterError, match='cannot get resource "secrets"'):
        env.app.cluster.find_owner("v1", "Secret", "db", "apps")
    kube = env.app.shared.kube()
    with kube, pytest.raises(ClusterError, match='cannot patch resource "deployments"'):
        kube.patch_merge("apps/v1", "Deployment", "web", "apps", {"spec": {"replicas": 3}})
    # and without the patch rules a reconcile request is refused: the grant is what makes it work
    env.w.kube.allow([r for r in env.rules if "patch" not in r["verbs"]])
    with pytest.raises(ClusterError, match="cannot patch resource"):
        env.app.cluster.reconcile("Kustomization", "apps", "flux-system")


def test_in_a_pod_the_server_reads_the_cluster_with_its_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No kubeconfig, KUBERNETES_SERVICE_HOST set: the in-cluster config, the mounted token and CA,
    over HTTPS to an API server that checks the token and the ClusterRole's rules."""
    from kubernetes.config import incluster_config

    token = "sa-token-0123456789abcdef"
    rules = bound_rules(render(DEPLOY), "gitops-mcp")
    kube = FakeKube(token=token)
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    shutil.copy(kube.use_tls(tmp_path / "pki"), sa / "ca.crt")
    (sa / "token").write_text(token, encoding="utf-8")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    with kube:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(kube.port))
        kube.user = f"system:serviceaccount:{NAMESPACE}:gitops-mcp"
        kube.ensure_namespace("flux-system")
        kube.put(shared.kustomization("apps", "./apps", "apps"))
        kube.allow(rules)
        app = Services(Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "state", cache_dir=tmp_path / "c"))
        try:
            report = app.inspect.provider_report()
            assert report.cluster == f"https://127.0.0.1:{kube.port}" and report.cluster_error is None
            st = app.cluster.sync_status("Kustomization", "apps", "flux-system")
            assert (st.name, st.state) == ("apps", "progressing"), st.message  # no controller has seen it yet
            (sa / "token").write_text("not-the-token", encoding="utf-8")
            with pytest.raises(ClusterError, match=r"401 .*refused the credentials"):
                app.cluster.sync_status("Kustomization", "apps", "flux-system")
        finally:
            app.close()


def test_registration_creates_a_missing_namespace_with_create_only(env: Env) -> None:
    """A Namespace beside the roots is created (POST: the `create` the registration rules grant), never
    applied: an apply needs `patch` on namespaces, which would let the server relabel any namespace."""
    text = (env.work / "clusters/dev/more.yaml").read_text(encoding="utf-8")
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}
    (env.work / "clusters/dev/more.yaml").write_text(yaml.safe_dump(ns) + "---\n" + text, encoding="utf-8")
    env.w.git(env.work, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qam", "fresh")
    env.w.git(env.work, "push", "-q", "origin", "main")
    env.w.kube.allow(env.rules + env.registration)
    done = env.app.registrar.register(str(env.work), "clusters/dev/more.yaml")
    assert done.ok, done.message
    assert [a.kind for a in done.applied] == ["Namespace", "GitRepository", "Kustomization"]
    assert env.w.kube.find("v1", "Namespace", None, "fresh") is not None
    again = env.app.registrar.register(str(env.work), "clusters/dev/more.yaml")  # it exists now: left alone
    assert again.ok and "Namespace" not in [a.kind for a in again.applied], again.message
    kube = env.app.shared.kube()
    with kube, pytest.raises(ClusterError, match='cannot patch resource "namespaces"'):
        kube.patch_merge("v1", "Namespace", "fresh", None, {"metadata": {"labels": {"x": "y"}}})
