"""Preflight of a plain-manifest directory, read the way an engine reads it: every object
decodes, none is defined twice, and no kustomize file is read as an object."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.preflight import KUSTOMIZATION_FILES, PackageCheck
from gitops_mcp.manifests.yaml import load_documents

MAX_FILES = 2000
MAX_BYTES = 1 << 20
KUSTOMIZE_GROUPS = ("kustomize.config.k8s.io",)  # kustomization and Component files, never objects
CHECKED = ["objects decode", "no duplicates", "no kustomize file as an object"]


def _dirs(entries: list[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
    return sorted((e for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")), key=str)


def _holds(directory: str, suffixes: Sequence[str], budget: list[int]) -> bool:
    """Whether ``directory`` holds (at any depth) a manifest or a kustomization; bounded walk."""
    for _here, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        budget[0] -= len(files) + 1
        if budget[0] < 0 or any(f.endswith(tuple(suffixes)) or f in KUSTOMIZATION_FILES for f in files):
            return True
    return False


def nested_manifest_dirs(root: Path, path: str, suffixes: Sequence[str] = (".yaml", ".yml", ".json")) -> list[str]:
    """The subdirectories of ``path`` (repository-relative) that hold manifests or a kustomization."""
    base = root / path
    try:
        with os.scandir(base) as it:
            entries = list(it)
    except OSError:
        return []
    budget = [MAX_FILES * 5]
    return [
        posixpath.normpath(posixpath.join(path, e.name)) for e in _dirs(entries) if _holds(e.path, suffixes, budget)
    ]


def _included(base: Path, suffixes: Sequence[str], subdirectories: bool, build: bool) -> tuple[list[Path], list[Path]]:
    """(files read as manifests, subdirectories built by kustomize) of ``base`` as the engine reads it."""
    files: list[Path] = []
    built: list[Path] = []
    todo = [base]
    while todo:
        here = todo.pop()
        with os.scandir(here) as it:
            entries = list(it)
        if build and here != base and any(e.name in KUSTOMIZATION_FILES for e in entries):
            built.append(here)
            continue
        files += sorted(Path(e.path) for e in entries if e.is_file() and e.name.endswith(tuple(suffixes)))
        if len(files) > MAX_FILES:
            break
        if subdirectories:
            todo += [Path(e.path) for e in reversed(_dirs(entries))]
    return files, built


def _problem(rel: str, index: int, doc: Any, seen: dict[tuple[str, ...], str], generate_name: bool) -> str | None:
    where = f"{rel} (document {index + 1})"
    if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
        return f"{where} is not a Kubernetes object (no apiVersion and kind)"
    api, kind = str(doc["apiVersion"]), str(doc["kind"])
    if api.rsplit("/", 1)[0] in KUSTOMIZE_GROUPS:
        return f"{where} is a kustomize file ({kind}): the engine would apply it as an object"
    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    name, ns = meta.get("name") or meta.get("generateName"), meta.get("namespace") or ""
    if name and not meta.get("name") and not generate_name:
        return (
            f"{where}: {kind} {name}* has only metadata.generateName (a hook): this engine refuses it "
            "('missing metadata.name'); give it a name, or deploy the package with an engine that runs hooks"
        )
    if not name:
        return f"{where}: {kind} has no metadata.name"
    key = (api.rsplit("/", 1)[0] if "/" in api else "", kind, str(ns), str(name))
    if key in seen:
        return f"{kind} {ns + '/' if ns else ''}{name} is defined twice: in {seen[key]} and {rel}"
    seen[key] = rel
    return None


def check_plain(
    root: Path,
    path: str,
    suffixes: Sequence[str],
    subdirectories: bool,
    build: bool = True,
    generate_name: bool = True,
) -> PackageCheck:
    """What an engine applies from the plain directory ``path``: ``suffixes`` are the files it
    reads, ``subdirectories`` whether it descends, ``build`` whether a subdirectory holding a
    kustomization is built by kustomize (else its files are read like any other), ``generate_name``
    whether it creates an object that has only metadata.generateName."""
    files, built = _included(root / path, suffixes, subdirectories, build)
    if len(files) > MAX_FILES:
        return PackageCheck(ok=False, checked=[], message=f"{path} holds more than {MAX_FILES} manifest files")
    if not files and not built:
        return PackageCheck(
            ok=False, checked=[], message=f"{path} holds no file the engine reads as manifests ({', '.join(suffixes)})"
        )
    seen: dict[tuple[str, ...], str] = {}
    for f in files:
        rel = f.relative_to(root).as_posix()
        try:
            if f.stat().st_size > MAX_BYTES:
                return PackageCheck(ok=False, checked=CHECKED[:1], message=f"{rel} is larger than 1 MiB")
            docs = load_documents(f.read_text(encoding="utf-8"), rel)
        except (UserInputError, UnicodeDecodeError, OSError) as exc:
            return PackageCheck(ok=False, checked=CHECKED[:1], message=f"{rel} does not decode: {exc}"[:600])
        for i, doc in enumerate(docs):
            problem = _problem(rel, i, doc, seen, generate_name)
            if problem:
                return PackageCheck(ok=False, checked=CHECKED, message=problem)
    kustomized = [b.relative_to(root).as_posix() for b in built]
    msg = f"{len(seen)} objects in {len(files)} files" + (
        f"; built by kustomize: {', '.join(sorted(kustomized))}" if kustomized else ""
    )
    return PackageCheck(ok=True, checked=CHECKED, message=msg)
