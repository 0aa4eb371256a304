"""GitOps structure in a scanned tree: bootstraps, the engines' objects, apps of apps.

What counts is the engines' business (:class:`~gitops_mcp.detection.kinds.GitOpsKinds`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from gitops_mcp.detection.kinds import GitOpsKinds, as_map, as_str, gitops_kinds_of
from gitops_mcp.detection.models import BootstrapDir, GitOpsObject
from gitops_mcp.detection.reader import FileScan, Scanner, is_yaml


def find_bootstraps(
    sc: Scanner, engines: Sequence[GitOpsKinds]
) -> tuple[list[BootstrapDir], dict[str, frozenset[str]]]:
    """The bootstrap directories of the walked tree, and for each the files not to read."""
    found: list[BootstrapDir] = []
    generated: dict[str, frozenset[str]] = {}
    for rel, info in sc.dirs.items():
        for boot in (e.bootstrap for e in engines if e.bootstrap is not None):
            if rel.rsplit("/", 1)[-1] == boot.directory and any(m in info.files for m in boot.markers):
                parent = posixpath.dirname(rel) or "."
                found.append(
                    BootstrapDir(cluster=posixpath.basename(parent) or "default", path=parent, system_path=rel)
                )
                generated[rel] = boot.generated
                break
    return found, generated


def gitops_objects(sc: Scanner, scan: FileScan, patch: bool, engines: Sequence[GitOpsKinds]) -> list[GitOpsObject]:
    """The engines' objects in a scanned file, with what they say about their sources."""
    docs = sc.parse(scan.text, scan.rel)
    out: list[GitOpsObject] = []
    for i, doc in enumerate(docs or []):
        if not isinstance(doc, dict):
            continue
        api, kind = as_str(doc.get("apiVersion")), as_str(doc.get("kind"))
        engine = gitops_kinds_of(api, kind, engines) if api and kind else None
        if not api or not kind or engine is None:
            continue
        meta = as_map(doc.get("metadata"))
        obj = GitOpsObject(
            api_version=api,
            kind=kind,
            name=as_str(meta.get("name")) or "",
            namespace=as_str(meta.get("namespace")),
            file=scan.rel,
            document=i,
            patch=patch,
        )
        reader = engine.readers.get(kind)
        if reader is not None:
            reader(obj, as_map(doc.get("spec")))
        out.append(obj)
    return out


def app_of_apps(sc: Scanner, templates: str, templates_rel: str, engines: Sequence[GitOpsKinds]) -> str | None:
    """Evidence that a chart's templates render an engine's objects (an app of apps), or None."""
    markers = [e.app_of_apps for e in engines if e.app_of_apps is not None]
    if not markers:
        return None
    try:
        entries = sc.fs.list_dir(templates)
    except OSError:
        return None
    for e in sorted((e for e in entries if e.kind == "file" and is_yaml(e.name)), key=lambda e: e.name):
        text = sc.read_text(e.handle, f"{templates_rel}/{e.name}")
        found = next((m for m in markers if m.pattern.search(text)), None) if text else None
        if found is not None:
            return found.evidence
    return None
