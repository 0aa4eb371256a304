"""The Argo CD kinds as served, and the normalised status of an Application (pure, no I/O).

A failed or errored operation (or one waiting to retry a failed attempt), ``Degraded`` health or an
error condition is a failure;
``Synced`` + ``Healthy`` (and no running operation) is ready.
"""

from __future__ import annotations

import re
from typing import Any

from gitops_mcp.providers.argocd.objects import API_VERSION
from gitops_mcp.providers.live import Condition, KindInfo, Managed, Obj, ObjectRef, SyncStatus

GROUP = "argoproj.io"
KINDS = (
    KindInfo("Application", API_VERSION, "applications"),
    KindInfo("ApplicationSet", API_VERSION, "applicationsets", status=False, owner_root=True),
)
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
ERROR_CONDITIONS = {"ComparisonError", "InvalidSpecError", "SyncError", "UnknownError", "DeletionError"}


def manages_api_group(group: str) -> bool:
    return group == GROUP


def normalize_status(ref: ObjectRef, obj: Obj) -> SyncStatus:
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
    fields: dict[str, Any] = {
        "api_version": ref.api_version,
        "kind": ref.kind,
        "name": ref.name,
        "namespace": ref.namespace,
        "revision": revision,
        "attempted_revision": attempted or revision,
        "conditions": conds,
        "sync_status": sync.get("status"),
        "health_status": health.get("status"),
        "operation_phase": op.get("phase"),
        "generation": (obj.get("metadata") or {}).get("generation"),
    }
    errors = [c for c in conds if c.type in ERROR_CONDITIONS]
    phase, hstatus, sstatus = op.get("phase"), health.get("status"), sync.get("status")
    # An automated sync retries (limit 5 by default): after a failed attempt the phase stays Running, with
    # retryCount, finishedAt and "<why>. Retrying attempt #N at <time>." as its message.
    retrying = phase == "Running" and op.get("retryCount") and op.get("finishedAt")
    if phase in ("Failed", "Error") or retrying:
        return SyncStatus(**fields, state="failed", message=op.get("message") or f"sync operation {phase}")
    if errors:
        if not _SHA.match(str(revision or "")):
            # Argo CD could not render its target at all (e.g. "app path does not exist"): sync.revision is the
            # unresolved targetRevision, so no commit is named; it only tries again on a refresh or a spec change.
            fields["conditions"] = [*conds, Condition(type="Stalled", status="True", reason=errors[0].type)]
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


def managed_objects(ref: ObjectRef, obj: Obj) -> list[Managed] | None:
    """An Application's ``status.resources``, with the health Argo CD assessed for each (none for
    kinds it has no health check for); an ApplicationSet applies nothing itself."""
    if ref.kind != "Application":
        return None
    out = []
    for r in (obj.get("status") or {}).get("resources") or []:
        if not isinstance(r, dict) or not r.get("kind") or not r.get("name"):
            continue
        group, version = str(r.get("group") or ""), str(r.get("version") or "v1")
        health: dict[str, Any] = r["health"] if isinstance(r.get("health"), dict) else {}
        out.append(
            Managed(
                ObjectRef(
                    api_version=f"{group}/{version}" if group else version,
                    kind=str(r["kind"]),
                    name=str(r["name"]),
                    namespace=r.get("namespace") or None,
                ),
                health=health.get("status"),
                message=health.get("message"),
            )
        )
    return out
