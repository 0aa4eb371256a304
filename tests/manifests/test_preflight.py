"""Preflight of the package (issue 11, item 4): a package that does not build is reported in the
preview with the tool's own message and blocks push/pull_request unless the user goes on."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import wizard_to_preview
from gitops_mcp.manifests.preflight import check_helm, check_kustomize
from gitops_mcp.services import Services

STAGING = {"package": "deploy/overlays/staging", "provider": "flux", "namespace": "staging", "app_name": "staging"}


def test_a_missing_generator_file_is_found_without_tools(fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    c = check_kustomize(repo, "deploy/overlays/staging")
    assert not c.ok and c.checked == ["references"]
    assert "scripts/warm-cache.sh" in c.message and "does not exist" in c.message, c.message
    ok = check_kustomize(repo, "kustomize")
    assert ok.ok, ok.message
    if shutil.which("kubectl") or shutil.which("kustomize"):
        assert len(ok.checked) == 2 and ok.message == "builds"


@pytest.mark.skipif(not (shutil.which("kubectl") or shutil.which("kustomize")), reason="no kustomize or kubectl")
def test_kustomize_build_failure_is_the_tools_own_message(fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    (repo / "kustomize/kustomization.yaml").write_text(
        (repo / "kustomize/kustomization.yaml").read_text(encoding="utf-8") + "\nnamePrefix: [broken\n",
        encoding="utf-8",
    )
    c = check_kustomize(repo, "kustomize")
    assert not c.ok and "does not parse" in c.message and "\n" not in c.message


def test_helm_chart_and_values_parse(fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    assert check_helm(repo, "charts/podinfo", []).ok
    bad = check_helm(repo, "charts/podinfo", ["missing.yaml"])
    assert not bad.ok and "missing.yaml" in bad.message
    (repo / "charts/podinfo/Chart.yaml").write_text("name: [x\n", encoding="utf-8")
    assert "does not parse" in check_helm(repo, "charts/podinfo", []).message


def test_the_wizard_blocks_push_of_a_package_that_does_not_build(
    app: Services, fixture_repo: Callable[..., Path]
) -> None:
    repo = fixture_repo("podinfo")
    v = wizard_to_preview(app, repo, STAGING)
    check = v.preview.package_check
    assert check is not None and not check.ok and "warm-cache.sh" in check.message
    assert "deliver_anyway" in {q.id for q in v.questions}
    v = app.wizard.answer("local", v.session_id, {"delivery": "pull_request"})
    assert v.step == "preview" and v.result is None and "deliver_anyway=true" in v.errors["delivery"]
    v = app.wizard.answer("local", v.session_id, {"delivery": "write"})  # writing is always allowed
    assert v.status == "done" and v.result is not None and v.result.action == "write"


def test_a_package_that_builds_asks_nothing_more(app: Services, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    v = wizard_to_preview(app, repo, {**STAGING, "package": "kustomize", "namespace": "podinfo"})
    assert v.preview.package_check is not None and v.preview.package_check.ok
    assert "deliver_anyway" not in {q.id for q in v.questions}
