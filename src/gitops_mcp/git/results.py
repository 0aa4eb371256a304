"""What git delivery returns."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gitops_mcp.model import Model

Mode = Literal["push", "pull_request"]


class CommitResult(Model):
    status: Literal["pushed", "pull_request", "no_changes"]
    commit_sha: str | None = Field(None, description="The new commit (None when nothing changed)")
    branch: str = Field(description="Branch the commit was pushed to")
    base: str | None = Field(None, description="Target branch of the pull request")
    remote: str = Field(description="Remote URL (never with credentials)")
    pr_url: str | None = None
    pr_number: int | None = None
    pr_created: bool | None = Field(None, description="False when an open pull request was updated")
    attempts: int = Field(1, description="Push attempts (rebase-and-retry rounds)")
    files: list[str] = Field(default_factory=list)
    message: str


class RollbackResult(CommitResult):
    reverted: list[str] = Field(default_factory=list, description="Commits reverted, newest first")
