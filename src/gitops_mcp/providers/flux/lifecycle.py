"""Removing and suspending Flux objects through Git, as the Flux controllers do it.

kustomize-controller prunes an object removed from its path only with ``spec.prune: true``;
deleting a Kustomization garbage-collects its inventory by ``spec.deletionPolicy`` (default
``MirrorPrune``: as ``prune`` says, ``Delete``: always, ``Orphan``: never), never while it is
suspended. helm-controller uninstalls the release of a deleted HelmRelease unless it is
suspended. ``spec.suspend`` stops a controller applying new revisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.providers.flux.owner import KS_LABEL
from gitops_mcp.providers.flux.status import API_VERSIONS
from gitops_mcp.providers.live import FieldEdit, Obj, ObjectRef, Removal

BOOTSTRAP = "flux-system"
SUSPENDABLE = frozenset(API_VERSIONS)


def _what(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}"


def prunes(applier: Obj, removed: Obj) -> str | None:
    spec = applier.get("spec") or {}
    if applier.get("kind") != "Kustomization":
        return None
    if spec.get("suspend") is True:
        return f"the {_what(applier)} that applies it is suspended: nothing is applied or pruned; resume it first"
    if not spec.get("prune"):
        return (
            f"the {_what(applier)} that applies it has prune: false, so the live object stays after the merge; "
            "set prune: true on it first, or delete the object by hand after the merge"
        )
    meta = removed.get("metadata") or {}
    marks = {**(meta.get("labels") or {}), **(meta.get("annotations") or {})}
    if str(marks.get(f"{KS_LABEL}/prune", "")).lower() == "disabled":
        return f"it says {KS_LABEL}/prune: disabled, so the controller never deletes it; delete it by hand"
    return None


def _inventory(obj: Obj) -> tuple[ObjectRef, ...]:
    out = []
    for entry in ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []:
        parts = str(entry.get("id", "")).split("_")
        if len(parts) < 4:
            continue
        ns, kind, group, name = parts[0], parts[-1], parts[-2], "_".join(parts[1:-2])
        version = str(entry.get("v", "v1"))
        out.append(
            ObjectRef(
                api_version=f"{group}/{version}" if group else version,
                kind=kind,
                name=name.replace("__", ":") if group == "rbac.authorization.k8s.io" else name,
                namespace=ns or None,
            )
        )
    return tuple(out)


def _bootstrap(obj: Obj) -> str | None:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if meta.get("name") == BOOTSTRAP and meta.get("namespace") == BOOTSTRAP and obj.get("kind") in API_VERSIONS:
        return f"{_what(obj)} is the Flux bootstrap's own: removing it lets go of everything Flux applies"
    by_bootstrap = labels.get(f"{KS_LABEL}/name") == BOOTSTRAP == labels.get(f"{KS_LABEL}/namespace")
    own_kind = obj.get("kind") in API_VERSIONS  # an app's Kustomization in flux-system is not Flux's own
    if (
        by_bootstrap
        and not own_kind
        and (meta.get("namespace") == BOOTSTRAP or obj.get("kind") == "CustomResourceDefinition")
    ):
        return f"{obj.get('kind')} {meta.get('name')} is part of the Flux installation (applied by flux-system)"
    return None


def removal(obj: Obj) -> Removal:
    spec, kind = obj.get("spec") or {}, obj.get("kind")
    bootstrap = _bootstrap(obj)
    if kind == "Kustomization":
        managed = _inventory(obj)
        policy = spec.get("deletionPolicy") or "MirrorPrune"
        stays: list[str] = []
        if policy == "Orphan" or (policy == "MirrorPrune" and not spec.get("prune")):
            stays.append(
                f"the {_what(obj)} does not prune (prune: false or deletionPolicy: {policy}): the {len(managed)} "
                "objects it applied stay when it is deleted; set prune: true on it first (or deletionPolicy: Delete)"
            )
        elif spec.get("suspend") is True:
            stays.append(f"the {_what(obj)} is suspended: deleting it leaves what it applied; resume it first")
        return Removal(managed=managed, stays=tuple(stays), bootstrap=bootstrap)
    if kind == "HelmRelease" and spec.get("suspend") is True:
        return Removal(
            stays=(f"the {_what(obj)} is suspended: deleting it leaves its Helm release installed; resume it first",),
            bootstrap=bootstrap,
        )
    return Removal(bootstrap=bootstrap)


def suspension(doc: Mapping[str, Any], suspend: bool) -> tuple[FieldEdit, ...]:
    if doc.get("kind") not in SUSPENDABLE:
        raise UserInputError(f"a Flux {doc.get('kind')} cannot be suspended")
    if bool((doc.get("spec") or {}).get("suspend")) is suspend:
        return ()
    return ((("spec", "suspend"), suspend),)
