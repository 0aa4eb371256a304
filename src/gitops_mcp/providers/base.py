"""What every provider implements, and the provider-neutral deployment spec it consumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import Field

from gitops_mcp.detection.facts import FileObject, PackageFacts
from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.detection.models import GitOpsStructure
from gitops_mcp.manifests.validation.schema import BuiltinRules, Found
from gitops_mcp.model import Model
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
from gitops_mcp.questions import QuestionDef
from gitops_mcp.settings import PolicySettings

if TYPE_CHECKING:
    from gitops_mcp.fleet import FleetLayout

PackageType = Literal["helm", "kustomize", "manifests", "jsonnet"]
SourceKind = Literal["git", "helm_repository", "oci"]
RefKind = Literal["branch", "tag", "semver", "commit", "name"]


class GitRef(Model):
    """A resolved Git reference (Flux ``spec.ref``)."""

    kind: RefKind
    value: str


class ExistingSource(Model):
    """A source object already committed in the repository that may be reused."""

    kind: str
    name: str
    namespace: str | None
    url: str
    ref: dict[str, str] | None = None
    file: str
    serves: str | None = Field(
        None, description="A bootstrap's own source: the cluster directory whose objects it serves (this repository)"
    )


class ObjectKey(Model):
    kind: str
    name: str
    namespace: str | None = None

    def text(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


class ExistingOwner(Model):
    """An engine object committed in the repository that already applies the package's path or a parent."""

    kind: str
    name: str
    namespace: str | None = None
    file: str
    path: str = Field(description="The directory it applies, repository-relative ('' for the root)")
    repo_url: str | None = Field(None, description="The repository it applies from; None: this one (a bootstrap)")
    document: int = Field(0, description="Index of its YAML document in the file")
    revision: str | None = Field(None, description="The branch or tag it follows, when it says")

    def text(self) -> str:
        where = "in the cluster" if self.file == "(the cluster)" else f"in {self.file}"
        return (
            f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name} {where} (applies ./{self.path})"
        )


class Surroundings(Model):
    """What the repository and the cluster around the new file say (all optional: unknown is empty)."""

    output_path: str | None = None
    package: PackageFacts | None = Field(None, description="What the package's own files say")
    siblings: list[FileObject] = Field(default_factory=list, description="Objects of the other files beside it")
    taken: list[ObjectKey] = Field(default_factory=list, description="Objects the output directory or cluster has")
    owners: list[ExistingOwner] = Field(default_factory=list, description="What already applies the package")
    cluster_namespaces: list[str] | None = Field(None, description="Namespaces the cluster has (None: unknown)")
    repo_namespaces: dict[str, str] = Field(default_factory=dict, description="Namespace -> file creating it")
    applied: bool | None = Field(None, description="Something (repository or cluster) applies the output dir")


class DeploymentSpec(Model):
    """Everything a generator needs, validated and provider-neutral."""

    app_name: str
    namespace: str = Field(description="Destination namespace of the workload")
    package_type: PackageType
    source_kind: SourceKind
    repo_url: str | None = None
    path: str | None = Field(None, description="Package directory relative to the repository root")
    revision: str | None = Field(None, description="Revision as the user gave it (branch, tag, SHA, HEAD)")
    git_ref: GitRef | None = Field(None, description="The revision resolved for Flux (HEAD -> default branch)")
    chart_url: str | None = None
    chart: str | None = None
    chart_version: str | None = None
    value_files: list[str] = Field(default_factory=list, description="Values files relative to the chart dir")
    values: dict[str, Any] = Field(default_factory=dict)
    existing_sources: list[ExistingSource] = Field(default_factory=list)
    around: Surroundings = Field(default_factory=Surroundings)
    nested: list[str] = Field(
        default_factory=list, description="Plain manifests: its subdirectories holding manifests of their own"
    )


@dataclass(frozen=True)
class PlainDirs:
    """How an engine applies a plain-manifest directory it is pointed at."""

    suffixes: tuple[str, ...]
    """The files it reads as manifests."""
    subdirectories: bool
    """It applies the subdirectories too (one holding a kustomization is built by kustomize)."""
    generate_name: bool = True
    """It creates an object that has only metadata.generateName (an Argo CD or Helm hook's Job)."""


class ObjectSummary(Model):
    api_version: str
    kind: str
    name: str
    namespace: str | None
    summary: str


