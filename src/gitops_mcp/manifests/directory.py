"""A plain directory read file by file, the way an engine that does not build it reads it (Argo CD's
repo-server for a directory source): its files in lexical order (subdirectories only with
``recurse``, never through a symlinked directory), each kept or left out by the engine's own
selection (:class:`FileSelection`), parsed as YAML or JSON; a list gives its items. Nothing is
built: a nested kustomization is read as the file it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_mcp.manifests.build_inputs import Budget, InputError, load_yaml_text

Obj = dict[str, Any]
MAX_FILES = 2000
_LOOKS_LIKE_AN_OBJECT = ("apiVersion:", "kind:", "metadata:")


@dataclass(frozen=True)
class FileSelection:
    """How an engine picks the files of a plain directory it reads itself."""

    wants: Callable[[str], bool]
    """A regular file's path, relative to the directory (``sub/a.yaml``): whether it is read."""
    skips: Callable[[str], bool] = lambda _text: False
    """A read file's text: whether it says to leave it out (a marker)."""


class DirectoryError(Exception):
    """Why the directory cannot be read as the engine reads it (the engine fails the same way)."""


def _listing(here: str | Path, rel: str) -> list[tuple[str, os.DirEntry[str]]]:
    with os.scandir(here) as it:
        return [(rel, e) for e in sorted(it, key=lambda e: e.name, reverse=True)]


def _files(base: Path, root: Path, recurse: bool) -> list[tuple[str, Path]]:
    """(path relative to ``base``, file to read) of every regular file, depth first in name order
    (files and directories interleaved, as Go's ``filepath.Walk``), bounded."""
    found: list[tuple[str, Path]] = []
    todo = _listing(base, "")
    while todo:
        rel, e = todo.pop()
        name = f"{rel}{e.name}"
        if e.is_dir(follow_symlinks=False):
            todo += _listing(e.path, name + "/") if recurse else []
            continue
        target = Path(e.path)
        if e.is_symlink():
            real = target.resolve()
            if not (real == root or root in real.parents):
                raise DirectoryError(f"illegal filepath in symlink at {name}")
            if not real.is_file():
                continue  # a symlink to a directory or to nothing: the engine skips it
            target = real
        elif not e.is_file(follow_symlinks=False):
            continue
        found.append((name, target))
        if len(found) > MAX_FILES:
            raise DirectoryError(f"more than {MAX_FILES} files under the directory")
    return found


def read_directory(
    root: Path, path: str, selection: FileSelection, recurse: bool, budget: Budget
) -> tuple[list[Obj], list[str]]:
    """(objects, files read) of the directory ``path`` of the tree at ``root``.

    Raises:
        DirectoryError: a symlink leaving the tree, a file that does not parse but looks like an
            object, a Jsonnet file, too many files or bytes.
    """
    root = root.resolve()
    base = root / path if path not in ("", ".") else root
    objs: list[Obj] = []
    read: list[str] = []
    for rel, file in _files(base, root, recurse):
        if not selection.wants(rel):
            continue
        if rel.endswith(".jsonnet"):
            raise DirectoryError(f"{rel} is Jsonnet: not rendered here")
        try:
            budget.take(file, rel)
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DirectoryError(f"{rel} is not UTF-8 text") from None
        except InputError as exc:
            raise DirectoryError(str(exc)) from None
        if selection.skips(text):
            continue
        read.append(rel)
        objs += _objects(rel, text)
    return objs, read


def _objects(rel: str, text: str) -> list[Obj]:
    """A file's objects; none from a file that does not parse and does not look like one (another
    YAML file), as the engine ignores it."""
    looks = all(w in text for w in _LOOKS_LIKE_AN_OBJECT)
    try:
        docs = load_yaml_text(text, rel)
    except InputError as exc:
        if looks:
            raise DirectoryError(str(exc)) from None
        return []
    out: list[Obj] = []
    for doc in docs:
        if doc is None:
            continue
        if not (isinstance(doc, dict) and doc.get("kind")):
            if out or looks:
                raise DirectoryError(f"{rel} does not parse as Kubernetes objects (a document has no kind)")
            return []
        if isinstance(doc.get("items"), list):  # a list (any object with items), as its items
            out += [i for i in doc["items"] if isinstance(i, dict)]
        elif not ("spec" in doc or "status" in doc) and "items" in doc and doc["items"] is None:
            continue  # a list with null items: nothing
        else:
            out.append(doc)
    return out
