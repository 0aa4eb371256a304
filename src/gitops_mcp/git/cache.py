"""The clone cache: local clones of remote repositories, under ``<cache_dir>/repos``.

No URL can name a cache directory: a clone lives in ``repos/<hash>-<readable suffix>``, where
the hash is of the normalised remote (host, port, path without ``.git``), and the suffix is
made only of safe characters. Before any git command the destination is checked to be a direct
child of the cache, not a symlink, and marked as made by the cache (a marker written into its
``.git`` before the clone is moved into place): git never runs in a directory the cache did not
create. A clone is made in a temporary directory and renamed into place, so a killed clone
leaves nothing that looks finished. Cached repositories never run hooks.

Every git command that writes the shared parts of a cached repository (its refs, shallow file,
object store bookkeeping, main index) runs under the repository's lock, so a git lock file found
there while the lock is held was left by a killed process and is removed. The disk bound (least
recently used repositories go first, never one in use) lives in :mod:`.cache_lru`; the private
working tree per operation in :mod:`.workspace`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gitops_mcp.errors import GitAuthError, GitError, NotFoundError, PathNotAllowedError, UserInputError
from gitops_mcp.git import cache_lru
from gitops_mcp.git.cache_lru import MARKER, flocked
from gitops_mcp.git.remote import Remote, check_rewrites, git_env, parse_remote
from gitops_mcp.git.repo import GitRepo
from gitops_mcp.git.safety import CACHE_CONFIG, git_argv, git_runner, untrusted_config
from gitops_mcp.git.urls import url_identity
from gitops_mcp.paths import check_relative
from gitops_mcp.scrub import scrub
from gitops_mcp.settings import Settings

# git's own words for a remote that wants (other) credentials: 401 without usable ones, 403 with wrong
# ones. Matched on those phrases only: the URL in the message may hold "401" in a port or a path.
_REFUSED = re.compile(r"Authentication failed|could not read (?:Username|Password)|returned error: 40[13]\b")


def refused(git_stderr: str) -> bool:
    """Whether a failed clone or fetch was refused for its credentials (not missing, not unreachable)."""
    return _REFUSED.search(git_stderr) is not None


__all__ = ["MARKER", "CloneCache", "cache_key", "cache_name"]
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_STARTED = time.time()
# git's own lock files in the shared part of a repository (only ever held under the cache's lock)
_GIT_LOCKS = ("shallow", "index", "HEAD", "config", "packed-refs", "FETCH_HEAD", "ORIG_HEAD", "info/sparse-checkout")


def cache_key(remote: Remote) -> str:
    """``host[:port]/path`` without ``.git``: one key for every spelling (https, ssh, scp) of a remote."""
    path = remote.repo_path
    return f"{remote.netloc}/{path}"


def cache_name(key: str) -> str:
    """The directory name for ``key``: a hash no URL can steer, and a readable suffix."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    host, _, path = key.partition("/")
    readable = _UNSAFE.sub("-", f"{host.split(':')[0]}-{path.rsplit('/', 1)[-1]}".lower()).strip(".-")[:48]
    return f"{digest}-{readable or 'repo'}"


