"""Detection of what real repositories hold (issue 20, item 8): JSON manifests, Kustomize
Components, who uses a package, and a chart's dependencies."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import git
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings


@pytest.fixture
def app(settings: Settings) -> Iterator[Services]:
    a = Services(settings)
    yield a
    a.close()


def packages(app: Services, repo: Path) -> dict[str, object]:
    return {p.path: p for p in app.inspect.detect(str(repo)).packages}


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "echo", "namespace": "echo"},
    "spec": {"selector": {"matchLabels": {"app": "echo"}}, "template": {"metadata": {"labels": {"app": "echo"}}}},
}


def test_json_manifests_are_packages_and_dashboards_are_not(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    (repo / "apps/echo").mkdir()
    (repo / "apps/echo/deployment.json").write_text(json.dumps(DEPLOYMENT, indent=2), encoding="utf-8")
    svc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"}}],
    }
    (repo / "apps/echo/service.json").write_text(json.dumps(svc), encoding="utf-8")
    found = packages(app, repo)
    echo = found["apps/echo"]
    assert echo.type == "manifests" and echo.kinds == ["Deployment", "Service"] and echo.namespace == "echo"
    assert echo.confidence == "high", echo.evidence
    # Grafana dashboards (JSON, not Kubernetes objects) are no package; their kustomization stays one
    monitoring = packages(app, fixture_repo("flux2-monitoring-example"))
    assert "monitoring/configs/dashboards" not in monitoring and "monitoring/configs" in monitoring


def test_a_kustomize_component_is_not_a_package(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    comp = repo / "kustomize/components/ha"
    comp.mkdir(parents=True)
    (comp / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - path: replicas.yaml\n",
        encoding="utf-8",
    )
    (comp / "replicas.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  replicas: 3\n", encoding="utf-8"
    )
    k = repo / "kustomize/kustomization.yaml"
    k.write_text(k.read_text(encoding="utf-8") + "components:\n  - components/ha\n", encoding="utf-8")
    found = packages(app, repo)
    assert "kustomize/components/ha" not in found and "kustomize" in found
    assert not any(p.startswith("kustomize/components") for p in found)


def test_used_by_is_filled_in_the_session_package_list(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-multi-tenancy")
    view = app.wizard.start("local", str(repo))
    listed = {p.path: p for p in view.packages or []}
    assert listed["infrastructure/kyverno"].used_by == [
        "clusters/production/infrastructure.yaml (Kustomization kyverno)",
        "clusters/staging/infrastructure.yaml (Kustomization kyverno)",
    ]
    assert listed["tenants/base/dev-team"].used_by == ["tenants/production", "tenants/staging"]
    istio = {p.path: p for p in app.wizard.start("local", str(fixture_repo("gitops-istio"))).packages or []}
    assert istio["apps"].used_by == ["clusters/my-cluster/apps.yaml (Kustomization apps)"]


def test_chart_dependencies_are_reported(app: Services, fixture_repo: Callable[..., Path]) -> None:
    found = packages(app, fixture_repo("argocd-example-apps"))
    assert found["helm-dependency"].dependencies == ["wordpress 9.0.3 (https://charts.helm.sh/stable)"]
    assert found["helm-guestbook"].dependencies == []
    # a v1 chart lists them in requirements.yaml
    repo = fixture_repo("podinfo")
    (repo / "charts/podinfo/requirements.yaml").write_text(
        "dependencies:\n  - name: redis\n    version: 17.0.0\n    repository: https://charts.example.com\n",
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    view = app.wizard.start("local", str(repo))
    chart = next(p for p in view.packages or [] if p.path == "charts/podinfo")
    assert chart.dependencies == ["redis 17.0.0 (https://charts.example.com)"]
