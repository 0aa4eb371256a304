"""No module of gitops_mcp outside ``providers/`` names a GitOps engine: what is specific to one
lives in its sub-package, and the rest of the code asks the registry.

What counts as naming an engine, in a module's *code* (read with :mod:`ast`):

- an identifier (a name, attribute, argument, keyword, function or class name, or an imported
  module or name) containing ``flux`` or ``argo`` (any case);
- a string literal containing ``flux`` or ``argo`` (any case: ``fluxcd.io``, ``argoproj.io``,
  ``flux-system``, ``argocd``), an API group of a registered engine, or equal to one of its kinds.

What does not count: comments, docstrings (a string statement on its own: module, class, function
and attribute docstrings) and the ``description=`` text of a field or parser: these are the
manual (the published tool text names the engines so that the assistant knows which argument is
whose). ``Kustomization`` is also kustomize's own kind (``kustomize.config.k8s.io``), which the
engine-neutral code handles, so that one kind name is allowed as a literal.

:data:`PUBLISHED` lists the only exceptions: names that are part of the published tool interface
(tools/list), kept so that clients see no change; each is allowed in its one module only.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from conftest import PROJECT
from gitops_mcp.providers import default_registry

SRC = PROJECT / "src" / "gitops_mcp"
ENGINE_WORD = re.compile(r"flux|argo", re.IGNORECASE)
SHARED_KINDS = frozenset({"Kustomization"})  # kustomize.config.k8s.io/Kustomization: kustomize's own
PUBLISHED: dict[str, frozenset[str]] = {
    # scaffold_fleet's arguments and push_artifact's namespace default; passed on as the engine's options
    "server/tools_write.py": frozenset({"flux_install", "flux_chart_version", "flux-system"}),
    # push_artifact's result field
    "services/artifact.py": frozenset({"flux_revision"}),
    "server/lean.py": frozenset({"ArtifactResult.flux_revision"}),
}


def _engine_facts() -> tuple[frozenset[str], frozenset[str]]:
    registry = default_registry()
    groups = frozenset(k.group for _, k in registry.kinds() if k.group)
    kinds = frozenset(k.kind for _, k in registry.kinds()) - SHARED_KINDS
    return groups, kinds


def _documentation(tree: ast.AST) -> set[int]:
    """ids of the string constants that are documentation."""
    docs: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            docs.add(id(node.value))
        if isinstance(node, ast.keyword) and node.arg == "description":
            docs.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
    return docs


def _identifiers(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.arg) or (isinstance(node, ast.keyword) and node.arg):
        yield node.arg
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.Import | ast.ImportFrom):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        for alias in node.names:
            yield alias.name
            if alias.asname:
                yield alias.asname


def engine_names(path: Path) -> list[str]:
    """``line: what`` for every place the module's code names an engine."""
    groups, kinds = _engine_facts()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _documentation(tree)
    allowed = PUBLISHED.get(path.relative_to(SRC).as_posix(), frozenset())
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        found += [f"{line}: identifier {name}" for name in _identifiers(node) if ENGINE_WORD.search(name)]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
            if ENGINE_WORD.search(text) or any(g in text for g in groups) or text in kinds:
                found.append(f"{line}: string {text!r}")
    return [f for f in found if not any(a in f.split(": ", 1)[1].split(" ", 1)[1] for a in allowed)]


def test_no_module_outside_providers_names_an_engine() -> None:
    modules = [p for p in sorted(SRC.rglob("*.py")) if "providers" not in p.relative_to(SRC).parts]
    assert len(modules) > 100
    offenders = {p.relative_to(SRC).as_posix(): names for p in modules if (names := engine_names(p))}
    assert not offenders, "engine-specific code outside providers/ (move it behind a provider capability):\n" + (
        "\n".join(f"{m}:{n}" for m, names in offenders.items() for n in names)
    )


def test_the_check_finds_what_it_must(tmp_path: Path) -> None:
    """The rule itself: each kind of naming is caught; documentation is not."""
    sample = SRC / "_sample_for_the_seam_test.py"
    cases = {
        "flux_dirs = []": "identifier flux_dirs",
        "x = obj.argocd_app_dirs": "identifier argocd_app_dirs",
        "def f(flux_install): pass": "identifier flux_install",
        "from gitops_mcp.providers.flux import X": "identifier gitops_mcp.providers.flux",
        "k = 'HelmRelease'": "string 'HelmRelease'",
        "g = f'{x}.toolkit.fluxcd.io'": "string '.toolkit.fluxcd.io'",
        "g = 'argoproj.io'": "string 'argoproj.io'",
        "ns = 'flux-system'": "string 'flux-system'",
    }
    try:
        for code, expected in cases.items():
            sample.write_text(code + "\n", encoding="utf-8")
            assert [f.split(": ", 1)[1] for f in engine_names(sample)] == [expected], code
        sample.write_text(
            '"""Flux and Argo CD."""\n\n'
            "# a Flux comment\n"
            "x = Field(description='Flux: the source first')\n"
            "k = 'Kustomization'\n"
            "class A:\n    y = 1\n    '''the Argo CD part'''\n",
            encoding="utf-8",
        )
        assert engine_names(sample) == []
    finally:
        sample.unlink(missing_ok=True)
