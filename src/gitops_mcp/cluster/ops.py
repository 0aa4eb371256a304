"""Cluster operations: status, reconcile requests and waiting for a revision. Plain Python.

Provider-neutral: the registry says which provider manages a kind, and the provider normalises
the status and describes the reconcile request; the reads, patches and watches happen here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from gitops_mcp.cluster.client import KubeClient, Obj
from gitops_mcp.cluster.status import SyncStatus, revision_matches, status_kind, status_of
from gitops_mcp.errors import ClusterError, UserInputError
from gitops_mcp.model import Model
from gitops_mcp.providers.base import Provider
from gitops_mcp.providers.live import Diagnosis, ObjectRef, ReconcilePlan, gave_up
from gitops_mcp.providers.registry import ProviderRegistry

Progress = Callable[[float, str], None]  # (elapsed seconds, message)
HEARTBEAT_S = 5.0


def api_version_for(kind: str, *, registry: ProviderRegistry) -> str:
    """The apiVersion read for ``kind``. Raises UserInputError when no provider reports its status."""
    return status_kind(registry, kind)[1].api_version


def _target(registry: ProviderRegistry, kind: str, name: str, namespace: str) -> tuple[Provider, ObjectRef]:
    provider, info = status_kind(registry, kind)
    return provider, ObjectRef(api_version=info.api_version, kind=kind, name=name, namespace=namespace)


def get_status(
    kube: KubeClient, kind: str, name: str, namespace: str, *, registry: ProviderRegistry, diagnose: bool = False
) -> SyncStatus:
    """The normalised status; ``diagnose``: with what to look at next (see :mod:`gitops_mcp.cluster.diagnose`)."""
    provider, ref = _target(registry, kind, name, namespace)
    obj = kube.get(ref.api_version, kind, name, namespace)
    status = status_of(provider, ref, obj)
    if diagnose:
        status.diagnosis = _diagnosis(kube, provider, ref, obj, status, registry)
    return status


def _diagnosis(
    kube: KubeClient,
    provider: Provider,
    ref: ObjectRef,
    obj: Obj | None,
    status: SyncStatus,
    registry: ProviderRegistry,
) -> Diagnosis | None:
    from gitops_mcp.cluster.diagnose import diagnose

    return diagnose(kube, provider, ref, obj, status, registry)


class ReconcileResult(Model):
    requested: list[str] = Field(description="Objects asked to reconcile, in order (Kind/namespace/name)")
    token: str = Field(description="Value written to the request annotation")
    handled: bool = Field(description="The controller confirmed it handled the request")
    sync_started: bool = False
    status: SyncStatus
    message: str


def _now_token() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def reconcile(
    kube: KubeClient,
    kind: str,
    name: str,
    namespace: str,
    with_source: bool = True,
    sync: bool = False,
    confirm_timeout_s: float = 30.0,
    *,
    registry: ProviderRegistry,
) -> ReconcileResult:
    """Ask the controller to act now, as the kind's provider describes it (e.g. the source first),
    and wait (each step at most ``confirm_timeout_s``) until the controller confirms it."""
    provider, ref = _target(registry, kind, name, namespace)
    obj = kube.get(ref.api_version, kind, name, namespace)
    if obj is None:
        raise ClusterError(f"{kind} {namespace}/{name} does not exist", 404)
    token = _now_token()
    plan = provider.reconcile_plan(ref, obj, token, with_source=with_source, sync=sync)
    handled = _run(kube, plan, ref, obj, confirm_timeout_s)
    status = status_of(provider, ref, kube.get(ref.api_version, kind, name, namespace))
    msg = (
        plan.done_message
        if handled
        else f"requested; not confirmed within {confirm_timeout_s:.0f} s (is {plan.controller} running?)"
    )
    return ReconcileResult(
        requested=[f"{s.target.kind}/{s.target.namespace}/{s.target.name}" for s in plan.steps],
        token=token,
        handled=handled,
        sync_started=plan.sync_started,
        status=status,
        message=msg,
    )


def _run(kube: KubeClient, plan: ReconcilePlan, ref: ObjectRef, obj: Obj, timeout_s: float) -> bool:
    """Patch each step's target in order (refusing as the plan says); True when all were confirmed."""
    handled = True
    for i, step in enumerate(plan.steps):
        t = step.target
        # the requested object was just read; anything after a patch is read again
        current = obj if i == 0 and t == ref else kube.get(t.api_version, t.kind, t.name, t.namespace)
        if current is None:
            role = f" ({step.role})" if step.role else ""
            raise ClusterError(f"{t.kind} {t.namespace}/{t.name}{role} does not exist", 404)
        refusal = step.refusal(current)
        if refusal is not None:
            raise UserInputError(refusal)
        if not step.needless(current):
            kube.patch_merge(t.api_version, t.kind, t.name, t.namespace, step.patch)
        done = _wait_for(kube, t.api_version, t.kind, t.name, t.namespace, timeout_s, step.handled)
        handled = handled and done is not None
    return handled


