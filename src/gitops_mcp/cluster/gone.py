"""Wait until objects are deleted (a prune, a garbage collection): a watch per object still there; and
what left an applier's inventory between two revisions, reported gone (or not)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitops_mcp.cluster.client import KubeClient
from gitops_mcp.cluster.ops import _target
from gitops_mcp.errors import ClusterError
from gitops_mcp.providers.live import ObjectRef
from gitops_mcp.providers.registry import ProviderRegistry


@dataclass(frozen=True)
class Tracked:
    """An object an applier applies, with what it applies in turn (a GitOps object of its own)."""

    ref: ObjectRef
    managed: tuple[ObjectRef, ...] = ()


def wait_gone(kube: KubeClient, refs: Sequence[ObjectRef], deadline: float) -> list[ObjectRef]:
    """The objects of ``refs`` still in the cluster at ``deadline`` (of ``kube.clock``); empty
    when every one was deleted. A kind the cluster no longer serves counts as gone."""
    left: list[ObjectRef] = []
    for ref in refs:
        while True:
            try:
                obj = kube.get(ref.api_version, ref.kind, ref.name, ref.namespace)
            except ClusterError as exc:
                if exc.status == 404:
                    obj = None
                else:
                    raise
            remaining = deadline - kube.clock.monotonic()
            if obj is None:
                break
            if remaining <= 0:
                left.append(ref)
                break
            rv = str((obj.get("metadata") or {}).get("resourceVersion", "0"))
            try:
                for etype, _ in kube.watch(ref.api_version, ref.kind, ref.name, ref.namespace, rv, min(remaining, 5)):
                    if etype == "DELETED":
                        break
            except ClusterError as exc:
                if exc.status not in (404, 410):
                    raise
    return left


MAX_TRACKED = 200


def _key(ref: ObjectRef) -> tuple[str, str, str, str]:
    return (
        ref.api_version.rsplit("/", 1)[0] if "/" in ref.api_version else "",
        ref.kind,
        ref.namespace or "",
        ref.name,
    )


def applied_now(kube: KubeClient, registry: ProviderRegistry, kind: str, name: str, namespace: str) -> list[Tracked]:
    """What the applier ``kind namespace/name`` applies now (its inventory or resource list), each with
    what it applies in turn when it is a GitOps object itself (deleted with it); bounded."""
    provider, ref = _target(registry, kind, name, namespace)
    obj = kube.get(ref.api_version, kind, name, namespace)
    out: list[Tracked] = []
    for m in (provider.managed_objects(ref, obj) or [])[:MAX_TRACKED] if obj else []:
        found = registry.kind_of(m.ref.api_version, m.ref.kind) if "/" in m.ref.api_version else None
        nested: tuple[ObjectRef, ...] = ()
        if found is not None:
            live = kube.get(m.ref.api_version, m.ref.kind, m.ref.name, m.ref.namespace)
            nested = found[0].removal(live).managed if live else ()
        out.append(Tracked(m.ref, nested))
    return out


def report_gone(
    kube: KubeClient, registry: ProviderRegistry, before: list[Tracked], kind: str, name: str, namespace: str,
    deadline: float,
) -> str:  # fmt: skip
    """After the applier applied a new revision: what left its inventory since ``before``, and whether
    it is gone from the cluster (waited for until ``deadline``); '' when nothing left it."""
    now = {_key(t.ref) for t in applied_now(kube, registry, kind, name, namespace)}
    left = [t for t in before if _key(t.ref) not in now]
    refs = [r for t in left for r in (t.ref, *t.managed)][:MAX_TRACKED]
    if not refs:
        return ""
    still = wait_gone(kube, refs, deadline)
    names = ", ".join(f"{r.kind} {r.namespace + '/' if r.namespace else ''}{r.name}" for r in (t.ref for t in left[:5]))
    names += f" and {len(left) - 5} more" if len(left) > 5 else ""
    nested = len(refs) - len(left)
    what = names + (f" (with the {nested} objects they applied)" if nested else "")
    if not still:
        return f"pruned and gone from the cluster: {what}"
    return f"pruned but still in the cluster at the deadline: {len(still)} of {len(refs)} ({what})"
