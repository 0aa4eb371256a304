"""Git delivery use cases: commit_and_push and rollback."""

from __future__ import annotations

from gitops_mcp.errors import UserInputError
from gitops_mcp.git.delivery import CommitResult, Mode, RollbackResult
from gitops_mcp.services.shared import Shared


class GitService:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def commit(
        self,
        repo_path: str,
        paths: list[str],
        message: str,
        branch: str | None = None,
        mode: Mode = "push",
        base: str | None = None,
        draft: bool = False,
        labels: list[str] | None = None,
    ) -> CommitResult:
        self.shared.require_writable()
        if mode not in ("push", "pull_request"):
            raise UserInputError("mode must be push or pull_request")
        root = self.shared.local_dir(repo_path)
        return self.shared.delivery.commit_and_push(
            root,
            paths,
            message,
            branch,
            mode,
            base,
            draft,
            labels or [],
        )

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
    ) -> RollbackResult:
        self.shared.require_writable()
        if mode not in ("push", "pull_request"):
            raise UserInputError("mode must be push or pull_request")
        root = self.shared.local_dir(repo_path)
        return self.shared.delivery.rollback(
            root,
            paths or [],
            shas or [],
            mode,
            base,
            message,
            draft,
            labels or [],
        )
