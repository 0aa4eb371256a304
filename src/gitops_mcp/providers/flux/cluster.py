"""The live side of the Flux provider: kinds, status, reconcile requests and ownership.

A reconcile request is what ``flux reconcile`` does: refuse a suspended object, merge-patch the
annotation ``reconcile.fluxcd.io/requestedAt: <token>`` (source first with ``with_source``),
and take ``status.lastHandledReconcileAt == token`` as the controller's confirmation (for the applier
also: it applied the new revision the source stored for this request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gitops_mcp.errors import UserInputError
from gitops_mcp.providers.flux import appliers, lifecycle, owner, status
from gitops_mcp.providers.flux.status import normalize_status as normalize
from gitops_mcp.providers.live import (
    ChartRelease,
    GitLocation,
    KindInfo,
    Obj,
    ObjectRef,
    OwnerLink,
    ReconcilePlan,
    ReconcileStep,
    RemediationRoute,
)

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
CHART_RELEASES: Mapping[str, ChartRelease] = {
    "HelmRelease": ChartRelease(version=("spec", "chart", "spec", "version"), values=("spec", "values"))
}


def _suspended(obj: Obj) -> bool:
    return (obj.get("spec") or {}).get("suspend") is True


def reconcile_plan(ref: ObjectRef, obj: Obj, token: str, *, with_source: bool, sync: bool) -> ReconcilePlan:
    """``sync`` changes nothing: applying is what a Flux reconcile does."""
    if _suspended(obj):
        raise UserInputError(
            f"{ref.kind} {ref.namespace}/{ref.name} is suspended; resume it (flux resume) before reconciling"
        )

    def handled(o: Obj) -> bool:
        return (o.get("status") or {}).get("lastHandledReconcileAt") == token

    # With the source first: when the source stores a new revision, the applier reconciles on its own
    # (it watches its source), so it is not annotated (that would make it reconcile a second time,
    # seen on the testbed: ~0.5 s more per push) and applying that revision is its confirmation.
    before = (obj.get("status") or {}).get("lastAppliedRevision")
    fetched: dict[str, str] = {}

    def source_handled(o: Obj) -> bool:
        if not handled(o):
            return False
        rev = ((o.get("status") or {}).get("artifact") or {}).get("revision")
        if isinstance(rev, str):
            fetched["revision"] = rev
        return True

    def applier_handled(o: Obj) -> bool:
        new = fetched.get("revision")
        st = o.get("status") or {}
        applied_new = (
            new is not None
            and new != before
            and st.get("lastAppliedRevision") == new
            and normalize(ref, o).state == "ready"
        )
        return handled(o) or applied_new

    def note_source(o: Obj) -> bool:  # the source as read before its patch
        fetched["before"] = ((o.get("status") or {}).get("artifact") or {}).get("revision") or ""
        return False

    def applier_acts_anyway(o: Obj) -> bool:  # the applier as read after the source's step
        new = fetched.get("revision")
        attempted = (o.get("status") or {}).get("lastAttemptedRevision")
        return ref.kind == "Kustomization" and new is not None and new not in (fetched.get("before"), attempted)

    def step(t: ObjectRef) -> ReconcileStep:
        def refusal(o: Obj) -> str | None:
            return (
                f"{t.kind} {t.namespace}/{t.name} is suspended; resume it before reconciling" if _suspended(o) else None
            )

        return ReconcileStep(
            target=t,
            patch={"metadata": {"annotations": {REQUESTED_AT: token}}},
            handled=applier_handled if t == ref else source_handled,
            needless=applier_acts_anyway if t == ref else note_source,
            refusal=refusal,
            role=None if t == ref else f"the source of {ref.kind} {ref.name}",
        )

    src = status.source_ref(obj) if with_source and ref.kind in status.APPLIERS else None
    return ReconcilePlan(steps=tuple(step(t) for t in ([src] if src else []) + [ref]))


def applier_in(chain: Sequence[OwnerLink]) -> OwnerLink | None:
    """The Kustomization that applies the Git path."""
    return next((c for c in chain if c.kind == "Kustomization"), None)


def remediation_route(chain: Sequence[OwnerLink], git: GitLocation | None) -> RemediationRoute:
    """An object a HelmRelease defined in Git renders changes through the HelmRelease's values."""
    if chain and chain[0].kind == "HelmRelease" and git is not None and git.defining_kind == "HelmRelease":
        return RemediationRoute(values_kind="HelmRelease", values_path=CHART_RELEASES["HelmRelease"].values)
    return RemediationRoute()


class FluxCluster:
    """The Provider methods for live objects (mixed into :class:`~gitops_mcp.providers.flux.FluxProvider`)."""

    kinds: tuple[KindInfo, ...] = status.KINDS
    manages_api_group = staticmethod(status.manages_api_group)
    normalize_status = staticmethod(status.normalize_status)
    managed_objects = staticmethod(status.managed_objects)
    reconcile_plan = staticmethod(reconcile_plan)
    owner_of = staticmethod(owner.owner_of)
    verify_kinds: tuple[str, ...] = appliers.VERIFY_KINDS
    root_kinds: tuple[str, ...] = appliers.ROOT_KINDS
    appliers = staticmethod(appliers.appliers)
    git_location = staticmethod(owner.git_location)
    chart_releases = CHART_RELEASES
    applier_in = staticmethod(applier_in)
    remediation_route = staticmethod(remediation_route)
    prunes = staticmethod(lifecycle.prunes)
    removal = staticmethod(lifecycle.removal)
    suspension = staticmethod(lifecycle.suspension)
