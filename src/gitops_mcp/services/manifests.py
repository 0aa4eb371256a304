"""One-shot generation (generate_manifests) and writing (write_manifests)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from gitops_mcp.detection.kinds import is_gitops_kind
from gitops_mcp.detection.models import Package
from gitops_mcp.errors import PolicyViolation, UserInputError
from gitops_mcp.git.urls import url_identity
from gitops_mcp.manifests.validation import ValidationResult
from gitops_mcp.manifests.write import WriteResult, write_manifest_file
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.model import Model
from gitops_mcp.paths import safe_repo_file
from gitops_mcp.providers.base import ObjectSummary
from gitops_mcp.questions import comma_list, relative_dir
from gitops_mcp.services.inspect import InspectService
from gitops_mcp.services.prepare import Preparation
from gitops_mcp.services.repository import Repository
from gitops_mcp.services.shared import Shared
from gitops_mcp.sessions import flow
from gitops_mcp.sessions.models import SessionState


class GenerateResult(Model):
    provider: str
    yaml: str
    objects: list[ObjectSummary]
    notes: list[str]
    validation: ValidationResult
    output_path: str | None = None
    diff: str | None = Field(None, description="Diff against the file in repo_path (when both were given)")


class ManifestService:
    def __init__(self, shared: Shared, inspect: InspectService) -> None:
        self.shared = shared
        self.prep = Preparation(shared)
        self.inspect = inspect

    def generate(
        self, args: Mapping[str, Any], repo_path: str | None = None, package_type: str | None = None
    ) -> GenerateResult:
        """Non-interactive generation through the same flow as the wizard; writes nothing."""
        answers = {k: v for k, v in args.items() if v is not None}
        known = flow.all_question_ids(self.shared.registry)
        unknown = sorted(k for k in answers if k not in known)
        if unknown:
            raise UserInputError(
                f"unknown option(s): {', '.join(unknown)}; valid question ids: {', '.join(sorted(known))}"
            )
        directory = self.shared.local_dir(repo_path) if repo_path else None
        packages: list[Package] | None = None
        pkg_answer = answers.get("package")
        if pkg_answer is None and answers.get("chart_url"):
            answers["package"] = pkg_answer = flow.CHART
        if pkg_answer not in (None, flow.CHART):
            if package_type is None and directory is None:
                raise UserInputError("give package_type (helm, kustomize, manifests, jsonnet) or repo_path")
            if package_type is not None:
                if package_type not in ("helm", "kustomize", "manifests", "jsonnet"):
                    raise UserInputError("package_type must be one of helm, kustomize, manifests, jsonnet")
                path = relative_dir(pkg_answer)
                answers["package"] = path
                answers.setdefault("path", path)
                vf = ["values.yaml", *comma_list(answers.get("value_files"))] if package_type == "helm" else []
                packages = [
                    Package(
                        path=path,
                        type=package_type,
                        name=os.path.basename(path) or "app",
                        confidence="high",
                        evidence=["given by the caller"],
                        values_files=vf,
                    )
                ]
        elif pkg_answer is None:
            raise UserInputError("give package (a path in the repository) or chart_url/chart/chart_version")
        ctx = self.prep.context(directory, None, answers.get("provider"), packages)
        ctx.delivery_options = []
        state = SessionState(id="oneshot", principal="", created_at=0, updated_at=0, expires_at=0, context=ctx)
        env = self.prep.env(ctx)  # this call's: its package checks are reused by the preview
        adv = flow.advance(state, answers, env, defaults_for=None)
        if adv.errors:
            raise UserInputError("; ".join(f"{k}: {v}" for k, v in adv.errors.items()))
        if adv.ignored:
            raise UserInputError(
                f"not asked for this deployment: {', '.join(adv.ignored)} (another provider's or package "
                "type's question); leave them out"
            )
        if adv.state.step != "preview":
            missing = [q.id for q in flow.open_questions(adv.state, env)]
            raise UserInputError(f"missing answers: {', '.join(missing)}")
        preview = self.prep.preview(adv.state, env)
        return GenerateResult(
            provider=preview.provider,
            yaml=preview.yaml,
            objects=preview.objects,
            notes=preview.notes,
            validation=preview.validation,
            output_path=preview.output_path if directory else None,
            diff=preview.diff if directory else None,
        )

    def write(
        self,
        principal: str,
        repo_path: str,
        output_path: str | None = None,
        yaml_text: str | None = None,
        session_id: str | None = None,
        overwrite: bool = False,
    ) -> WriteResult:
        self.shared.require_writable()
        if (yaml_text is None) == (session_id is None):
            raise UserInputError("pass exactly one of yaml or session_id")
        repo = Repository.of(repo_path)
        root = None if repo.url else repo.local_dir(self.shared)
        if session_id is not None:
            state = self.shared.store.get(session_id, principal)
            if state.preview is None:
                raise UserInputError(f"session {session_id} has no preview yet; answer its questions first")
            yaml_text = state.preview.yaml
            output_path = output_path or state.preview.output_path
            ctx = state.context
            if repo.url and not (ctx.source_url and url_identity(ctx.source_url) == url_identity(repo.url)):
                raise UserInputError(f"session {session_id} belongs to {ctx.source_url or ctx.repo_root}, not {repo}")
            if root is not None and ctx.repo_root and Path(ctx.repo_root) != root:
                raise UserInputError(f"session {session_id} belongs to {ctx.repo_root}, not {root}")
        if not output_path:
            raise UserInputError("output_path is required: a .yaml path relative to the repository root")
        assert yaml_text is not None
        result = self.inspect.validate(yaml_text=yaml_text)
        if not result.valid:
            raise PolicyViolation(
                "refusing to write invalid manifests: " + result.describe(), [i.message for i in result.errors()]
            )
        if not output_path.endswith((".yaml", ".yml")):
            raise UserInputError(f"output_path {output_path!r} must end in .yaml or .yml")
        text, target = yaml_text, output_path

        def put(root: Path) -> WriteResult:
            if not overwrite:
                self._refuse_foreign(root, target, text)
            return write_manifest_file(root, target, text)

        res, tree, kept = repo.write(self.shared, principal, [target], put)
        return res if tree.url is None else res.model_copy(update={"repo_root": tree.url, "kept": kept})

    def _refuse_foreign(self, root: Path, rel: str, new_text: str) -> None:
        """Refuse to replace a file that is not a GitOps file of (one of) the same objects."""
        target = safe_repo_file(root, rel)
        if not target.is_file():
            return
        try:
            text = target.read_text(encoding="utf-8")
            if text == new_text:
                return  # nothing replaced
            old = load_documents(text)
        except (UserInputError, UnicodeDecodeError):
            old = None
        if old is not None and not old:
            return  # empty or only comments
        engines = self.shared.registry.gitops_kinds()
        new_ids = {_identity(d) for d in load_documents(new_text)}
        objs = [d for d in old or [] if isinstance(d, dict)]
        gitops = (
            old is not None
            and len(objs) == len(old)
            and all(is_gitops_kind(str(d.get("apiVersion", "")), str(d.get("kind", "")), engines) for d in objs)
        )
        lost = [d for d in objs if d.get("kind") and not (gitops and _identity(d) in new_ids)]
        if gitops and not lost:
            return  # a GitOps file of the same objects: this write updates them
        held = ", ".join(_describe(d) for d in lost[:5]) + (" ..." if len(lost) > 5 else "")
        what = f"it holds {held}" if lost else "it is not a file of Kubernetes objects"
        raise UserInputError(
            f"refusing to replace {rel}: {what}, which the new content does not keep (not a GitOps file of the "
            "same objects); pass overwrite=true to replace it, or choose another output_path"
        )


def _identity(doc: Any) -> tuple[str, str, str]:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    kind = str(doc.get("kind", "")) if isinstance(doc, dict) else ""
    return kind, str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _describe(doc: Any) -> str:
    kind, ns, name = _identity(doc)
    return f"{kind} {ns + '/' if ns else ''}{name}".strip()