class Generated(Model):
    """Output of a generator: the objects in file order, a summary, and notes for the user."""

    objects: list[dict[str, Any]]
    summary: list[ObjectSummary]
    notes: list[str] = Field(default_factory=list)
    package_notes: list[str] = Field(
        default_factory=list, description="Those of the notes about the package itself, whatever deploys it"
    )


@dataclass(frozen=True)
class QuestionContext:
    """What a provider needs to word its questions and pick defaults."""

    package_type: PackageType
    source_kind: SourceKind
    app_name: str
    values_files: tuple[str, ...] = ()
    policy: PolicySettings = field(default_factory=PolicySettings)


class OciArtifacts(Protocol):
    """How an engine deploys a manifest directory packed as an OCI artifact (``push_artifact``)."""

    config_type: str
    """Media type of the artifact's config blob."""
    content_type: str
    """Media type of its one layer (a gzipped tar of the directory)."""
    namespace: str
    """Where the engine's objects for an artifact go unless the caller says otherwise."""

    def objects(
        self, name: str, namespace: str, url: str, tag: str, interval: str, target_namespace: str | None, insecure: bool
    ) -> list[dict[str, Any]]:
        """Pure: the engine's objects that fetch ``url:tag`` and apply what it holds."""
        ...

    def revision(self, tag: str, digest: str) -> str:
        """What the engine's source object reports once it fetched the pushed artifact."""
        ...