def _wait_for(
    kube: KubeClient,
    api: str,
    kind: str,
    name: str,
    ns: str | None,
    timeout_s: float,
    pred: Callable[[Obj], bool],
) -> Obj | None:
    """Watch one object until ``pred`` holds; None on timeout."""
    now = kube.clock.monotonic
    deadline = now() + timeout_s
    while True:
        obj = kube.get(api, kind, name, ns)
        if obj is None:
            return None
        if pred(obj):
            return obj
        rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        remaining = deadline - now()
        if remaining <= 0:
            return None
        try:
            for _type, ev in kube.watch(api, kind, name, ns, rv, min(remaining, HEARTBEAT_S)):
                if pred(ev):
                    return ev
                if now() >= deadline:
                    return None
        except ClusterError as exc:
            if exc.status != 410:
                raise


class WaitResult(Model):
    outcome: Literal["synced", "failed", "timeout", "not_found"]
    status: SyncStatus
    revision: str | None = Field(None, description="The revision waited for")
    waited_s: float
    message: str


class Follow(Model):
    """The wait_for_sync arguments that follow a pull request to live."""

    kind: str
    name: str
    namespace: str
    pull_request: str


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
    if gave_up(st):
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
    *,
    registry: ProviderRegistry,
) -> WaitResult:
    """Return when the object applied ``revision`` and is healthy, failed, or the timeout passed;
    a failure or a timeout comes with what to look at next (``status.diagnosis``).

    Watches (re-opened every few seconds, so progress is reported at least that often, and
    resumed from the last resourceVersion; a 410 makes it read the object again).
    """
    provider, ref = _target(registry, kind, name, namespace)
    result = _wait(kube, provider, ref, revision, timeout_s, progress)
    if result.outcome in ("failed", "timeout"):
        obj = kube.get(ref.api_version, kind, name, namespace)
        result.status.diagnosis = _diagnosis(kube, provider, ref, obj, result.status, registry)
    return result


def _wait(
    kube: KubeClient,
    provider: Provider,
    ref: ObjectRef,
    revision: str | None,
    timeout_s: float,
    progress: Progress | None,
) -> WaitResult:
    api, kind, name, namespace = ref.api_version, ref.kind, ref.name, ref.namespace
    now = kube.clock.monotonic
    start = now()
    deadline = start + timeout_s
    last: SyncStatus | None = None
    last_report = -HEARTBEAT_S

    def observe(obj: Obj | None) -> WaitResult | None:
        nonlocal last, last_report
        st = status_of(provider, ref, obj)
        last = st
        verdict, msg = _verdict(st, revision)
        if verdict is None:
            verdict, msg = _blocked(kube, provider, st)
        elapsed = now() - start
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
        remaining = deadline - now()
        if remaining <= 0:
            assert last is not None
            return WaitResult(
                outcome="timeout",
                status=last,
                revision=revision,
                waited_s=round(now() - start, 3),
                message=f"timed out after {timeout_s:.0f} s waiting for {revision or 'ready'}; "
                f"last state {last.state}: {last.message}",
            )
        try:
            for etype, ev in kube.watch(api, kind, name, namespace, rv, min(remaining, HEARTBEAT_S)):
                rv = str((ev.get("metadata") or {}).get("resourceVersion", rv))
                done = observe(None if etype == "DELETED" else ev)
                if done is not None or now() >= deadline:
                    break
        except ClusterError as exc:
            if exc.status != 410:
                raise
            obj = kube.get(api, kind, name, namespace)
            rv = str(((obj or {}).get("metadata") or {}).get("resourceVersion", "0"))
            done = observe(obj)
            continue
        if done is None and last is not None and last.waits_for is not None:
            done = observe(kube.get(api, kind, name, namespace))  # its source may have failed meanwhile
        if done is None and progress is not None:
            assert last is not None
            last_report = now() - start
            progress(last_report, f"{last.state}: {last.message}")
    return done


