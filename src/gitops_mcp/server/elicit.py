"""Ask the wizard's questions inline when the client supports elicitation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field, create_model

if TYPE_CHECKING:
    from gitops_mcp.questions import Question
    from gitops_mcp.sessions.models import SessionView

log = logging.getLogger("gitops_mcp.elicit")
MAX_ROUNDS = 12
MAX_YAML_IN_MESSAGE = 4000


def can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    return bool(caps is not None and caps.elicitation is not None)


def form_model(questions: list[Question]) -> type[BaseModel]:
    """A flat pydantic model for an elicitation form (str, bool and enums only)."""
    fields: dict[str, Any] = {}
    for q in questions:
        typ: Any
        if q.type == "boolean":
            typ = bool
        elif q.type == "select" and q.options:
            typ = Literal.__getitem__(tuple(q.options))
        else:
            typ = str
        default = q.default if q.default is not None else (... if q.required else "")
        if q.type == "select" and default not in (q.options or []) and default is not ...:
            default = ...
        desc = q.prompt + (f" ({q.help})" if q.help else "") + (f" - refused before: {q.error}" if q.error else "")
        fields[q.id] = (typ, Field(default, description=desc))
    return create_model("WizardAnswers", **fields)


def _message(view: SessionView) -> str:
    if view.step == "preview" and view.preview is not None:
        yaml = view.preview.yaml
        if len(yaml) > MAX_YAML_IN_MESSAGE:
            yaml = yaml[:MAX_YAML_IN_MESSAGE] + "\n# ... (truncated)"
        state = "valid" if view.preview.validation.valid else "NOT valid"
        return f"Manifests for {view.preview.output_path} ({state}):\n\n{yaml}\nChoose how to deliver them."
    return f"GitOps deployment - {view.step.replace('_', ' ')}"


async def elicit_rounds(
    ctx: Context, view: SessionView, answer: Callable[[dict[str, Any]], Awaitable[SessionView]]
) -> SessionView:
    """Ask open questions as forms until done, declined, or the client cannot be asked."""
    if not can_elicit(ctx):
        return view
    for _ in range(MAX_ROUNDS):
        if view.status != "open" or not view.questions:
            break
        if view.step == "preview" and view.preview is not None and not view.preview.validation.valid:
            break
        try:
            result = await ctx.elicit(_message(view), form_model(view.questions))
        except Exception as exc:  # no back-channel (stateless / 2026 protocol) or client refusal
            log.debug("elicitation unavailable, falling back to session questions: %s", exc)
            break
        if result.action != "accept" or result.data is None:
            break
        answers = {k: v for k, v in result.data.model_dump().items() if v != "" or k in ("values", "value_files")}
        view = await answer(answers)
    return view
