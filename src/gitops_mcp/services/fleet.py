"""Fleet: lay out a multi-environment GitOps repository, validated, and deliver it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from gitops_mcp.errors import NotFoundError, PolicyViolation, UserInputError
from gitops_mcp.fleet import FleetSpec, plan_fleet
from gitops_mcp.git.delivery import CommitResult
from gitops_mcp.git.info import read_repo_info
from gitops_mcp.manifests.validation import ValidationResult, validate_text
from gitops_mcp.manifests.write import unified_diff
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.model import Model
from gitops_mcp.paths import check_writable, safe_repo_file, write_text_atomic
from gitops_mcp.questions import AnswerError, git_url
from gitops_mcp.services.repository import Tree
from gitops_mcp.services.shared import Shared

if TYPE_CHECKING:
    from gitops_mcp.fleet import FleetSpec


class FleetFileResult(Model):
    path: str
    status: Literal["created", "updated", "unchanged", "kept"] = Field(
        description="kept: an existing file that differs and was left alone (overwrite=false)"
    )
    purpose: str


DIFF_BUDGET = 4000
"""Characters of diff a fleet result carries: updated files' diffs first, then created ones."""


def within_budget(diffs: list[tuple[str, str, bool]], budget: int = DIFF_BUDGET) -> tuple[str, list[str]]:
    """The (path, diff, updated) that fit in ``budget`` characters, whole, updated files chosen
    first, in their order; and the paths of the others."""
    left, fits = budget, set()
    for path, text, _ in sorted(diffs, key=lambda d: not d[2]):
        if len(text) <= left:
            fits.add(path)
            left -= len(text)
    return "".join(t for p, t, _ in diffs if p in fits), [p for p, _, _ in diffs if p not in fits]


class FleetResult(Model):
    provider: str
    environments: list[str]
    auto_sync: list[str]
    files: list[FleetFileResult]
    diff: str
    diff_omitted: list[str] = Field(default_factory=list, description="Written files whose diff is not in diff")
    validated: int = 0
    validation: list[ValidationResult] = Field(default_factory=list, description="Files with warnings")
    notes: list[str] = Field(default_factory=list, description="What to do next on each cluster")
    commit: CommitResult | None = None
    message: str


