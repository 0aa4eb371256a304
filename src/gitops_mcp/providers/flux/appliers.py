"""Which Flux Kustomizations in the cluster apply a directory of a Git repository."""

from __future__ import annotations

from gitops_mcp.providers.flux.objects import KUSTOMIZE_API, SOURCE_API
from gitops_mcp.providers.live import Applier, ClusterReader, ObjectRef, repo_dir

ROOT_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Kustomization", "HelmRelease")
"""What register applies from a committed file (see Provider.root_kinds)."""
VERIFY_KINDS = ("Kustomization", "HelmRelease")


def appliers(cluster: ClusterReader) -> list[Applier]:
    """Kustomizations whose source is a GitRepository, with that repository's URL and their path."""
    out: list[Applier] = []
    sources: dict[tuple[str, str], str | None] = {}
    for ks in cluster.list(KUSTOMIZE_API, "Kustomization") or []:
        meta, spec = ks.get("metadata") or {}, ks.get("spec") or {}
        src = spec.get("sourceRef") or {}
        if src.get("kind") != "GitRepository" or not src.get("name"):
            continue
        ns = str(src.get("namespace") or meta.get("namespace") or "")
        key = (ns, str(src["name"]))
        if key not in sources:
            repo = cluster.get(SOURCE_API, "GitRepository", key[1], ns)
            url = ((repo or {}).get("spec") or {}).get("url")
            sources[key] = str(url) if url else None
        url = sources[key]
        if url:
            ref = ObjectRef(
                api_version=KUSTOMIZE_API, kind="Kustomization", name=meta["name"], namespace=meta.get("namespace")
            )
            out.append(Applier(ref=ref, repo_url=url, path=repo_dir(spec.get("path"))))
    return out
