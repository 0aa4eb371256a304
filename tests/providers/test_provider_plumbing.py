"""What the providers supply to validation, detection and the wizard, through the registry.

A tiny test-only provider ("acme", with a ``Widget`` kind nobody else knows) shows that the
rest of the code takes its rules, kinds and layout from what it is given, not from built-ins.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from conftest import PROJECT, REGISTRY
from gitops_mcp.detection import detect_packages, is_gitops_kind
from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.detection.models import GitOpsObject, GitOpsStructure
from gitops_mcp.manifests.validation import KindRule, validate_documents, validate_text
from gitops_mcp.manifests.validation.schema import enum, obj
from gitops_mcp.providers import Provider, ProviderRegistry, default_registry
from gitops_mcp.providers.base import DeploymentSpec, Generated, PackageType, QuestionContext, SourceKind
from gitops_mcp.providers.defaults import ProviderDefaults
from gitops_mcp.questions import QuestionDef
from gitops_mcp.sessions.flow import FlowEnv, default_output_path, questions_for
from gitops_mcp.sessions.models import SessionContext
from gitops_mcp.settings import PolicySettings

SRC = PROJECT / "src" / "gitops_mcp"
WIDGET_API = "widgets.example.com/v1"
WIDGET = f"""apiVersion: {WIDGET_API}
kind: Widget
metadata:
  name: w
spec:
  size: m
  path: ./widgets/w
"""


def _read_widget(obj: GitOpsObject, spec: Mapping[str, Any]) -> None:
    obj.path = spec.get("path") if isinstance(spec.get("path"), str) else None


class AcmeProvider(ProviderDefaults):
    name = "acme"
    title = "Acme"
    description = "Acme Widgets (test only)"
    keywords: tuple[str, ...] = ("acme",)

    def builtin_rules(self) -> Mapping[tuple[str, str], KindRule]:
        return {(WIDGET_API, "Widget"): KindRule(obj({"size": enum("s", "m"), "path": {"type": "string"}}, ["size"]))}

    def gitops_kinds(self) -> GitOpsKinds:
        return GitOpsKinds(kinds={"widgets.example.com": frozenset({"Widget"})}, readers={"Widget": _read_widget})

    def output_dirs(self, found: GitOpsStructure) -> list[str]:
        return ["acme-apps"] if any(o.kind == "Widget" for o in found.objects) else []

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None

    def questions(self, ctx: QuestionContext) -> list[QuestionDef]:
        return []

    def generate(self, spec: DeploymentSpec, options: Mapping[str, Any]) -> Generated:
        return Generated(objects=[], summary=[])


def acme_registry() -> ProviderRegistry:
    return ProviderRegistry([*default_registry(), AcmeProvider()])


def test_the_test_provider_is_a_provider() -> None:
    assert isinstance(AcmeProvider(), Provider)


def test_validation_takes_the_providers_rules() -> None:
    rules = acme_registry().builtin_rules()
    assert validate_text(WIDGET, PolicySettings(), rules=rules).valid
    bad = validate_text(WIDGET.replace("size: m", "size: xl"), PolicySettings(), rules=rules)
    assert [(i.rule, i.path) for i in bad.errors()] == [("builtin", "spec.size")]
    missing = validate_documents(
        [{"apiVersion": WIDGET_API, "kind": "Widget", "metadata": {"name": "w"}}], PolicySettings(), rules=rules
    )
    assert [(i.rule, i.path) for i in missing.errors()] == [("builtin", "spec")]
    # another version of a kind the rules know, in the same API domain
    old = validate_text(WIDGET.replace(WIDGET_API, "widgets.example.com/v0"), PolicySettings(), rules=rules)
    assert [i.path for i in old.errors()] == ["apiVersion"] and WIDGET_API in old.errors()[0].message


def test_without_rules_a_kind_is_not_checked_and_the_default_is_the_default_providers() -> None:
    assert validate_text(WIDGET.replace("size: m", "size: xl"), PolicySettings(), rules={}).valid
    defaults = default_registry().builtin_rules()
    assert validate_text(WIDGET.replace("size: m", "size: xl"), PolicySettings(), rules=defaults).valid  # not Acme's


def test_name_in_label_comes_from_the_rule() -> None:
    long_name = WIDGET.replace("name: w", "name: " + "w" * 70)
    plain = {(WIDGET_API, "Widget"): KindRule(obj({}, open=True))}
    labelled = {(WIDGET_API, "Widget"): KindRule(obj({}, open=True), name_in_label=True)}
    assert validate_text(long_name, PolicySettings(), rules=plain).valid
    assert not validate_text(long_name, PolicySettings(), rules=labelled).valid


def test_registry_refuses_two_providers_with_rules_for_one_kind() -> None:
    class Twin(AcmeProvider):
        name = "twin"

    with pytest.raises(ValueError, match="two providers"):
        ProviderRegistry([AcmeProvider(), Twin()]).builtin_rules()


def test_detection_takes_the_providers_kinds(tmp_path: Path) -> None:
    (tmp_path / "widgets").mkdir()
    (tmp_path / "widgets" / "w.yaml").write_text(WIDGET, encoding="utf-8")
    kinds = acme_registry().gitops_kinds()
    found = detect_packages(tmp_path, gitops_kinds=kinds)
    assert [(o.kind, o.path) for o in found.gitops.objects] == [("Widget", "./widgets/w")]
    assert found.gitops.directories == ["widgets"] and not found.packages
    assert is_gitops_kind(WIDGET_API, "Widget", kinds) and not is_gitops_kind(WIDGET_API, "Widget")
    # with the default providers, a Widget is an ordinary object: the directory is a manifests package
    default = detect_packages(tmp_path, gitops_kinds=default_registry().gitops_kinds())
    assert not default.gitops.objects and [p.type for p in default.packages] == ["manifests"]


def test_wizard_defaults_come_from_the_providers() -> None:
    registry = acme_registry()
    widget = GitOpsObject(api_version=WIDGET_API, kind="Widget", name="w", file="acme-apps/w.yaml", document=0)
    found = GitOpsStructure(objects=[widget])
    ctx = SessionContext(intent="deploy the widget with acme", output_dirs={"acme": AcmeProvider().output_dirs(found)})
    env = FlowEnv(registry)
    (provider_q,) = questions_for("provider", {"package": "chart"}, ctx, env)
    assert provider_q.question.default == "acme" and "acme" in (provider_q.question.options or [])
    assert default_output_path("acme", "web", ctx, registry) == "acme-apps/web.yaml"
    (output_q,) = questions_for("output", {"provider": "acme", "app_name": "web"}, ctx, env)
    assert output_q.question.default == "acme-apps/web.yaml"
    # unknown to the registry: the neutral default
    assert default_output_path("acme", "web", ctx, REGISTRY) == "gitops/acme/web.yaml"


def _imports(path: Path, *, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_git_and_questions_do_not_import_each_other() -> None:
    for f in (SRC / "git").glob("*.py"):
        assert not any(m.startswith("gitops_mcp.questions") for m in _imports(f)), f
    assert not any(m.startswith("gitops_mcp.git") for m in _imports(SRC / "questions.py"))


@pytest.mark.parametrize("package", ["manifests", "detection"])
def test_validation_and_detection_do_not_import_providers_at_module_level(package: str) -> None:
    for f in (SRC / package).rglob("*.py"):
        assert not any(m.startswith("gitops_mcp.providers") for m in _imports(f, module_level_only=True)), f
