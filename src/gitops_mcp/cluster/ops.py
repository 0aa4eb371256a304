"""Cluster operations: status, reconcile requests and waiting for a revision. Plain Python."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from gitops_mcp.cluster.client import API_VERSIONS, KubeClient, Obj
from gitops_mcp.cluster.status import FLUX_KINDS, SUPPORTED_KINDS, SyncStatus, normalize, revision_matches
from gitops_mcp.errors import ClusterError, UserInputError

Progress = Callable[[float, str], None]  # (elapsed seconds, message)
HEARTBEAT_S = 5.0
FLUX_REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
ARGO_REFRESH = "argocd.argoproj.io/refresh"


def api_version_for(kind: str) -> str:
    if kind not in SUPPORTED_KINDS:
        raise UserInputError(f"kind must be one of {', '.join(SUPPORTED_KINDS)} (got {kind!r})")
    return API_VERSIONS[kind]


def get_status(kube: KubeClient, kind: str, name: str, namespace: str) -> SyncStatus:
    api = api_version_for(kind)
    return normalize(api, kind, name, namespace, kube.get(api, kind, name, namespace))


class ReconcileResult(BaseModel):
    requested: list[str] = Field(description="Objects asked to reconcile, in order (Kind/namespace/name)")
    token: str = Field(description="Value written to the request annotation")
    handled: bool = Field(description="The controller confirmed it handled the request")
    sync_started: bool = False
    status: SyncStatus
    message: str


def _now_token() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _source_of(obj: Obj, namespace: str) -> tuple[str, str, str] | None:
    spec = obj.get("spec") or {}
    ref = (
        spec.get("sourceRef") or spec.get("chartRef") or ((spec.get("chart") or {}).get("spec") or {}).get("sourceRef")
    )
    if not isinstance(ref, dict) or ref.get("kind") not in FLUX_KINDS:
        return None
    return str(ref["kind"]), str(ref["name"]), str(ref.get("namespace") or namespace)


def reconcile(
    kube: KubeClient,
    kind: str,
    name: str,
    namespace: str,
    with_source: bool = True,
    sync: bool = False,
    confirm_timeout_s: float = 30.0,
) -> ReconcileResult:
    """Ask the controller to act now (Flux requestedAt, source first; Argo CD refresh, optional sync)."""
    api = api_version_for(kind)
    obj = kube.get(api, kind, name, namespace)
    if obj is None:
        raise ClusterError(f"{kind} {namespace}/{name} does not exist", 404)
    token = _now_token()
    requested: list[str] = []
    if kind == "Application":
        return _argo_reconcile(kube, name, namespace, obj, sync, token, confirm_timeout_s)
    if (obj.get("spec") or {}).get("suspend") is True:
        raise UserInputError(f"{kind} {namespace}/{name} is suspended; resume it (flux resume) before reconciling")
    targets = []
    if with_source and kind in ("Kustomization", "HelmRelease"):
        src = _source_of(obj, namespace)
        if src is not None and src[0] in API_VERSIONS:
            targets.append(src)
    targets.append((kind, name, namespace))
    handled = True
    for t_kind, t_name, t_ns in targets:
        t_api = API_VERSIONS[t_kind]
        current = kube.get(t_api, t_kind, t_name, t_ns)
        if current is None:
            raise ClusterError(f"{t_kind} {t_ns}/{t_name} (the source of {kind} {name}) does not exist", 404)
        if (current.get("spec") or {}).get("suspend") is True:
            raise UserInputError(f"{t_kind} {t_ns}/{t_name} is suspended; resume it before reconciling")
        kube.patch_merge(t_api, t_kind, t_name, t_ns, {"metadata": {"annotations": {FLUX_REQUESTED_AT: token}}})
        requested.append(f"{t_kind}/{t_ns}/{t_name}")
        done = _wait_for(
            kube,
            t_api,
            t_kind,
            t_name,
            t_ns,
            confirm_timeout_s,
            lambda o: (o.get("status") or {}).get("lastHandledReconcileAt") == token,
        )
        handled = handled and done is not None
    status = get_status(kube, kind, name, namespace)
    msg = (
        "the controller handled the request"
        if handled
        else (f"requested; not confirmed within {confirm_timeout_s:.0f} s (is the controller running?)")
    )
    return ReconcileResult(requested=requested, token=token, handled=handled, status=status, message=msg)


def _argo_reconcile(
    kube: KubeClient, name: str, namespace: str, obj: Obj, sync: bool, token: str, timeout_s: float
) -> ReconcileResult:
    api = API_VERSIONS["Application"]
    started = False
    if sync:
        status = obj.get("status") or {}
        phase = (status.get("operationState") or {}).get("phase")
        if obj.get("operation") or phase == "Running":
            raise UserInputError(f"Application {namespace}/{name} already has a sync operation running; wait for it")
        kube.patch_merge(
            api,
            "Application",
            name,
            namespace,
            {
                "metadata": {"annotations": {ARGO_REFRESH: "normal"}},
                "operation": {"initiatedBy": {"username": "gitops-mcp"}, "sync": {"prune": False}},
            },
        )
        started = True
    else:
        kube.patch_merge(api, "Application", name, namespace, {"metadata": {"annotations": {ARGO_REFRESH: "normal"}}})
    done = _wait_for(
        kube,
        api,
        "Application",
        name,
        namespace,
        timeout_s,
        lambda o: (
            ARGO_REFRESH not in ((o.get("metadata") or {}).get("annotations") or {})
            and not (started and o.get("operation"))
        ),
    )
    st = get_status(kube, "Application", name, namespace)
    return ReconcileResult(
        requested=[f"Application/{namespace}/{name}"],
        token=token,
        handled=done is not None,
        sync_started=started,
        status=st,
        message="refreshed" + (" and synced" if started else "")
        if done is not None
        else f"requested; not confirmed within {timeout_s:.0f} s (is Argo CD running?)",
    )


def _wait_for(
    kube: KubeClient,
    api: str,
    kind: str,
    name: str,
    ns: str,
    timeout_s: float,
    pred: Callable[[Obj], bool],
) -> Obj | None:
    """Watch one object until ``pred`` holds; None on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        obj = kube.get(api, kind, name, ns)
        if obj is None:
            return None
        if pred(obj):
            return obj
        rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            for _type, ev in kube.watch(api, kind, name, ns, rv, min(remaining, HEARTBEAT_S)):
                if pred(ev):
                    return ev
                if time.monotonic() >= deadline:
                    return None
        except ClusterError as exc:
            if exc.status != 410:
                raise


