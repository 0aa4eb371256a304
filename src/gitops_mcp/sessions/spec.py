"""Answers -> the provider-neutral :class:`~gitops_mcp.providers.base.DeploymentSpec`.

Also the revision syntax the wizard accepts, and which package (and so which kind of package and
source) the answers chose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gitops_mcp.detection.models import Package
from gitops_mcp.errors import UserInputError
from gitops_mcp.providers.base import DeploymentSpec, GitRef, PackageType, SourceKind
from gitops_mcp.questions import AnswerError, as_text, ref_name
from gitops_mcp.sessions.models import SessionContext
from gitops_mcp.syntax import MAX_REF, shown

CHART = "chart"  # the package answer for a chart from a Helm or OCI repository
_SHA = re.compile(r"^[0-9a-f]{40}$")
_PREFIXED = re.compile(r"^(branch|tag|semver|commit):(.+)$")


def revision(value: Any) -> str:
    """Parse the revision answer: HEAD, a full SHA, a ref name, or ``branch:/tag:/semver:/commit:<x>``
    (at most 255 characters)."""
    v = as_text(value, MAX_REF, "a revision")
    if v == "HEAD" or _SHA.match(v):
        return v
    m = _PREFIXED.match(v)
    if m:
        kind, rest = m.groups()
        if kind == "commit" and not _SHA.match(rest):
            raise AnswerError(f"{shown(rest)} is not a full 40-character commit SHA")
        if kind in ("branch", "tag"):
            ref_name(rest)
        return v
    if v.startswith("refs/"):
        ref_name(v[5:])
        return v
    ref_name(v)
    return v


def resolve_ref(rev: str, ctx: SessionContext) -> GitRef:
    """The spec's ``git_ref``: the revision resolved to a kind of ref; ``HEAD`` means the default branch."""
    if rev == "HEAD":
        return GitRef(kind="branch", value=ctx.default_branch or ctx.branch or "main")
    if _SHA.match(rev):
        return GitRef(kind="commit", value=rev)
    m = _PREFIXED.match(rev)
    if m:
        kind, rest = m.groups()
        return GitRef.model_validate({"kind": kind, "value": rest})
    if rev.startswith("refs/"):
        return GitRef(kind="name", value=rev)
    if rev in ctx.tags:
        return GitRef(kind="tag", value=rev)
    return GitRef(kind="branch", value=rev)


def plain_revision(rev: str) -> str:
    """The spec's ``revision``: the revision as given, without a ``branch:``-style prefix."""
    m = _PREFIXED.match(rev)
    return m.group(2) if m else rev


def selected_package(answers: Mapping[str, Any], ctx: SessionContext) -> Package | None:
    path = answers.get("package")
    if path is None or path == CHART:
        return None
    return next((p for p in ctx.packages if p.path == path), None)


def package_kind(answers: Mapping[str, Any], ctx: SessionContext) -> tuple[PackageType, SourceKind] | None:
    if answers.get("package") == CHART:
        url = str(answers.get("chart_url", ""))
        return "helm", "oci" if url.startswith("oci://") else "helm_repository"
    pkg = selected_package(answers, ctx)
    return (pkg.type, "git") if pkg else None


def build_spec(answers: Mapping[str, Any], ctx: SessionContext) -> DeploymentSpec:
    """The deployment spec from a complete set of answers."""
    kind = package_kind(answers, ctx)
    if kind is None:
        raise UserInputError("no package has been chosen yet")
    package_type, source_kind = kind
    out = answers.get("output_path")
    # a source defined in the file this output replaces goes with it: it cannot be reused
    reusable = [s for s in ctx.existing_sources if out is None or s.file != out]
    common: dict[str, Any] = {
        "app_name": answers["app_name"],
        "namespace": answers["namespace"],
        "package_type": package_type,
        "source_kind": source_kind,
        "values": answers.get("values") or {},
        "value_files": answers.get("value_files") or [],
        "existing_sources": reusable,
    }
    if source_kind == "git":
        rev = str(answers["revision"])
        return DeploymentSpec(
            **common,
            repo_url=answers["repo_url"],
            path=answers["path"],
            revision=plain_revision(rev),
            git_ref=resolve_ref(rev, ctx),
        )
    return DeploymentSpec(
        **common, chart_url=answers["chart_url"], chart=answers["chart"], chart_version=answers["chart_version"]
    )
