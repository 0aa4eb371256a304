"""The wizard as a pure state machine.

The current step is *derived*: it is the first step that still has an unanswered required
question. Answers may come in any order and ahead of their step (they wait in
``pending`` until their question is asked); a changed answer simply re-derives the rest.
Nothing here does I/O except through the ``exists`` callback the caller supplies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_mcp.detection import dns_label as to_label
from gitops_mcp.detection.models import Package
from gitops_mcp.errors import UserInputError
from gitops_mcp.providers.base import DeploymentSpec, GitRef, PackageType, QuestionContext, SourceKind
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.questions import (
    AnswerError,
    Question,
    QuestionDef,
    as_text,
    boolean,
    chart_url,
    dns_label,
    git_url,
    output_file,
    ref_name,
    relative_dir,
    select,
)
from gitops_mcp.sessions.models import STEPS, SessionContext, SessionState, Step
from gitops_mcp.settings import PolicySettings

CHART = "chart"
MAX_SELECT_OPTIONS = 60
_SHA = re.compile(r"^[0-9a-f]{40}$")
_PREFIXED = re.compile(r"^(branch|tag|semver|commit):(.+)$")


@dataclass(frozen=True)
class FlowEnv:
    registry: ProviderRegistry
    policy: PolicySettings = field(default_factory=PolicySettings)
    exists: Callable[[str], bool] | None = None  # does a repo-relative directory exist?


@dataclass
class Advance:
    state: SessionState
    errors: dict[str, str]
    ignored: list[str]


# -- answers -> spec ------------------------------------------------------------------------------


def revision(value: Any) -> str:
    v = as_text(value)
    if v == "HEAD" or _SHA.match(v):
        return v
    m = _PREFIXED.match(v)
    if m:
        kind, rest = m.groups()
        if kind == "commit" and not _SHA.match(rest):
            raise AnswerError(f"{rest!r} is not a full 40-character commit SHA")
        if kind in ("branch", "tag"):
            ref_name(rest)
        return v
    if v.startswith("refs/"):
        ref_name(v[5:])
        return v
    ref_name(v)
    return v


def resolve_ref(rev: str, ctx: SessionContext) -> GitRef:
    """The Flux ``spec.ref`` for a revision; ``HEAD`` means the default branch."""
    if rev == "HEAD":
        return GitRef(kind="branch", value=ctx.default_branch or ctx.branch or "main")
    if _SHA.match(rev):
        return GitRef(kind="commit", value=rev)
    m = _PREFIXED.match(rev)
    if m:
        kind, rest = m.groups()
        return GitRef.model_validate({"kind": kind, "value": rest})
    if rev.startswith("refs/"):
        return GitRef(kind="name", value=rev)
    if rev in ctx.tags:
        return GitRef(kind="tag", value=rev)
    return GitRef(kind="branch", value=rev)


def argo_revision(rev: str) -> str:
    m = _PREFIXED.match(rev)
    return m.group(2) if m else rev


def selected_package(answers: Mapping[str, Any], ctx: SessionContext) -> Package | None:
    path = answers.get("package")
    if path is None or path == CHART:
        return None
    return next((p for p in ctx.packages if p.path == path), None)


def package_kind(answers: Mapping[str, Any], ctx: SessionContext) -> tuple[PackageType, SourceKind] | None:
    if answers.get("package") == CHART:
        url = str(answers.get("chart_url", ""))
        return "helm", "oci" if url.startswith("oci://") else "helm_repository"
    pkg = selected_package(answers, ctx)
    return (pkg.type, "git") if pkg else None


def _question_context(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> QuestionContext | None:
    kind = package_kind(answers, ctx)
    if kind is None:
        return None
    pkg = selected_package(answers, ctx)
    return QuestionContext(
        package_type=kind[0],
        source_kind=kind[1],
        app_name=str(answers.get("app_name", "")),
        values_files=tuple(pkg.values_files) if pkg else (),
        policy=env.policy,
    )


def build_spec(answers: Mapping[str, Any], ctx: SessionContext) -> DeploymentSpec:
    """The deployment spec from a complete set of answers."""
    kind = package_kind(answers, ctx)
    if kind is None:
        raise UserInputError("no package has been chosen yet")
    package_type, source_kind = kind
    common: dict[str, Any] = {
        "app_name": answers["app_name"],
        "namespace": answers["namespace"],
        "package_type": package_type,
        "source_kind": source_kind,
        "values": answers.get("values") or {},
        "value_files": answers.get("value_files") or [],
        "existing_sources": ctx.existing_sources,
    }
    if source_kind == "git":
        rev = str(answers["revision"])
        return DeploymentSpec(
            **common,
            repo_url=answers["repo_url"],
            path=answers["path"],
            revision=argo_revision(rev),
            git_ref=resolve_ref(rev, ctx),
        )
    return DeploymentSpec(
        **common, chart_url=answers["chart_url"], chart=answers["chart"], chart_version=answers["chart_version"]
    )


# -- questions per step -------------------------------------------------------------------------


def _intent_package(ctx: SessionContext) -> str | None:
    if len(ctx.packages) == 1:
        return ctx.packages[0].path
    intent = (ctx.intent or "").lower()
    if not intent:
        return None
    by_path = [p for p in ctx.packages if p.path != "." and p.path.lower() in intent]
    if by_path:
        return max(by_path, key=lambda p: len(p.path)).path
    words = set(re.findall(r"[a-z0-9][a-z0-9._-]*", intent))
    by_name = [p for p in ctx.packages if p.name.lower() in words]
    return by_name[0].path if len(by_name) == 1 else None


def _provider_default(ctx: SessionContext) -> str | None:
    if ctx.provider_hint:
        return ctx.provider_hint
    intent = (ctx.intent or "").lower()
    if "flux" in intent:
        return "flux"
    if "argo" in intent:
        return "argocd"
    if ctx.flux_bootstraps or ctx.flux_dirs:
        return "flux"
    if ctx.argocd_app_dirs:
        return "argocd"
    return None


def default_output_path(provider: str, app: str, ctx: SessionContext) -> str:
    if provider == "flux" and ctx.flux_bootstraps:
        base = ctx.flux_bootstraps[0].path
        return f"{base}/{app}.yaml" if base != "." else f"{app}.yaml"
    dirs = ctx.flux_dirs if provider == "flux" else ctx.argocd_app_dirs if provider == "argocd" else []
    if dirs:
        return f"{dirs[0]}/{app}.yaml" if dirs[0] != "." else f"{app}.yaml"
    return f"gitops/{provider}/{app}.yaml"


def _package_questions(answers: Mapping[str, Any], ctx: SessionContext) -> list[QuestionDef]:
    paths = [p.path for p in ctx.packages]
    options = [*paths, CHART]
    listing = "; ".join(f"{p.path} ({p.type} {p.name})" for p in ctx.packages[:MAX_SELECT_OPTIONS])

    def parse(value: Any) -> str:
        v = as_text(value).strip("/") or "."
        v = v.removeprefix("./") or "."
        if v not in options:
            raise AnswerError(
                f"{v!r} is not a detected package; choose one of: {', '.join(options[:MAX_SELECT_OPTIONS])}"
                + (" ..." if len(options) > MAX_SELECT_OPTIONS else "")
            )
        return v

    big = len(options) > MAX_SELECT_OPTIONS
    qs = [
        QuestionDef(
            Question(
                id="package",
                prompt="Which package to deploy? (a detected path, or 'chart' for a chart from a Helm/OCI repository)",
                type="text" if big else "select",
                options=None if big else options,
                default=_intent_package(ctx),
                help=("Detected: " + listing + (" ..." if big else "")) if ctx.packages else "No package detected.",
            ),
            parse,
        )
    ]
    if answers.get("package") == CHART:
        qs += [
            QuestionDef(
                Question(
                    id="chart_url",
                    type="text",
                    prompt="Chart repository URL (https://... Helm repository, or oci://registry/path)",
                ),
                chart_url,
            ),
            QuestionDef(Question(id="chart", prompt="Chart name", type="text"), _chart_name),
            QuestionDef(
                Question(
                    id="chart_version",
                    prompt="Chart version or semver range (e.g. 6.7.0 or '>=6.0.0 <7.0.0')",
                    type="text",
                ),
                _chart_version,
            ),
        ]
    return qs


def _chart_name(value: Any) -> str:
    v = as_text(value)
    if not re.match(r"^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$", v, re.I) or len(v) > 250:
        raise AnswerError(f"{v!r} is not a chart name (letters, digits, '-', '_', '.')")
    return v


def _chart_version(value: Any) -> str:
    v = as_text(value)
    if not v or len(v) > 100 or re.search(r"[^0-9A-Za-z.+\-<>=~^*|, ]", v):
        raise AnswerError(f"{v!r} is not a chart version or semver range")
    return v


def _provider_questions_step(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    kind = package_kind(answers, ctx)
    names = env.registry.names()

    def parse(value: Any) -> str:
        v = str(select(names)(value))
        if kind is not None:
            reason = env.registry.get(v).unsupported_reason(*kind)
            if reason:
                raise AnswerError(reason)
        return v

    help_ = "; ".join(f"{p.name}: {p.description}" for p in env.registry)
    return [
        QuestionDef(
            Question(
                id="provider",
                prompt="Deploy with which GitOps engine?",
                type="select",
                options=names,
                default=_provider_default(ctx),
                help=help_,
            ),
            parse,
        )
    ]


def _common_questions(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    kind = package_kind(answers, ctx)
    pkg = selected_package(answers, ctx)
    name_default = to_label(pkg.name if pkg else str(answers.get("chart", "app")))
    qs: list[QuestionDef] = []
    if kind is not None and kind[1] == "git":

        def path_parse(value: Any) -> str:
            v = relative_dir(value)
            if env.exists is not None and not env.exists(v):
                raise AnswerError(f"{v!r} is not a directory in the repository")
            return v

        qs += [
            QuestionDef(
                Question(
                    id="repo_url",
                    prompt="Git URL the controller fetches from",
                    type="text",
                    default=ctx.origin_url,
                    help="From the origin remote" if ctx.origin_url else "No origin remote found",
                ),
                git_url(allow_insecure=not env.policy.secure_git_urls),
            ),
            QuestionDef(
                Question(
                    id="path",
                    prompt="Path of the package in the repository",
                    type="text",
                    default=pkg.path if pkg else None,
                ),
                path_parse,
            ),
            QuestionDef(
                Question(
                    id="revision",
                    prompt="Branch, tag or commit to deploy (HEAD = the default branch)",
                    type="text",
                    default=ctx.branch or "HEAD",
                    help="Prefix with tag:, branch:, semver: or commit: to be explicit",
                ),
                revision,
            ),
        ]
    qs += [
        QuestionDef(
            Question(
                id="namespace",
                prompt="Namespace to deploy the workload into",
                type="text",
                default=(pkg.namespace if pkg and pkg.namespace else name_default),
            ),
            dns_label,
        ),
        QuestionDef(
            Question(
                id="app_name",
                prompt="Name of the application (names the generated objects)",
                type="text",
                default=name_default,
            ),
            dns_label,
        ),
    ]
    return qs


def _output_questions(answers: Mapping[str, Any], ctx: SessionContext) -> list[QuestionDef]:
    provider = str(answers.get("provider", ""))
    app = str(answers.get("app_name", "app"))
    pkg = selected_package(answers, ctx)

    def parse(value: Any) -> str:
        v = output_file(value)
        if pkg is not None and pkg.path != "." and (v + "/").startswith(pkg.path.rstrip("/") + "/"):
            raise AnswerError(
                f"{v!r} is inside the package directory {pkg.path}: the controller would deploy its own "
                "definition; choose a path outside it"
            )
        if pkg is not None and pkg.path == "." and pkg.type in ("manifests", "jsonnet"):
            raise AnswerError("the package is the whole repository; the output file would be deployed with it")
        return v

    return [
        QuestionDef(
            Question(
                id="output_path",
                prompt="File to write the manifests to (relative to the repository root)",
                type="text",
                default=default_output_path(provider, app, ctx),
            ),
            parse,
        )
    ]


def _preview_questions(ctx: SessionContext) -> list[QuestionDef]:
    qs: list[QuestionDef] = []
    if ctx.delivery_options:
        qs.append(
            QuestionDef(
                Question(
                    id="delivery",
                    type="select",
                    options=list(ctx.delivery_options),
                    prompt="Review the preview. How should it be delivered?",
                    help="write: write the file into the working tree; push: also commit it and push to the "
                    "current branch; pull_request: commit it on a new branch and open a pull/merge request",
                ),
                select(ctx.delivery_options),
            )
        )
    if ctx.can_wait and ctx.delivery_options:
        qs.append(
            QuestionDef(
                Question(
                    id="wait",
                    prompt="Wait until the controller has applied it?",
                    type="boolean",
                    default=True,
                    required=False,
                ),
                boolean,
            )
        )
    return qs


def questions_for(step: Step, answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    if step == "package":
        return _package_questions(answers, ctx)
    if step == "provider":
        return _provider_questions_step(answers, ctx, env)
    if step == "common":
        return _common_questions(answers, ctx, env)
    if step == "provider_options":
        qctx = _question_context(answers, ctx, env)
        provider = answers.get("provider")
        if qctx is None or provider not in env.registry:
            return []
        qdefs = env.registry.get(str(provider)).questions(qctx)
        return [_policy_wrapped(q, env.policy) for q in qdefs]
    if step == "output":
        return _output_questions(answers, ctx)
    if step == "preview":
        return _preview_questions(ctx)
    return []


def _policy_wrapped(q: QuestionDef, policy: PolicySettings) -> QuestionDef:
    if q.id == "prune" and policy.require_prune:
        inner = q.parse

        def parse(value: Any) -> Any:
            v = inner(value)
            if v is False:
                raise AnswerError("policy requires prune (GITOPS_MCP_POLICY__REQUIRE_PRUNE=false turns it off)")
            return v

        return QuestionDef(q.question, parse)
    return q


def all_question_ids(registry: ProviderRegistry) -> set[str]:
    ids = {
        "package",
        "chart_url",
        "chart",
        "chart_version",
        "provider",
        "repo_url",
        "path",
        "revision",
        "namespace",
        "app_name",
        "output_path",
        "delivery",
        "wait",
    }
    package_types: tuple[PackageType, ...] = ("helm", "kustomize", "manifests")
    source_kinds: tuple[SourceKind, ...] = ("git", "helm_repository")
    for provider in registry:
        for pt in package_types:
            for sk in source_kinds:
                ids |= {q.id for q in provider.questions(QuestionContext(pt, sk, "x"))}
    return ids


# -- advancing -----------------------------------------------------------------------------------


def advance(
    state: SessionState, raw: Mapping[str, Any], env: FlowEnv, *, defaults_for: Collection[str] | None = ()
) -> Advance:
    """Apply answers (any subset, any step) and re-derive the step. Returns a new state.

    Unanswered questions whose id is in ``defaults_for`` take their default (``None``: every
    question, for one-shot generation).

    A refused answer is reported in ``errors`` and changes nothing (a previous answer stays).
    Answers for questions this flow never asks are reported in ``ignored``.
    """
    new = state.model_copy(deep=True)
    answers = new.answers
    defaulted = set(new.defaulted)
    changed = [k for k, v in raw.items() if k in answers and answers[k] != v]
    if changed:  # defaults of later steps were computed from the old answers: recompute them
        first = min(_step_index(k, answers, new.context, env) for k in changed)
        for key in [k for k in defaulted if _step_index(k, answers, new.context, env) > first]:
            answers.pop(key, None)
            defaulted.discard(key)
    pending = {**new.pending, **dict(raw)}
    errors: dict[str, str] = {}
    current: Step = "done"
    for step in STEPS:
        if step == "done":
            break
        seen: set[str] = set()
        while True:
            qs = questions_for(step, answers, new.context, env)
            fresh = [q for q in qs if q.id not in seen]
            if not fresh:
                break
            for q in fresh:
                seen.add(q.id)
                if q.id in pending:
                    value = pending.pop(q.id)
                    try:
                        answers[q.id] = q.parse(value)
                        defaulted.discard(q.id)
                    except AnswerError as exc:
                        errors[q.id] = str(exc)
                elif (
                    q.id not in answers
                    and (defaults_for is None or q.id in defaults_for)
                    and q.question.default is not None
                ):
                    try:
                        answers[q.id] = q.parse(q.question.default)
                        defaulted.add(q.id)
                    except AnswerError as exc:
                        errors[q.id] = f"the default {q.question.default!r} is not valid here: {exc}"
        qs = questions_for(step, answers, new.context, env)
        open_required = [q for q in qs if q.id not in answers and q.question.required]
        for q in qs:  # optional questions take their default once the step is otherwise complete
            if not open_required and q.id not in answers and not q.question.required and q.question.default is not None:
                answers[q.id] = q.parse(q.question.default)
                defaulted.add(q.id)
        if open_required or (step == "preview" and not qs):
            current = step
            break
    _drop_stale(answers, new.context, env)
    relevant = {q.id for s in STEPS for q in questions_for(s, answers, new.context, env)}
    ignored = sorted(k for k in pending if k not in relevant and current == "preview")
    new.pending = {k: v for k, v in pending.items() if k not in ignored}
    new.defaulted = sorted(k for k in defaulted if k in answers)
    new.step = current
    return Advance(new, errors, ignored)


def _step_index(qid: str, answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> int:
    for i, step in enumerate(STEPS):
        if any(q.id == qid for q in questions_for(step, answers, ctx, env)):
            return i
    return len(STEPS)


def _drop_stale(answers: dict[str, Any], ctx: SessionContext, env: FlowEnv) -> None:
    """Forget answers no question asks any more (e.g. after switching provider)."""
    asked = {q.id for s in STEPS for q in questions_for(s, answers, ctx, env)}
    for key in [k for k in answers if k not in asked]:
        del answers[key]


def open_questions(state: SessionState, env: FlowEnv, errors: Mapping[str, str] | None = None) -> list[Question]:
    """The current step's unanswered questions (plus any refused ones), with errors attached."""
    errors = errors or {}
    out: list[Question] = []
    ids: set[str] = set()
    for q in questions_for(state.step, state.answers, state.context, env):
        if q.id not in state.answers or q.id in errors:
            out.append(q.question.model_copy(update={"error": errors.get(q.id)}))
            ids.add(q.id)
    for s in STEPS:
        for q in questions_for(s, state.answers, state.context, env):
            if q.id in errors and q.id not in ids:
                default = state.answers.get(q.id, q.question.default)
                shown = default if isinstance(default, str | bool) or default is None else str(default)
                out.append(q.question.model_copy(update={"error": errors[q.id], "default": shown}))
                ids.add(q.id)
    return out
