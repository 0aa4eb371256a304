"""Path guards: which local paths a tool may read, and where inside a repository it may write."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePath, PurePosixPath

from gitops_mcp.errors import NotFoundError, PathNotAllowedError, UserInputError

# ".git" in any case, with the trailing dots/spaces Windows ignores, or its 8.3 short name.
MAX_PATH = 1024  # a repository-relative path
MAX_NAME = 255  # one component (the file systems' NAME_MAX)
_GIT_COMPONENT = re.compile(r"^(\.git[. ]*|git~\d+)$", re.IGNORECASE)


def is_git_name(name: str) -> bool:
    """True when a path component names a .git directory (any case, trailing dots/spaces, ``git~1``)."""
    return bool(_GIT_COMPONENT.match(name))


def in_git_dir(path: PurePath) -> bool:
    """True when one of ``path``'s components names a .git directory."""
    return any(is_git_name(p) for p in path.parts)


def _root_of(real: Path, roots: Sequence[Path]) -> Path | None:
    return next((r for r in roots if real == r or r in real.parents), None)


def _repository_of(directory: Path, root: Path) -> Path | None:
    """The nearest directory from ``directory`` up to ``root`` that holds a ``.git``."""
    for d in (directory, *directory.parents):
        if os.path.lexists(d / ".git"):
            return d
        if d == root:
            break
    return None


def _symlink_problem(given: Path, roots: Sequence[Path]) -> str | None:
    """Why ``given`` may not be used because of a symlink on its way below an allowed root: one that
    points into a .git directory, or out of the repository that holds it. None when there is none."""
    current = Path(given.anchor)
    for part in given.parts[1:]:
        if part == "..":
            current = current.parent  # ``current`` is always a real path
            continue
        step = current / part
        if not step.is_symlink():
            current = step
            continue
        target = Path(os.path.realpath(step))
        root = _root_of(current, roots)
        if root is not None:
            if in_git_dir(target):
                return f"{step} is a symlink into a .git directory ({target})"
            repo = _repository_of(current, root)
            if repo is not None and target != repo and repo not in target.parents:
                return f"{step} is a symlink that leaves the repository {repo} (to {target})"
        current = target
    return None


def resolve_allowed(path: str, roots: Sequence[Path], *, must_be_dir: bool = True) -> Path:
    """Resolve a local path given by a caller and check it lies under an allowed root.

    Below an allowed root, no symlink on the way may point into a .git directory or leave the
    repository holding it, and the path itself may not lie inside a .git directory: a repository's
    .git is never a package root nor read.

    Raises:
        UserInputError: empty path.
        NotFoundError: the path does not exist.
        PathNotAllowedError: the path (after following symlinks) is outside every root, inside a
            .git directory, or resolves through a symlink into .git or out of its repository.
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
    root = _root_of(real, roots)
    if root is None:
        shown = ", ".join(str(r) for r in roots) or "(none)"
        raise PathNotAllowedError(
            f"path {path!r} is outside the allowed roots ({shown}); set GITOPS_MCP_ALLOWED_ROOTS to allow it"
        )
    problem = _symlink_problem(p, roots)
    if problem is not None:
        raise PathNotAllowedError(f"path {path!r} cannot be used: {problem}; pass the real directory instead")
    if in_git_dir(real.relative_to(root)):
        raise PathNotAllowedError(f"path {path!r} is inside a .git directory; pass the repository's own directory")
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
    if any(is_git_name(p) for p in parts):
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
    if in_git_dir(real.relative_to(root)):
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
