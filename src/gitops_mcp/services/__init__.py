"""Use cases, one per module, over :class:`Shared` (the parts built once at start-up).

:class:`Services` is what the MCP layer (and the tests) hold: one attribute per capability.
Callers are identified by an ``owner`` string (the authenticated principal, or ``local`` on stdio).
"""

from __future__ import annotations

from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.services.artifact import Artifacts
from gitops_mcp.services.cluster import ClusterService
from gitops_mcp.services.fleet import Fleet
from gitops_mcp.services.gitops import GitService
from gitops_mcp.services.inspect import Inspect
from gitops_mcp.services.manifests import Manifests
from gitops_mcp.services.promote import Promotion
from gitops_mcp.services.register import Registrar
from gitops_mcp.services.remediate import Remediation
from gitops_mcp.services.shared import Shared
from gitops_mcp.services.wizard import Wizard
from gitops_mcp.settings import Settings


class Services:
    """Every capability of one server, sharing one :class:`Shared`."""

    def __init__(self, settings: Settings, registry: ProviderRegistry | None = None) -> None:
        self.shared = Shared(settings, registry)
        self.inspect = Inspect(self.shared)
        self.cluster = ClusterService(self.shared)
        self.wizard = Wizard(self.shared)
        self.manifests = Manifests(self.shared, self.inspect)
        self.git = GitService(self.shared)
        self.fleet = Fleet(self.shared)
        self.artifacts = Artifacts(self.shared)
        self.remediation = Remediation(self.shared, self.cluster)
        self.promotion = Promotion(self.shared)
        self.registrar = Registrar(self.shared)

    @property
    def settings(self) -> Settings:
        return self.shared.settings

    def close(self) -> None:
        self.shared.close()


__all__ = ["Services", "Shared"]
