"""Wait until objects are deleted (a prune, a garbage collection): a watch per object still there."""

from __future__ import annotations

from collections.abc import Sequence

from gitops_mcp.cluster.client import KubeClient
from gitops_mcp.errors import ClusterError
from gitops_mcp.providers.live import ObjectRef


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


def report_gone(kube: KubeClient, gone: Sequence[tuple[str, str, str, str]], deadline: float) -> str:
    """Whether the objects ``gone`` ((apiVersion, kind, namespace, name): what a merge deletes) are
    gone from the cluster, waited for until ``deadline``; in a sentence."""
    refs = [ObjectRef(api_version=a, kind=k, namespace=ns or None, name=n) for a, k, ns, n in gone]
    still = wait_gone(kube, refs, deadline)
    first = refs[0]
    what = f"{first.kind} {first.namespace + '/' if first.namespace else ''}{first.name}"
    what += f" and {len(refs) - 1} more it applied" if len(refs) > 1 else ""
    if not still:
        return f"pruned and gone from the cluster: {what}"
    names = ", ".join(f"{r.kind} {r.namespace + '/' if r.namespace else ''}{r.name}" for r in still[:5])
    return f"{len(still)} of the {len(refs)} objects it prunes are still in the cluster at the deadline: {names}"
