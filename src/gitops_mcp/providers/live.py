"""Provider-neutral models of live cluster objects: what providers produce and ``cluster/`` consumes.

A provider describes the kinds it manages (:class:`KindInfo`), turns one of its live objects
into a :class:`SyncStatus`, says how to ask its controller to act now (:class:`ReconcilePlan`,
a merge patch per object and how to tell it was handled) and how its ownership markers lead
from a live object to the object that manages it (:class:`OwnerLink`) and to Git
(:class:`GitLocation`). The I/O (reads, patches, watches, waiting) stays in ``cluster/``.
This module imports nothing of ``cluster/`` (nor of any provider).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import Field, PrivateAttr

from gitops_mcp.git.urls import url_identity
from gitops_mcp.manifests.render import RenderPlan
from gitops_mcp.model import Model
from gitops_mcp.providers.effects import LiveEffect

Obj = dict[str, Any]
State = Literal["ready", "progressing", "failed", "suspended", "not_found", "unknown"]
OwnerStage = Literal["markers", "hints", "search"]
"""The passes of an owner lookup, cheapest and surest first: ``markers`` (ownership labels,
a tracking id, owner references, a source reference: each names one object), ``hints``
(weaker conventions such as a well-known label), ``search`` (listing objects, e.g. inventories)."""


def api_group(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` -> ``""`` (the core group)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


@dataclass(frozen=True)
class KindInfo:
    """A kind a provider manages, as the API server serves it."""

    kind: str
    api_version: str
    """The version generated and read (``group/version``)."""
    plural: str
    namespaced: bool = True
    status: bool = True
    """Whether status, reconcile and wait are offered for it (false for kinds only met in owner chains)."""
    owner_root: bool = False
    """An ownership chain ends at an object of this kind (where the manifests come from)."""

    @property
    def group(self) -> str:
        return api_group(self.api_version)


class Condition(Model):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class ObjectRef(Model):
    api_version: str
    kind: str
    name: str
    namespace: str | None = None


class SyncStatus(Model):
    api_version: str
    kind: str
    name: str
    namespace: str | None
    state: State
    message: str = Field(description="The controller's own words (or why the state was chosen)")
    revision: str | None = Field(None, description="Revision applied (Flux lastAppliedRevision/artifact; Argo sync)")
    attempted_revision: str | None = Field(None, description="Revision last attempted (may be failing)")
    origin_revision: str | None = Field(
        None, description="Flux OCI: the Git revision the applied artifact was built from (its revision annotation)"
    )
    generation: int | None = None
    observed_generation: int | None = None
    suspended: bool = False
    conditions: list[Condition] = Field(default_factory=list)
    sync_status: str | None = Field(None, description="Argo CD: Synced / OutOfSync / Unknown")
    health_status: str | None = Field(None, description="Argo CD: Healthy / Progressing / Degraded / ...")
    operation_phase: str | None = Field(None, description="Argo CD: Running / Succeeded / Failed / Error")
    last_handled_reconcile_at: str | None = None
    diagnosis: Diagnosis | None = Field(
        None,
        description="What to look at next: its recent Events and, when not ready, the unhealthy objects it manages",
    )
    live_effect: LiveEffect | None = Field(None, description="With revision: what applying it would do (dry run)")
    _waits_for: ObjectRef | None = PrivateAttr(None)

    @property
    def waits_for(self) -> ObjectRef | None:
        """Not reported: the object whose failure this one waits on (Flux: its source, while it has no artifact)."""
        return self._waits_for

    def waiting_on(self, other: ObjectRef | None) -> SyncStatus:
        self._waits_for = other
        return self


class EventNote(Model):
    """One Event of an object (core/v1 ``Event``), newest first where there are several."""

    type: str = Field(description="Normal or Warning")
    reason: str
    message: str
    count: int | None = None
    last_seen: str | None = None
    source: str | None = Field(None, description="The component that reported it")


class ManagedIssue(Model):
    """An object that a GitOps object manages and that is not healthy, in its own words."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    state: Literal["failed", "progressing", "missing", "unknown"]
    message: str
    conditions: list[Condition] = Field(default_factory=list, description="Its conditions that are not healthy")
    events: list[EventNote] = Field(default_factory=list, description="Its recent Warning Events")


class Diagnosis(Model):
    events: list[EventNote] = Field(default_factory=list, description="The object's recent Events, newest first")
    unhealthy: list[ManagedIssue] = Field(default_factory=list, description="Managed objects that are not healthy")
    more: int = Field(0, description="Unhealthy managed objects left out (the list is bounded)")
    checked: int = Field(0, description="Managed objects read to find them")
    notes: list[str] = Field(default_factory=list, description="What could not be read, and why")


@dataclass(frozen=True)
class Managed:
    """An object a GitOps object applied (``Provider.managed_objects``), with the health its engine
    reports for it when the engine keeps one (None: read the object to know)."""

    ref: ObjectRef
    health: str | None = None
    message: str | None = None


SyncStatus.model_rebuild()


def status_conditions(obj: Obj) -> list[Condition]:
    """``status.conditions`` (standard metav1.Condition entries) of a live object."""
    return [
        Condition(
            type=str(c["type"]),
            status=str(c.get("status", "Unknown")),
            reason=c.get("reason"),
            message=c.get("message"),
        )
        for c in (obj.get("status") or {}).get("conditions") or []
        if isinstance(c, dict) and c.get("type")
    ]


def gave_up(status: SyncStatus) -> bool:
    """The kstatus convention (sigs.k8s.io/cli-utils): ``Stalled=True`` means the controller stopped
    trying until the spec changes, so waiting for a newer revision is pointless."""
    return status.state == "failed" and any(c.type == "Stalled" and c.status == "True" for c in status.conditions)