@runtime_checkable
class Provider(Protocol):
    """A GitOps engine we generate for (Argo CD, Flux)."""

    name: str
    title: str
    description: str

    def unsupported_reason(self, package_type: PackageType, source_kind: SourceKind) -> str | None:
        """Why this provider cannot deploy such a package, or None when it can."""
        ...

    def questions(self, ctx: QuestionContext) -> list[QuestionDef]:
        """The provider's own questions (ids are stable), with defaults."""
        ...

    def generate(self, spec: DeploymentSpec, options: Mapping[str, Any]) -> Generated:
        """Pure: the objects for ``spec`` with the parsed answers to :meth:`questions`."""
        ...

    # -- the live side (``cluster/`` asks these; pure except for the reads of ``cluster``) ------------------
    kinds: tuple[KindInfo, ...]
    """The kinds it manages, with the apiVersion it reads, plural and scope."""

    def manages_api_group(self, group: str) -> bool:
        """Whether CRDs of this API group belong to its controllers (installed check, schemas)."""
        ...

    def normalize_status(self, ref: ObjectRef, obj: Obj) -> SyncStatus:
        """The normalised status of ``obj``, a live object of one of :attr:`kinds` named by ``ref``."""
        ...

    def reconcile_plan(self, ref: ObjectRef, obj: Obj, token: str, *, with_source: bool, sync: bool) -> ReconcilePlan:
        """The patches that ask its controller to act on ``obj`` now (``token`` is unique per request).

        ``with_source``: also refresh what the object reads from first; ``sync``: also apply (not
        only compare). Raises :class:`~gitops_mcp.errors.UserInputError` when it must not be asked.
        """
        ...

    def owner_of(self, cluster: ClusterReader, obj: Obj, stage: OwnerStage) -> OwnerStep | None:
        """The object of this provider that manages ``obj``, by what ``stage`` allows, or None."""
        ...

    def git_location(self, cluster: ClusterReader, obj: Obj, chain: Sequence[OwnerLink]) -> GitLocation | None:
        """Where in Git ``obj`` is defined, given the chain of owners this provider found (nearest first)."""
        ...

    def managed_objects(self, ref: ObjectRef, obj: Obj) -> list[Managed] | None:
        """What ``obj`` (one of :attr:`kinds`) applied to the cluster, as it records it (an
        inventory, a resource list), with the health it reports for each when it keeps one;
        None for a kind that applies nothing (a source)."""
        ...

    verify_kinds: tuple[str, ...]
    """Kinds among the generated objects whose sync of the pushed commit means "live"."""

    def appliers(self, cluster: ClusterReader) -> list[Applier]:
        """Its objects in the cluster that apply a directory of a Git repository (a parent that
        will pick up a committed file)."""
        ...

    root_kinds: tuple[str, ...]
    """Kinds of :attr:`kinds` that connect a repository to its controller (sources, appliers):
    the only objects of a committed file that ``register`` applies to the cluster itself, once,
    when no parent applies the file. Never a workload kind."""

    fleet: FleetLayout
    """The engine's part of the multi-environment layout (``clusters/<env>``), see :mod:`gitops_mcp.fleet`."""

    # -- what only the provider knows; the rest of the code asks (through the registry) ---------
    keywords: tuple[str, ...]
    """Lowercase words that name this provider in a user's intent ("deploy podinfo with flux")."""

    def builtin_rules(self) -> BuiltinRules:
        """Schema rules of the kinds this provider generates, by (apiVersion, kind), used to
        validate when no CRD schema is at hand."""
        ...

    def reference_issues(self, doc: Mapping[str, Any]) -> Found:
        """Its checks of the references in a document (the URLs of its sources), whatever the
        schema source: (severity, field path, message); empty for documents not its own."""
        ...

    def policy_issues(self, doc: Mapping[str, Any], policy: PolicySettings) -> list[tuple[str, str, str]]:
        """The site policy of its kinds (SPEC §5): (rule, field path, message); empty for documents
        not its own."""
        ...

    def gitops_kinds(self) -> GitOpsKinds:
        """Which objects in a repository are this provider's, and what they say (detection)."""
        ...

    def output_dirs(self, found: GitOpsStructure) -> list[str]:
        """Directories of the repository (``found`` by detection) that already hold this provider's
        manifests, best first (a new manifest goes into the first); empty when there are none."""
        ...

    def existing_sources(self, found: GitOpsStructure) -> list[ExistingSource]:
        """Source objects committed in the repository that its generator may reuse."""
        ...

    def repo_appliers(self, found: GitOpsStructure) -> list[ExistingOwner]:
        """Its objects committed in the repository that apply a directory of a Git repository."""
        ...

    update_paths: Mapping[str, tuple[tuple[str, ...], ...]]

    def current_api(self, doc: Mapping[str, Any]) -> str | None:
        """The apiVersion to write instead of ``doc``'s when its controllers no longer serve that one
        and its spec converts as it is (updating a committed object moves it on); else None."""
        ...

    """Question id -> the fields of its applier object (the kinds of :meth:`repo_appliers`) that answer
    sets: what updating a committed object with the user's answers changes (nothing else)."""

    # -- repairs and the pushed commit ---------------------------------------------------------------
    def applier_in(self, chain: Sequence[OwnerLink]) -> OwnerLink | None:
        """The object of an owner chain (nearest first) that applies the Git location: reconciled
        and waited for after a fix is pushed; None when there is none."""
        ...

    def remediation_route(self, chain: Sequence[OwnerLink], git: GitLocation | None) -> RemediationRoute:
        """Where a change to an object its chain manages is made in Git, or why it must not be."""
        ...

    # -- removal and suspension through Git ----------------------------------------------------------
    def prunes(self, applier: Obj, removed: Obj) -> str | None:
        """Why its live ``applier`` would leave ``removed`` (live) once its document is removed from
        the applier's Git path (pruning off, suspended, it would empty the applier), with what would
        remove it; None when it prunes."""
        ...

    def removal(self, obj: Obj) -> Removal:
        """What deleting the live ``obj`` does: for its own kinds what they applied, why that would
        stay, and whether it is a bootstrap's own; ``Removal()`` for any other object."""
        ...

    def suspension(self, doc: Mapping[str, Any], suspend: bool) -> tuple[FieldEdit, ...]:
        """The fields of its object's document ``doc`` that stop (``suspend``) or restart its
        controller applying new commits; empty when they already say so. Raises
        :class:`~gitops_mcp.errors.UserInputError` for a kind it cannot suspend."""
        ...

    def rendering(self, cluster: ClusterReader, applier: Obj) -> Rendering | str:
        """How its (live or generated) ``applier`` renders its Git path at a revision, as its
        controller does (what to build, what the controller adds to each object, its field
        manager); or why it cannot be rendered here."""
        ...

    chart_releases: Mapping[str, ChartRelease]
    """Its kinds that install a Helm chart release (in a repository), with where the chart version
    and values are."""

    oci: OciArtifacts | None
    """Its OCI artifact format and the objects that deploy one; None when it deploys none."""

    plain_dirs: PlainDirs
    """How it applies a plain-manifest directory (what the package check of one reads)."""


def summary_of(obj: Mapping[str, Any], text: str) -> ObjectSummary:
    meta = obj.get("metadata") or {}
    return ObjectSummary(
        api_version=str(obj["apiVersion"]),
        kind=str(obj["kind"]),
        name=str(meta.get("name", "")),
        namespace=meta.get("namespace"),
        summary=text,
    )
