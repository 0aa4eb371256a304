"""Normalised status of Flux and Argo CD objects (pure functions, no I/O).

Flux follows kstatus and ``flux``'s own readiness rules: not reconciled yet while
``observedGeneration`` < 1 or behind ``metadata.generation``; ``Stalled=True`` is a failure;
``Reconciling=True`` is progress; then ``Ready`` decides, and ``Ready=False`` with a reason that
is not a progress reason is a failure with the controller's message. Argo CD: a failed or
errored operation, ``Degraded`` health or an error condition is a failure; ``Synced`` +
``Healthy`` (and no running operation) is ready.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

State = Literal["ready", "progressing", "failed", "suspended", "not_found", "unknown"]
FLUX_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket", "Kustomization", "HelmRelease")
SUPPORTED_KINDS = (*FLUX_KINDS, "Application")
PROGRESS_REASONS = {"Progressing", "DependencyNotReady", "ReconciliationInProgress", "NewRevision"}
ARGO_ERROR_CONDITIONS = {"ComparisonError", "InvalidSpecError", "SyncError", "UnknownError", "DeletionError"}
_HEX = re.compile(r"^[0-9a-f]{7,64}$")


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class SyncStatus(BaseModel):
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


def commit_of(revision: str | None) -> str | None:
    """The commit (or digest) in a Flux/Argo revision: ``main@sha1:abc`` -> ``abc``; ``6.0.3+abc123`` -> ``abc123``."""
    if not revision:
        return None
    rev = revision.strip()
    if ":" in rev:
        rev = rev.rsplit(":", 1)[1]
    elif "+" in rev:
        rev = rev.rsplit("+", 1)[1]
    elif "/" in rev:  # Flux < 2.0: main/<sha>
        rev = rev.rsplit("/", 1)[1]
    return rev.lower() if _HEX.match(rev.lower()) else None


def revision_matches(revision: str | None, wanted: str) -> bool:
    """Does an applied revision correspond to ``wanted`` (a SHA, a short SHA, or a full revision string)?"""
    if not revision:
        return False
    if revision == wanted:
        return True
    commit, want = commit_of(revision), (commit_of(wanted) or wanted.strip()).lower()
    if commit is None or not _HEX.match(want):
        return False
    return commit.startswith(want) or want.startswith(commit)


def _conditions(obj: dict[str, Any]) -> list[Condition]:
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


def normalize(api_version: str, kind: str, name: str, namespace: str | None, obj: dict[str, Any] | None) -> SyncStatus:
    base: dict[str, Any] = {"api_version": api_version, "kind": kind, "name": name, "namespace": namespace}
    if obj is None:
        return SyncStatus(**base, state="not_found", message=f"{kind} {namespace}/{name} does not exist")
    if kind == "Application":
        return _argo(base, obj)
    return _flux(base, kind, obj)


def _flux(base: dict[str, Any], kind: str, obj: dict[str, Any]) -> SyncStatus:
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    gen = (obj.get("metadata") or {}).get("generation")
    og = status.get("observedGeneration", -1)
    conds = _conditions(obj)
    by_type = {c.type: c for c in conds}
    ready, stalled, reconciling = by_type.get("Ready"), by_type.get("Stalled"), by_type.get("Reconciling")
    origin = None
    if kind == "Kustomization":
        revision, attempted = status.get("lastAppliedRevision"), status.get("lastAttemptedRevision")
        origin = status.get("lastAppliedOriginRevision")
    elif kind == "HelmRelease":
        history = status.get("history") or []
        deployed = next((h for h in history if isinstance(h, dict) and h.get("status") == "deployed"), None)
        revision = deployed.get("chartVersion") if deployed else None
        attempted = status.get("lastAttemptedRevision")
    else:
        artifact = status.get("artifact") or {}
        revision = artifact.get("revision")
        attempted = revision
        origin = (artifact.get("metadata") or {}).get("org.opencontainers.image.revision")
    fields = {
        **base,
        "revision": revision,
        "origin_revision": origin if isinstance(origin, str) else None,
        "attempted_revision": attempted,
        "generation": gen,
        "observed_generation": og if og != -1 else None,
        "conditions": conds,
        "last_handled_reconcile_at": status.get("lastHandledReconcileAt"),
    }
    ready_msg = (ready.message if ready else None) or ""
    if obj.get("metadata", {}).get("deletionTimestamp"):
        return SyncStatus(**fields, state="progressing", message="being deleted")
    if spec.get("suspend") is True:
        return SyncStatus(
            **fields,
            state="suspended",
            suspended=True,
            message="suspended: Flux applies nothing until it is resumed"
            + (f" (last: {ready_msg})" if ready_msg else ""),
        )
    if stalled is not None and stalled.status == "True":
        return SyncStatus(**fields, state="failed", message=stalled.message or ready_msg or "stalled")
    if og is None or og < 1:
        return SyncStatus(**fields, state="progressing", message="not reconciled yet")
    ready_gen = next(
        (
            c.get("observedGeneration")
            for c in status.get("conditions") or []
            if isinstance(c, dict) and c.get("type") == "Ready"
        ),
        None,
    )
    observed = ready_gen if ready_gen not in (None, 0) else og
    if gen is not None and observed != gen:
        return SyncStatus(
            **fields, state="progressing", message=f"generation {gen} not observed yet (observed {observed})"
        )
    if ready is None:
        return SyncStatus(**fields, state="progressing", message="no Ready condition yet")
    if ready.status == "True":
        return SyncStatus(**fields, state="ready", message=ready_msg or "ready")
    if ready.status == "False" and (ready.reason or "") not in PROGRESS_REASONS:
        return SyncStatus(**fields, state="failed", message=ready_msg or ready.reason or "not ready")
    if reconciling is not None and reconciling.status == "True":
        return SyncStatus(**fields, state="progressing", message=reconciling.message or ready_msg or "reconciling")
    return SyncStatus(**fields, state="progressing", message=ready_msg or "reconciling")


def _argo(base: dict[str, Any], obj: dict[str, Any]) -> SyncStatus:
    status = obj.get("status") or {}
    sync = status.get("sync") or {}
    health = status.get("health") or {}
    op = status.get("operationState") or {}
    revs = sync.get("revisions") or []
    revision = sync.get("revision") or (revs[0] if revs else None)
    result = op.get("syncResult") or {}
    attempted = result.get("revision") or ((op.get("operation") or {}).get("sync") or {}).get("revision")
    conds = [
        Condition(type=str(c.get("type")), status="True", message=c.get("message"))
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    ]
    fields = {
        **base,
        "revision": revision,
        "attempted_revision": attempted or revision,
        "conditions": conds,
        "sync_status": sync.get("status"),
        "health_status": health.get("status"),
        "operation_phase": op.get("phase"),
        "generation": (obj.get("metadata") or {}).get("generation"),
    }
    errors = [c for c in conds if c.type in ARGO_ERROR_CONDITIONS]
    phase, hstatus, sstatus = op.get("phase"), health.get("status"), sync.get("status")
    if phase in ("Failed", "Error"):
        return SyncStatus(**fields, state="failed", message=op.get("message") or f"sync operation {phase}")
    if errors:
        return SyncStatus(**fields, state="failed", message="; ".join(f"{c.type}: {c.message}" for c in errors))
    if hstatus == "Degraded":
        msg = health.get("message") or next(
            (
                r.get("health", {}).get("message")
                for r in status.get("resources") or []
                if (r.get("health") or {}).get("status") == "Degraded"
            ),
            None,
        )
        return SyncStatus(**fields, state="failed", message=msg or "an application resource is Degraded")
    if phase in ("Running", "Terminating") or obj.get("operation"):
        return SyncStatus(**fields, state="progressing", message=op.get("message") or "sync operation running")
    if hstatus == "Suspended":
        return SyncStatus(**fields, state="suspended", suspended=True, message="an application resource is suspended")
    if sstatus == "Synced" and hstatus == "Healthy":
        return SyncStatus(**fields, state="ready", message=op.get("message") or "synced and healthy")
    if not status:
        return SyncStatus(**fields, state="unknown", message="Argo CD has not reported any status yet")
    return SyncStatus(
        **fields, state="progressing", message=f"sync {sstatus or 'Unknown'}, health {hstatus or 'Unknown'}"
    )
