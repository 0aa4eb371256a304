"""What a provider does when it does not do something: a base class for providers that
implement only part of :class:`~gitops_mcp.providers.base.Provider` (a new engine starting
with its questions, a generator and a status normaliser, for example).

Every default says "not mine": no built-in rules, no GitOps kinds in repositories, no live
kinds, no owners, no applier to reconcile after a repair, no fleet layout, no OCI artifacts.
The built-in providers implement everything themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.detection.models import GitOpsStructure
from gitops_mcp.errors import UserInputError
from gitops_mcp.fleet import FleetPlan, FleetSpec
from gitops_mcp.manifests.validation.schema import BuiltinRules, Found
from gitops_mcp.providers.base import ExistingOwner, ExistingSource, OciArtifacts, PackageType, PlainDirs, SourceKind
from gitops_mcp.providers.live import (
    Applier,
    ChartRelease,
    ClusterReader,
    FieldEdit,
    GitLocation,
    KindInfo,
    Managed,
    Obj,
    ObjectRef,
    OwnerLink,
    OwnerStage,
    OwnerStep,
    ReconcilePlan,
    RemediationRoute,
    Removal,
    Rendering,
    SyncStatus,
)
from gitops_mcp.settings import PolicySettings


class LayoutDefaults:
    """Defaults of a fleet layout (``Provider.fleet``) for an engine that has no options of its own,
    no bootstrap directory to keep and no install manifests of the user's."""

    reserved: frozenset[str] = frozenset()
    options: Mapping[str, Any] = MappingProxyType({})
    install_manifests_use: str | None = None

    def parse_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def kept_dir(self, env: str) -> str | None:
        return None

    def wants_install_manifests(self, spec: FleetSpec) -> str | None:
        return None

    def check_install_manifests(self, rel: str, docs: list[Any]) -> None:
        raise UserInputError(f"{rel}: this layout takes no install manifests")


class NoFleet(LayoutDefaults):
    """The fleet layout of a provider that has none: scaffold_fleet refuses it by name."""

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
    oci: OciArtifacts | None = None
    chart_releases: Mapping[str, ChartRelease] = MappingProxyType({})
    update_paths: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType({})
    plain_dirs = PlainDirs((".yaml", ".yml"), subdirectories=False)

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        return None

    def current_api(self, doc: Mapping[str, Any]) -> str | None:
        return None

    def builtin_rules(self) -> BuiltinRules:
        return {}

    def reference_issues(self, doc: Mapping[str, Any]) -> Found:
        return []

    def policy_issues(self, doc: Mapping[str, Any], policy: PolicySettings) -> list[tuple[str, str, str]]:
        return []

    def gitops_kinds(self) -> GitOpsKinds:
        return GitOpsKinds()

    def output_dirs(self, found: GitOpsStructure) -> list[str]:
        return []

    def existing_sources(self, found: GitOpsStructure) -> list[ExistingSource]:
        return []

    def repo_appliers(self, found: GitOpsStructure) -> list[ExistingOwner]:
        return []

    def applier_in(self, chain: Sequence[OwnerLink]) -> OwnerLink | None:
        return None

    def remediation_route(self, chain: Sequence[OwnerLink], git: GitLocation | None) -> RemediationRoute:
        return RemediationRoute()

    def prunes(self, applier: Obj, removed: Obj) -> str | None:
        return None  # it has no applier (applier_in)

    def removal(self, obj: Obj) -> Removal:
        return Removal()

    def rendering(self, cluster: ClusterReader, applier: Obj) -> Rendering | str:
        return f"{applier.get('kind')} is not rendered by this server"

    def suspension(self, doc: Mapping[str, Any], suspend: bool) -> tuple[FieldEdit, ...]:
        raise UserInputError(f"{doc.get('kind')} cannot be suspended by this server")

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

    def managed_objects(self, ref: ObjectRef, obj: Obj) -> list[Managed] | None:
        return None

    def git_location(self, cluster: ClusterReader, obj: Obj, chain: Sequence[OwnerLink]) -> GitLocation | None:
        return None
