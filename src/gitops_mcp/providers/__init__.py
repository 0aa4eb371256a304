"""GitOps providers (one sub-package each) and their registry."""

from gitops_mcp.providers.base import DeploymentSpec, Generated, GitRef, Provider, QuestionContext
from gitops_mcp.providers.registry import ProviderRegistry, default_registry

__all__ = [
    "DeploymentSpec",
    "Generated",
    "GitRef",
    "Provider",
    "ProviderRegistry",
    "QuestionContext",
    "default_registry",
]
