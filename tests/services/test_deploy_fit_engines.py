"""Deployments that fit the engine they go to (issue 20 item 7, and what the real-cluster checks of
the fixtures' packages found since): Argo CD's server-side apply for large CRDs and Jsonnet libraries,
chart dependencies, stale and unserved API versions, CRD kinds a package needs, ExternalArtifact owners.
Helpers and the goldens are tests/services/test_deploy_fit.py's."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CRDS, FIXTURES, git, make_repo, need_shared
from gitops_mcp.services import Services
from test_deploy_fit import ORIGIN, OWNER, notes, of_kind, preview

# -- 7 engine specifics ---------------------------------------------------------------------------------------


def test_argocd_server_side_apply_for_large_crds(app: Services, tmp_path: Path) -> None:
    crd = need_shared(CRDS / "argocd" / "applicationset-crd.yaml")
    repo = tmp_path / "repos" / "crds"
    (repo / "crds").mkdir(parents=True)
    (repo / "crds" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", encoding="utf-8")
    shutil.copy(crd, repo / "crds" / "applicationset-crd.yaml")
    make_repo(repo, origin=ORIGIN.format("crds"))
    v = preview(app, repo, "crds", "argocd")
    opts = of_kind(v, "Application")["spec"]["syncPolicy"]["syncOptions"]
    assert "ServerSideApply=true" in opts and "applicationsets.argoproj.io" in notes(v)
    small = need_shared(CRDS / "argocd" / "appproject-crd.yaml")
    (repo / "crds" / "applicationset-crd.yaml").unlink()
    shutil.copy(small, repo / "crds" / "appproject-crd.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "small")
    v = preview(app, repo, "crds", "argocd")
    assert "ServerSideApply=true" not in of_kind(v, "Application")["spec"]["syncPolicy"]["syncOptions"]


def test_argocd_jsonnet_libs(app: Services, tmp_path: Path) -> None:
    repo = tmp_path / "repos" / "jsonnet"
    (repo / "app").mkdir(parents=True)
    (repo / "vendor" / "k").mkdir(parents=True)
    (repo / "app" / "main.jsonnet").write_text("local k = import 'k/k.libsonnet';\n[k.cm]\n", encoding="utf-8")
    (repo / "vendor" / "k" / "k.libsonnet").write_text("{cm: {}}\n", encoding="utf-8")
    make_repo(repo, origin=ORIGIN.format("jsonnet"))
    v = preview(app, repo, "app", "argocd")
    assert of_kind(v, "Application")["spec"]["source"]["directory"] == {"jsonnet": {"libs": ["vendor"]}}
    (repo / "vendor" / "k" / "k.libsonnet").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no lib")
    v = preview(app, repo, "app", "argocd")
    assert "directory" not in of_kind(v, "Application")["spec"]["source"]
    assert "k/k.libsonnet (app/main.jsonnet) are not in the repository" in notes(v)


@pytest.mark.parametrize("provider", ["flux", "argocd"])
def test_chart_dependencies_said(provider: str, app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("argocd-example-apps")
    v = preview(app, repo, "helm-dependency", provider)
    assert "wordpress 9.0.3 from https://charts.helm.sh/stable" in notes(v)
    (repo / "helm-dependency" / "charts").mkdir()
    (repo / "helm-dependency" / "charts" / "wordpress-9.0.3.tgz").write_bytes(b"x")
    git(repo, "add", "-f", "helm-dependency/charts")
    git(repo, "commit", "-qm", "vendored")
    v = preview(app, repo, "helm-dependency", provider)
    assert "wordpress 9.0.3" not in notes(v)


def test_update_moves_a_stale_api_version_on(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "apps/loadtest", "flux")  # owned by Kustomization apps (v1beta2)
    assert v.preview.output_path == "clusters/my-cluster/apps.yaml" and v.preview.validation.valid
    assert "-apiVersion: kustomize.toolkit.fluxcd.io/v1beta2\n+apiVersion: kustomize.toolkit.fluxcd.io/v1" in (
        v.preview.diff
    )
    flux = app.shared.registry.get("flux")
    old = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1beta2", "kind": "Kustomization", "spec": {"prune": True}}
    assert flux.current_api(old) == "kustomize.toolkit.fluxcd.io/v1"
    assert flux.current_api({**old, "spec": {"patchesJson6902": []}}) is None  # dropped field: by hand
    assert flux.current_api({**old, "apiVersion": "kustomize.toolkit.fluxcd.io/v1"}) is None


def test_facts_do_not_expand_a_billion_laughs(tmp_path: Path) -> None:
    from gitops_mcp.detection.facts import directory_objects, package_facts
    from gitops_mcp.detection.tree import LocalTree

    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb, namespace: b}\ndata:\n" + "".join(
        f"  {line}\n" for line in levels
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bomb.yaml").write_text(bomb, encoding="utf-8")
    (tmp_path / "pkg" / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    facts = package_facts(LocalTree(str(tmp_path)), "pkg", "manifests")
    assert facts.unplaced and facts.namespaces == []  # the bomb is not read; the other file is
    assert [o.file for o in directory_objects(LocalTree(str(tmp_path)), "pkg")] == ["pkg/ok.yaml"]


def test_two_charts_of_one_name_get_their_directories_names(app: Services, fixture_repo: Callable[..., Path]) -> None:
    # blue-green/Chart.yaml is named helm-guestbook too: deployed one after the other, the second
    # would rewrite the first's file and HelmRelease (seen on the real Flux)
    repo = fixture_repo("argocd-example-apps", origin=ORIGIN.format("argocd-example-apps"))
    for provider in ("flux", "argocd"):
        blue = preview(app, repo, "blue-green", provider)
        guest = preview(app, repo, "helm-guestbook", provider)
        assert blue.preview.output_path.endswith("/blue-green.yaml")
        assert guest.preview.output_path.endswith("/helm-guestbook.yaml")
        for v in (blue, guest):
            app.wizard.cancel(OWNER, v.session_id)


def test_a_charts_literal_crd_kinds_are_named_not_its_optional_ones() -> None:
    from gitops_mcp.detection import detect_packages
    from gitops_mcp.providers import default_registry

    kinds = default_registry().gitops_kinds()
    argo = {
        p.path: p for p in detect_packages(need_shared(FIXTURES / "argocd-example-apps"), gitops_kinds=kinds).packages
    }
    assert argo["blue-green"].custom_kinds == ["argoproj.io/Rollout"]  # the real Flux: no matches for kind "Rollout"
    assert argo["helm-guestbook"].custom_kinds == []
    podinfo = {p.path: p for p in detect_packages(need_shared(FIXTURES / "podinfo"), gitops_kinds=kinds).packages}
    assert podinfo["charts/podinfo"].custom_kinds == []  # ServiceMonitor, Certificate...: only when enabled


def test_crd_kinds_of_bases_and_subdirectories_are_named(app: Services, fixture_repo: Callable[..., Path]) -> None:
    # apps/production builds ../base/podinfo (HelmRelease, HelmRepository): Argo CD applies them
    v = preview(app, fixture_repo("flux2-kustomize-helm-example"), "apps/production", "argocd")
    assert "helm.toolkit.fluxcd.io/HelmRelease" in notes(v) and "HelmRepository" in notes(v)
    # Flux applies apps/ with its subdirectories: apps/backend's Canary
    v = preview(app, fixture_repo("gitops-istio"), "apps", "flux")
    assert "flagger.app/Canary" in notes(v)


def test_a_kustomization_fed_by_an_external_artifact_is_an_owner(
    app: Services, fixture_repo: Callable[..., Path]
) -> None:
    # clusters/production/apps.yaml: Kustomization apps reads ExternalArtifact apps (./production),
    # which the ArtifactGenerator copies from apps/production of the bootstrap's GitRepository
    repo = fixture_repo("flux2-kustomize-helm-example", origin=ORIGIN.format("flux2-kustomize-helm-example"))
    v = preview(app, repo, "apps/production", "flux")
    assert v.preview.output_path == "clusters/production/apps.yaml"
    assert "Updates Kustomization flux-system/apps in clusters/production/apps.yaml" in notes(v)
    v = preview(app, repo, "infrastructure/controllers", "argocd")
    assert "already deployed by Kustomization flux-system/infra-controllers" in notes(v)


def test_kubernetes_api_versions_no_longer_served_are_named() -> None:
    from gitops_mcp.manifests.removed_apis import removed_api_notes

    (ds,) = removed_api_notes([("extensions/v1beta1", "DaemonSet", "deploy/ds.yaml"), ("apps/v1", "Deployment", "x")])
    assert "DaemonSet extensions/v1beta1 (deploy/ds.yaml)" in ds and "change it to apps/v1" in ds
    (psp,) = removed_api_notes([("policy/v1beta1", "PodSecurityPolicy", "psp.yaml")])
    assert "Kubernetes 1.25+ no longer serves" in psp and "no successor" in psp
