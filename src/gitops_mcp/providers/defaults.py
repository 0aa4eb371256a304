"""What a provider does when it does not do something: a base class for providers that
implement only part of :class:`~gitops_mcp.providers.base.Provider` (a new engine starting
with its questions, a generator and a status normaliser, for example).

Every default says "not mine": no built-in rules, no GitOps kinds in repositories, no live
kinds, no owners, no fleet layout. Argo CD and Flux implement everything themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.errors import UserInputError
from gitops_mcp.fleet import FleetPlan, FleetSpec
from gitops_mcp.manifests.validation.schema import BuiltinRules
from gitops_mcp.providers.base import PackageType, RepoFacts, SourceKind
from gitops_mcp.providers.live import (
    Applier,
    ClusterReader,
    GitLocation,
    KindInfo,
    Obj,
    ObjectRef,
    OwnerLink,
    OwnerStage,
    OwnerStep,
    ReconcilePlan,
    SyncStatus,
)


class NoFleet:
    """The fleet layout of a provider that has none: scaffold_fleet refuses it by name."""

    reserved: frozenset[str] = frozenset()

    def __init__(self, provider: str = "this provider") -> None:
        self.provider = provider

    def check(self, spec: FleetSpec) -> None:
        raise ValueError(f"{spec.provider} has no multi-environment layout (scaffold_fleet)")

    def plan(self, spec: FleetSpec, install_manifests: str | None) -> FleetPlan:
        raise ValueError(f"{spec.provider} has no multi-environment layout (scaffold_fleet)")


class ProviderDefaults:
    """Defaults for every part of the provider protocol except name, title, description,
    questions and generate."""

    keywords: tuple[str, ...] = ()
    kinds: tuple[KindInfo, ...] = ()
    verify_kinds: tuple[str, ...] = ()
    root_kinds: tuple[str, ...] = ()
    fleet = NoFleet()

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None

    def builtin_rules(self) -> BuiltinRules:
        return {}

    def gitops_kinds(self) -> GitOpsKinds:
        return GitOpsKinds()

    def output_dirs(self, repo: RepoFacts) -> list[str]:
        return []

    def manages_api_group(self, group: str) -> bool:
        return any(k.group == group for k in self.kinds)

    def normalize_status(self, ref: ObjectRef, obj: Obj) -> SyncStatus:
        raise UserInputError(f"{ref.kind} has no status this server can read")

    def reconcile_plan(self, ref: ObjectRef, obj: Obj, token: str, *, with_source: bool, sync: bool) -> ReconcilePlan:
        raise UserInputError(f"{ref.kind} cannot be asked to reconcile by this server")

    def appliers(self, cluster: ClusterReader) -> list[Applier]:
        return []

    def owner_of(self, cluster: ClusterReader, obj: Obj, stage: OwnerStage) -> OwnerStep | None:
        return None

    def git_location(self, cluster: ClusterReader, obj: Obj, chain: Sequence[OwnerLink]) -> GitLocation | None:
        return None
