"""Where detection reads a tree from: the file system, or anything with the same small interface.

Detection only lists directories and reads files; :class:`TreeSource` is that interface.
:class:`LocalTree` is the file system (symlinked directories are not followed, so loops are
impossible; symlinks leaving the root or pointing into a .git directory are not read). The git
seam provides a source that reads a commit's tree straight from the object database (no checkout
needed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal, Protocol

from gitops_mcp.paths import in_git_dir

EntryKind = Literal["file", "dir", "skip"]


@dataclass(frozen=True)
class Entry:
    name: str
    kind: EntryKind
    handle: str  # opaque to the scanner: passed back to list_dir / read
    reason: str = ""  # why a "skip" entry is not read


class TreeSource(Protocol):
    name: str  # the root's name (names the root package)

    @property
    def root(self) -> str: ...

    def list_dir(self, handle: str) -> list[Entry]:
        """Entries of a directory. Raises OSError when it cannot be listed."""
        ...

    def size(self, handle: str) -> int: ...

    def read(self, handle: str) -> bytes:
        """A file's bytes. Raises OSError when it cannot be read."""
        ...

    def child(self, handle: str, name: str) -> str | None:
        """Handle of the named subdirectory, or None."""
        ...


class LocalTree:
    """The file system below ``root``."""

    def __init__(self, root: str) -> None:
        self._root = root
        self._real = os.path.realpath(root)
        self.name = os.path.basename(self._real)

    @property
    def root(self) -> str:
        return self._root

    def list_dir(self, handle: str) -> list[Entry]:
        out: list[Entry] = []
        with os.scandir(handle) as it:
            entries = list(it)
        for e in entries:
            try:
                if e.is_symlink():
                    target = os.path.realpath(e.path)
                    if target != self._real and not target.startswith(self._real + os.sep):
                        reason = "symlink pointing outside the repository, not followed"
                        out.append(Entry(e.name, "skip", e.path, reason))
                    elif in_git_dir(PurePath(os.path.relpath(target, self._real))):
                        out.append(Entry(e.name, "skip", e.path, "symlink into .git, not followed"))
                    elif os.path.isdir(target):
                        out.append(Entry(e.name, "skip", e.path, "symlinked directory, not followed"))
                    elif os.path.isfile(target):
                        out.append(Entry(e.name, "file", e.path))
                    else:
                        out.append(Entry(e.name, "skip", e.path, "dangling symlink"))
                elif e.is_dir(follow_symlinks=False):
                    out.append(Entry(e.name, "dir", e.path))
                elif e.is_file(follow_symlinks=False):
                    out.append(Entry(e.name, "file", e.path))
                else:
                    out.append(Entry(e.name, "skip", e.path, "not a regular file"))
            except OSError as exc:
                out.append(Entry(e.name, "skip", e.path, f"not readable ({exc.strerror or exc.__class__.__name__})"))
        return out

    def size(self, handle: str) -> int:
        return os.path.getsize(handle)

    def read(self, handle: str) -> bytes:
        with open(handle, "rb") as fh:
            return fh.read()

    def child(self, handle: str, name: str) -> str | None:
        p = os.path.join(handle, name)
        return p if os.path.isdir(p) and not os.path.islink(p) else None
