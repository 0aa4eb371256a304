"""Commit, push, pull/merge requests, rollback, and the clone cache. Plain Python.

Guarantees:
- only the given paths are committed; no empty commits ("no_changes" is an answer);
- credentials are checked (``ls-remote``) before anything changes locally;
- a rejected push is fetched, rebased and retried a bounded number of times; a conflicting
  rebase is aborted and the commit kept on a named local branch;
- pull request mode never touches the working tree, index or checked-out branch: the commit
  is built with plumbing on the remote base (or the existing PR branch) and pushed to
  ``gitops-mcp/<slug>-<id>``, a name that is the same for the same files and base, so a
  re-run updates the open pull request instead of opening another;
- for a git URL, every write flow works in a private working tree of the clone cache
  (:mod:`.workspace`): delivering from one of them goes through :mod:`.remote_delivery`, which
  keeps the change on a named branch when the push is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from gitops_mcp.errors import PolicyViolation, UserInputError
from gitops_mcp.git import remote_delivery
from gitops_mcp.git.cache import CloneCache
from gitops_mcp.git.committed import committed_file
from gitops_mcp.git.kept import Kept
from gitops_mcp.git.pr_mode import pr_mode
from gitops_mcp.git.publish import PRIVATE, Checkout, check_message, checked_paths
from gitops_mcp.git.push_mode import push_mode
from gitops_mcp.git.repo import GitRepo, check_ref
from gitops_mcp.git.results import CommitResult, Mode, RollbackResult
from gitops_mcp.git.rollback import revert
from gitops_mcp.git.workspace import Workspace, Workspaces
from gitops_mcp.scrub import register_private_path, register_secrets
from gitops_mcp.settings import Settings

__all__ = ["PRIVATE", "CommitResult", "GitDelivery", "Kept", "Mode", "RollbackResult", "Workspace"]


class GitDelivery:
    """Git delivery for one server (settings hold credentials, allowed hosts, author).

    The modes live in :mod:`.push_mode`, :mod:`.pr_mode` and :mod:`.rollback`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = CloneCache(settings)
        self.workspaces = Workspaces(settings, self.cache)
        register_secrets(settings.secret_values())
        register_private_path(settings.cache_dir, "<clone cache>")  # no message says where it is
        self.workspaces.clean_stale()  # start-up: the working trees of processes that were killed

    def commit_and_push(
        self,
        repo_root: Path,
        paths: Sequence[str],
        message: str,
        branch: str | None = None,
        mode: Mode = "push",
        base: str | None = None,
        draft: bool = False,
        labels: Sequence[str] = (),
    ) -> CommitResult:
        _check_mode(self.settings, mode)
        message = check_message(message)
        _check_refs(branch, base)
        ws = self.workspaces.of(repo_root)
        if ws is not None:
            return remote_delivery.commit_in(self.workspaces, ws, paths, message, branch, mode, base, draft, labels)
        with self._local(repo_root) as repo:
            files = checked_paths(repo, paths, self.settings)
            co = Checkout.of(repo, self.settings)
            if mode == "push":
                return push_mode(co, files, message, branch)
            return pr_mode(co, files, message, branch, base, draft, labels)

    def rollback(
        self,
        repo_root: Path,
        paths: Sequence[str] = (),
        shas: Sequence[str] = (),
        mode: Mode = "pull_request",
        base: str | None = None,
        message: str | None = None,
        draft: bool = False,
        labels: Sequence[str] = (),
    ) -> RollbackResult:
        _check_mode(self.settings, mode)
        if not paths and not shas:
            raise UserInputError("name the app's files (paths) or the commits (shas) to revert")
        if base is not None:
            check_ref(base, "base")
        ws = self.workspaces.of(repo_root)
        if ws is not None:
            return remote_delivery.rollback_in(self.workspaces, ws, paths, shas, mode, base, message, draft, labels)
        with self._local(repo_root) as repo:
            return revert(Checkout.of(repo, self.settings), paths, shas, mode, base, message, draft, labels)

    # -- git URLs: a private working tree per operation (see gitops_mcp.git.workspace) ----------------------
    @contextlib.contextmanager
    def workspace(self, url: str, branch: str | None = None, owner: str = "local") -> Iterator[Workspace]:
        """A fresh working tree of ``url`` at the remote's tip of ``branch`` (default: its default
        branch), private to the block and removed afterwards; deliveries from it go to that branch."""
        with self.workspaces.open(url, branch, owner) as ws:
            yield ws

    def keep_written(self, repo_root: Path, paths: Sequence[str], message: str) -> Kept | None:
        """Files written into a working tree of :meth:`workspace`, kept on a named branch (the caller
        has no working tree to leave them in); None when the remote tip already has them."""
        ws = self.workspaces.of(repo_root)
        if ws is None:
            raise UserInputError("that directory is not a working tree of the clone cache")
        return remote_delivery.keep_written(self.workspaces, ws, paths, check_message(message))

    def deliver_kept(
        self,
        url: str,
        owner: str,
        paths: Sequence[str],
        message: str,
        branch: str | None = None,
        mode: Mode = "push",
        base: str | None = None,
        draft: bool = False,
        labels: Sequence[str] = (),
    ) -> CommitResult:
        """commit_and_push given a git URL: the change ``owner`` kept for ``paths`` (see :mod:`.kept`)."""
        _check_mode(self.settings, mode)
        message = check_message(message)
        _check_refs(branch, base)
        return remote_delivery.deliver_kept(
            self.workspaces, url, owner, paths, message, branch, mode, base, draft, labels
        )

    def tip_file(self, url: str, branch: str | None, file: str) -> tuple[str | None, str, str]:
        """(text of ``file`` or None when absent, branch, commit) at the remote's current tip."""
        from gitops_mcp.paths import check_relative

        rel = str(check_relative(file, "file"))
        remote = self.cache.remote(url)
        dest = self.cache.destination(remote)
        with self.cache.in_use(dest):
            with self.cache.locked(dest):
                branch, tip = self.cache.tip(dest, remote, branch)
            with GitRepo(dest, self.settings.git_timeout_seconds) as repo:
                data = repo.blob(tip, rel)
        return (data.decode("utf-8", "replace") if data is not None else None), branch, tip

    def committed_file(self, repo_root: Path, file: str) -> tuple[str, str]:
        """(text, HEAD commit) of ``file`` as committed and pushed; refuses uncommitted or unpushed
        changes (see :func:`gitops_mcp.git.committed.committed_file`)."""
        with self._local(repo_root) as repo:
            return committed_file(Checkout.of(repo, self.settings), file)

    def show(self, repo_root: Path, sha: str, file: str) -> str:
        """The text of ``file`` in the commit ``sha``."""
        from gitops_mcp.git.repo import check_sha
        from gitops_mcp.paths import check_relative

        with self._local(repo_root) as repo:
            return repo.run("show", f"{check_sha(sha)}:{check_relative(file, 'file')}")

    # -- clone cache (see gitops_mcp.git.cache) ---------------------------------------------------------
    def cached_clone(self, url: str) -> Path:
        return self.cache.clone(url)

    def prepare_write(self, repo_root: Path, paths: Sequence[str]) -> None:
        self.cache.prepare_write(repo_root, paths)

    def dir_exists(self, repo_root: Path, rel: str) -> bool:
        return self.cache.dir_exists(repo_root, rel)

    def tree_sha(self, repo_root: Path) -> str:
        return self.cache.tree_sha(repo_root)

    def is_cached(self, path: Path) -> bool:
        return self.cache.contains(path)

    def _local(self, repo_root: Path) -> GitRepo:
        """A caller's local repository; its own git configuration runs only when trusted."""
        return GitRepo(repo_root, self.settings.git_timeout_seconds, trusted=self.settings.repo_git_config_trusted)


def _check_mode(settings: Settings, mode: Mode) -> None:
    """Propose mode: nothing is pushed to a branch directly, whoever asks."""
    if mode == "push" and settings.proposes_only:
        raise PolicyViolation("the server only proposes changes (GITOPS_MCP_MODE=propose); use mode=pull_request")


def _check_refs(branch: str | None, base: str | None) -> None:
    """The branch to push to and the pull request's base, when given, are safe ref names."""
    for name, what in ((branch, "branch"), (base, "base")):
        if name is not None:
            check_ref(name, what)
