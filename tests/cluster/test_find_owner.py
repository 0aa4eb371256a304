"""find_owner against the fake API server and the simulated controllers: the Flux Kustomization and
its file, a HelmRelease's chain, an Argo CD Application, and objects nothing manages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import REGISTRY
from doubles.world import application
from gitops_mcp.cluster.ops import wait_for_sync
from gitops_mcp.settings import Settings
from test_cluster import KS_API, URL, Env, env, flux_app

__all__ = ["env"]  # the fixture


def _app(settings_path: Path, tmp_path: Path) -> Any:
    from gitops_mcp.services import Services

    return Services(Settings(kubeconfig=settings_path, allowed_roots=[tmp_path], state_dir=tmp_path / "s"))


def test_find_owner_flux_kustomization_and_file(env: Env, tmp_path: Path) -> None:
    flux_app(env.kube)
    assert (
        wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY).outcome
        == "synced"
    )
    app = _app(tmp_path / "kubeconfig", tmp_path)
    r = app.cluster.find_owner("apps/v1", "Deployment", "web", "web", repo_path=str(env.work))
    assert r.managed and r.manager == "flux"
    assert [(c.kind, c.name) for c in r.chain] == [("Kustomization", "web"), ("GitRepository", "apps")]
    assert "inventory" in r.chain[0].via
    assert r.git is not None and r.git.url == URL and r.git.path == "./apps/web" and r.git.ref == {"branch": "main"}
    assert r.file is not None and (r.file.file, r.file.document) == ("apps/web/deploy.yaml", 0)
    assert r.api_calls <= 6
    # labels removed (someone relabelled): the inventory still names the owner
    dep = env.kube.find("apps/v1", "Deployment", "web", "web")
    assert dep is not None
    dep["metadata"]["labels"] = {}
    env.kube.put(dep)
    r2 = app.cluster.find_owner("apps/v1", "Deployment", "web", "web")
    assert r2.chain[0].kind == "Kustomization" and r2.chain[0].via == "inventory"
    assert r2.file is None and "repo_path" in r2.message


def test_find_owner_helm_release_chain(env: Env, tmp_path: Path) -> None:
    """Deployment -> HelmRelease -> Kustomization -> GitRepository, the file being the HelmRelease."""
    hr = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n"
        "spec:\n  interval: 5m\n  chart:\n    spec:\n      chart: podinfo\n      sourceRef:\n"
        "        kind: HelmRepository\n        name: podinfo\n  values:\n    replicaCount: 2\n"
    )
    env.commit({"apps/podinfo/release.yaml": hr, "apps/podinfo/kustomization.yaml": "resources:\n  - release.yaml\n"})
    env.kube.ensure_namespace("podinfo")
    flux_app(env.kube, path="./apps/podinfo")
    env.kube.patch(
        env.kube.resource_for(KS_API, "Kustomization"),
        "flux-system",
        "web",
        {"spec": {"targetNamespace": "podinfo"}},
        "application/merge-patch+json",
    )
    assert (
        wait_for_sync(env.client, "Kustomization", "web", "flux-system", None, 20, registry=REGISTRY).outcome
        == "synced"
    )
    # what helm-controller would render, with its origin labels
    env.kube.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "podinfo",
                "namespace": "podinfo",
                "labels": {
                    "helm.toolkit.fluxcd.io/name": "podinfo",
                    "helm.toolkit.fluxcd.io/namespace": "podinfo",
                    "app.kubernetes.io/managed-by": "Helm",
                },
            },
            "spec": {},
        }
    )
    r = _app(tmp_path / "kubeconfig", tmp_path).cluster.find_owner(
        "apps/v1", "Deployment", "podinfo", "podinfo", repo_path=str(env.work)
    )
    assert [c.kind for c in r.chain] == ["HelmRelease", "Kustomization", "GitRepository"]
    assert r.git is not None and r.git.defining_kind == "HelmRelease" and r.git.path == "./apps/podinfo"
    assert r.file is not None and r.file.file == "apps/podinfo/release.yaml"


def test_find_owner_argocd_and_unmanaged(env: Env, tmp_path: Path) -> None:
    env.kube.put(application("web", URL, "apps/web", "web", automated=True, create_namespace=True))
    assert wait_for_sync(env.client, "Application", "web", "argocd", None, 20, registry=REGISTRY).outcome == "synced"
    app = _app(tmp_path / "kubeconfig", tmp_path)
    r = app.cluster.find_owner("apps/v1", "Deployment", "web", "web", repo_path=str(env.work))
    assert r.manager == "argocd" and [c.kind for c in r.chain] == ["Application"]
    assert "tracking-id" in r.chain[0].via and "status.resources" in r.chain[0].via
    assert r.git is not None and r.git.path == "apps/web" and r.file is not None
    assert r.file.file == "apps/web/deploy.yaml"
    env.kube.ensure_namespace("manual")
    env.kube.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "by-hand", "namespace": "manual"}})
    un = app.cluster.find_owner("v1", "ConfigMap", "by-hand", "manual")
    assert not un.managed and "not managed" in un.message
    # a tracking id copied from another object is ignored
    env.kube.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "copy",
                "namespace": "manual",
                "annotations": {"argocd.argoproj.io/tracking-id": "web:apps/Deployment:web/web"},
            },
        }
    )
    assert not app.cluster.find_owner("v1", "ConfigMap", "copy", "manual").managed
    from gitops_mcp.errors import NotFoundError

    with pytest.raises(NotFoundError):
        app.cluster.find_owner("apps/v1", "Deployment", "nope", "web")
