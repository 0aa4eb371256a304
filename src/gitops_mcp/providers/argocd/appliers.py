"""Which Argo CD Applications in the cluster apply a directory of a Git repository."""

from __future__ import annotations

from gitops_mcp.providers.argocd.objects import API_VERSION
from gitops_mcp.providers.live import Applier, ClusterReader, ObjectRef, repo_dir

ROOT_KINDS = ("Application",)
"""What register applies from a committed file (see Provider.root_kinds)."""
VERIFY_KINDS = ("Application",)


def appliers(cluster: ClusterReader) -> list[Applier]:
    """Applications with a Git source (``source`` or each of ``sources`` that has a path)."""
    out: list[Applier] = []
    for app in cluster.list(API_VERSION, "Application") or []:
        meta, spec = app.get("metadata") or {}, app.get("spec") or {}
        sources = [spec["source"]] if isinstance(spec.get("source"), dict) else list(spec.get("sources") or [])
        ref = ObjectRef(api_version=API_VERSION, kind="Application", name=meta["name"], namespace=meta.get("namespace"))
        out.extend(
            Applier(ref=ref, repo_url=str(src["repoURL"]), path=repo_dir(src.get("path")))
            for src in sources
            if isinstance(src, dict) and src.get("repoURL") and not src.get("chart")
        )
    return out
