"""Golden tests of the pure generators; every golden is checked by shared/crds/validate.py (strict).

Regenerate with ``pytest tests/test_generators.py --update-goldens`` and review the diff.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from conftest import CRDS, HERE, need_shared
from gitops_mcp.manifests.validation import validate_documents
from gitops_mcp.manifests.yaml import dump_documents, load_documents
from gitops_mcp.providers import DeploymentSpec, GitRef, default_registry
from gitops_mcp.providers.base import ExistingSource
from gitops_mcp.settings import PolicySettings

GOLDENS = HERE / "goldens"
REPO = "https://github.com/stefanprodan/podinfo.git"

GIT_BASE: dict[str, Any] = {
    "source_kind": "git",
    "repo_url": REPO,
    "revision": "main",
    "git_ref": GitRef(kind="branch", value="main"),
}

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "helm-git": (
        {
            **GIT_BASE,
            "app_name": "podinfo",
            "namespace": "podinfo",
            "package_type": "helm",
            "path": "charts/podinfo",
            "value_files": ["values-prod.yaml"],
            "values": {"replicaCount": 2, "image": {"tag": "6.7.0"}},
        },
        {},
    ),
    "kustomize": (
        {
            **GIT_BASE,
            "app_name": "podinfo-production",
            "namespace": "production",
            "package_type": "kustomize",
            "path": "deploy/overlays/production",
        },
        {},
    ),
    "manifests": (
        {
            **GIT_BASE,
            "app_name": "webapp-backend",
            "namespace": "webapp",
            "package_type": "manifests",
            "path": "deploy/webapp/backend",
        },
        {},
    ),
    "helm-repository": (
        {
            "source_kind": "helm_repository",
            "app_name": "podinfo",
            "namespace": "podinfo",
            "package_type": "helm",
            "chart_url": "https://stefanprodan.github.io/podinfo",
            "chart": "podinfo",
            "chart_version": "6.7.0",
            "values": {"replicaCount": 3},
        },
        {},
    ),
    "oci": (
        {
            "source_kind": "oci",
            "app_name": "podinfo",
            "namespace": "podinfo",
            "package_type": "helm",
            "chart_url": "oci://ghcr.io/stefanprodan/charts",
            "chart": "podinfo",
            "chart_version": ">=6.0.0 <7.0.0",
        },
        {},
    ),
    "tag-ref": (
        {
            **GIT_BASE,
            "revision": "v6.7.0",
            "git_ref": GitRef(kind="tag", value="v6.7.0"),
            "app_name": "podinfo",
            "namespace": "podinfo",
            "package_type": "kustomize",
            "path": "kustomize",
        },
        {},
    ),
}
ARGO_OPTIONS: dict[str, dict[str, Any]] = {
    "manual": {"sync_policy": "manual", "create_namespace": False},
    "auto-prune": {"sync_policy": "auto-prune", "argocd_namespace": "gitops", "project": "apps"},
}
FLUX_EXTRA: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "reuse-source": (
        {
            **GIT_BASE,
            "app_name": "podinfo",
            "namespace": "podinfo",
            "package_type": "kustomize",
            "path": "kustomize",
            "repo_url": "ssh://git@github.com/stefanprodan/podinfo",
            "existing_sources": [
                ExistingSource(
                    kind="GitRepository",
                    name="flux-system",
                    namespace="flux-system",
                    url="https://github.com/stefanprodan/podinfo.git",
                    ref={"branch": "main"},
                    file="clusters/prod/flux-system/gotk-sync.yaml",
                )
            ],
        },
        {"interval": "10m", "health_checks": False},
    ),
    "commit-ref": (
        {
            **GIT_BASE,
            "revision": "a" * 40,
            "git_ref": GitRef(kind="commit", value="a" * 40),
            "app_name": "podinfo",
            "namespace": "podinfo",
            "package_type": "manifests",
            "path": "deploy/webapp/frontend",
        },
        {"flux_namespace": "gitops", "source_interval": "30s"},
    ),
}
ARGO_EXTRA: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "jsonnet": (
        {
            **GIT_BASE,
            "app_name": "guestbook",
            "namespace": "guestbook",
            "package_type": "jsonnet",
            "path": "jsonnet-guestbook",
            "repo_url": "https://github.com/argoproj/argocd-example-apps.git",
            "revision": "HEAD",
        },
        {},
    ),
    **{f"sync-{name}": (CASES["kustomize"][0], opts) for name, opts in ARGO_OPTIONS.items()},
}


def all_cases() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    out = []
    for provider, extra in (("argocd", ARGO_EXTRA), ("flux", FLUX_EXTRA)):
        for name, (spec, opts) in {**CASES, **extra}.items():
            out.append((provider, name, spec, opts))
    return out


def render(provider: str, spec: dict[str, Any], opts: dict[str, Any]) -> str:
    p = default_registry().get(provider)
    return dump_documents(p.generate(DeploymentSpec(**spec), opts).objects)


@pytest.mark.parametrize(
    ("provider", "case", "spec", "opts"), all_cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_golden(provider: str, case: str, spec: dict[str, Any], opts: dict[str, Any], update_goldens: bool) -> None:
    text = render(provider, spec, opts)
    golden = GOLDENS / provider / f"{case}.yaml"
    if update_goldens:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing golden {golden}; run pytest --update-goldens"
    assert text == golden.read_text(encoding="utf-8"), f"{golden} differs; review and run --update-goldens"
    # our own validator agrees, and the output is deterministic
    assert validate_documents(load_documents(text), PolicySettings()).valid
    assert render(provider, spec, opts) == text


def test_goldens_pass_shared_crd_validator() -> None:
    validator = need_shared(CRDS / "validate.py")
    files = sorted(str(p) for p in GOLDENS.rglob("*.yaml"))
    assert len(files) == len(all_cases())
    proc = subprocess.run([sys.executable, str(validator), *files], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_documents_are_readable() -> None:
    text = render("flux", *CASES["helm-git"])
    docs = text.split("---\n")
    assert len(docs) == 2
    for doc in docs:
        keys = [line.split(":")[0] for line in doc.splitlines() if line and not line.startswith(" ")]
        assert keys[:4] == ["apiVersion", "kind", "metadata", "spec"]


def test_flux_jsonnet_is_refused_with_reason() -> None:
    reason = default_registry().get("flux").unsupported_reason("jsonnet", "git")
    assert reason and "Jsonnet" in reason


def test_reuse_needs_same_ref() -> None:
    spec, opts = FLUX_EXTRA["reuse-source"]
    other = dict(spec, git_ref=GitRef(kind="branch", value="dev"))
    docs = load_documents(render("flux", other, opts))
    assert [d["kind"] for d in docs] == ["GitRepository", "Kustomization"]  # different ref: a new source
    assert docs[0]["spec"]["ref"] == {"branch": "dev"}
    assert docs[1]["spec"]["sourceRef"] == {"kind": "GitRepository", "name": docs[0]["metadata"]["name"]}


def test_goldens_dir_is_complete() -> None:
    names = {(p.parent.name, p.stem) for p in GOLDENS.rglob("*.yaml")}
    assert names == {(prov, case) for prov, case, _, _ in all_cases()}
