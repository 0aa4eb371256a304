"""Remediation through Git: the structured changes (:mod:`.changes`) and where and how they are
made (:mod:`.plan`)."""

from gitops_mcp.remediation.changes import (
    Change,
    MergePatch,
    Remove,
    Resume,
    SetEnv,
    SetHelmValues,
    SetImage,
    SetReplicas,
    SetResources,
    Suspend,
)
from gitops_mcp.remediation.plan import (
    FileEdit,
    Plan,
    Refused,
    check_owner,
    collect_edits,
    kustomization_file,
    leaves,
    plan,
    values_ops,
)

__all__ = [
    "Change",
    "FileEdit",
    "MergePatch",
    "Plan",
    "Refused",
    "Remove",
    "Resume",
    "SetEnv",
    "SetHelmValues",
    "SetImage",
    "SetReplicas",
    "SetResources",
    "Suspend",
    "check_owner",
    "collect_edits",
    "kustomization_file",
    "leaves",
    "plan",
    "values_ops",
]
