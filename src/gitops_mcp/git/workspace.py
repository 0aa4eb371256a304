"""A private working tree per operation, over the clone cache's object store.

Every write flow given a git URL works in ``<cache_dir>/work/<op>``: a ``git worktree`` of the
cached repository, detached at the remote's tip of the branch (fetched under the repository's
lock just before), fully checked out, used by that one operation only and removed when it ends,
whatever the outcome. ``<op>.json`` beside it names the process that owns it (pid, its start
time, the boot id, the host), written before the tree exists and removed after it is gone: at
start-up the trees of processes that no longer run are removed (a kill -9 leaves nothing that
breaks the next call), live ones of other processes are left alone. Temporary files of the
operation live in ``<op>.tmp``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitops_mcp.git import cache_lru
from gitops_mcp.git.cache import MARKER, CloneCache
from gitops_mcp.git.kept import KeptStore
from gitops_mcp.git.publish import Checkout
from gitops_mcp.git.remote import Remote, git_env
from gitops_mcp.git.repo import GitRepo, check_ref
from gitops_mcp.git.safety import CACHE_CONFIG
from gitops_mcp.settings import Settings

WORKTREE_CONFIG = (*CACHE_CONFIG, "gc.auto=0", "maintenance.auto=false")
PRIVATE_REFS = "refs/worktree/gitops-mcp"  # per working tree: two operations never share fetched refs
FOREIGN_GRACE = 24 * 3600.0
_CACHE_NAME = re.compile(
    r"^[0-9a-f]{20}-[a-z0-9][a-z0-9._-]*$"
)  # what cache.cache_name makes  # a working tree of another host is left alone this long


@dataclass(frozen=True)
class Workspace:
    """One operation's working tree: ``root`` at commit ``tip`` of ``branch`` on ``remote``."""

    root: Path
    remote: Remote
    branch: str
    tip: str
    dest: Path  # the cached repository whose object store it shares
    scratch: Path
    owner: str
    settings: Settings

    def repo(self) -> GitRepo:
        return GitRepo(
            self.root,
            self.settings.git_timeout_seconds,
            WORKTREE_CONFIG,
            scratch=self.scratch,
            toplevel=True,
            sparse=False,
        )

    def checkout(self, repo: GitRepo, cache: CloneCache) -> Checkout:
        return Checkout(
            repo,
            self.remote,
            git_env(self.remote, self.settings),
            self.settings,
            target=self.branch,
            private=PRIVATE_REFS,
            lock=lambda: cache.locked(self.dest),
        )


