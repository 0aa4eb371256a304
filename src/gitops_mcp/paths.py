"""Path guards: which local paths a tool may read, and where inside a repository it may write."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
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


PRIVATE_REFUSAL = (
    "that path is private to this server (its clone cache or state), never a local repository or file to "
    "work on; for a remote repository pass its git URL"
)


def is_private(path: str, private: Sequence[Path]) -> bool:
    """Whether ``path`` (as written, or where it really leads) is at or below one of ``private``."""
    if not private:
        return False
    p = Path(os.path.abspath(Path(path).expanduser()))
    real = Path(os.path.realpath(p))
    for d in private:
        for own in {Path(os.path.abspath(d)), Path(os.path.realpath(d))}:
            if p == own or own in p.parents or real == own or own in real.parents:
                return True
    return False


def resolve_allowed(
    path: str, roots: Sequence[Path], *, must_be_dir: bool = True, private: Sequence[Path] = ()
) -> Path:
    """Resolve a local path given by a caller and check it lies under an allowed root.

    Below an allowed root, no symlink on the way may point into a .git directory or leave the
    repository holding it, and the path itself may not lie inside a .git directory: a repository's
    .git is never a package root nor read.

    ``private`` directories (the server's own: clone cache, state) are refused whether or not the
    path exists there, with an error that names neither the path nor where they are.

    Raises:
        UserInputError: empty path.
        NotFoundError: the path does not exist.
        PathNotAllowedError: the path (after following symlinks) is outside every root, inside a
            .git directory, or resolves through a symlink into .git or out of its repository.
    """
    if not path or not path.strip() or "\x00" in path:
        raise UserInputError("path is empty: pass the absolute path of a local directory")
    p = Path(path)
    if not p.is_absolute():  # '~' too: the server's home is not the caller's
        raise UserInputError(f"path {path!r} is relative: pass an absolute path")
    if is_private(path, private):
        raise PathNotAllowedError(PRIVATE_REFUSAL)
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
    if rel.startswith("~"):
        raise PathNotAllowedError(f"{what} {rel!r} starts with ~; give a path relative to the repository root")
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _open_dir(name: str, dir_fd: int | None, shown: str) -> int:
    """Open one directory without following a symlink at ``name``."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PathNotAllowedError(f"{shown} is a symlink or not a directory; nothing was written") from exc
        raise


def _walk_to_parent(root: Path, rel: PurePosixPath, *, create: bool) -> int | None:
    """A descriptor of the directory that holds ``rel`` below ``root``, reached one component at a
    time with O_NOFOLLOW, so no symlink is followed on the way (also one swapped in meanwhile).
    Missing directories are made when ``create``; else None is returned where one is missing."""
    fd = _open_dir(str(root), None, "the repository root")
    try:
        walked = PurePosixPath()
        for part in rel.parts[:-1]:
            walked /= part
            try:
                nxt = _open_dir(part, fd, str(walked))
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                nxt = _open_dir(part, fd, str(walked))
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def check_writable(root: Path, path: Path) -> None:
    """Refuse, before anything is written, a target whose directory or file is a symlink or not
    what a file write needs. ``path`` is absolute below ``root`` (see :func:`safe_repo_file`)."""
    root = root.resolve()
    rel = _relative_below(root, path)
    fd = _walk_to_parent(root, rel, create=False)
    if fd is None:
        return
    try:
        _check_target(fd, rel)
    finally:
        os.close(fd)


def _relative_below(root: Path, path: Path) -> PurePosixPath:
    try:
        rel = PurePosixPath(path.relative_to(root).as_posix())
    except ValueError as exc:
        raise PathNotAllowedError(f"{path} is outside the repository {root}; nothing was written") from exc
    check_relative(str(rel))
    return rel


def _check_target(dir_fd: int, rel: PurePosixPath) -> os.stat_result | None:
    try:
        st = os.stat(rel.name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise PathNotAllowedError(f"{rel} is a symlink; write to the file it names instead; nothing was written")
    if not stat.S_ISREG(st.st_mode):
        raise UserInputError(f"{rel} exists and is not a regular file; move it away first; nothing was written")
    return st


def _create_temporary(dir_fd: int, rel: PurePosixPath) -> tuple[str, int]:
    """A new file with a random name beside ``rel``: never an existing name, never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _ in range(8):
        tmp = f".{rel.name[:200]}.{secrets.token_hex(8)}.gitops-mcp.tmp"
        try:
            return tmp, os.open(tmp, flags, 0o666, dir_fd=dir_fd)
        except FileExistsError:
            continue
    raise PathNotAllowedError(
        f"cannot create a temporary file beside {rel}: every name tried exists; nothing was written"
    )


def write_text_atomic(root: Path, path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (absolute, below the repository ``root``) atomically.

    Every directory from ``root`` down is opened without following symlinks (missing ones are
    made), the temporary file gets a fresh random name created with O_EXCL|O_NOFOLLOW in that
    directory, and is renamed over the target inside the same directory. A symlink anywhere on the
    way, at the target, or swapped in meanwhile makes it refuse; nothing outside ``root`` is ever
    opened for writing. An existing file keeps its permission bits.
    """
    root = root.resolve()
    rel = _relative_below(root, path)
    fd = _walk_to_parent(root, rel, create=True)
    assert fd is not None
    try:
        old = _check_target(fd, rel)
        tmp, out = _create_temporary(fd, rel)
        try:
            with os.fdopen(out, "w", encoding="utf-8", newline="\n") as fh:
                if old is not None:
                    os.fchmod(fh.fileno(), stat.S_IMODE(old.st_mode))
                fh.write(text)
            _check_target(fd, rel)
            os.replace(tmp, rel.name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise
    finally:
        os.close(fd)
