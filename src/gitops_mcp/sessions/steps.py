"""The wizard's steps: which questions each step asks, given the answers so far.

Questions are re-derived from the answers every time (see :mod:`gitops_mcp.sessions.flow`);
nothing here does I/O except through the ``exists`` callback of :class:`FlowEnv`.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Mapping
from typing import Any

from gitops_mcp.paths import MAX_PATH
from gitops_mcp.providers.base import PackageType, QuestionContext, SourceKind
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.questions import (
    AnswerError,
    Question,
    QuestionDef,
    as_text,
    chart_name,
    chart_url,
    chart_version,
    dns_label,
    git_url,
    repo_dir,
    select,
)
from gitops_mcp.sessions.defaults import (
    intent_package,
    provider_default,
)
from gitops_mcp.sessions.delivery_steps import existing_questions, output_questions, preview_questions
from gitops_mcp.sessions.env import MAX_SELECT_OPTIONS, PREVIEW_QUESTION_IDS, FlowEnv
from gitops_mcp.sessions.models import SessionContext, Step
from gitops_mcp.sessions.spec import CHART, package_kind, revision, selected_package
from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import shown, to_dns_label


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


def _package_questions(answers: Mapping[str, Any], ctx: SessionContext) -> list[QuestionDef]:
    paths = [p.path for p in ctx.packages]
    options = [*paths, CHART]
    listing = "; ".join(f"{p.path} ({p.type} {p.name})" for p in ctx.packages[:MAX_SELECT_OPTIONS])

    def parse(value: Any) -> str:
        raw = as_text(value, MAX_PATH, "a package path").strip()
        v = raw if raw == CHART else repo_dir(raw, ctx.repo_root, "a package path")
        if v not in options:
            close = difflib.get_close_matches(v, options, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listed = "the options" if len(options) <= MAX_SELECT_OPTIONS else "detect_packages' paths"
            raise AnswerError(f"{shown(raw)} is not a detected package{hint}; choose one of {listed}, or 'chart'")
        return v

    big = len(options) > MAX_SELECT_OPTIONS
    qs = [
        QuestionDef(
            Question(
                id="package",
                prompt="Which package to deploy? (a detected path, or 'chart' for a chart from a Helm/OCI repository)",
                type="text" if big else "select",
                options=None if big else options,
                default=intent_package(ctx),
                # the options (and the view's packages) already name what was detected
                help=("Detected: " + listing + " ...") if big else (None if ctx.packages else "No package detected."),
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
            QuestionDef(Question(id="chart", prompt="Chart name", type="text"), chart_name),
            QuestionDef(
                Question(
                    id="chart_version",
                    prompt="Chart version or semver range (e.g. 6.7.0 or '>=6.0.0 <7.0.0')",
                    type="text",
                ),
                chart_version,
            ),
        ]
    return qs


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
                default=provider_default(ctx, env.registry),
                help=help_,
            ),
            parse,
        )
    ]


def _common_questions(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    kind = package_kind(answers, ctx)
    pkg = selected_package(answers, ctx)
    name_default = to_dns_label(_package_name(pkg, ctx) if pkg else str(answers.get("chart", "app")))
    qs: list[QuestionDef] = []
    if kind is not None and kind[1] == "git":

        def path_parse(value: Any) -> str:
            v = repo_dir(value, ctx.repo_root)
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
    facts = env.package_facts(answers) if env.package_facts is not None and pkg is not None else None
    own = facts.namespaces if facts is not None else []
    qs += [
        QuestionDef(
            Question(
                id="namespace",
                prompt="Namespace to deploy the workload into",
                type="text",
                default=(pkg.namespace if pkg and pkg.namespace else own[0] if own else name_default),
                help=_namespace_help(own, facts is not None and facts.unplaced),
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


def _package_name(pkg: Any, ctx: SessionContext) -> str:
    """The package's name, or its directory's when another package has that name too (two charts
    both named helm-guestbook): the generated objects and file must not be the other one's."""
    if any(p.name == pkg.name and p.path != pkg.path for p in ctx.packages) and pkg.path not in ("", "."):
        return str(posixpath.basename(pkg.path))
    return str(pkg.name)


def _namespace_help(own: list[str], unplaced: bool) -> str | None:
    if not own:
        return None
    first = f"The package places its objects in {', '.join(own)}"
    if unplaced:
        return first + "; those without a namespace go to this one"
    return first + ": kept as they are unless you answer another namespace (then all are moved into it)"


def questions_for(step: Step, answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    """The questions of ``step`` given ``answers``: pure, so built once per call (``env`` is the
    call's) for each step and set of answers."""
    key = (step, id(ctx), tuple(sorted((k, repr(v)) for k, v in answers.items())))
    found = env.questions.get(key)
    if found is None:
        found = env.questions[key] = _questions_for(step, answers, ctx, env)
    return list(found)


def _questions_for(step: Step, answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    if step == "package":
        return _package_questions(answers, ctx)
    if step == "provider":
        return _provider_questions_step(answers, ctx, env)
    if step == "common":
        return _common_questions(answers, ctx, env) + existing_questions(answers, ctx)
    if step == "provider_options":
        qctx = _question_context(answers, ctx, env)
        provider = answers.get("provider")
        if qctx is None or provider not in env.registry:
            return []
        qdefs = env.registry.get(str(provider)).questions(qctx)
        return [_policy_wrapped(q, env.policy) for q in qdefs]
    if step == "output":
        return output_questions(answers, ctx, env)
    if step == "preview":
        return preview_questions(answers, ctx, env)
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
        "existing",
        *PREVIEW_QUESTION_IDS,
    }
    package_types: tuple[PackageType, ...] = ("helm", "kustomize", "manifests")
    source_kinds: tuple[SourceKind, ...] = ("git", "helm_repository")
    for provider in registry:
        for pt in package_types:
            for sk in source_kinds:
                ids |= {q.id for q in provider.questions(QuestionContext(pt, sk, "x"))}
    return ids
