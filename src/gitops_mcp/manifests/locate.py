"""Find the file and document that define an object in a repository directory."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.yaml import load_documents

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def locate(
    repo_root: Path,
    path: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    ensure_dir: Callable[[str], None] | None = None,
) -> tuple[str, int] | None:
    """(file relative to ``repo_root``, document index) of the ``kind``/``name`` document reachable
    from ``path`` (its files, and the directories its kustomization.yaml pulls in), else None.

    A document whose namespace differs is used only when none matches it (overlays often set
    the namespace in kustomization.yaml instead).
    """
    start = posixpath.normpath(path.removeprefix("./")) if path not in ("", ".", "./") else "."
    root = repo_root.resolve()
    queue, seen = [start], set()
    fallback: tuple[str, int] | None = None
    while queue:
        rel = queue.pop(0)
        if rel in seen or rel.startswith(".."):
            continue
        seen.add(rel)
        if ensure_dir is not None:
            ensure_dir(rel)
        directory = (root / rel).resolve()
        if not directory.is_dir() or (directory != root and root not in directory.parents):
            continue
        files = sorted(
            p
            for p in directory.rglob("*")
            if p.is_file() and p.suffix in (".yaml", ".yml") and ".git" not in p.relative_to(root).parts
        )
        for f in files:
            frel = f.relative_to(root).as_posix()
            try:
                docs = load_documents(f.read_text(encoding="utf-8"), frel)
            except (UserInputError, UnicodeDecodeError, OSError):
                continue
            for i, d in enumerate(docs):
                if not isinstance(d, dict):
                    continue
                if f.name in KUSTOMIZATION_FILES or (
                    d.get("kind") in ("Kustomization", "Component")
                    and str(d.get("apiVersion", "")).startswith("kustomize.config.k8s.io")
                ):
                    for res in d.get("resources") or []:
                        if isinstance(res, str) and "://" not in res:
                            target = posixpath.normpath(posixpath.join(posixpath.dirname(frel), res))
                            if not target.endswith((".yaml", ".yml")):
                                queue.append(target)
                    continue
                meta = d.get("metadata") or {}
                if d.get("kind") == kind and isinstance(meta, dict) and meta.get("name") == name:
                    if namespace is None or meta.get("namespace") in (None, namespace):
                        return frel, i
                    fallback = fallback or (frel, i)
    return fallback
