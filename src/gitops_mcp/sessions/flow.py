"""The wizard as a pure state machine.

The current step is *derived*: it is the first step that still has an unanswered required
question. Answers may come in any order and ahead of their step (they wait in
``pending`` until their question is asked); a changed answer simply re-derives the rest.
Nothing here does I/O except through the ``exists`` callback the caller supplies.

The steps' questions are in :mod:`.steps`, answers -> spec in :mod:`.spec`, defaults in
:mod:`.defaults`; their public names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_mcp.questions import AnswerError, Question
from gitops_mcp.sessions.defaults import default_output_path
from gitops_mcp.sessions.env import MAX_SELECT_OPTIONS, PREVIEW_QUESTION_IDS, FlowEnv
from gitops_mcp.sessions.models import STEPS, SessionContext, SessionState, Step
from gitops_mcp.sessions.spec import (
    CHART,
    build_spec,
    package_kind,
    plain_revision,
    resolve_ref,
    revision,
    selected_package,
)
from gitops_mcp.sessions.steps import (
    all_question_ids,
    questions_for,
)

__all__ = [
    "CHART",
    "MAX_SELECT_OPTIONS",
    "PREVIEW_QUESTION_IDS",
    "Advance",
    "FlowEnv",
    "advance",
    "all_question_ids",
    "build_spec",
    "default_output_path",
    "open_questions",
    "package_kind",
    "plain_revision",
    "questions_for",
    "resolve_ref",
    "revision",
    "selected_package",
]


@dataclass
class Advance:
    state: SessionState
    errors: dict[str, str]
    ignored: list[str]


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
