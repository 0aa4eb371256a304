"""Argo CD objects: the one ``Application`` builder, used by the wizard's generator and the fleet layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

API_VERSION = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_POLICIES = ("manual", "auto", "auto-prune")


def git_source(repo_url: str | None, revision: str, path: str) -> dict[str, Any]:
    """An Application source: ``path`` of a Git repository at ``revision``."""
    return {"repoURL": repo_url, "targetRevision": revision, "path": path}


def sync_policy(policy: str, create_namespace: bool) -> dict[str, Any]:
    """``spec.syncPolicy`` for one of :data:`SYNC_POLICIES` (empty for manual without CreateNamespace).

    manual: sync by hand; auto: sync on every commit; auto-prune: also prune and self-heal.
    """
    sync: dict[str, Any] = {}
    if policy == "auto":
        sync["automated"] = {"prune": False, "selfHeal": False}
    elif policy == "auto-prune":
        sync["automated"] = {"prune": True, "selfHeal": True}
    if create_namespace:
        sync["syncOptions"] = ["CreateNamespace=true"]
    return sync


def application(
    name: str,
    namespace: str,
    *,
    project: str,
    source: Mapping[str, Any],
    destination_namespace: str,
    sync: Mapping[str, Any],
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An Application in ``namespace`` (where Argo CD runs) deploying ``source`` into
    ``destination_namespace`` of the cluster Argo CD runs in."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    spec: dict[str, Any] = {
        "project": project,
        "source": dict(source),
        "destination": {"server": IN_CLUSTER, "namespace": destination_namespace},
    }
    if sync:
        spec["syncPolicy"] = dict(sync)
    return {"apiVersion": API_VERSION, "kind": "Application", "metadata": meta, "spec": spec}