class FleetService:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def scaffold(
        self,
        repo_path: str,
        provider: str,
        environments: list[str] | None = None,
        auto_sync: list[str] | None = None,
        repo_url: str | None = None,
        branch: str | None = None,
        install_manifests: str | None = None,
        notifications: Mapping[str, Any] | None = None,
        delivery: Literal["write", "push", "pull_request"] = "write",
        message: str | None = None,
        overwrite: bool = False,
        principal: str = "local",
        **options: Any,
    ) -> FleetResult:
        """Write the multi-environment layout of :mod:`gitops_mcp.fleet`, validated, and deliver it.

        ``options``: the engines' own options (``FleetLayout.options``). Existing files that differ
        are kept (and named) unless ``overwrite``; an existing bootstrap of the engine
        (``FleetLayout.kept_dir``) is always kept. Given a git URL, the layout is made in a working
        tree of its own at the remote's tip of ``branch``; with delivery=write the files are kept on
        a named branch of the clone cache for commit_and_push.
        """
        self.shared.require_writable()
        with self.shared.working_tree(repo_path, principal, branch) as tree:
            spec = self._spec(tree, provider, environments, auto_sync, repo_url, branch, notifications, options)
            install_text = self._install_text(tree.root, spec, install_manifests)
            return self._scaffold(tree, spec, install_text, delivery, message, overwrite)

    def _spec(
        self,
        tree: Tree,
        provider: str,
        environments: list[str] | None,
        auto_sync: list[str] | None,
        repo_url: str | None,
        branch: str | None,
        notifications: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> FleetSpec:
        from pydantic import ValidationError

        info = read_repo_info(tree.root)
        if info is None:
            raise UserInputError(f"{tree.root} is not a git repository; scaffold_fleet writes into one")
        url = repo_url or info.origin_url
        if not url:
            raise UserInputError("the repository has no origin remote: pass repo_url (https:// or ssh://)")
        try:
            url = git_url(not self.shared.settings.policy.secure_git_urls)(url)
        except AnswerError as exc:
            raise UserInputError(f"repo_url: {exc}") from exc
        envs = environments or ["dev", "staging", "production"]
        layout = self.shared.registry.get(provider).fleet if provider in self.shared.registry else None
        kept = [(e, layout.kept_dir(e)) for e in envs] if layout is not None else []
        try:
            fields: dict[str, Any] = {
                **options,
                "provider": provider,
                "environments": envs,
                "auto_sync": auto_sync,
                "repo_url": url,
                "branch": branch or tree.branch or info.branch or info.default_branch or "main",
                "notifications": notifications,
                "bootstrapped": [e for e, d in kept if d and self.shared.delivery.dir_exists(info.root, d)],
            }
            return FleetSpec.model_validate(fields, context={"registry": self.shared.registry})
        except ValidationError as exc:
            raise UserInputError(
                "; ".join(f"{'.'.join(map(str, e['loc'])) or 'fleet'}: {e['msg']}" for e in exc.errors())
            ) from exc

    def _install_text(self, root: Path, spec: FleetSpec, install_manifests: str | None) -> str | None:
        """The user's install manifests when the layout wants them (refused when it does not)."""
        layout = self.shared.registry.get(spec.provider).fleet
        needs = layout.wants_install_manifests(spec)
        if needs is not None:
            if not install_manifests:
                raise UserInputError(needs)
            return self.install_manifests(root, spec.provider, install_manifests)
        if install_manifests:
            uses = [p.fleet.install_manifests_use for p in self.shared.registry if p.fleet.install_manifests_use]
            raise UserInputError(f"install_manifests is only used with {' or '.join(uses) or 'no provider'}")
        return None

    def _scaffold(
        self,
        tree: Tree,
        spec: FleetSpec,
        install_text: str | None,
        delivery: Literal["write", "push", "pull_request"],
        message: str | None,
        overwrite: bool,
    ) -> FleetResult:

        info = read_repo_info(tree.root)
        assert info is not None
        root, provider = info.root, spec.provider
        plan = plan_fleet(spec, install_text, self.shared.registry)
        schemas, origin = self.shared.schemas()
        validation = []
        for f in plan.files:
            if not f.validated:
                continue
            v = validate_text(f.content, self.shared.settings.policy, schemas, f.path, origin, rules=self.shared.rules)
            validation.append(v)
            if not v.valid:
                raise PolicyViolation(f"the generated {f.path} is invalid: {v.describe()}; nothing was written")
        files: list[FleetFileResult] = []
        diffs: list[tuple[str, str, bool]] = []  # path, diff, updated
        to_write: list[tuple[Path, str, str]] = []
        self.shared.delivery.prepare_write(root, [f.path for f in plan.files])
        for f in plan.files:
            target = safe_repo_file(root, f.path, "path")
            check_writable(root, target)
            old = target.read_bytes().decode("utf-8", "replace") if target.is_file() else None
            if target.exists() and not target.is_file():
                raise UserInputError(f"{f.path} exists and is not a regular file; move it away first")
            if old == f.content:
                files.append(FleetFileResult(path=f.path, status="unchanged", purpose=f.purpose))
            elif old is not None and not overwrite:
                files.append(FleetFileResult(path=f.path, status="kept", purpose=f.purpose))
            else:
                status: Literal["created", "updated"] = "created" if old is None else "updated"
                files.append(FleetFileResult(path=f.path, status=status, purpose=f.purpose))
                diffs.append((f.path, unified_diff(old, f.content, f.path), old is not None))
                to_write.append((target, f.path, f.content))
        for target, _, text in to_write:
            write_text_atomic(root, target, text)
        kept = [f.path for f in files if f.status == "kept"]
        written = [rel for _, rel, _ in to_write]
        summary = f"{len(written)} file(s) written" + (
            f"; kept {len(kept)} existing file(s) that differ (overwrite=true replaces them): {', '.join(kept)}"
            if kept
            else ""
        )
        diff, omitted = within_budget(diffs)
        if omitted:
            summary += f"; diffs of {len(omitted)} file(s) not shown (diff_omitted; see them in Git)"
        result = FleetResult(
            provider=provider,
            environments=spec.environments,
            auto_sync=spec.auto_sync or [],
            files=files,
            diff=diff,
            diff_omitted=omitted,
            validated=len(validation),
            validation=[v for v in validation if v.issues],
            notes=plan.notes,
            message=summary,
        )
        title = message or f"Scaffold a {provider} fleet: {', '.join(spec.environments)}"
        if delivery != "write" and written:
            result.commit = self.shared.delivery.commit_and_push(root, written, title, mode=delivery)
            result.message += "; " + result.commit.message
        elif tree.url and written:  # no working tree of the caller's: the files are kept for commit_and_push
            staged = self.shared.delivery.keep_written(root, written, title)
            result.message += f"; {staged.sentence() if staged else 'the remote already has them'}"
        return result

    def install_manifests(self, root: Path, provider: str, rel: str) -> str:
        """The user's install manifests of the engine (a file in the repository), checked to be that."""

        target = safe_repo_file(root, rel, "install_manifests")
        if not target.is_file():
            raise NotFoundError(f"install_manifests {rel} is not a file in the repository")
        text = target.read_text(encoding="utf-8")
        docs = load_documents(text, rel)
        self.shared.registry.get(provider).fleet.check_install_manifests(rel, docs)
        if any(isinstance(d, dict) and d.get("kind") == "Secret" for d in docs):
            raise PolicyViolation(f"{rel} holds a Secret; install manifests must not carry secrets")
        return text