def _blocked(kube: KubeClient, provider: Provider, st: SyncStatus) -> tuple[str | None, str]:
    """('failed', the other object's words) when ``st`` waits on an object that failed (a Flux
    Kustomization on a source that cannot fetch); else (None, st.message)."""
    other = st.waits_for
    if other is None:
        return None, st.message
    theirs = status_of(provider, other, kube.get(other.api_version, other.kind, other.name, other.namespace))
    if theirs.state != "failed":
        return None, st.message
    return "failed", f"{st.message}: {other.kind} {other.namespace}/{other.name} failed: {theirs.message}"


def reconcile_and_wait(
    kube: KubeClient, ref: ObjectRef, revision: str | None, deadline: float, *, registry: ProviderRegistry, sync: bool
) -> WaitResult:
    """Ask the controller of ``ref`` to act now (its source first; ``sync``: also apply, where the
    provider tells comparing from applying), then wait until it applied ``revision`` and is ready,
    failed, or ``deadline`` (on ``kube.clock``; at least one second of waiting) passed.

    The one way a pushed commit is made live: after a deployment and after a repair."""
    assert ref.namespace is not None
    reconcile(kube, ref.kind, ref.name, ref.namespace, with_source=True, sync=sync, registry=registry)
    left = max(1.0, deadline - kube.clock.monotonic())
    return wait_for_sync(kube, ref.kind, ref.name, ref.namespace, revision, left, registry=registry)


class InstalledCRD(Model):
    name: str
    kind: str
    served_versions: list[str]


class RepoSync(Model):
    """An object in the cluster that applies a directory of the repository asked about."""

    kind: str
    name: str
    namespace: str | None
    path: str = Field(description="Repository-relative directory it applies ('' = the root)")
    repo_url: str = Field(description="The URL as the object spells it")


class ControllerInfo(Model):
    provider: str = Field(description="The provider whose controllers these are (e.g. argocd, flux)")
    installed: bool
    crds: list[InstalledCRD] = Field(default_factory=list)
    syncs_repository: list[RepoSync] | None = Field(
        None, description="With repo_path: what of this provider already applies that repository, from which path"
    )


def _crds(kube: KubeClient) -> list[Obj]:
    items, _ = kube.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    return items


def _group(crd: Obj) -> str:
    return str((crd.get("spec") or {}).get("group", ""))


def installed_controllers(kube: KubeClient, *, registry: ProviderRegistry) -> list[ControllerInfo]:
    """Which GitOps controllers the cluster has (one entry per provider), by their CRDs and served versions."""
    providers = list(registry)
    found: dict[str, list[InstalledCRD]] = {p.name: [] for p in providers}
    for crd in _crds(kube):
        spec = crd.get("spec") or {}
        owner = next((p for p in providers if p.manages_api_group(_group(crd))), None)
        if owner is None:
            continue
        found[owner.name].append(
            InstalledCRD(
                name=str((crd.get("metadata") or {}).get("name")),
                kind=str((spec.get("names") or {}).get("kind")),
                served_versions=[str(v["name"]) for v in spec.get("versions") or [] if v.get("served")],
            )
        )
    return [
        ControllerInfo(provider=p, installed=bool(c), crds=sorted(c, key=lambda x: x.name)) for p, c in found.items()
    ]


def cluster_crd_documents(kube: KubeClient, *, registry: ProviderRegistry) -> list[Obj]:
    """The cluster's CRDs of the registered providers' API groups (for schema validation)."""
    providers = list(registry)
    return [c for c in _crds(kube) if any(p.manages_api_group(_group(c)) for p in providers)]
