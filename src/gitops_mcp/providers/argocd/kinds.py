"""Argo CD objects in a repository: Applications (and sets, projects), and apps of apps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gitops_mcp.detection.kinds import AppOfApps, GitOpsKinds, as_str
from gitops_mcp.detection.models import GitOpsObject

_TEMPLATE_APP = re.compile(r"^apiVersion:[ \t]*argoproj\.io/\S+\s*\n(?:.*\n)?kind:[ \t]*Application\b", re.M)


def _read_application(obj: GitOpsObject, spec: Mapping[str, Any]) -> None:
    src = spec.get("source")
    if not isinstance(src, dict) and isinstance(spec.get("sources"), list) and spec["sources"]:
        src = spec["sources"][0]
    if isinstance(src, dict):
        obj.repo_url = as_str(src.get("repoURL"))
        obj.path = as_str(src.get("path")) or as_str(src.get("chart"))
        rev = src.get("targetRevision")
        obj.target_revision = str(rev) if rev is not None else None


GITOPS_KINDS = GitOpsKinds(
    kinds={"argoproj.io": frozenset({"Application", "ApplicationSet", "AppProject"})},
    readers={"Application": _read_application},
    app_of_apps=AppOfApps(_TEMPLATE_APP, "templates render Argo CD Applications (app of apps)"),
)
