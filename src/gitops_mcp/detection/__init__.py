"""Package detection: what in a repository can be deployed, and what GitOps structure exists.

The scanner is imported on first use (``detect_packages`` and friends), so importing the models
stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitops_mcp.detection.models import BootstrapDir, DetectionReport, GitOpsObject, GitOpsStructure, Package

if TYPE_CHECKING:
    from gitops_mcp.detection.scan import detect_packages, dns_label, is_gitops_kind, is_kube_object

_LAZY = {"detect_packages", "dns_label", "is_gitops_kind", "is_kube_object"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from gitops_mcp.detection import scan

        return getattr(scan, name)
    raise AttributeError(name)


__all__ = [
    "BootstrapDir",
    "DetectionReport",
    "GitOpsObject",
    "GitOpsStructure",
    "Package",
    "detect_packages",
    "dns_label",
    "is_gitops_kind",
    "is_kube_object",
]