class WaitResult(BaseModel):
    outcome: Literal["synced", "failed", "timeout", "not_found"]
    status: SyncStatus
    revision: str | None = Field(None, description="The revision waited for")
    waited_s: float
    message: str


def _verdict(st: SyncStatus, revision: str | None) -> tuple[str | None, str]:
    """('synced'|'failed'|None, message) for one observation."""
    if st.state == "not_found":
        return "not_found", st.message
    if st.state == "suspended":
        return "failed", st.message
    target_seen = (
        revision is None or revision_matches(st.attempted_revision, revision) or revision_matches(st.revision, revision)
    )
    if st.state == "failed" and target_seen:
        return "failed", st.message
    if st.state == "failed" and any(c.type == "Stalled" and c.status == "True" for c in st.conditions):
        return "failed", st.message
    if st.state == "ready" and (
        revision is None or revision_matches(st.revision, revision) or revision_matches(st.origin_revision, revision)
    ):
        built = f" (built from {st.origin_revision})" if st.origin_revision else ""
        return "synced", f"{st.kind} {st.namespace}/{st.name} applied {st.revision}{built} and is ready"
    if st.state == "ready":
        return None, f"ready at {st.revision}; waiting for {revision}"
    return None, st.message


def wait_for_sync(
    kube: KubeClient,
    kind: str,
    name: str,
    namespace: str,
    revision: str | None,
    timeout_s: float,
    progress: Progress | None = None,
) -> WaitResult:
    """Return when the object applied ``revision`` and is healthy, failed, or the timeout passed.

    Watches (re-opened every few seconds, so progress is reported at least that often, and
    resumed from the last resourceVersion; a 410 makes it read the object again).
    """
    api = api_version_for(kind)
    start = time.monotonic()
    deadline = start + timeout_s
    last: SyncStatus | None = None
    last_report = -HEARTBEAT_S

    def observe(obj: Obj | None) -> WaitResult | None:
        nonlocal last, last_report
        st = normalize(api, kind, name, namespace, obj)
        last = st
        verdict, msg = _verdict(st, revision)
        elapsed = time.monotonic() - start
        if progress is not None and (elapsed - last_report >= 1.0 or verdict is not None):
            progress(elapsed, f"{st.state}: {msg}")
            last_report = elapsed
        if verdict is None:
            return None
        return WaitResult(
            outcome=verdict,
            status=st,
            revision=revision,
            waited_s=round(elapsed, 3),
            message=msg,
        )

    obj = kube.get(api, kind, name, namespace)
    done = observe(obj)
    rv = str(((obj or {}).get("metadata") or {}).get("resourceVersion", "0"))
    while done is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            assert last is not None
            return WaitResult(
                outcome="timeout",
                status=last,
                revision=revision,
                waited_s=round(time.monotonic() - start, 3),
                message=f"timed out after {timeout_s:.0f} s waiting for {revision or 'ready'}; "
                f"last state {last.state}: {last.message}",
            )
        try:
            for etype, ev in kube.watch(api, kind, name, namespace, rv, min(remaining, HEARTBEAT_S)):
                rv = str((ev.get("metadata") or {}).get("resourceVersion", rv))
                done = observe(None if etype == "DELETED" else ev)
                if done is not None or time.monotonic() >= deadline:
                    break
        except ClusterError as exc:
            if exc.status != 410:
                raise
            obj = kube.get(api, kind, name, namespace)
            rv = str(((obj or {}).get("metadata") or {}).get("resourceVersion", "0"))
            done = observe(obj)
            continue
        if done is None and progress is not None:
            assert last is not None
            progress(time.monotonic() - start, f"{last.state}: {last.message}")
            last_report = time.monotonic() - start
    return done