# -- reconcile requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileStep:
    """One object to merge-patch, in order, and how to tell that its controller handled the patch."""

    target: ObjectRef
    patch: Obj
    handled: Callable[[Obj], bool]
    refusal: Callable[[Obj], str | None] = lambda _obj: None
    """Why the live target must not be patched (e.g. it is suspended), or None."""
    role: str | None = None
    """What the target is to the requested object when it is another one (e.g. "the source of X y")."""
    needless: Callable[[Obj], bool] = lambda _obj: False
    """True when the controller acts anyway (so no patch is sent; ``handled`` is still waited for)."""


@dataclass(frozen=True)
class ReconcilePlan:
    steps: tuple[ReconcileStep, ...]
    done_message: str = "the controller handled the request"
    controller: str = "the controller"
    """Named in "is <controller> running?" when the request was not confirmed."""
    sync_started: bool = False


# -- ownership -----------------------------------------------------------------------------------------------


class OwnerLink(ObjectRef):
    via: str = Field(description="How this owner was found (label, inventory, annotation, sourceRef, ...)")


OwnerStep = tuple[OwnerLink, Obj]
"""The owner's link and its live object (``{}`` when the link names an object that is missing)."""


class GitLocation(Model):
    url: str
    ref: dict[str, str] = Field(default_factory=dict, description="Flux spec.ref, or {'targetRevision': ...}")
    path: str = Field(description="Path in the repository the controller applies")
    applied_revision: str | None = None
    defining_kind: str = Field(description="Kind of the document to look for in that path")
    defining_name: str
    defining_namespace: str | None = None
    value_files: list[str] = Field(default_factory=list)
    note: str | None = Field(None, description="How the document reaches the cluster when not from the path")


@dataclass(frozen=True)
class ChartRelease:
    """Where an engine's object that installs a Helm chart release keeps its chart version and values
    (``Provider.chart_releases``): what ``promote`` carries between environments."""

    version: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class RemediationRoute:
    """Where a change to a managed object is made in Git (``Provider.remediation_route``)."""

    refusal: str | None = None
    """Why no change may be made through Git (the object's file would be overwritten), or None."""
    chart_values: bool = False
    """The owner renders a Helm chart found at its Git path: values go into the chart's values file."""
    values_kind: str | None = None
    """Kind of the owner's document whose :attr:`values_path` holds the chart values (a change
    there, not in the rendered object); None when the object's own document is changed."""
    values_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Removal:
    """What deleting one of a provider's objects does to what it manages (``Provider.removal``)."""

    managed: tuple[ObjectRef, ...] = ()
    """What the object applied (its inventory): deleted with it when it prunes."""
    stays: tuple[str, ...] = ()
    """Why live objects would stay after its deletion, each saying what would remove them."""
    bootstrap: str | None = None
    """Why the object is a bootstrap's own (removed only when the caller says so), or None."""


FieldEdit = tuple[tuple[str, ...], Any]
"""A field path of a document and the value it is set to."""


@dataclass(frozen=True)
class Applier:
    """An object in the cluster that applies a directory of a Git repository (a Flux
    Kustomization with a GitRepository source, an Argo CD Application): a file committed under
    ``path`` of ``repo_url`` is applied when it reconciles."""

    ref: ObjectRef
    repo_url: str
    path: str  # repository-relative directory, '' for the root


class ClusterReader(Protocol):
    """Reads during an owner lookup (each one is counted)."""

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        """The object, or None when it does not exist."""
        ...

    def list(self, api_version: str, kind: str) -> list[Obj] | None:
        """All objects of the kind, or None when the cluster does not serve it."""
        ...


def repo_dir(path: object) -> str:
    """A controller's ``path`` as a repository-relative directory: ``./clusters/dev/`` -> ``clusters/dev``."""
    p = str(path or "").strip().strip("/")
    while p.startswith("./"):
        p = p[2:]
    return "" if p in ("", ".") else p


def _covers(applier_path: str, directory: str) -> bool:
    return applier_path == "" or directory == applier_path or directory.startswith(applier_path + "/")


def parent_of(
    appliers: Iterable[Applier], repo_url: str, output_path: str, own: set[tuple[str, str]]
) -> Applier | None:
    """The applier of ``repo_url`` whose path is the nearest ancestor of the output file's directory
    (not one of the generated objects, ``own``: (kind, name))."""

    repo, directory = url_identity(repo_url), posixpath.dirname(output_path)
    found = [
        a
        for a in appliers
        if url_identity(a.repo_url) == repo and _covers(a.path, directory) and (a.ref.kind, a.ref.name) not in own
    ]
    return max(found, key=lambda a: len(a.path), default=None)


APPLIES_NOTHING = "applies nothing from a path"
"""How :meth:`Provider.rendering` ends its answer for an object that is no applier (a source)."""
NO_NETWORK = "the build sandbox has no network"


@dataclass(frozen=True)
class Rendering:
    """How a provider's applier turns its Git path into what it applies (``Provider.rendering``):
    what to build, then what its controller adds to each object before a server-side apply."""

    plan: RenderPlan
    field_manager: str
    """The field manager its controller applies with."""
    finish: Callable[[Obj, bool], Obj] = lambda obj, namespaced: obj
    """One rendered object as the controller sends it (``namespaced``: whether its kind is);
    labels, annotations, a default namespace, substitutions."""
    notes: tuple[str, ...] = ()
    """What could not be taken into account (a Secret it may not read, ...)."""
    repo_url: str | None = None
    """The Git repository the plan's path is in (None: not a Git repository)."""
