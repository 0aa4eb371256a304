"""Deployments that fit the repository they join (issue 20 items 1-4, 6, 7): goldens of the wizard's
default preview on the shared fixtures, and behaviour tests of each point.

Golden cases: ``tests/goldens/wizard/<provider>/<case>/case.yaml`` (``fixture``, ``package``,
optional ``answers``); ``expected.yaml`` is the preview's YAML, ``preview.txt`` its output path and
notes. Regenerate with ``pytest tests/services/test_deploy_fit.py --update-goldens`` and review the diff.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, GoldenCase, git, golden_cases, make_repo, need_shared
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.services import Services

OWNER = "local"
CASES = golden_cases("wizard")
ORIGIN = "https://github.com/example/{}.git"


def preview(
    app: Services, repo: Path, package: str, provider: str, answers: dict[str, Any] | None = None, valid: bool = True
) -> Any:
    v = app.wizard.start(OWNER, str(repo), provider=provider, answers={"package": package, **(answers or {})})
    for _ in range(6):
        if v.step == "preview":
            break
        v = app.wizard.answer(OWNER, v.session_id, {}, accept_defaults=True)
    assert v.step == "preview" and v.preview is not None, (v.step, v.errors, v.questions)
    assert v.preview.validation.valid or not valid, v.preview.validation.describe()
    return v


def docs(v: Any) -> list[dict[str, Any]]:
    return [d for d in load_documents(v.preview.yaml) if isinstance(d, dict)]


def of_kind(v: Any, kind: str) -> dict[str, Any]:
    return next(d for d in docs(v) if d["kind"] == kind)


def notes(v: Any) -> str:
    return "\n".join(v.preview.notes)


def with_application(repo: Path, fixture: str, rel: str, name: str) -> Path:
    """A git repository at ``repo`` of the shared ``fixture`` with an Argo CD Application ``name`` (of
    another repository) at ``rel``; its origin is ORIGIN of the directory's name."""
    shutil.copytree(need_shared(FIXTURES / fixture), repo)
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(
        f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\n"
        "spec: {project: default, source: {repoURL: https://example.com/x.git, path: x}, "
        "destination: {server: https://kubernetes.default.svc, namespace: x}}\n",
        encoding="utf-8",
    )
    return make_repo(repo, origin=ORIGIN.format(repo.name))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_golden(case: GoldenCase, app: Services, fixture_repo: Callable[..., Path], update_goldens: bool) -> None:
    data = case.inputs()
    repo = fixture_repo(data["fixture"], origin=ORIGIN.format(data["fixture"]))
    v = preview(app, repo, data["package"], case.provider, data.get("answers"), valid=False)
    text = v.preview.yaml
    invalid = [] if v.preview.validation.valid else ["invalid: " + v.preview.validation.describe()]
    shown = "\n".join([f"output_path: {v.preview.output_path}", *v.preview.notes, *invalid]) + "\n"
    shown = shown.replace(str(repo), "<repo>")
    if update_goldens:
        (case.folder / "expected.yaml").write_text(text, encoding="utf-8")
        (case.folder / "preview.txt").write_text(shown, encoding="utf-8")
    assert text == (case.folder / "expected.yaml").read_text(encoding="utf-8"), f"{case.folder} differs"
    assert shown == (case.folder / "preview.txt").read_text(encoding="utf-8"), f"{case.folder} notes differ"


def test_golden_cases_cover_both_providers() -> None:
    assert {c.provider for c in CASES} == {"flux", "argocd"}
    for case in CASES:
        assert sorted(p.name for p in case.folder.iterdir()) == ["case.yaml", "expected.yaml", "preview.txt"]


# -- 1 namespaces ----------------------------------------------------------------------------------------------


