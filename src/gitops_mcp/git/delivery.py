"""Commit, push, pull/merge requests, rollback, and the clone cache. Plain Python.

Guarantees:
- only the given paths are committed; no empty commits ("no_changes" is an answer);
- credentials are checked (``ls-remote``) before anything changes locally;
- a rejected push is fetched, rebased and retried a bounded number of times; a conflicting
  rebase is aborted and the commit kept on a named local branch;
- pull request mode never touches the working tree, index or checked-out branch: the commit
  is built with plumbing on the remote base (or the existing PR branch) and pushed to
  ``gitops-mcp/<slug>-<id>``, a name that is the same for the same files and base, so a
  re-run updates the open pull request instead of opening another.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gitops_mcp.errors import UserInputError
from gitops_mcp.git.cache import CloneCache
from gitops_mcp.git.committed import committed_file
from gitops_mcp.git.pr_mode import pr_mode
from gitops_mcp.git.publish import PRIVATE, Checkout, check_message, checked_paths
from gitops_mcp.git.push_mode import push_mode
from gitops_mcp.git.repo import GitRepo, check_ref
from gitops_mcp.git.results import CommitResult, Mode, RollbackResult
from gitops_mcp.git.rollback import revert
from gitops_mcp.scrub import register_secrets
from gitops_mcp.settings import Settings

__all__ = ["PRIVATE", "CommitResult", "GitDelivery", "Mode", "RollbackResult"]


class GitDelivery:
    """Git delivery for one server (settings hold credentials, allowed hosts, author).

    The modes live in :mod:`.push_mode`, :mod:`.pr_mode` and :mod:`.rollback`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = CloneCache(settings)
        register_secrets(settings.secret_values())

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
        message = check_message(message)
        if branch is not None:
            check_ref(branch)
        if base is not None:
            check_ref(base, "base")
        with GitRepo(repo_root, self.settings.git_timeout_seconds) as repo:
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
        if not paths and not shas:
            raise UserInputError("name the app's files (paths) or the commits (shas) to revert")
        if base is not None:
            check_ref(base, "base")
        with GitRepo(repo_root, self.settings.git_timeout_seconds) as repo:
            return revert(Checkout.of(repo, self.settings), paths, shas, mode, base, message, draft, labels)

    def committed_file(self, repo_root: Path, file: str) -> tuple[str, str]:
        """(text, HEAD commit) of ``file`` as committed and pushed; refuses uncommitted or unpushed
        changes (see :func:`gitops_mcp.git.committed.committed_file`)."""
        with GitRepo(repo_root, self.settings.git_timeout_seconds) as repo:
            return committed_file(Checkout.of(repo, self.settings), file)

    def show(self, repo_root: Path, sha: str, file: str) -> str:
        """The text of ``file`` in the commit ``sha``."""
        from gitops_mcp.git.repo import check_sha
        from gitops_mcp.paths import check_relative

        with GitRepo(repo_root, self.settings.git_timeout_seconds) as repo:
            return repo.run("show", f"{check_sha(sha)}:{check_relative(file, 'file')}")

    # -- clone cache (see gitops_mcp.git.cache) ---------------------------------------------------------
    def cached_clone(self, url: str) -> Path:
        return self.cache.clone(url)

    def clone_here(self, url: str) -> Path:
        """This server's clone of ``url`` as it is, made when the cache has none (a cold cache)."""
        return self.cache.present(url)

    def prepare_write(self, repo_root: Path, paths: Sequence[str]) -> None:
        self.cache.prepare_write(repo_root, paths)

    def dir_exists(self, repo_root: Path, rel: str) -> bool:
        return self.cache.dir_exists(repo_root, rel)

    def tree_sha(self, repo_root: Path) -> str:
        return self.cache.tree_sha(repo_root)

    def is_cached(self, path: Path) -> bool:
        return self.cache.contains(path)
