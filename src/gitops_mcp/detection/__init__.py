"""Package detection: what in a repository can be deployed, and what GitOps structure exists."""

from gitops_mcp.detection.models import DetectionReport, FluxBootstrap, GitOpsObject, GitOpsStructure, Package
from gitops_mcp.detection.scan import detect_packages, dns_label, is_gitops_kind, is_kube_object

__all__ = [
    "DetectionReport",
    "FluxBootstrap",
    "GitOpsObject",
    "GitOpsStructure",
    "Package",
    "detect_packages",
    "dns_label",
    "is_gitops_kind",
    "is_kube_object",
]