class InstalledCRD(BaseModel):
    name: str
    kind: str
    served_versions: list[str]


class ControllerInfo(BaseModel):
    provider: Literal["argocd", "flux"]
    installed: bool
    crds: list[InstalledCRD] = Field(default_factory=list)


def _crds(kube: KubeClient) -> list[Obj]:
    items, _ = kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    return items


def installed_controllers(kube: KubeClient) -> list[ControllerInfo]:
    """Which GitOps controllers the cluster has, by their CRDs and served versions."""
    found: dict[str, list[InstalledCRD]] = {"flux": [], "argocd": []}
    for crd in _crds(kube):
        spec = crd.get("spec") or {}
        group = str(spec.get("group", ""))
        provider = "flux" if group.endswith(".toolkit.fluxcd.io") else "argocd" if group == "argoproj.io" else None
        if provider is None:
            continue
        found[provider].append(
            InstalledCRD(
                name=str((crd.get("metadata") or {}).get("name")),
                kind=str((spec.get("names") or {}).get("kind")),
                served_versions=[str(v["name"]) for v in spec.get("versions") or [] if v.get("served")],
            )
        )
    return [
        ControllerInfo(provider=p, installed=bool(c), crds=sorted(c, key=lambda x: x.name)) for p, c in found.items()
    ]


def cluster_crd_documents(kube: KubeClient) -> list[Obj]:
    """The Flux and Argo CD CRDs of the cluster (for schema validation)."""
    return [
        c for c in _crds(kube) if str((c.get("spec") or {}).get("group", "")).endswith(("fluxcd.io", "argoproj.io"))
    ]
