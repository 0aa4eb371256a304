"""validate_manifests: built-in rules, CRD schemas (GITOPS_MCP_CRD_DIR) and every policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CRDS, RULES, need_shared
from gitops_mcp.manifests.validation import validate_text
from gitops_mcp.services import Services
from gitops_mcp.settings import PolicySettings, Settings

KS = """apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"""
GITREPO = """apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: repo
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/org/repo.git
  ref:
    branch: main
"""


def rules(text: str, **policy: object) -> set[str]:
    result = validate_text(text, PolicySettings(**policy), rules=RULES)  # type: ignore[arg-type]
    return {f"{i.rule}:{i.path}" for i in result.issues if i.severity == "error"}


def test_valid_documents() -> None:
    assert validate_text(KS + "---\n" + GITREPO, PolicySettings(), rules=RULES).valid


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("interval: 10m", "interval: 10 minutes", "builtin:spec.interval"),
        ("  prune: true\n", "", "builtin:spec.prune"),
        ("prune: true", "prune: 'yes'", "builtin:spec.prune"),
        ("kind: GitRepository\n    name", "kind: Git\n    name", "builtin:spec.sourceRef.kind"),
        ("name: apps", "name: Apps", "builtin:metadata.name"),
        ("namespace: flux-system", "namespace: Flux_System", "builtin:metadata.namespace"),
        ("kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1beta1", "builtin:apiVersion"),
        ("prune: true", "prune: false", "policy:require_prune:spec.prune"),
        ("interval: 10m", "interval: 5s", "policy:intervals:spec.interval"),
        ("path: ./apps", "path: ../other", "policy:relative_paths:spec.path"),
        ("prune: true", "prune: true\n  suspend: true", "policy:forbid_suspend:spec.suspend"),
    ],
)
def test_kustomization_rules(old: str, new: str, expected: str) -> None:
    text = KS.replace(old, new, 1)
    assert text != KS
    assert expected in rules(text)


def test_policies_can_be_turned_off() -> None:
    text = KS.replace("prune: true", "prune: false")
    assert "policy:require_prune:spec.prune" not in rules(text, require_prune=False)
    http = GITREPO.replace("https://", "http://")
    assert "policy:secure_git_urls:spec.url" in rules(http)
    assert not rules(http, secure_git_urls=False)


def test_secret_refused_and_unknown_field_warned() -> None:
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
    assert "policy:refuse_secrets:kind" in rules(secret)
    result = validate_text(KS.replace("prune: true", "prune: true\n  prnue: true"), PolicySettings(), rules=RULES)
    assert result.valid and any(i.severity == "warning" and i.path == "spec.prnue" for i in result.issues)


def test_kustomization_without_source() -> None:
    text = KS.split("  sourceRef:")[0]
    found = rules(text)
    assert "builtin:spec.sourceRef" in found and "policy:require_source_ref:spec.sourceRef" in found


def test_argocd_application_rules() -> None:
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n  namespace: argocd\n"
        "spec:\n  source:\n    repoURL: git://example.com/r.git\n    path: /abs\n"
    )
    found = rules(app)
    assert {
        "builtin:spec.project",
        "builtin:spec.destination",
        "policy:secure_git_urls:spec.source.repoURL",
        "policy:relative_paths:spec.source.path",
    } <= found


def test_crd_dir_mode_uses_real_schemas(tmp_path: Path) -> None:
    crds = need_shared(CRDS / "flux")
    app = Services(Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s", crd_dir=crds))
    result = app.inspect.validate(yaml_text=KS)
    assert result.valid and result.schema_source == "crd_dir"
    bad = app.inspect.validate(yaml_text=KS.replace("prune: true", "prune: true\n  prnue: true"))
    assert not bad.valid and any("prnue" in i.message for i in bad.issues)
    old = app.inspect.validate(
        yaml_text=KS.replace("kustomize.toolkit.fluxcd.io/v1", "kustomize.toolkit.fluxcd.io/v1beta2")
    )
    assert not old.valid and "not served" in old.issues[0].message
    wrong_type = app.inspect.validate(yaml_text=KS.replace("interval: 10m", "interval: 600"))
    assert not wrong_type.valid


def test_validate_file_and_errors(app: Services, tmp_path: Path) -> None:
    f = tmp_path / "ks.yaml"
    f.write_text(KS, encoding="utf-8")
    assert app.inspect.validate(path=str(f)).valid
    broken = app.inspect.validate(yaml_text="a: [")
    assert not broken.valid and "not valid YAML" in broken.issues[0].message
    assert not app.inspect.validate(yaml_text="").valid
