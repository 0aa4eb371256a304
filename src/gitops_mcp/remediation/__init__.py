"""Remediation through Git: the structured changes (:mod:`.changes`) and where and how they are
made (:mod:`.plan`)."""

from gitops_mcp.remediation.changes import (
    Change,
    MergePatch,
    Refused,
    SetEnv,
    SetHelmValues,
    SetImage,
    SetReplicas,
    SetResources,
)
from gitops_mcp.remediation.govern import leaves
from gitops_mcp.remediation.plan import (
    FileEdit,
    Plan,
    check_owner,
    collect_edits,
    kustomization_file,
    plan,
    values_ops,
)

__all__ = [
    "Change",
    "FileEdit",
    "MergePatch",
    "Plan",
    "Refused",
    "SetEnv",
    "SetHelmValues",
    "SetImage",
    "SetReplicas",
    "SetResources",
    "check_owner",
    "collect_edits",
    "kustomization_file",
    "leaves",
    "plan",
    "values_ops",
]
