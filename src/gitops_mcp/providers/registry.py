"""The provider registry: a small dict wrapper, built explicitly (no import-time globals)."""

from __future__ import annotations

from collections.abc import Iterator

from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.errors import UnknownProviderError
from gitops_mcp.manifests.validation.schema import KindRule, Rules
from gitops_mcp.providers.base import Provider
from gitops_mcp.providers.live import ChartRelease, KindInfo, api_group


class ProviderRegistry:
    def __init__(self, providers: list[Provider] | None = None) -> None:
        self._providers: dict[str, Provider] = {}
        for p in providers or []:
            self.register(p)

    def register(self, provider: Provider) -> None:
        if provider.name in self._providers:
            raise ValueError(f"provider {provider.name!r} is registered twice")
        self._providers[provider.name] = provider

    def get(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProviderError(
                f"unknown provider {name!r}; registered providers: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return list(self._providers)

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def kinds(self) -> Iterator[tuple[Provider, KindInfo]]:
        """Every kind a registered provider manages, with its provider, in registration order."""
        for p in self._providers.values():
            for k in p.kinds:
                yield p, k

    def kind_of(self, api_version: str, kind: str) -> tuple[Provider, KindInfo] | None:
        """The provider that manages ``kind`` in the group of ``api_version`` (any version), if one does."""
        group = api_group(api_version)
        return next(((p, k) for p, k in self.kinds() if k.kind == kind and k.group == group), None)

    def builtin_rules(self) -> Rules:
        """Every provider's built-in schema rules, reference and policy checks (for
        ``validate_documents(..., rules=...)``)."""
        rules: dict[tuple[str, str], KindRule] = {}
        for p in self:
            for key, rule in p.builtin_rules().items():
                if key in rules:
                    raise ValueError(f"{key[1]} ({key[0]}) has built-in rules from two providers")
                rules[key] = rule
        providers = list(self)
        return Rules(rules, [p.reference_issues for p in providers], [p.policy_issues for p in providers])

    def chart_releases(self) -> dict[str, ChartRelease]:
        """Every provider's kinds that install a chart release (for ``plan_promotion``)."""
        return {kind: r for p in self for kind, r in p.chart_releases.items()}

    def gitops_kinds(self) -> tuple[GitOpsKinds, ...]:
        """Every provider's GitOps kinds (for ``detect_packages(..., gitops_kinds=...)``)."""
        return tuple(p.gitops_kinds() for p in self)


def default_registry() -> ProviderRegistry:
    """Argo CD and Flux."""
    from gitops_mcp.providers.argocd import ArgoCDProvider
    from gitops_mcp.providers.flux import FluxProvider

    return ProviderRegistry([ArgoCDProvider(), FluxProvider()])
