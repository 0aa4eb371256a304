"""The clone cache's disk bound: last use, sizes, and eviction of the least recently used.

Beside each cached repository ``repos/<name>`` live ``<name>.use`` (held with a shared lock by
every operation that uses the repository; its modification time is the last use) and
``<name>.size`` (its size in bytes, measured when an operation ends). Eviction takes the use
lock exclusively without waiting, so a repository in use is never removed; lock files are never
deleted (a waiter would otherwise lock a file nobody else sees).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

MARKER = "gitops-mcp-cache.json"


def _open(path: Path) -> int:
    return os.open(str(path), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)


@contextlib.contextmanager
def flocked(path: Path, shared: bool = False) -> Iterator[None]:
    """``flock`` on ``path`` (created if missing) while the block runs, across threads and processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_flock(path: Path) -> int | None:
    """An exclusive lock on ``path`` if nobody holds any (its descriptor; close it to release)."""
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def use_file(dest: Path) -> Path:
    return dest.with_name(dest.name + ".use")


def touch(dest: Path) -> None:
    """Record a use of ``dest`` now."""
    path = use_file(dest)
    os.close(_open(path))
    os.utime(path)


def last_use(dest: Path) -> float:
    try:
        return use_file(dest).stat().st_mtime
    except OSError:
        return 0.0


def measure(dest: Path) -> int:
    """Bytes of every file under ``dest`` (symlinks not followed); recorded in ``<name>.size``."""
    total = 0
    for base, _dirs, files in os.walk(dest):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, name)).st_size
    tmp = dest.with_name(f"{dest.name}.size.{secrets.token_hex(4)}")
    tmp.write_text(str(total), encoding="utf-8")
    os.replace(tmp, dest.with_name(dest.name + ".size"))
    return total


def recorded_size(dest: Path) -> int:
    try:
        return int(dest.with_name(dest.name + ".size").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return measure(dest)


def evict(root: Path, max_bytes: int, keep: Callable[[Path], bool]) -> list[str]:
    """Remove least recently used repositories until the cache is within ``max_bytes``; never one
    in use (its use lock or repository lock is held) nor one ``keep`` names. The names removed."""
    if not root.is_dir():
        return []
    entries = []
    for marker in root.glob(f"*/.git/{MARKER}"):
        dest = marker.parent.parent
        if not dest.is_symlink():
            entries.append((last_use(dest), recorded_size(dest), dest))
    total = sum(size for _, size, _ in entries)
    removed: list[str] = []
    for _, size, dest in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if keep(dest):
            continue
        use = try_flock(use_file(dest))
        if use is None:
            continue
        try:
            lock = try_flock(dest.with_name(dest.name + ".lock"))
            if lock is None:
                continue
            try:
                if not (dest / ".git" / MARKER).is_file():
                    continue
                aside = root / f".evict-{secrets.token_hex(6)}"
                os.rename(dest, aside)
                shutil.rmtree(aside, ignore_errors=True)
                with contextlib.suppress(OSError):
                    dest.with_name(dest.name + ".size").unlink()
                total -= size
                removed.append(dest.name)
            finally:
                os.close(lock)
        finally:
            os.close(use)
    return removed


def clean_leftovers(root: Path, max_age: float) -> int:
    """Remove what a killed clone or eviction left in ``root``: ``.evict-*`` directories, and
    ``.clone-*`` ones older than ``max_age`` seconds (no clone runs longer than the git timeout)."""
    if not root.is_dir():
        return 0
    count = 0
    now = time.time()
    for p in root.iterdir():
        if p.is_symlink() or not p.is_dir():
            continue
        old = now - p.stat().st_mtime > max_age
        if p.name.startswith(".evict-") or (p.name.startswith(".clone-") and old):
            shutil.rmtree(p, ignore_errors=True)
            count += 1
    return count
