"""The last steps of the wizard: where to write (output) and how to deliver (preview)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.providers.base import ExistingOwner
from gitops_mcp.questions import (
    AnswerError,
    Question,
    QuestionDef,
    boolean,
    output_file,
    select,
)
from gitops_mcp.sessions.defaults import (
    choice_help,
    default_output_path,
    output_help,
    own_objects,
    parent_for,
)
from gitops_mcp.sessions.env import FlowEnv
from gitops_mcp.sessions.models import SessionContext
from gitops_mcp.sessions.owners import owners
from gitops_mcp.sessions.spec import selected_package

EXISTING = ("update", "add")


def updatable_owner(answers: Mapping[str, Any], ctx: SessionContext) -> ExistingOwner | None:
    """The committed object of the chosen provider that already deploys the package, if one does."""
    provider = str(answers.get("provider", ""))
    return next((o for name, o in owners(answers, ctx, keep_output=True) if name == provider), None)


def existing_questions(answers: Mapping[str, Any], ctx: SessionContext) -> list[QuestionDef]:
    """``existing``: update the object that already deploys the package, or add a second owner."""
    first = updatable_owner(answers, ctx)
    if first is None:
        return []
    return [
        QuestionDef(
            Question(
                id="existing",
                prompt=(
                    f"{first.text()} already deploys this package. Update that object with your answers, "
                    "or add a separate deployment?"
                ),
                type="select",
                options=list(EXISTING),
                default="update",
                help="add: a second owner of the same objects; the two fight over them (each applies and prunes)",
            ),
            select(EXISTING),
        )
    ]


def output_questions(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
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
    chosen = parse
    first = updatable_owner(answers, ctx)
    if first is not None and answers.get("existing") == "update":
        default = first.file

        def parse_update(value: Any) -> str:
            v = parse(value)
            if v != first.file:
                raise AnswerError(
                    f"existing=update edits {first.file}, which holds {first.kind} {first.name}; answer "
                    "existing=add to write a separate deployment elsewhere"
                )
            return v

        chosen = parse_update
    return [
        QuestionDef(
            Question(
                id="output_path",
                prompt="File to write the manifests to (relative to the repository root)",
                type="text",
                default=default,
                help=_join_help(
                    choice_help(str(answers.get("output_path", default)), provider, ctx, env.registry),
                    output_help(str(answers.get("output_path", default)), provider, app, ctx, env.registry),
                ),
            ),
            chosen,
        ),
    ]


def _join_help(*parts: str | None) -> str | None:
    return ". ".join(p for p in parts if p) or None


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


def preview_questions(answers: Mapping[str, Any], ctx: SessionContext, env: FlowEnv) -> list[QuestionDef]:
    qs: list[QuestionDef] = []
    register = asks_register(answers, ctx, env)
    problem = env.package_problem(answers) if env.package_problem is not None and ctx.delivery_options else None
    if problem:
        qs.append(
            QuestionDef(
                Question(
                    id="deliver_anyway",
                    # the reason is the build's output, the repository's text: it stays in the preview's data
                    prompt="The package does not build (preview.package_check says why). "
                    "Push or open the pull request anyway?",
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
            if value in ("push", "pull_request") and value not in ctx.delivery_options:
                raise AnswerError(
                    f"{value!r} commits and pushes to the origin remote, and this repository has none "
                    "(git remote add origin <url>); write is possible"
                )
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
    if ctx.can_wait and ctx.delivery_options and len(ctx.clusters) > 1:
        qs.append(
            QuestionDef(
                Question(
                    id="cluster",
                    type="select",
                    options=list(ctx.clusters),
                    prompt="Which cluster should apply it (waited for, registered in)?",
                    help="A kubeconfig context of GITOPS_MCP_CLUSTERS; the session keeps it",
                ),
                select(ctx.clusters),
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
