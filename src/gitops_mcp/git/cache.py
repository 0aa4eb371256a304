"""The clone cache: local clones of remote repositories, under ``<cache_dir>/repos``.

No URL can name a cache directory: a clone lives in ``repos/<hash>-<readable suffix>``, where
the hash is of the normalised remote (host, port, path without ``.git``), and the suffix is
made only of safe characters. Before any git command the destination is checked to be a direct
child of the cache, not a symlink, and marked as made by the cache (a marker written into its
``.git`` before the clone is moved into place): git never runs in a directory the cache did not
create. A clone is made in a temporary directory and renamed into place, so a killed clone
leaves nothing that looks finished. Cached repositories never run hooks.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from gitops_mcp.errors import GitAuthError, GitError, PathNotAllowedError, UserInputError
from gitops_mcp.git.remote import Remote, git_env, parse_remote
from gitops_mcp.git.repo import GitRepo
from gitops_mcp.git.safety import CACHE_CONFIG, git_argv, git_runner
from gitops_mcp.git.urls import url_identity
from gitops_mcp.paths import check_relative
from gitops_mcp.scrub import scrub
from gitops_mcp.settings import Settings

MARKER = "gitops-mcp-cache.json"
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


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

    @property
    def root(self) -> Path:
        return self.settings.cache_dir / "repos"

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
    def _locked(self, dest: Path) -> Iterator[None]:
        """One clone or refresh of a repository at a time, across threads and processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(dest) + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def clone(self, url: str) -> Path:
        """A local clone of ``url`` in the cache, made or refreshed.

        The first time: a shallow (depth 1), single-branch, sparse clone (only root files are
        checked out; detection reads the tree from git objects, and directories are checked out
        when something is written there). Later: a shallow fetch and ``reset --keep``, which
        keeps local changes (files written by the wizard) unless they conflict.
        """
        remote = parse_remote(url, self.settings)
        if remote.scheme == "file":
            raise UserInputError("pass a local path instead of a file:// URL")
        dest = self.destination(remote)
        with self._locked(dest):
            if self._marked(dest):
                self._refresh(dest, remote)
                return dest
            if dest.exists() or dest.is_symlink():  # not made by the cache, or a clone that was cut off
                _remove(dest)
            self._clone_into(dest, remote)
        return dest

    def present(self, url: str) -> Path:
        """The clone of ``url`` as it is (no fetch) when the cache has one, else a new clone: what a
        session started elsewhere (another replica, a cache since emptied) works in here."""
        dest = self.destination(parse_remote(url, self.settings))
        with self._locked(dest):
            if self._marked(dest):
                return dest
        return self.clone(url)

    def _refresh(self, dest: Path, remote: Remote) -> None:
        env = git_env(remote, self.settings)
        with self._repo(dest) as repo:
            if repo.root != dest.resolve():
                raise PathNotAllowedError(f"the cached clone {dest} is not a repository of its own")
            branch = repo.current_branch()
            if not branch:
                return
            repo.run(
                "fetch",
                "--quiet",
                "--depth",
                "1",
                "--no-tags",
                "--",
                remote.url,
                f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                env=env,
            )
            code, _, err = repo.run_full("reset", "--quiet", "--keep", f"refs/remotes/origin/{branch}")
            if code != 0:
                raise GitError(
                    f"the cached clone {dest} has local changes that conflict with {branch} on the remote: "
                    f"{scrub(err)[-500:]}; commit them (commit_and_push) or remove the cache directory"
                )

    def _clone_into(self, dest: Path, remote: Remote) -> None:
        import git

        env = git_env(remote, self.settings)
        tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.root))
        work = tmp / "repo"
        try:
            runner = git_runner(str(tmp), CACHE_CONFIG)
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
                extra_config=CACHE_CONFIG,
            )
            try:
                runner.execute(argv, env=env, kill_after_timeout=self.settings.git_timeout_seconds)
            except git.GitCommandError as exc:
                text = scrub(str(exc.stderr))
                if any(s in text for s in ("Authentication failed", "could not read Username", "401", "403")):
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
            with self._repo(repo_root) as repo:
                repo.materialize([str(check_relative(p, "path")) for p in paths])

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


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)
