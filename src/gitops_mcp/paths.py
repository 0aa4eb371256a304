"""Path guards: which local paths a tool may read, and where inside a repository it may write."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from gitops_mcp.errors import NotFoundError, PathNotAllowedError, UserInputError

# ".git" in any case, with the trailing dots/spaces Windows ignores, or its 8.3 short name.
MAX_PATH = 1024  # a repository-relative path
MAX_NAME = 255  # one component (the file systems' NAME_MAX)
_GIT_COMPONENT = re.compile(r"^(\.git[. ]*|git~\d+)$", re.IGNORECASE)


def resolve_allowed(path: str, roots: Sequence[Path], *, must_be_dir: bool = True) -> Path:
    """Resolve a local path given by a caller and check it lies under an allowed root.

    Raises:
        UserInputError: empty path.
        NotFoundError: the path does not exist.
        PathNotAllowedError: the path (after following symlinks) is outside every root.
    """
    if not path or not path.strip() or "\x00" in path:
        raise UserInputError("path is empty: pass the absolute path of a local directory")
    p = Path(path).expanduser()
    if not p.is_absolute():
        raise UserInputError(f"path {path!r} is relative: pass an absolute path")
    try:
        real = p.resolve(strict=True)
    except (FileNotFoundError, RuntimeError) as exc:
        raise NotFoundError(f"path {path!r} does not exist") from exc
    if not any(real == r or r in real.parents for r in roots):
        shown = ", ".join(str(r) for r in roots) or "(none)"
        raise PathNotAllowedError(
            f"path {path!r} is outside the allowed roots ({shown}); set GITOPS_MCP_ALLOWED_ROOTS to allow it"
        )
    if must_be_dir and not real.is_dir():
        raise UserInputError(f"path {path!r} is not a directory")
    return real


def check_relative(rel: str, what: str = "path") -> PurePosixPath:
    """Validate a repository-relative POSIX path: no absolute, no '..', nothing under .git.

    Raises:
        PathNotAllowedError: the path could leave the repository or touch .git.
    """
    if not rel or not rel.strip():
        raise UserInputError(f"{what} is empty: give a path relative to the repository root")
    if "\x00" in rel or "\\" in rel:
        raise PathNotAllowedError(f"{what} {rel!r} contains a NUL byte or a backslash; use '/' separators")
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel) or rel.startswith("~"):
        raise PathNotAllowedError(f"{what} {rel!r} is absolute; give a path relative to the repository root")
    if len(rel) > MAX_PATH:
        raise UserInputError(f"{what} is {len(rel)} characters long; at most {MAX_PATH}")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    long = next((p for p in parts if len(p.encode()) > MAX_NAME), None)
    if long is not None:
        raise UserInputError(f"{what} has a name of {len(long.encode())} bytes ({long[:40]}…); at most {MAX_NAME}")
    if any(p == ".." for p in parts):
        raise PathNotAllowedError(f"{what} {rel!r} contains '..'; paths must stay inside the repository")
    if any(_GIT_COMPONENT.match(p) for p in parts):
        raise PathNotAllowedError(f"{what} {rel!r} is inside .git; nothing may be written there")
    if not parts:
        raise UserInputError(f"{what} {rel!r} names the repository root, not a file")
    return PurePosixPath(*parts)


def safe_repo_file(repo_root: Path, rel: str, what: str = "output_path") -> Path:
    """Return the absolute target of ``rel`` inside ``repo_root``, refusing every escape.

    Symlinks are followed: a path whose real location leaves the repository or enters its
    ``.git`` directory is refused.
    """
    root = repo_root.resolve()
    rel_path = check_relative(rel, what)
    target = root.joinpath(*rel_path.parts)
    real = Path(os.path.realpath(target))
    git_dir = Path(os.path.realpath(root / ".git"))
    if real != root and root not in real.parents:
        raise PathNotAllowedError(f"{what} {rel!r} resolves outside the repository through a symlink")
    if real == git_dir or git_dir in real.parents:
        raise PathNotAllowedError(f"{what} {rel!r} resolves into .git through a symlink")
    if any(_GIT_COMPONENT.match(p) for p in real.relative_to(root).parts):
        raise PathNotAllowedError(f"{what} {rel!r} resolves into .git through a symlink")
    if real.is_dir():
        raise UserInputError(f"{what} {rel!r} is a directory; name a file such as {rel.rstrip('/')}/app.yaml")
    return real


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.gitops-mcp.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)
