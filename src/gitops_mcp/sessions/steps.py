"""The wizard's steps: which questions each step asks, given the answers so far.

Questions are re-derived from the answers every time (see :mod:`gitops_mcp.sessions.flow`);
nothing here does I/O except through the ``exists`` callback of :class:`FlowEnv`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_mcp.paths import MAX_PATH
from gitops_mcp.providers.base import PackageType, QuestionContext, SourceKind
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.questions import (
    AnswerError,
    Question,
    QuestionDef,
    as_text,
    boolean,
    chart_name,
    chart_url,
    chart_version,
    dns_label,
    git_url,
    output_file,
    relative_dir,
    select,
)
from gitops_mcp.sessions.defaults import (
    default_output_path,
    intent_package,
    output_help,
    own_objects,
    parent_for,
    provider_default,
)
from gitops_mcp.sessions.models import SessionContext, Step
from gitops_mcp.sessions.spec import CHART, package_kind, revision, selected_package
from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import shown, to_dns_label

MAX_SELECT_OPTIONS = 60
PREVIEW_QUESTION_IDS = ("delivery", "wait", "register", "deliver_anyway")
"""Every question the preview step can ask: the user answers them after seeing the preview (some
are asked only for some answers, e.g. register only when nothing in the cluster applies the file)."""


@dataclass(frozen=True)
class FlowEnv:
    registry: ProviderRegistry
    policy: PolicySettings = field(default_factory=PolicySettings)
    exists: Callable[[str], bool] | None = None  # does a repo-relative directory exist?
    package_problem: Callable[[Mapping[str, Any]], str | None] | None = None
    """Why the chosen package does not build (kustomize build / helm template), or None."""


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
        v = as_text(value, MAX_PATH, "a package path").strip("/") or "."
        v = v.removeprefix("./") or "."
        if v not in options:
            raise AnswerError(
                f"{shown(v)} is not a detected package; choose one of: {', '.join(options[:MAX_SELECT_OPTIONS])}"
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
    name_default = to_dns_label(pkg.name if pkg else str(answers.get("chart", "app")))
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


def _output_questions(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
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

    default = default_output_path(provider, app, ctx, env.registry)
    return [
        QuestionDef(
            Question(
                id="output_path",
                prompt="File to write the manifests to (relative to the repository root)",
                type="text",
                default=default,
                help=output_help(str(answers.get("output_path", default)), provider, app, ctx, env.registry),
            ),
            parse,
        )
    ]


def asks_register(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> bool:
    """The register question: a cluster to verify on, push possible, and nothing in the cluster that
    will apply the output file."""
    provider, out = str(answers.get("provider", "")), answers.get("output_path")
    if not (ctx.can_wait and "push" in ctx.delivery_options and ctx.cluster_appliers is not None and out):
        return False
    if provider not in env.registry or not env.registry.get(provider).root_kinds:
        return False
    return parent_for(ctx, str(out), own_objects(provider, str(answers.get("app_name", "")), env.registry)) is None


def _register_refusal(delivery: Any) -> str | None:
    if delivery == "pull_request":
        return (
            "register applies the pushed file; with a pull request, merge it first, then apply it with "
            "the register_gitops_objects tool"
        )
    if delivery == "write":
        return (
            "register applies the pushed file; with delivery=write, commit and push it, then use "
            "register_gitops_objects"
        )
    return None


def _preview_questions(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    qs: list[QuestionDef] = []
    register = asks_register(answers, ctx, env)
    problem = env.package_problem(answers) if env.package_problem is not None and ctx.delivery_options else None
    if problem:
        qs.append(
            QuestionDef(
                Question(
                    id="deliver_anyway",
                    prompt=f"The package does not build: {problem}. Push or open the pull request anyway?",
                    type="boolean",
                    default=False,
                    required=False,
                    help="The controller would fail the same way after the push; write is always allowed",
                ),
                boolean,
            )
        )
    if ctx.delivery_options:
        choose = select(ctx.delivery_options)

        def delivery(value: Any) -> Any:
            v = choose(value)
            reason = _register_refusal(v) if register and answers.get("register") is True else None
            if reason:
                raise AnswerError(reason + " (or answer register=false)")
            if problem and v != "write" and answers.get("deliver_anyway") is not True:
                raise AnswerError(f"the package does not build: {problem}; fix it, or answer deliver_anyway=true")
            return v

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
                delivery,
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
    if register:

        def register_parse(value: Any) -> bool:
            v = boolean(value)
            reason = _register_refusal(answers.get("delivery")) if v else None
            if reason:
                raise AnswerError(reason)
            return v

        qs.append(
            QuestionDef(
                Question(
                    id="register",
                    prompt=(
                        f"Nothing in the cluster applies {answers.get('output_path')}: after the push, apply its "
                        "GitOps objects to the cluster once, so the controller takes over?"
                    ),
                    type="boolean",
                    default=False,
                    required=False,
                    help="Server-side apply (dry run first) of only the committed source/sync objects, never "
                    "the workload; push only",
                ),
                register_parse,
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
        return _output_questions(answers, ctx, env)
    if step == "preview":
        return _preview_questions(answers, ctx, env)
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
        *PREVIEW_QUESTION_IDS,
    }
    package_types: tuple[PackageType, ...] = ("helm", "kustomize", "manifests")
    source_kinds: tuple[SourceKind, ...] = ("git", "helm_repository")
    for provider in registry:
        for pt in package_types:
            for sk in source_kinds:
                ids |= {q.id for q in provider.questions(QuestionContext(pt, sk, "x"))}
    return ids
