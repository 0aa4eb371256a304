"""Which Flux object manages a live object, and where in Git it is defined.

kustomize-controller labels what it applies ``kustomize.toolkit.fluxcd.io/name,namespace`` and
helm-controller ``helm.toolkit.fluxcd.io/name,namespace`` (checked against the owner's
inventory when it has one); a Kustomization or HelmRelease leads to its source. Only when the
labels are missing are the Kustomizations' and HelmReleases' inventories searched (one list each).
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_mcp.providers.flux.status import API_VERSIONS, APPLIERS, is_applier, source_ref
from gitops_mcp.providers.live import (
    ClusterReader,
    GitLocation,
    Obj,
    OwnerLink,
    OwnerStage,
    OwnerStep,
    api_group,
)

KS_LABEL = "kustomize.toolkit.fluxcd.io"
HR_LABEL = "helm.toolkit.fluxcd.io"
RBAC_GROUP = "rbac.authorization.k8s.io"


def inventory_id(obj: Obj) -> str:
    """The inventory entry id of ``obj``: ``<namespace>_<name>_<group>_<kind>`` (``:`` as ``__`` in RBAC names)."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    group = api_group(str(obj.get("apiVersion", "")))
    if group == RBAC_GROUP:
        name = name.replace(":", "__")
    return f"{meta.get('namespace') or ''}_{name}_{group}_{obj.get('kind')}"


def _in_inventory(owner: Obj, oid: str) -> bool:
    return any(e.get("id") == oid for e in ((owner.get("status") or {}).get("inventory") or {}).get("entries") or [])


def owner_of(cluster: ClusterReader, obj: Obj, stage: OwnerStage) -> OwnerStep | None:
    if stage == "markers":
        found = _label_owner(cluster, obj)
        if found is None and is_applier(obj):
            return _source_of(cluster, obj)
        return found
    if stage == "search" and not is_applier(obj):
        return _inventory_owner(cluster, obj)
    return None


def _label_owner(cluster: ClusterReader, obj: Obj) -> OwnerStep | None:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for prefix, kind in ((HR_LABEL, "HelmRelease"), (KS_LABEL, "Kustomization")):
        name, ns = labels.get(f"{prefix}/name"), labels.get(f"{prefix}/namespace")
        if name and ns:
            owner = cluster.get(API_VERSIONS[kind], kind, name, ns)
            if owner is None:
                continue
            via = f"labels {prefix}/name,namespace"
            inv = (owner.get("status") or {}).get("inventory")
            if inv is not None:
                via += " + inventory" if _in_inventory(owner, inventory_id(obj)) else " (not in its inventory)"
            return OwnerLink(api_version=API_VERSIONS[kind], kind=kind, name=name, namespace=ns, via=via), owner
    return None


def _inventory_owner(cluster: ClusterReader, obj: Obj) -> OwnerStep | None:
    oid = inventory_id(obj)
    for kind in APPLIERS:
        for owner in cluster.list(API_VERSIONS[kind], kind) or []:
            if _in_inventory(owner, oid):
                m = owner["metadata"]
                return OwnerLink(
                    api_version=API_VERSIONS[kind],
                    kind=kind,
                    name=m["name"],
                    namespace=m.get("namespace"),
                    via="inventory",
                ), owner
    return None


def _source_of(cluster: ClusterReader, obj: Obj) -> OwnerStep | None:
    ref = source_ref(obj)
    if ref is None:
        return None
    src = cluster.get(ref.api_version, ref.kind, ref.name, ref.namespace)
    via = "spec.sourceRef" if obj.get("kind") == "Kustomization" else "spec.chart sourceRef"
    return OwnerLink(**ref.model_dump(), via=via), src or {}


def git_location(cluster: ClusterReader, obj: Obj, chain: Sequence[OwnerLink]) -> GitLocation | None:
    """The source and path of the Kustomization in ``chain`` (nearest first) that applies ``obj``."""
    ks_index = next((i for i, c in enumerate(chain) if c.kind == "Kustomization"), None)
    if ks_index is None:
        return None
    ks_link = chain[ks_index]
    ks = cluster.get(ks_link.api_version, "Kustomization", ks_link.name, ks_link.namespace)
    if ks is None:
        return None
    # the source of *this* Kustomization (its parents may use another repository)
    ref = (ks.get("spec") or {}).get("sourceRef") or {}
    if ref.get("kind") not in API_VERSIONS:
        return None
    src = cluster.get(API_VERSIONS[ref["kind"]], ref["kind"], ref["name"], ref.get("namespace") or ks_link.namespace)
    src_spec = (src or {}).get("spec") or {}
    # the document that defines the object: the object itself, or the HelmRelease that renders it
    defining = chain[ks_index - 1] if ks_index > 0 else None
    return GitLocation(
        url=str(src_spec.get("url", "")),
        ref={str(k): str(v) for k, v in (src_spec.get("ref") or {}).items()},
        path=str((ks.get("spec") or {}).get("path") or "./"),
        applied_revision=(ks.get("status") or {}).get("lastAppliedRevision"),
        defining_kind=defining.kind if defining else str(obj.get("kind")),
        defining_name=defining.name if defining else obj["metadata"]["name"],
        defining_namespace=defining.namespace if defining else obj["metadata"].get("namespace"),
    )
