"""Git delivery use cases: commit_and_push and rollback."""

from __future__ import annotations

from collections.abc import Sequence

from gitops_mcp.errors import UserInputError
from gitops_mcp.git.delivery import CommitResult, Mode, RollbackResult
from gitops_mcp.git.repo import check_ref, check_sha
from gitops_mcp.paths import check_relative
from gitops_mcp.services.repository import Repository
from gitops_mcp.services.shared import Shared

MAX_ITEMS = 100


def check_delivery_arguments(
    mode: str,
    paths: Sequence[str] = (),
    shas: Sequence[str] = (),
    branch: str | None = None,
    base: str | None = None,
    labels: Sequence[str] = (),
) -> None:
    """Every argument of a commit or rollback, checked before any git, network or cluster call.

    Raises:
        UserInputError, PathNotAllowedError: the first argument that is not acceptable.
    """
    if mode not in ("push", "pull_request"):
        raise UserInputError("mode must be push or pull_request")
    for what, items in (("paths", paths), ("shas", shas), ("labels", labels)):
        if len(items) > MAX_ITEMS:
            raise UserInputError(f"{what} has {len(items)} entries; at most {MAX_ITEMS}")
    for p in paths:
        check_relative(p, "path")
    for sha in shas:
        check_sha(sha)
    if branch is not None:
        check_ref(branch)
    if base is not None:
        check_ref(base, "base")
    for label in labels:
        if not label.strip() or len(label) > 100 or any(c in label for c in "\n\r\0"):
            raise UserInputError(f"label {label[:100]!r} must be one line of at most 100 characters")


class GitService:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def commit(
        self,
        repo_path: str | Repository,
        paths: list[str],
        message: str,
        branch: str | None = None,
        mode: Mode = "push",
        base: str | None = None,
        draft: bool = False,
        labels: list[str] | None = None,
        principal: str = "local",
    ) -> CommitResult:
        """Commit and push (or propose) files of a local repository; given a git URL, the change
        kept for exactly those paths in the clone cache (see :mod:`gitops_mcp.git.kept`)."""
        self.shared.require_writable()
        check_delivery_arguments(mode, paths, (), branch, base, labels or ())
        how = {"branch": branch, "mode": mode, "base": base, "draft": draft, "labels": labels or []}
        return Repository.of(repo_path).deliver(self.shared, principal, paths, message, **how)

    def rollback(
        self,
        repo_path: str,
        paths: list[str] | None = None,
        shas: list[str] | None = None,
        mode: Mode = "pull_request",
        base: str | None = None,
        message: str | None = None,
        draft: bool = False,
        labels: list[str] | None = None,
        principal: str = "local",
    ) -> RollbackResult:
        self.shared.require_writable()
        check_delivery_arguments(mode, paths or (), shas or (), None, base, labels or ())
        with self.shared.working_tree(repo_path, principal, base) as tree:
            return self.shared.delivery.rollback(
                tree.root,
                paths or [],
                shas or [],
                mode,
                base,
                message,
                draft,
                labels or [],
            )