class Workspaces:
    """The working trees of this process, and the cleanup of those left by dead ones."""

    def __init__(self, settings: Settings, cache: CloneCache) -> None:
        self.settings = settings
        self.cache = cache
        self.kept = KeptStore(settings.kept_hours)
        cache.keep = self.kept.holds_live  # a repository holding a kept change is never evicted
        self._live: dict[Path, Workspace] = {}
        self._guard = threading.Lock()

    @property
    def root(self) -> Path:
        return self.settings.cache_dir / "work"

    def of(self, path: Path) -> Workspace | None:
        """The live working tree whose root is ``path`` (None: not one of ours)."""
        with self._guard:
            return self._live.get(path.resolve())

    @contextlib.contextmanager
    def open(self, url: str, branch: str | None = None, owner: str = "local") -> Iterator[Workspace]:
        """A fresh working tree at the remote's tip of ``branch`` (default: the remote's default
        branch), private to the block and removed when it ends."""
        remote = self.cache.remote(url)
        if branch is not None:
            check_ref(branch)
        dest = self.cache.destination(remote)
        op = secrets.token_hex(8)
        tree, scratch, marker = self.root / op, self.root / f"{op}.tmp", self.root / f"{op}.json"
        with self.cache.in_use(dest):
            self.root.mkdir(parents=True, exist_ok=True)
            _write_json(marker, {**_me(), "repo": dest.name, "created": time.time()})
            try:
                with self.cache.locked(dest):
                    branch, tip = self.cache.tip(dest, remote, branch)
                    with self._cache_repo(dest) as repo:
                        self.kept.expire(repo, dest)
                        repo.run("worktree", "add", "--quiet", "--detach", str(tree), tip)
                scratch.mkdir()
                ws = Workspace(tree.resolve(), remote, branch, tip, dest, scratch, owner, self.settings)
                with GitRepo(tree, self.settings.git_timeout_seconds, WORKTREE_CONFIG, toplevel=True) as repo:
                    repo.run("sparse-checkout", "disable")  # the cache is sparse; this tree has every file
                with self._guard:
                    self._live[ws.root] = ws
                try:
                    yield ws
                finally:
                    with self._guard:
                        self._live.pop(ws.root, None)
            finally:
                self._remove(dest, tree)
                shutil.rmtree(scratch, ignore_errors=True)
                with contextlib.suppress(OSError):
                    marker.unlink()

    def _cache_repo(self, dest: Path) -> GitRepo:
        return GitRepo(dest, self.settings.git_timeout_seconds, WORKTREE_CONFIG, toplevel=True)

    def _remove(self, dest: Path, tree: Path) -> None:
        if not tree.exists() and not tree.is_symlink():
            return
        with contextlib.suppress(Exception), self.cache.locked(dest), self._cache_repo(dest) as repo:
            repo.run_full("worktree", "remove", "--force", str(tree))
        if tree.exists() or tree.is_symlink():
            shutil.rmtree(tree, ignore_errors=True)
            self._prune(dest)

    def _prune(self, dest: Path) -> None:
        if not (dest / ".git" / MARKER).is_file():
            return
        with contextlib.suppress(Exception), self.cache.locked(dest), self._cache_repo(dest) as repo:
            repo.run_full("worktree", "prune")

    # -- start-up -------------------------------------------------------------------------------------------
    def clean_stale(self) -> int:
        """Remove the working trees of processes that no longer run (and what killed clones left);
        how many trees were removed."""
        cache_lru.clean_leftovers(self.cache.root, self.settings.git_timeout_seconds + 60.0)
        if not self.root.is_dir():
            return 0
        repos: set[str] = set()
        removed = 0
        for marker in sorted(self.root.glob("*.json")):
            try:
                data = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if data and _alive(data):
                continue
            op = marker.name.removesuffix(".json")
            for p in (self.root / op, self.root / f"{op}.tmp"):
                if p.exists() or p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                    removed += p.suffix != ".tmp"
            with contextlib.suppress(OSError):
                marker.unlink()
            if isinstance(data.get("repo"), str):
                repos.add(data["repo"])
        for p in self.root.iterdir():  # without its marker: its owner was killed while removing it
            op = p.name.removesuffix(".tmp")
            if p.is_dir() and not p.is_symlink():
                if not (self.root / f"{op}.json").exists():
                    shutil.rmtree(p, ignore_errors=True)
            elif not p.name.endswith(".json") and time.time() - p.lstat().st_mtime > 60:
                p.unlink()  # a marker being written when its owner was killed
        for name in sorted(repos):
            if _CACHE_NAME.match(name) and not (dest := self.cache.root / name).is_symlink():
                self._prune(dest)
        return removed


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _start_of(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot); '' when it does not run; None
    when this system does not say (no /proc)."""
    if not Path("/proc/self/stat").exists():
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return ""
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def _me() -> dict[str, object]:
    pid = os.getpid()
    return {"pid": pid, "start": _start_of(pid), "boot": _boot_id(), "host": socket.gethostname()}


def _alive(data: dict[str, object]) -> bool:
    """Does the process that wrote this marker still run?"""
    if data.get("host") != socket.gethostname():
        created = data.get("created")
        return isinstance(created, int | float) and time.time() - created < FOREIGN_GRACE
    if data.get("boot") != _boot_id():
        return False
    pid = data.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    start = _start_of(pid)
    if start is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return bool(start) and start == data.get("start")
