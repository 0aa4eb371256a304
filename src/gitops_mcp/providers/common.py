"""Questions both providers ask (Helm values), and the policy-aware interval parser."""

from __future__ import annotations

from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.yaml import load_mapping
from gitops_mcp.paths import MAX_PATH
from gitops_mcp.providers.base import QuestionContext
from gitops_mcp.questions import (
    MAX_VALUES_TEXT,
    AnswerError,
    Parser,
    Question,
    QuestionDef,
    as_text,
    comma_list,
    duration,
    duration_seconds,
    within,
)
from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import shown


def interval_parser(policy: PolicySettings) -> Parser:
    def parse(value: Any) -> str:
        v = duration(value)
        if policy.check_intervals:
            secs = duration_seconds(v)
            if secs < policy.min_interval_seconds or secs > policy.max_interval_seconds:
                raise AnswerError(
                    f"{v} is outside the allowed range {policy.min_interval_seconds}s.."
                    f"{policy.max_interval_seconds}s (policy: GITOPS_MCP_POLICY__MIN_INTERVAL_SECONDS / "
                    "MAX_INTERVAL_SECONDS)"
                )
        return v

    return parse


def values_parser(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if value is None:
        return {}
    text = as_text(value, MAX_VALUES_TEXT, "Helm values text")
    try:
        return load_mapping(text, "values")
    except UserInputError as exc:
        raise AnswerError(str(exc)) from exc


def value_files_parser(available: tuple[str, ...]) -> Parser:
    def parse(value: Any) -> list[str]:
        files = comma_list(value)
        for f in files:
            within(f, MAX_PATH, "a values file path")
            if f.startswith("/") or ".." in f.split("/"):
                raise AnswerError(f"{shown(f)} must be a path relative to the chart directory")
            if available and f not in available:
                raise AnswerError(f"{shown(f)} is not in the chart; values files found: {', '.join(available)}")
        return files

    return parse


def helm_questions(ctx: QuestionContext) -> list[QuestionDef]:
    """values (a mapping) for every Helm deployment; value_files for charts in the repository."""
    out: list[QuestionDef] = []
    if ctx.package_type == "helm" and ctx.source_kind == "git":
        extra = tuple(f for f in ctx.values_files if f != "values.yaml")
        out.append(
            QuestionDef(
                Question(
                    id="value_files",
                    prompt="Extra values files of the chart to apply, comma-separated (values.yaml is always used)",
                    type="text",
                    default="",
                    required=False,
                    help=("Found: " + ", ".join(extra)) if extra else "The chart has no other values files.",
                ),
                value_files_parser(ctx.values_files),
            )
        )
    if ctx.package_type == "helm":
        out.append(
            QuestionDef(
                Question(
                    id="values",
                    prompt="Helm values to set, as a YAML or JSON mapping (empty for none)",
                    type="text",
                    default="",
                    required=False,
                    help="Example: {replicaCount: 2, image: {tag: 6.7.0}}",
                ),
                values_parser,
            )
        )
    return out
