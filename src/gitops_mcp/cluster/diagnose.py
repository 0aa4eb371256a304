"""Why a GitOps object is not healthy: what a person would look at next, bounded in size.

The object's recent Events and, when it is not ready, the objects it applied that are not healthy
(as its provider lists them: ``Provider.managed_objects``), each with its own conditions (a
Deployment's ``ProgressDeadlineExceeded``, a Job's ``BackoffLimitExceeded``) and Warning Events.
Whether a managed object is healthy is decided here, engine-neutrally (the kstatus conventions and
the built-in workload kinds), unless its engine reports a health for it; a managed object of a
registered provider's kind (a HelmRelease a Kustomization applied) is judged by that provider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops_mcp.cluster.client import KubeClient, Obj
from gitops_mcp.errors import ClusterError
from gitops_mcp.providers.base import Provider
from gitops_mcp.providers.live import (
    Condition,
    Diagnosis,
    EventNote,
    Managed,
    ManagedIssue,
    ObjectRef,
    SyncStatus,
    status_conditions,
)
from gitops_mcp.providers.registry import ProviderRegistry

EVENTS = 5
"""Events of the object itself."""
ISSUES = 5
"""Unhealthy managed objects described."""
READS = 40
"""Managed objects read, at most, to find them."""
ISSUE_EVENTS = 3
ISSUE_CONDITIONS = 3
TEXT = 300
"""Characters of a message kept."""

# Kinds read to judge their health (others, e.g. ConfigMaps, Secrets and RBAC, have none to judge).
WORKLOADS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("", "Pod"),
        ("", "PersistentVolumeClaim"),
    }
)
_HEALTHY = {"Healthy", None}
_BAD_WAITING = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
}
_RANK = {"failed": 0, "missing": 1, "unknown": 2, "progressing": 3}


def _cut(text: object) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= TEXT else s[: TEXT - 1] + "…"


def _when(ev: Obj) -> str:
    series = ev.get("series") or {}
    return str(
        series.get("lastObservedTime")
        or ev.get("lastTimestamp")
        or ev.get("eventTime")
        or (ev.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _note(ev: Obj) -> EventNote:
    source = ev.get("reportingComponent") or (ev.get("source") or {}).get("component")
    count = (ev.get("series") or {}).get("count") or ev.get("count")
    return EventNote(
        type=str(ev.get("type") or "Normal"),
        reason=str(ev.get("reason") or ""),
        message=_cut(ev.get("message")),
        count=int(count) if isinstance(count, int) else None,
        last_seen=_when(ev) or None,
        source=str(source) if source else None,
    )


def events_of(kube: KubeClient, ref: ObjectRef, uid: str | None, limit: int, warnings_only: bool = False) -> list[Obj]:
    """The newest ``limit`` Events about ``ref`` (core/v1: every recorder's Events are there),
    newest first. Raises ClusterError (e.g. 403 without get/list on events)."""
    sel = [f"involvedObject.kind={ref.kind}", f"involvedObject.name={ref.name}"]
    if uid:
        sel.append(f"involvedObject.uid={uid}")
    if warnings_only:
        sel.append("type=Warning")
    items, _ = kube.list("v1", "Event", ref.namespace, field_selector=",".join(sel))
    return sorted(items, key=_order, reverse=True)[:limit]


def _order(ev: Obj) -> tuple[str, int]:
    """Newest last: by time (whole seconds in most recorders), then by the last write."""
    rv = str((ev.get("metadata") or {}).get("resourceVersion") or "")
    return _when(ev), int(rv) if rv.isdigit() else 0


def _bad_conditions(obj: Obj) -> list[Condition]:
    """Conditions that say something is wrong: ``Ready``/``Available``/``Progressing``/... False,
    ``Stalled``/``Failed``/``ReplicaFailure`` True (the kstatus polarity)."""
    bad = []
    for c in status_conditions(obj):
        negative = c.type in ("Stalled", "Failed", "ReplicaFailure", "Reconciling") or c.type.endswith("Failure")
        if (negative and c.status == "True") or (not negative and c.status == "False"):
            bad.append(c.model_copy(update={"message": _cut(c.message) or None}))
    return bad[:ISSUE_CONDITIONS]


def _replicas(status: dict[str, Any], want: object, have_key: str, what: str) -> str | None:
    want_n = want if isinstance(want, int) else 1
    have = status.get(have_key) or 0
    return f"{have}/{want_n} replicas {what}" if have < want_n else None


def _generation_behind(obj: Obj) -> bool:
    gen = (obj.get("metadata") or {}).get("generation")
    og = (obj.get("status") or {}).get("observedGeneration")
    return isinstance(gen, int) and isinstance(og, int) and og < gen


def judge(obj: Obj) -> tuple[str, str] | None:
    """(state, why) for a live object that is not healthy; None when it is."""
    kind, status, spec = obj.get("kind"), obj.get("status") or {}, obj.get("spec") or {}
    conds = {c.type: c for c in status_conditions(obj)}

    def said(c: Condition) -> str:
        return f"{c.type}={c.status} {c.reason or ''}: {c.message or ''}".replace(" :", ":").strip(": ")

    if kind == "Pod":
        for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in _BAD_WAITING:
                return "failed", f"container {cs.get('name')}: {waiting['reason']}: {waiting.get('message') or ''}"
        if status.get("phase") == "Failed":
            return "failed", f"pod failed: {status.get('reason') or ''} {status.get('message') or ''}".strip()
        if status.get("phase") == "Succeeded":
            return None
        ready = conds.get("Ready")
        if ready is None:
            return "progressing", f"pod {status.get('phase') or 'Pending'}"
        return ("progressing", said(ready)) if ready.status != "True" else None
    if kind == "Job":
        failed = conds.get("Failed")
        if failed is not None and failed.status == "True":
            return "failed", said(failed)
        return None
    if kind == "PersistentVolumeClaim":
        phase = status.get("phase")
        return None if phase == "Bound" else ("failed" if phase == "Lost" else "progressing", f"phase {phase}")
    progressing, failure = conds.get("Progressing"), conds.get("ReplicaFailure")
    if progressing is not None and progressing.status == "False":
        return "failed", said(progressing)  # e.g. ProgressDeadlineExceeded
    if failure is not None and failure.status == "True":
        return "failed", said(failure)
    bad = _bad_conditions(obj)
    if any(c.type in ("Ready", "Stalled") for c in bad):
        return "failed", said(next(c for c in bad if c.type in ("Ready", "Stalled")))
    if _generation_behind(obj):
        return "progressing", "the controller has not observed the latest generation yet"
    behind = None
    if kind == "Deployment":
        behind = _replicas(status, spec.get("replicas"), "updatedReplicas", "updated") or _replicas(
            status, spec.get("replicas"), "availableReplicas", "available"
        )
    elif kind in ("StatefulSet", "ReplicaSet"):
        behind = _replicas(status, spec.get("replicas"), "readyReplicas", "ready")
    elif kind == "DaemonSet":
        behind = _replicas(status, status.get("desiredNumberScheduled", 0), "numberReady", "ready")
    if behind:
        return "progressing", behind
    if not bad:
        return None
    return ("progressing" if bad[0].type == "Reconciling" else "failed"), said(bad[0])


class _Diagnoser:
    def __init__(self, kube: KubeClient, registry: ProviderRegistry) -> None:
        self.kube, self.registry = kube, registry
        self.notes: list[str] = []
        self.uids: dict[tuple[str, str, str | None], str | None] = {}

    def guarded(self, what: str, fn: Callable[[], Any], default: Any) -> Any:
        try:
            return fn()
        except ClusterError as exc:
            note = f"{what}: {exc}"
            if note not in self.notes:
                self.notes.append(_cut(note))
            return default

    def issue(self, m: Managed) -> ManagedIssue | None:
        ref = m.ref
        base = {"api_version": ref.api_version, "kind": ref.kind, "name": ref.name, "namespace": ref.namespace}
        if m.health == "Missing":
            return ManagedIssue(**base, state="missing", message=_cut(m.message) or "it does not exist")
        obj = self.guarded(f"read {ref.kind} {ref.name}", lambda: self.kube.get(*_key(ref)), False)
        if obj is False:
            return None
        if obj is None:
            return ManagedIssue(**base, state="missing", message="it does not exist")
        found = self.registry.kind_of(ref.api_version, ref.kind)
        verdict: tuple[str, str] | None
        if found is not None and found[1].status:
            st = found[0].normalize_status(ref, obj)
            verdict = None if st.state in ("ready", "suspended") else (st.state, st.message)
        else:
            verdict = judge(obj)
        if verdict is None and m.health not in _HEALTHY:
            verdict = ("progressing" if m.health == "Progressing" else "failed", m.message or f"health {m.health}")
        if verdict is None:
            return None
        state, why = verdict
        self.uids[(ref.kind, ref.name, ref.namespace)] = (obj.get("metadata") or {}).get("uid")
        return ManagedIssue(
            **base,
            state=state if state in _RANK else "unknown",
            message=_cut(why),
            conditions=_bad_conditions(obj),
        )

    def with_events(self, issue: ManagedIssue) -> ManagedIssue:
        """``issue`` with the recent Warning Events of its object (one list request)."""
        uid = self.uids.get((issue.kind, issue.name, issue.namespace))
        if uid is None:
            return issue
        ref = ObjectRef(api_version=issue.api_version, kind=issue.kind, name=issue.name, namespace=issue.namespace)
        evs = self.guarded("events", lambda: events_of(self.kube, ref, uid, ISSUE_EVENTS, warnings_only=True), [])
        issue.events = [_note(e) for e in evs]
        return issue


def _key(ref: ObjectRef) -> tuple[str, str, str, str | None]:
    return ref.api_version, ref.kind, ref.name, ref.namespace


def _worth_reading(m: Managed, registry: ProviderRegistry) -> bool:
    """Whether reading the object may show why it is not healthy: its engine says it is not, or
    (no health kept) a workload kind or a GitOps kind with a status."""
    if m.health is not None:
        return m.health not in _HEALTHY
    group = m.ref.api_version.rsplit("/", 1)[0] if "/" in m.ref.api_version else ""
    found = registry.kind_of(m.ref.api_version, m.ref.kind)
    return (group, m.ref.kind) in WORKLOADS or (found is not None and found[1].status)


def diagnose(
    kube: KubeClient,
    provider: Provider,
    ref: ObjectRef,
    obj: Obj | None,
    status: SyncStatus,
    registry: ProviderRegistry,
) -> Diagnosis | None:
    """What to look at next about ``obj`` (None when it does not exist): its Events and, unless it
    is ready or suspended, the unhealthy objects it manages."""
    if obj is None:
        return None
    d = _Diagnoser(kube, registry)
    uid = (obj.get("metadata") or {}).get("uid")
    events = d.guarded("events", lambda: events_of(kube, ref, uid, EVENTS), [])
    out = Diagnosis(events=[_note(e) for e in events])
    if status.state not in ("ready", "suspended"):
        # a partial provider (status, reconcile and wait only) that lists nothing it manages: Events only
        lister = getattr(provider, "managed_objects", None)
        listed = lister(ref, obj) if lister is not None else None
        managed = [m for m in listed or [] if _worth_reading(m, registry)]
        issues = []
        for m in managed[:READS]:
            found = d.issue(m)
            if found is not None:
                issues.append(found)
        issues.sort(key=lambda i: _RANK[i.state])
        out.unhealthy = [d.with_events(i) for i in issues[:ISSUES]]
        out.more = len(issues) - len(out.unhealthy)
        out.checked = min(len(managed), READS)
        if len(managed) > READS:
            d.notes.append(f"{len(managed) - READS} more managed objects not read")
    out.notes = d.notes
    return out
