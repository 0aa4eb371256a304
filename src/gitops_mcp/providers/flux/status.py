"""The Flux kinds as served, and their normalised status (pure, no I/O).

Flux follows kstatus and ``flux``'s own readiness rules: not reconciled yet while the Ready
condition's ``observedGeneration`` (else the status') is < 1 or behind ``metadata.generation``;
``Stalled=True`` is a failure; then ``Ready`` decides, and ``Ready=False`` with a reason that is not
a progress reason (nor a wait for the source's artifact) is a failure with the controller's message;
otherwise ``Reconciling=True`` is progress.
"""

from __future__ import annotations

from typing import Any

from gitops_mcp.providers.flux.objects import HELM_API, KUSTOMIZE_API, SOURCE_API
from gitops_mcp.providers.live import KindInfo, Managed, Obj, ObjectRef, SyncStatus, api_group, status_conditions

KINDS = (
    KindInfo("GitRepository", SOURCE_API, "gitrepositories", owner_root=True),
    KindInfo("OCIRepository", SOURCE_API, "ocirepositories", owner_root=True),
    KindInfo("HelmRepository", SOURCE_API, "helmrepositories"),
    KindInfo("HelmChart", SOURCE_API, "helmcharts"),
    KindInfo("Bucket", SOURCE_API, "buckets", owner_root=True),
    KindInfo("Kustomization", KUSTOMIZE_API, "kustomizations"),
    KindInfo("HelmRelease", HELM_API, "helmreleases"),
)
API_VERSIONS = {k.kind: k.api_version for k in KINDS}
APPLIERS = ("Kustomization", "HelmRelease")
"""The kinds that apply manifests from a source (and label what they apply)."""
PROGRESS_REASONS = {"Progressing", "DependencyNotReady", "ReconciliationInProgress", "NewRevision"}


def _waits_for_source(ready: Any) -> bool:
    """kustomize-controller's "Source artifact not found, retrying in 30s" (reason ArtifactFailed): its
    source has no artifact yet, and it reconciles again as soon as it has. On the real controllers this
    is what a new Kustomization says first when it is quicker than its GitRepository, and what it keeps
    saying while the source fails (e.g. a private repository without credentials): the status names the
    source (``waits_for``) so that a wait reports the source's own failure."""
    return ready.reason == "ArtifactFailed" and (ready.message or "").startswith("Source artifact not found")


def manages_api_group(group: str) -> bool:
    return group.endswith(".toolkit.fluxcd.io")


def is_applier(obj: Obj) -> bool:
    """A Flux Kustomization or HelmRelease (not e.g. a kustomize.config.k8s.io Kustomization)."""
    return obj.get("kind") in APPLIERS and api_group(str(obj.get("apiVersion"))).endswith("fluxcd.io")


def source_ref(obj: Obj) -> ObjectRef | None:
    """The source a Kustomization or HelmRelease reads (sourceRef, chartRef or the chart's sourceRef)."""
    spec = obj.get("spec") or {}
    ref = (
        spec.get("sourceRef") or spec.get("chartRef") or ((spec.get("chart") or {}).get("spec") or {}).get("sourceRef")
    )
    if not isinstance(ref, dict) or ref.get("kind") not in API_VERSIONS:
        return None
    kind = str(ref["kind"])
    namespace = ref.get("namespace") or (obj.get("metadata") or {}).get("namespace")
    return ObjectRef(api_version=API_VERSIONS[kind], kind=kind, name=str(ref["name"]), namespace=namespace)


def _revisions(kind: str, status: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(applied, attempted, origin) revisions as each kind reports them."""
    if kind == "Kustomization":
        return (
            status.get("lastAppliedRevision"),
            status.get("lastAttemptedRevision"),
            status.get("lastAppliedOriginRevision"),
        )
    if kind == "HelmRelease":
        history = status.get("history") or []
        deployed = next((h for h in history if isinstance(h, dict) and h.get("status") == "deployed"), None)
        return (deployed.get("chartVersion") if deployed else None), status.get("lastAttemptedRevision"), None
    artifact = status.get("artifact") or {}
    revision = artifact.get("revision")
    return revision, revision, (artifact.get("metadata") or {}).get("org.opencontainers.image.revision")


def normalize_status(ref: ObjectRef, obj: Obj) -> SyncStatus:
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    gen = (obj.get("metadata") or {}).get("generation")
    og = status.get("observedGeneration", -1)
    conds = status_conditions(obj)
    by_type = {c.type: c for c in conds}
    ready, stalled, reconciling = by_type.get("Ready"), by_type.get("Stalled"), by_type.get("Reconciling")
    revision, attempted, origin = _revisions(ref.kind, status)
    fields = {
        **ref.model_dump(),
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
    ready_gen = next(
        (
            c.get("observedGeneration")
            for c in status.get("conditions") or []
            if isinstance(c, dict) and c.get("type") == "Ready"
        ),
        None,
    )
    # A first reconcile that failed leaves status.observedGeneration at -1 (the real controllers
    # record it on success only) while its Ready condition carries the generation it judged.
    observed = ready_gen if ready_gen not in (None, 0) else og
    if not isinstance(observed, int) or observed < 1:
        return SyncStatus(**fields, state="progressing", message="not reconciled yet")
    if gen is not None and observed != gen:
        return SyncStatus(
            **fields, state="progressing", message=f"generation {gen} not observed yet (observed {observed})"
        )
    if ready is None:
        return SyncStatus(**fields, state="progressing", message="no Ready condition yet")
    if ready.status == "True":
        return SyncStatus(**fields, state="ready", message=ready_msg or "ready")
    if ready.status == "False" and (ready.reason or "") not in PROGRESS_REASONS and not _waits_for_source(ready):
        return SyncStatus(**fields, state="failed", message=ready_msg or ready.reason or "not ready")
    waits_for = source_ref(obj) if ready.status == "False" and _waits_for_source(ready) else None
    if reconciling is not None and reconciling.status == "True":
        message = reconciling.message or ready_msg or "reconciling"
        return SyncStatus(**fields, state="progressing", message=message).waiting_on(waits_for)
    return SyncStatus(**fields, state="progressing", message=ready_msg or "reconciling").waiting_on(waits_for)


def managed_objects(ref: ObjectRef, obj: Obj) -> list[Managed] | None:
    """A Kustomization's or HelmRelease's ``status.inventory``: entries ``{id: <namespace>_<name>_<group>_<kind>,
    v: <version>}`` (``:`` in a name written ``__``); Flux keeps no health per entry. Sources: None."""
    if ref.kind not in APPLIERS:
        return None
    out = []
    entries = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
    for e in entries:
        parts = str((e or {}).get("id") or "").split("_") if isinstance(e, dict) else []
        if len(parts) < 4:
            continue
        ns, name, group, kind = parts[0], "_".join(parts[1:-2]).replace("__", ":"), parts[-2], parts[-1]
        version = str(e.get("v") or "v1")
        api_version = f"{group}/{version}" if group else version
        out.append(Managed(ObjectRef(api_version=api_version, kind=kind, name=name, namespace=ns or None)))
    return out