def test_namespace_defaults_to_the_packages_own(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = app.wizard.start(OWNER, str(repo), provider="flux", answers={"package": "apps/backend"})
    ns = next(q for q in v.questions if q.id == "namespace")
    assert next(q for q in v.questions if q.id == "existing").default == "update"
    assert ns.default == "prod" and ns.help and "prod" in ns.help
    v = preview(app, repo, "apps/backend", "flux", {"existing": "add"})
    ks = of_kind(v, "Kustomization")
    assert "targetNamespace" not in ks["spec"]  # the manifests' own namespace is kept
    assert not [d for d in docs(v) if d["kind"] == "Namespace"]


def test_flux_target_namespace_only_when_asked_and_said(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "apps/backend", "flux", {"namespace": "staging", "existing": "add"})
    assert of_kind(v, "Kustomization")["spec"]["targetNamespace"] == "staging"
    assert "also those it places in prod" in notes(v) and "answer namespace=prod" in notes(v)


def test_flux_namespace_created_beside_when_missing(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    (repo / "extra" / "hello").mkdir(parents=True)
    (repo / "extra" / "hello" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n", encoding="utf-8"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hello")
    v = preview(app, repo, "extra/hello", "flux")
    ks = of_kind(v, "Kustomization")
    assert ks["spec"]["targetNamespace"] == "hello"
    assert of_kind(v, "Namespace")["metadata"]["name"] == "hello"
    assert [d["kind"] for d in docs(v)] == ["Namespace", "Kustomization"]


def test_flux_namespace_not_created_when_package_does(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-kustomize-helm-example")
    v = preview(app, repo, "apps/base/podinfo", "flux")
    assert not [d for d in docs(v) if d["kind"] == "Namespace"]
    assert "targetNamespace" not in of_kind(v, "Kustomization")["spec"]


def test_flux_missing_namespace_without_parent_registered(app: Services, fixture_repo: Callable[..., Path]) -> None:
    from gitops_mcp.cluster.register import split_roots

    repo = fixture_repo("podinfo")
    v = preview(app, repo, "kustomize", "flux")
    assert [d["kind"] for d in docs(v)] == ["GitRepository", "Namespace", "Kustomization"]
    assert "register applies it with the Flux objects" in notes(v)
    roots, skipped = split_roots(docs(v), app.shared.registry, "flux")  # what register applies
    assert [r["kind"] for r in roots] == ["GitRepository", "Namespace", "Kustomization"] and not skipped


def test_argocd_destination_is_the_package_namespace(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-monitoring-example")
    v = preview(app, repo, "monitoring/configs", "argocd")  # owned by a Flux Kustomization: nothing to update
    spec = of_kind(v, "Application")["spec"]
    assert spec["destination"]["namespace"] == "monitoring"
    assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]


# -- 2 clashes ------------------------------------------------------------------------------------------------


def test_clash_picks_a_free_name_and_says_why(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-multi-tenancy")
    v = preview(app, repo, "infrastructure/kyverno", "flux", {"existing": "add"})
    assert of_kind(v, "Kustomization")["metadata"]["name"] == "kyverno-2"
    assert "Kustomization flux-system/kyverno already exists in clusters/production/infrastructure.yaml" in notes(v)


def test_no_second_git_repository_in_a_bootstrap(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "apps/loadtest", "flux", {"existing": "add"})
    assert "GitRepository" not in [d["kind"] for d in docs(v)]
    assert of_kind(v, "Kustomization")["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
    # a tag is not what the bootstrap follows: a source of its own
    git(repo, "tag", "v1")
    v = preview(app, repo, "apps/loadtest", "flux", {"revision": "tag:v1", "existing": "add"})
    assert of_kind(v, "GitRepository")["spec"]["ref"] == {"tag": "v1"}


def test_argocd_application_name_clash(app: Services, tmp_path: Path) -> None:
    repo = with_application(tmp_path / "repos" / "argo", "argocd-example-apps", "argocd/other.yaml", "guestbook")
    v = preview(app, repo, "guestbook", "argocd")
    assert v.preview.output_path == "argocd/guestbook.yaml"
    assert of_kind(v, "Application")["metadata"]["name"] == "guestbook-2"
    assert "answer app_name" in notes(v)


# -- 3 already deployed ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["flux", "argocd"])
def test_already_deployed_names_object_and_file(
    provider: str, app: Services, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("flux2-multi-tenancy")
    v = preview(app, repo, "tenants/base/dev-team", provider, {"existing": "add"} if provider == "flux" else {})
    text = notes(v)
    assert "Kustomization flux-system/tenants in clusters/production/tenants.yaml" in text
    assert "fight it" in text and "edit that object" in text


def test_already_deployed_defaults_to_updating_that_object(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-multi-tenancy")
    before = (repo / "clusters/production/infrastructure.yaml").read_text(encoding="utf-8")
    v = preview(app, repo, "infrastructure/kyverno", "flux")
    assert v.answers["existing"] == "update" and v.preview.output_path == "clusters/production/infrastructure.yaml"
    assert v.preview.yaml == before and v.preview.diff == ""  # the defaults change nothing
    assert "nothing to change" in notes(v)
    v = app.wizard.answer(OWNER, v.session_id, {"interval": "20m"}, accept_defaults=True)
    assert v.preview is not None and v.preview.yaml == before.replace("interval: 10m", "interval: 20m", 1)
    assert "-  interval: 10m\n+  interval: 20m" in v.preview.diff
    v = app.wizard.answer(OWNER, v.session_id, {"delivery": "write"})
    assert v.status == "done"
    assert (repo / "clusters/production/infrastructure.yaml").read_text(encoding="utf-8") == v.preview.yaml
    # update edits that file only
    v = app.wizard.start(OWNER, str(repo), provider="flux", answers={"package": "infrastructure/kyverno"})
    v = app.wizard.answer(OWNER, v.session_id, {"output_path": "clusters/production/other.yaml"}, accept_defaults=True)
    assert "existing=add" in v.errors["output_path"]


def test_argocd_cannot_update_a_flux_owner(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "istio/gateway", "argocd")
    assert "existing" not in v.answers and of_kind(v, "Application")
    assert "Kustomization flux-system/istio-gateway in clusters/my-cluster/istio.yaml" in notes(v)


def test_not_deployed_has_no_owner_note(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    v = preview(app, repo, "deploy/overlays/dev", "flux")
    assert "already applied" not in notes(v)


# -- 4 where the file goes ------------------------------------------------------------------------------------


def test_two_bootstraps_default_explained_and_other_offered(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-multi-tenancy")
    v = preview(app, repo, "tenants/staging", "flux", {"existing": "add"})
    assert v.preview.output_path == "clusters/production/staging.yaml"
    assert "clusters/production is the first directory applied" in notes(v) and "clusters/staging" in notes(v)
    v = app.wizard.answer(OWNER, v.session_id, {"output_path": "tenants/staging/x.yaml"})  # refused: asked again
    q = next(q for q in v.questions if q.id == "output_path")
    assert q.error and q.help and "also holding flux manifests: clusters/staging" in q.help
    v = app.wizard.answer(OWNER, v.session_id, {"output_path": "clusters/staging/staging.yaml"})
    assert v.step == "preview" and v.preview is not None
    assert "clusters/production" in notes(v)  # the other one named


def test_cluster_dir_without_flux_system_is_a_bootstrap(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "apps/loadtest", "flux", {"existing": "add"})
    assert v.preview.output_path == "clusters/my-cluster/loadtest.yaml"


def test_argocd_example_folder_not_the_default(app: Services, tmp_path: Path) -> None:
    repo = with_application(tmp_path / "repos" / "podinfo", "podinfo", "examples/app.yaml", "demo")
    v = preview(app, repo, "kustomize", "argocd")
    assert v.preview.output_path == "gitops/argocd/kustomize.yaml"


# -- 6 conventions --------------------------------------------------------------------------------------------


def test_siblings_service_account_followed(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("flux2-multi-tenancy")
    answers = {"output_path": "clusters/staging/more.yaml", "app_name": "more", "existing": "add"}
    v = preview(app, repo, "tenants/staging", "flux", answers)
    spec = of_kind(v, "Kustomization")["spec"]
    assert spec["serviceAccountName"] == "kustomize-controller"
    assert "serviceAccountName kustomize-controller" in notes(v)


def test_depends_on_the_last_layer_without_cycles(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "apps/loadtest", "flux", {"existing": "add"})
    assert of_kind(v, "Kustomization")["spec"]["dependsOn"] == [{"name": "istio-system"}]
    repo = fixture_repo("flux2-multi-tenancy")
    v = preview(app, repo, "infrastructure/kyverno", "flux", {"existing": "add"})  # kyverno-policies waits for it
    assert "dependsOn" not in of_kind(v, "Kustomization")["spec"]


def test_stale_flux_api_versions_flagged(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "istio/system", "flux", {"existing": "add"})
    text = notes(v)
    assert "HelmRelease helm.toolkit.fluxcd.io/v2beta1" in text and "helm.toolkit.fluxcd.io/v2" in text
    assert "clusters/my-cluster/apps.yaml beside the new file uses Kustomization" in text


def test_post_build_copied_when_package_uses_variables(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("gitops-istio")
    v = preview(app, repo, "istio/system", "flux", {"app_name": "istio-again", "existing": "add"})
    spec = of_kind(v, "Kustomization")["spec"]
    assert spec["postBuild"] == {"substituteFrom": [{"kind": "ConfigMap", "name": "istio-version"}]}
