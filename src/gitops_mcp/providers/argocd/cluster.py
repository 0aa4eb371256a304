"""The live side of the Argo CD provider: kinds, status, reconcile requests and ownership.

A reconcile request sets ``argocd.argoproj.io/refresh: normal`` (the application controller
removes it once it compared again) and, to sync, an ``operation`` (removed when it finished);
a sync is refused while another operation runs.
"""

from __future__ import annotations

from gitops_mcp.errors import UserInputError
from gitops_mcp.providers.argocd import appliers, owner, status
from gitops_mcp.providers.live import (
    KindInfo,
    Obj,
    ObjectRef,
    ReconcilePlan,
    ReconcileStep,
)

REFRESH = "argocd.argoproj.io/refresh"


def reconcile_plan(ref: ObjectRef, obj: Obj, token: str, *, with_source: bool, sync: bool) -> ReconcilePlan:
    """``with_source`` changes nothing: an Application refresh reads the repository anyway."""
    patch: Obj = {"metadata": {"annotations": {REFRESH: "normal"}}}
    if sync:
        phase = ((obj.get("status") or {}).get("operationState") or {}).get("phase")
        if obj.get("operation") or phase == "Running":
            raise UserInputError(
                f"{ref.kind} {ref.namespace}/{ref.name} already has a sync operation running; wait for it"
            )
        patch["operation"] = {"initiatedBy": {"username": "gitops-mcp"}, "sync": {"prune": False}}

    def handled(o: Obj) -> bool:
        return REFRESH not in ((o.get("metadata") or {}).get("annotations") or {}) and not (sync and o.get("operation"))

    return ReconcilePlan(
        steps=(ReconcileStep(target=ref, patch=patch, handled=handled),),
        done_message="refreshed" + (" and synced" if sync else ""),
        controller="Argo CD",
        sync_started=sync,
    )


class ArgoCDCluster:
    """The Provider methods for live objects (mixed into :class:`~gitops_mcp.providers.argocd.ArgoCDProvider`)."""

    kinds: tuple[KindInfo, ...] = status.KINDS
    manages_api_group = staticmethod(status.manages_api_group)
    normalize_status = staticmethod(status.normalize_status)
    reconcile_plan = staticmethod(reconcile_plan)
    owner_of = staticmethod(owner.owner_of)
    verify_kinds: tuple[str, ...] = appliers.VERIFY_KINDS
    root_kinds: tuple[str, ...] = appliers.ROOT_KINDS
    appliers = staticmethod(appliers.appliers)
    git_location = staticmethod(owner.git_location)
