"""Promotion: carry an app's version from one environment overlay to the next."""

from __future__ import annotations

from pydantic import Field

from gitops_mcp.git.delivery import CommitResult, Mode
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.manifests.write import unified_diff
from gitops_mcp.model import Model
from gitops_mcp.promotion import PromotionPlan, plan_promotion
from gitops_mcp.services.edits import Edits
from gitops_mcp.services.shared import Shared


class PromotionResult(Model):
    plan: PromotionPlan
    diff: str
    validation: list[ValidationResult] = Field(default_factory=list)
    commit: CommitResult | None = None
    message: str


class PromotionService:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.edits = Edits(shared)

    def promote(
        self,
        repo_path: str,
        app: str,
        from_env: str,
        to_env: str,
        mode: Mode = "pull_request",
        message: str | None = None,
        principal: str = "local",
    ) -> PromotionResult:
        """Carry an app's image tags, chart version and changed values from one overlay to the next
        (``repo_path`` a local path or a git URL: then in a working tree of its own at the remote tip)."""

        self.shared.require_writable()
        with self.shared.working_tree(repo_path, principal) as tree:
            root = tree.root
            p = plan_promotion(
                root, app, from_env, to_env, self.shared.gitops_kinds, self.shared.registry.chart_releases()
            )
            diff = "".join(unified_diff(e.before, e.after, e.file) for e in p.edits)
            if not p.edits:
                return PromotionResult(plan=p, diff="", message=p.description.splitlines()[-1])
            validation = self.edits.validate(p.edits)
            title = message or f"Promote {app} from {from_env} to {to_env}"
            commit = self.edits.write_and_commit(root, p.edits, f"{title}\n\n{p.description}", mode)
        return PromotionResult(plan=p, diff=diff, validation=validation, commit=commit, message=commit.message)
