"""Removing and suspending Argo CD Applications through Git, as Argo CD does it.

An Application prunes what left its path only with ``syncPolicy.automated.prune`` (and automated
sync on); a deleted Application deletes its resources only with the finalizer
``resources-finalizer.argocd.argoproj.io`` (else they stay, orphaned). Automated sync off
(``syncPolicy.automated.enabled: false``) stops it applying new commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.providers.argocd.owner import tracked_app
from gitops_mcp.providers.argocd.status import GROUP
from gitops_mcp.providers.live import FieldEdit, Obj, ObjectRef, Removal, api_group

FINALIZER = "resources-finalizer.argocd.argoproj.io"


def _is_app(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Application" and api_group(str(obj.get("apiVersion"))) == GROUP


def _what(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"Application {meta.get('namespace')}/{meta.get('name')}"


def _automated(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    auto = ((obj.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    if not isinstance(auto, dict) or auto.get("enabled") is False:
        return None
    return auto


def prunes(applier: Obj, removed: Obj) -> str | None:
    if not _is_app(applier):
        return None
    auto = _automated(applier)
    if auto is None:
        return (
            f"the {_what(applier)} that applies it does not sync automatically, so nothing removes the live object "
            "after the merge; sync it with prune, or turn on syncPolicy.automated with prune: true first"
        )
    if not auto.get("prune"):
        return (
            f"the {_what(applier)} that applies it syncs without pruning (syncPolicy.automated.prune is off): the "
            "live object stays, OutOfSync; set prune: true first, or sync it once with prune after the merge"
        )
    meta = removed.get("metadata") or {}
    options = str((meta.get("annotations") or {}).get("argocd.argoproj.io/sync-options") or "")
    if "Prune=false" in options.replace(" ", "").split(","):
        return "it says argocd.argoproj.io/sync-options: Prune=false, so Argo CD never prunes it; delete it by hand"
    own = (removed.get("kind"), meta.get("name"), meta.get("namespace") or "")
    resources = (applier.get("status") or {}).get("resources") or []
    left = [r for r in resources if (r.get("kind"), r.get("name"), r.get("namespace") or "") != own]
    if resources and not left and not auto.get("allowEmpty"):
        return (
            f"it is the last object the {_what(applier)} deploys, and its automated sync never empties an "
            "application (it skips the sync); set syncPolicy.automated.allowEmpty: true first, or remove the "
            "Application itself"
        )
    return None


def removal(obj: Obj) -> Removal:
    if not _is_app(obj):
        return Removal()
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    managed = tuple(
        ObjectRef(
            api_version=f"{r['group']}/{r.get('version', 'v1')}" if r.get("group") else str(r.get("version", "v1")),
            kind=str(r["kind"]),
            name=str(r["name"]),
            namespace=r.get("namespace") or None,
        )
        for r in status.get("resources") or []
        if isinstance(r, dict) and r.get("kind") and r.get("name")
    )
    stays: tuple[str, ...] = ()
    if not any(str(f).split("/")[0] == FINALIZER for f in meta.get("finalizers") or []):
        stays = (
            f"the {_what(obj)} has no {FINALIZER} finalizer: deleting it leaves the {len(managed)} objects it "
            "deployed running; add that finalizer first",
        )
    bootstrap = None
    parent = tracked_app(obj)  # the root is applied by hand, or by itself
    if any(m.kind == "Application" and m.name != meta.get("name") for m in managed) and parent in (
        None,
        meta.get("name"),
    ):
        bootstrap = f"the {_what(obj)} is the app-of-apps root: removing it removes every Application it deploys"
    return Removal(managed=managed, stays=stays, bootstrap=bootstrap)


def suspension(doc: Mapping[str, Any], suspend: bool) -> tuple[FieldEdit, ...]:
    if not _is_app(doc):
        raise UserInputError(f"an Argo CD {doc.get('kind')} cannot be suspended; suspend its Applications")
    policy = (doc.get("spec") or {}).get("syncPolicy") or {}
    auto = policy.get("automated")
    on = isinstance(auto, dict) and auto.get("enabled") is not False
    if on is not suspend:
        return ()
    if isinstance(auto, dict):
        return ((("spec", "syncPolicy", "automated", "enabled"), not suspend),)
    return ((("spec", "syncPolicy", "automated"), {"enabled": True}),)