class CloneCache:
    """Shallow, sparse clones of remote repositories for detection and writing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keep: Callable[[Path], bool] = lambda dest: False  # never evicted (e.g. holds kept changes)

    @property
    def root(self) -> Path:
        return self.settings.cache_dir / "repos"

    def remote(self, url: str) -> Remote:
        remote = parse_remote(url, self.settings)
        if remote.scheme == "file":
            raise UserInputError("pass a local path instead of a file:// URL")
        check_rewrites(remote, self.settings)  # the server's own git configuration may rewrite it
        return remote

    def _repo(self, path: Path) -> GitRepo:
        return GitRepo(path, self.settings.git_timeout_seconds, CACHE_CONFIG)

    def destination(self, remote: Remote) -> Path:
        """Where the clone of ``remote`` lives; checked to be a direct child of the cache."""
        root = self.root.resolve()
        dest = root / cache_name(cache_key(remote))
        if dest.parent != root or dest.is_symlink() or not dest.resolve().is_relative_to(root):
            raise PathNotAllowedError(f"the cache directory for {remote.url} is not inside the clone cache")
        return dest

    def _marked(self, dest: Path) -> bool:
        marker = dest / ".git" / MARKER
        return not (dest / ".git").is_symlink() and marker.is_file() and not marker.is_symlink()

    @contextlib.contextmanager
    def locked(self, dest: Path) -> Iterator[None]:
        """One writer of a repository's shared parts at a time, across threads and processes."""
        with flocked(dest.with_name(dest.name + ".lock")):
            if self._marked(dest):
                _clear_stale_locks(dest / ".git", self.settings.git_timeout_seconds + 5)
            yield

    @contextlib.contextmanager
    def in_use(self, dest: Path) -> Iterator[None]:
        """``dest`` is in use while the block runs (never evicted); afterwards its size is recorded
        and the cache is brought back within GITOPS_MCP_CACHE_MAX_MB."""
        with flocked(cache_lru.use_file(dest), shared=True):
            cache_lru.touch(dest)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    if self._marked(dest):
                        cache_lru.measure(dest)
        self.evict()

    def evict(self) -> list[str]:
        """Least recently used repositories out until the cache is within its bound (the names)."""
        return cache_lru.evict(self.root, self.settings.cache_max_mb * 1024 * 1024, self.keep)

    @contextlib.contextmanager
    def using(self, url: str) -> Iterator[Path]:
        """The cached clone of ``url``, made or refreshed (see :meth:`clone`), in use while the block runs."""
        dest = self.destination(self.remote(url))
        with self.in_use(dest):
            yield self.clone(url)

    def clone(self, url: str) -> Path:
        """A local clone of ``url`` in the cache, made or refreshed.

        The first time: a shallow (depth 1), single-branch, sparse clone (only root files are
        checked out; detection reads the tree from git objects, and directories are checked out
        when something is written there). Later: a shallow fetch and ``reset --keep``, which
        keeps local changes (files written by the wizard) unless they conflict.
        """
        remote = self.remote(url)
        dest = self.destination(remote)
        with self.locked(dest):
            if self._marked(dest):
                self._refresh(dest, remote)
            else:
                self._ensure(dest, remote)
        cache_lru.touch(dest)
        return dest

    def present(self, url: str) -> Path:
        """The cached clone of ``url`` as it is, made if it is not there (no refresh)."""
        remote = self.remote(url)
        dest = self.destination(remote)
        if not self._marked(dest):
            with self.locked(dest):
                self._ensure(dest, remote)
        return dest

    def _ensure(self, dest: Path, remote: Remote) -> bool:
        """Clone into ``dest`` unless the cache made it already (call under the lock); True when cloned."""
        if self._marked(dest):
            return False
        if dest.exists() or dest.is_symlink():  # not made by the cache, or a clone that was cut off
            _remove(dest)
        self._clone_into(dest, remote)
        return True

    def tip(self, dest: Path, remote: Remote, branch: str | None) -> tuple[str, str]:
        """(branch, commit) of the remote's tip of ``branch`` (default: the branch the clone was made
        from, the remote's default), fetched into the cached clone, made first if need be. Call
        under the lock."""
        cloned = self._ensure(dest, remote)
        with GitRepo(dest, self.settings.git_timeout_seconds, CACHE_CONFIG, toplevel=True) as repo:
            current = repo.current_branch() or "main"
            branch = branch or current
            if not (cloned and branch == current):
                code, _, err = repo.run_full(*_fetch_branch(remote, branch), env=git_env(remote, self.settings))
                if code != 0:
                    if "couldn't find remote ref" in err:
                        raise NotFoundError(f"the branch {branch} does not exist on {remote.url}")
                    raise repo.error(("fetch",), err)
            sha = repo.rev(f"refs/remotes/origin/{branch}")
        if sha is None:
            raise NotFoundError(f"the branch {branch} does not exist on {remote.url}")
        return branch, sha

    def _refresh(self, dest: Path, remote: Remote) -> None:
        env = git_env(remote, self.settings)
        with self._repo(dest) as repo:
            if repo.root != dest.resolve():
                raise PathNotAllowedError(f"the cached clone of {remote.url} is not a repository of its own")
            branch = repo.current_branch()
            if not branch:
                return
            repo.run(*_fetch_branch(remote, branch), env=env)
            code, _, err = repo.run_full("reset", "--quiet", "--keep", f"refs/remotes/origin/{branch}")
            if code != 0:
                raise GitError(
                    f"the cached clone of {remote.url} has local changes that conflict with {branch} on the remote: "
                    f"{scrub(err)[-500:]}; commit them (commit_and_push) or remove the cache directory"
                )

    def _clone_into(self, dest: Path, remote: Remote) -> None:
        import git

        env = git_env(remote, self.settings)
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.root))
        work = tmp / "repo"
        try:
            config = (*CACHE_CONFIG, *untrusted_config(str(tmp)))  # the server user's drivers do not run
            runner = git_runner(str(tmp), config)
            argv = git_argv(
                "clone",
                "--quiet",
                "--depth",
                "1",
                "--single-branch",
                "--sparse",
                "--no-tags",
                "--",
                remote.url,
                str(work),
                extra_config=config,
            )
            try:
                runner.execute(argv, env=env, kill_after_timeout=self.settings.git_timeout_seconds)
            except git.GitCommandError as exc:
                text = scrub(str(exc.stderr))
                if refused(text):
                    raise GitAuthError(f"cloning {remote.url} was refused: set GITOPS_MCP_GIT_TOKEN") from None
                raise GitError(f"cloning {remote.url} failed: {text[-1000:]}") from None
            marker = {"key": cache_key(remote), "url": remote.url}
            (work / ".git" / MARKER).write_text(json.dumps(marker), encoding="utf-8")
            os.rename(work, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def find(self, url: str) -> Path | None:
        """The cached clone of ``url`` (any spelling of it), if there is one; no git is run."""
        if not self.root.is_dir():
            return None
        wanted = url_identity(url)
        for marker in sorted(self.root.glob(f"*/.git/{MARKER}")):
            dest = marker.parent.parent
            try:
                recorded = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if self._marked(dest) and url_identity(str(recorded.get("url", ""))) == wanted:
                return dest
        return None

    # -- working in a cached clone ------------------------------------------------------------------
    def contains(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.root.resolve())

    def prepare_write(self, repo_root: Path, paths: Sequence[str]) -> None:
        """Before writing into a cached (sparse) clone, check out the target directories."""
        if self.contains(repo_root):
            rels = [str(check_relative(p, "path")) for p in paths]
            with self._repo(repo_root) as repo, self.locked(repo.root):
                repo.materialize(rels)

    def dir_exists(self, repo_root: Path, rel: str) -> bool:
        """Is ``rel`` a directory of the repository (in HEAD, for the sparse clone cache)?"""
        if not self.contains(repo_root):
            return (repo_root / rel).is_dir()
        rel = str(check_relative(rel, "path")) if rel not in ("", ".") else ""
        with self._repo(repo_root) as repo:
            code, out, _ = repo.run_full("cat-file", "-t", f"HEAD:{rel}")
        return code == 0 and out.strip() == "tree"

    def tree_sha(self, repo_root: Path) -> str:
        with self._repo(repo_root) as repo:
            return repo.tree_of("HEAD")


def _clear_stale_locks(git_dir: Path, max_age: float) -> None:
    """git lock files in the shared part of a cached repository, left by a git command that was
    killed (with the server, or at its timeout). They are taken only under the cache's lock, which
    is held now: one made before this process started, or older than any git command may run, is
    stale."""
    found = [git_dir / f"{name}.lock" for name in _GIT_LOCKS]
    if (git_dir / "refs").is_dir():
        found += list((git_dir / "refs").rglob("*.lock"))
    now = time.time()
    for lock in found:
        with contextlib.suppress(OSError):
            st = lock.lstat()
            if stat.S_ISREG(st.st_mode) and (st.st_mtime < _STARTED or now - st.st_mtime > max_age):
                lock.unlink()


def _fetch_branch(remote: Remote, branch: str) -> tuple[str, ...]:
    """git arguments: a shallow fetch of ``branch`` into ``refs/remotes/origin/<branch>``."""
    return (
        "fetch",
        "--quiet",
        "--depth",
        "1",
        "--no-tags",
        "--",
        remote.url,
        f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
    )


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)
