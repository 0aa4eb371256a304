"""Plain-manifest directories with subdirectories (issue 20, item 5): what is generated includes
exactly the package, and the package check reads the directory the way each engine does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import wizard_to_preview
from gitops_mcp.manifests.plain import check_plain
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

URL = "https://github.com/example/repo.git"  # the fixture repositories' origin


@pytest.fixture
def app(settings: Settings) -> Iterator[Services]:
    a = Services(settings)
    yield a
    a.close()


def preview(app: Services, repo: Path, package: str, provider: str) -> Any:
    return wizard_to_preview(app, repo, {"package": package, "provider": provider, "repo_url": URL})


def test_argocd_applies_only_the_directory_of_a_plain_package_with_nested_packages(
    app: Services, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "apps", "argocd")
    (application,) = load_documents(v.preview.yaml)
    assert application["spec"]["source"]["directory"] == {"recurse": False}
    assert any("apps/backend, apps/frontend, apps/loadtest, apps/sidecar" in n for n in v.preview.notes)
    check = v.preview.package_check
    assert check is not None and check.ok and check.message == "1 objects in 1 files", check
    # what a recursive directory source would have read: the check names the failure
    recursive = check_plain(repo, "apps", (".yaml", ".yml", ".json"), subdirectories=True, build=False)
    assert not recursive.ok and "apps/backend/deployment.patch.yaml" in recursive.message, recursive
    # a plain directory without nested manifests still recurses (nothing else to read there)
    plain = preview(app, fixture_repo("argocd-example-apps"), "guestbook", "argocd")
    assert load_documents(plain.preview.yaml)[0]["spec"]["source"]["directory"] == {"recurse": True}
    assert plain.preview.package_check is not None and plain.preview.package_check.ok


def test_flux_builds_the_kustomize_subdirectories_and_says_so(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "apps", "flux")
    assert any("Flux applies ./apps with its subdirectories" in n for n in v.preview.notes)
    check = v.preview.package_check
    assert check is not None and check.ok, check
    assert "built by kustomize: apps/backend, apps/frontend, apps/loadtest" in check.message
    assert check.message.startswith("2 objects in 2 files")  # apps/namespace.yaml and apps/sidecar/default.yaml


@pytest.mark.parametrize(
    ("fixture", "package", "provider"),
    [
        ("podinfo", "deploy/webapp/frontend", "flux"),
        ("podinfo", "deploy/secure/common", "argocd"),
        ("argocd-example-apps", "sync-waves", "argocd"),
        ("gitops-istio", "istio/system", "flux"),
    ],
)
def test_real_plain_packages_pass_the_check(
    app: Services, fixture_repo: Callable[..., Path], fixture: str, package: str, provider: str
) -> None:
    v = preview(app, fixture_repo(fixture), package, provider)
    check = v.preview.package_check
    assert (
        check is not None
        and check.ok
        and check.checked
        == [
            "objects decode",
            "no duplicates",
            "no kustomize file as an object",
        ]
    ), check


DUP = "apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook-ui\nspec:\n  ports: [{port: 80}]\n"
COMPONENT = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [x.yaml]\n"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "copy.yaml",
            DUP,
            "Service guestbook-ui is defined twice: in guestbook/copy.yaml and guestbook/guestbook-ui-svc",
        ),
        ("component.yaml", COMPONENT, "guestbook/component.yaml (document 1) is a kustomize file (Component)"),
        ("values.yaml", "replicaCount: 1\n", "guestbook/values.yaml (document 1) is not a Kubernetes object"),
        ("broken.yaml", "a: [unclosed\n", "guestbook/broken.yaml does not decode"),
    ],
)
def test_a_plain_package_that_would_not_apply_holds_delivery(
    app: Services, fixture_repo: Callable[..., Path], name: str, text: str, reason: str
) -> None:
    repo = fixture_repo("argocd-example-apps")
    (repo / "guestbook" / name).write_text(text, encoding="utf-8")
    v = wizard_to_preview(app, repo, {"package": "guestbook", "provider": "argocd", "repo_url": URL})
    check = v.preview.package_check
    assert check is not None and not check.ok and reason in check.message, check
    asked = {q.id: q for q in v.questions}
    assert "deliver_anyway" in asked  # its prompt points at preview.package_check, which says why
    v = app.wizard.answer("local", v.session_id, {"delivery": "push"})
    assert "does not build" in v.errors["delivery"] and v.result is None


def test_json_manifests_are_read_by_argocd_not_by_flux(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-monitoring-example")
    # a Grafana dashboard beside the manifests: Argo CD reads .json files as objects, Flux only YAML
    target = repo / "monitoring/configs/dashboards"
    argo = check_plain(repo, "monitoring/configs/dashboards", (".yaml", ".yml", ".json"), subdirectories=False)
    flux = check_plain(repo, "monitoring/configs/dashboards", (".yaml", ".yml"), subdirectories=True)
    assert target.is_dir() and not argo.ok and "not a Kubernetes object" in argo.message
    assert not flux.ok and flux.message.endswith("holds no file the engine reads as manifests (.yaml, .yml)")


def test_a_json_package_is_read_by_argocd_and_flagged_for_flux(
    app: Services, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    (repo / "deploy/json").mkdir()
    cm = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}'
    (repo / "deploy/json/settings.json").write_text(cm, encoding="utf-8")
    argo = preview(app, repo, "deploy/json", "argocd")
    assert argo.preview.package_check is not None and argo.preview.package_check.message == "1 objects in 1 files"
    flux = preview(app, repo, "deploy/json", "flux")
    check = flux.preview.package_check
    assert check is not None and not check.ok and "no file the engine reads as manifests (.yaml, .yml)" in check.message
    assert "deliver_anyway" in {q.id for q in flux.questions}


def test_hooks_with_only_generate_name_are_flagged_for_flux(app: Services, fixture_repo: Callable[..., Path]) -> None:
    # the real kustomize-controller: "missing metadata.name in object {{batch/v1 Job} ...}"
    repo = fixture_repo("argocd-example-apps")
    for package in ("helm-hooks", "sync-waves"):
        flux = check_plain(repo, package, (".yaml", ".yml"), subdirectories=True, generate_name=False)
        assert not flux.ok and "has only metadata.generateName" in flux.message, flux
        assert check_plain(repo, package, (".yaml", ".yml", ".json"), subdirectories=False).ok
        v = app.wizard.start("local", str(repo), provider="flux", answers={"package": package}, accept_defaults=True)
        for _ in range(6):
            if v.step == "preview":
                break
            v = app.wizard.answer("local", v.session_id, {}, accept_defaults=True)
        assert "deliver_anyway" in {q.id for q in v.questions}
        app.wizard.cancel("local", v.session_id)
