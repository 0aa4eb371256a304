"""Fleet: lay out a multi-environment GitOps repository, validated, and deliver it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from gitops_mcp.errors import NotFoundError, PolicyViolation, UserInputError
from gitops_mcp.git.delivery import CommitResult
from gitops_mcp.git.info import read_repo_info
from gitops_mcp.manifests.validation import ValidationResult, validate_text
from gitops_mcp.model import Model
from gitops_mcp.services.shared import Shared, Tree


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


class Fleet:
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
        flux_install: str = "bootstrap",
        install_manifests: str | None = None,
        flux_chart_version: str = "2.x",
        notifications: Mapping[str, Any] | None = None,
        delivery: Literal["write", "push", "pull_request"] = "write",
        message: str | None = None,
        overwrite: bool = False,
        owner: str = "local",
    ) -> FleetResult:
        """Write the multi-environment layout of :mod:`gitops_mcp.fleet`, validated, and deliver it.

        Existing files that differ are kept (and named) unless ``overwrite``; an existing Flux
        bootstrap (``clusters/<env>/flux-system``) is always kept. Given a git URL, the layout is
        made in a working tree of its own at the remote's tip of ``branch``; with delivery=write the
        files are kept on a named branch of the clone cache for commit_and_push.
        """
        self.shared.require_writable()
        with self.shared.working_tree(repo_path, owner, branch) as tree:
            return self._scaffold(
                tree,
                provider,
                environments,
                auto_sync,
                repo_url,
                branch,
                flux_install,
                install_manifests,
                flux_chart_version,
                notifications,
                delivery,
                message,
                overwrite,
            )

    def _scaffold(
        self,
        tree: Tree,
        provider: str,
        environments: list[str] | None,
        auto_sync: list[str] | None,
        repo_url: str | None,
        branch: str | None,
        flux_install: str,
        install_manifests: str | None,
        flux_chart_version: str,
        notifications: Mapping[str, Any] | None,
        delivery: Literal["write", "push", "pull_request"],
        message: str | None,
        overwrite: bool,
    ) -> FleetResult:
        from pydantic import ValidationError

        from gitops_mcp.fleet import FleetSpec, plan_fleet
        from gitops_mcp.manifests.write import unified_diff
        from gitops_mcp.paths import check_writable, safe_repo_file, write_text_atomic
        from gitops_mcp.questions import AnswerError, git_url

        info = read_repo_info(tree.root)
        if info is None:
            raise UserInputError(f"{tree.root} is not a git repository; scaffold_fleet writes into one")
        root = info.root
        url = repo_url or info.origin_url
        if not url:
            raise UserInputError("the repository has no origin remote: pass repo_url (https:// or ssh://)")
        try:
            url = git_url(not self.shared.settings.policy.secure_git_urls)(url)
        except AnswerError as exc:
            raise UserInputError(f"repo_url: {exc}") from exc
        install_text: str | None = None
        if flux_install == "manifests":
            if provider != "flux" or not install_manifests:
                raise UserInputError(
                    "flux_install=manifests needs install_manifests: the path (in the repository) of the output "
                    "of `flux install --export`"
                )
            install_text = self.install_manifests(root, install_manifests)
        elif install_manifests:
            raise UserInputError("install_manifests is only used with provider=flux and flux_install=manifests")
        envs = environments or ["dev", "staging", "production"]
        try:
            fields: dict[str, Any] = {
                "provider": provider,
                "environments": envs,
                "auto_sync": auto_sync,
                "repo_url": url,
                "branch": branch or tree.branch or info.branch or info.default_branch or "main",
                "flux_install": flux_install,
                "flux_chart_version": flux_chart_version,
                "notifications": notifications,
                "bootstrapped": [
                    e
                    for e in envs
                    if provider == "flux" and self.shared.delivery.dir_exists(root, f"clusters/{e}/flux-system")
                ],
            }
            spec = FleetSpec.model_validate(fields, context={"registry": self.shared.registry})
        except ValidationError as exc:
            raise UserInputError(
                "; ".join(f"{'.'.join(map(str, e['loc'])) or 'fleet'}: {e['msg']}" for e in exc.errors())
            ) from exc
        plan = plan_fleet(spec, install_text, self.shared.registry)
        schemas, origin = self.shared.schemas()
        validation = []
        for f in plan.files:
            if f.path.endswith("kustomization.yaml") or f.path.endswith("gotk-components.yaml"):
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

    def install_manifests(self, root: Path, rel: str) -> str:
        """The user's Flux install manifests (a file in the repository), checked to be that."""
        from gitops_mcp.manifests.yaml import load_documents
        from gitops_mcp.paths import safe_repo_file

        target = safe_repo_file(root, rel, "install_manifests")
        if not target.is_file():
            raise NotFoundError(f"install_manifests {rel} is not a file in the repository")
        text = target.read_text(encoding="utf-8")
        docs = load_documents(text, rel)
        crds = {
            (d.get("metadata") or {}).get("name", "")
            for d in docs
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"
        }
        controllers = {
            (d.get("metadata") or {}).get("name", "")
            for d in docs
            if isinstance(d, dict) and d.get("kind") == "Deployment"
        }
        if not any(c.endswith(".toolkit.fluxcd.io") for c in crds) or not controllers:
            raise UserInputError(
                f"{rel} does not look like Flux install manifests (no *.toolkit.fluxcd.io CRDs and controller "
                "Deployments); generate them with `flux install --export > FILE`"
            )
        if any(isinstance(d, dict) and d.get("kind") == "Secret" for d in docs):
            raise PolicyViolation(f"{rel} holds a Secret; install manifests must not carry secrets")
        return text
