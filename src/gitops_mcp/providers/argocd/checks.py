"""Argo CD's checks of an Application, whatever the schema source: the repository URLs of its
sources (references), relative paths and https/ssh sources (site policy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.manifests.validation.policy import PolicyIssues, as_map, insecure_url, relative_path_issues
from gitops_mcp.manifests.validation.references import url_issue
from gitops_mcp.manifests.validation.schema import Found
from gitops_mcp.providers.live import api_group
from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import CHART_REPO_URL, GIT_URL_OR_SCP


def _application(doc: Mapping[str, Any]) -> bool:
    return api_group(str(doc.get("apiVersion", ""))) == "argoproj.io" and doc.get("kind") == "Application"


def reference_issues(doc: Mapping[str, Any]) -> Found:
    out: Found = []
    if not _application(doc):
        return out
    spec = as_map(doc.get("spec"))
    sources = [("spec.source", spec.get("source"))]
    if isinstance(spec.get("sources"), list):
        sources += [(f"spec.sources[{i}]", s) for i, s in enumerate(spec["sources"])]
    for where, src in sources:
        if isinstance(src, dict):
            kind = CHART_REPO_URL if src.get("chart") else GIT_URL_OR_SCP
            url_issue(src.get("repoURL"), f"{where}.repoURL", kind, out)
    return out


def policy_issues(doc: Mapping[str, Any], policy: PolicySettings) -> PolicyIssues:
    if not _application(doc):
        return []
    spec = as_map(doc.get("spec"))
    srcs = [spec.get("source"), *list(spec.get("sources") or [])]
    out: PolicyIssues = []
    if policy.relative_paths:
        paths = [
            ("spec.source" if i == 0 else f"spec.sources[{i - 1}]") + ".path"
            for i, s in enumerate(srcs)
            if isinstance(s, dict)
        ]
        values = [s.get("path") for s in srcs if isinstance(s, dict)]
        out += relative_path_issues(list(zip(paths, values, strict=True)))
    if policy.secure_git_urls:
        for s in srcs:
            if isinstance(s, dict) and insecure_url(s.get("repoURL")):
                url = s["repoURL"]
                out.append(("secure_git_urls", "spec.source.repoURL", f"{url!r} must use https:// or ssh://"))
    return out
