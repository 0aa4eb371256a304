"""Golden tests of the pure generators; every golden is checked by shared/crds/validate.py (strict).

The cases are the folders ``tests/goldens/generators/<provider>/<case>/``: ``case.yaml`` holds the
inputs (``spec``: the DeploymentSpec, ``options``: the provider's options), ``expected.yaml`` the
output. Regenerate with ``pytest tests/providers/test_generators.py --update-goldens`` and review the diff.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from conftest import CRDS, GOLDENS, RULES, GoldenCase, golden_cases, need_shared
from gitops_mcp.manifests.validation import validate_documents
from gitops_mcp.manifests.yaml import dump_documents, load_documents
from gitops_mcp.providers import DeploymentSpec, GitRef, default_registry
from gitops_mcp.settings import PolicySettings

CASES = golden_cases("generators")
BY_ID = {str(c): c for c in CASES}


def inputs(case: GoldenCase) -> tuple[dict[str, Any], dict[str, Any]]:
    data = case.inputs()
    return data["spec"], data["options"]


def render(provider: str, spec: dict[str, Any], opts: dict[str, Any]) -> str:
    p = default_registry().get(provider)
    return dump_documents(p.generate(DeploymentSpec(**spec), opts).objects)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_golden(case: GoldenCase, update_goldens: bool) -> None:
    spec, opts = inputs(case)
    text = render(case.provider, spec, opts)
    golden = case.folder / "expected.yaml"
    if update_goldens:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing golden {golden}; run pytest --update-goldens"
    assert text == golden.read_text(encoding="utf-8"), f"{golden} differs; review and run --update-goldens"
    # our own validator agrees, and the output is deterministic
    assert validate_documents(load_documents(text), PolicySettings(), rules=RULES).valid
    assert render(case.provider, spec, opts) == text


def test_goldens_pass_shared_crd_validator() -> None:
    validator = need_shared(CRDS / "validate.py")
    files = sorted(str(c.folder / "expected.yaml") for c in CASES)
    assert files
    proc = subprocess.run([sys.executable, str(validator), *files], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_documents_are_readable() -> None:
    text = render("flux", *inputs(BY_ID["flux/helm-git"]))
    docs = text.split("---\n")
    assert len(docs) == 2
    for doc in docs:
        keys = [line.split(":")[0] for line in doc.splitlines() if line and not line.startswith(" ")]
        assert keys[:4] == ["apiVersion", "kind", "metadata", "spec"]


def test_flux_jsonnet_is_refused_with_reason() -> None:
    reason = default_registry().get("flux").unsupported_reason("jsonnet", "git")
    assert reason and "Jsonnet" in reason


def test_reuse_needs_same_ref() -> None:
    spec, opts = inputs(BY_ID["flux/reuse-source"])
    other = dict(spec, git_ref=GitRef(kind="branch", value="dev"))
    docs = load_documents(render("flux", other, opts))
    assert [d["kind"] for d in docs] == ["GitRepository", "Kustomization"]  # different ref: a new source
    assert docs[0]["spec"]["ref"] == {"branch": "dev"}
    assert docs[1]["spec"]["sourceRef"] == {"kind": "GitRepository", "name": docs[0]["metadata"]["name"]}


def test_goldens_dir_is_complete() -> None:
    """Every registered provider has goldens, every provider folder is a registered provider, and
    every case folder holds its inputs and its output only."""
    root = GOLDENS / "generators"
    assert sorted(p.name for p in root.iterdir()) == sorted(default_registry().names())
    assert all(p.is_dir() for p in root.glob("*/*"))
    for case in CASES:
        assert sorted(p.name for p in case.folder.iterdir()) == ["case.yaml", "expected.yaml"], case.folder
