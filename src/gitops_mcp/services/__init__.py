"""Use cases, one per module, over :class:`Shared` (the parts built once at start-up).

Naming: a use case is a class ``<Capability>Service`` (``WizardService``, ``FleetService``, ...),
held by :class:`Services` as one attribute (``services.wizard``); the parts use cases share are
named for what they are (``Shared``, ``Preparation``, ``Verifier``, ``Edits``, ``Repository``).

:class:`Services` is what the MCP layer (and the tests) hold: one attribute per capability.
Each capability (and :class:`Shared` itself) is made, and its module imported, on first use:
a server start imports none of them.
Callers are identified by a ``principal`` string (the authenticated caller, or ``local`` on stdio);
an owner is only ever the GitOps object that manages a live resource.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from gitops_mcp.clock import SYSTEM, Clock
from gitops_mcp.settings import Settings

if TYPE_CHECKING:
    from gitops_mcp.providers.registry import ProviderRegistry
    from gitops_mcp.services.artifact import ArtifactService
    from gitops_mcp.services.cluster import ClusterService
    from gitops_mcp.services.fleet import FleetService
    from gitops_mcp.services.gitops import GitService
    from gitops_mcp.services.inspect import InspectService
    from gitops_mcp.services.manifests import ManifestService
    from gitops_mcp.services.promote import PromotionService
    from gitops_mcp.services.register import RegistrationService
    from gitops_mcp.services.remediate import RemediationService
    from gitops_mcp.services.shared import Shared
    from gitops_mcp.services.wizard import WizardService


class Services:
    """Every capability of one server, sharing one :class:`Shared`.

    ``registry``: the providers (GitOps engines) this server knows; without one, the built-in
    providers (:func:`~gitops_mcp.providers.default_registry`). This is the edge where the
    registry is chosen: everything below is handed it."""

    def __init__(self, settings: Settings, registry: ProviderRegistry | None = None, clock: Clock = SYSTEM) -> None:
        self._settings = settings
        self._registry = registry
        self._clock = clock

    @cached_property
    def registry(self) -> ProviderRegistry:
        if self._registry is None:
            from gitops_mcp.providers.registry import default_registry

            self._registry = default_registry()
        return self._registry

    @cached_property
    def shared(self) -> Shared:
        from gitops_mcp.services.shared import Shared

        return Shared(self._settings, self.registry, self._clock)

    @cached_property
    def inspect(self) -> InspectService:
        from gitops_mcp.services.inspect import InspectService

        return InspectService(self.shared)

    @cached_property
    def cluster(self) -> ClusterService:
        from gitops_mcp.services.cluster import ClusterService

        return ClusterService(self.shared)

    @cached_property
    def wizard(self) -> WizardService:
        from gitops_mcp.services.wizard import WizardService

        return WizardService(self.shared)

    @cached_property
    def manifests(self) -> ManifestService:
        from gitops_mcp.services.manifests import ManifestService

        return ManifestService(self.shared, self.inspect)

    @cached_property
    def git(self) -> GitService:
        from gitops_mcp.services.gitops import GitService

        return GitService(self.shared)

    @cached_property
    def fleet(self) -> FleetService:
        from gitops_mcp.services.fleet import FleetService

        return FleetService(self.shared)

    @cached_property
    def artifacts(self) -> ArtifactService:
        from gitops_mcp.services.artifact import ArtifactService

        return ArtifactService(self.shared)

    @cached_property
    def remediation(self) -> RemediationService:
        from gitops_mcp.services.remediate import RemediationService

        return RemediationService(self.shared, self.cluster)

    @cached_property
    def promotion(self) -> PromotionService:
        from gitops_mcp.services.promote import PromotionService

        return PromotionService(self.shared)

    @cached_property
    def registrar(self) -> RegistrationService:
        from gitops_mcp.services.register import RegistrationService

        return RegistrationService(self.shared)

    def start(self) -> None:
        """What start-up must do at once: remove what killed operations left in the clone cache
        (their working trees, half-made clones). Only then is the git layer built at start."""
        work, repos = self._settings.cache_dir / "work", self._settings.cache_dir / "repos"
        left = work.is_dir() and any(work.iterdir())
        left = left or (repos.is_dir() and any(p.name.startswith((".clone-", ".evict-")) for p in repos.iterdir()))
        if left:
            _ = self.shared.delivery  # GitDelivery cleans up when it is made

    @property
    def settings(self) -> Settings:
        return self._settings

    def close(self) -> None:
        if "shared" in self.__dict__:
            self.shared.close()


__all__ = ["Services"]
