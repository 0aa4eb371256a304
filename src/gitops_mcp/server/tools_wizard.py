"""Wizard tools: sessions that ask, preview, deliver and verify a deployment."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from gitops_mcp.server.auth import current_owner
from gitops_mcp.server.common import ANSWER, CANCEL, READ, SESSION_WRITE, answer, compact, run
from gitops_mcp.server.elicit import elicit_rounds
from gitops_mcp.services import Services
from gitops_mcp.sessions.models import SessionSummary, SessionView
from gitops_mcp.settings import Settings


class SessionList(BaseModel):
    sessions: list[SessionSummary]


def register(mcp: MCPServer, svc: Services, settings: Settings) -> None:
    @mcp.tool(annotations=READ)
    async def get_session(
        session_id: Annotated[str, Field(description="Id returned by start_deployment")],
    ) -> SessionView:
        """Show a wizard session: step, open questions, answers, preview and result."""
        return await answer(svc.wizard.get, current_owner(), session_id)

    @mcp.tool(annotations=READ)
    async def list_sessions() -> SessionList:
        """List this caller's wizard sessions, newest first."""
        return compact(SessionList(sessions=await run(svc.wizard.list_sessions, current_owner())))

    # -- sessions ---------------------------------------------------------------------------------
    @mcp.tool(annotations=SESSION_WRITE)
    async def start_deployment(
        path: Annotated[str, Field(description="Absolute path of the local repository (or a directory in it)")],
        ctx: Context,
        intent: Annotated[
            str | None, Field(description="What the user asked for, e.g. 'deploy charts/podinfo with Flux'")
        ] = None,
        provider: Annotated[str | None, Field(description="GitOps engine (flux, argocd), if the user said")] = None,
    ) -> SessionView:
        """Open a deployment session: detects packages and returns the first questions.

        Then call answer_questions with {question id: value}. Stable ids: package, provider,
        repo_url, path, revision, namespace, app_name, output_path; Argo CD argocd_namespace,
        project, sync_policy; Flux flux_namespace, interval, prune; delivery. Later answers
        may be given ahead. Clients that support elicitation are asked inline.
        """
        owner = current_owner()
        view = await run(svc.wizard.start, owner, path, intent, provider)
        return compact(
            await elicit_rounds(ctx, view, lambda a: run(svc.wizard.answer, owner, view.session_id, a, False))
        )

    @mcp.tool(annotations=SESSION_WRITE if settings.read_only else ANSWER)
    async def answer_questions(
        session_id: Annotated[str, Field(description="Id returned by start_deployment")],
        answers: Annotated[
            dict[str, Any],
            Field(
                description='Answers by question id, e.g. {"package": "charts/podinfo", "provider": '
                '"flux"}; any subset, including later steps'
            ),
        ],
        ctx: Context,
        accept_defaults: Annotated[
            bool, Field(description="Take the shown default for every open question not answered")
        ] = False,
    ) -> SessionView:
        """Answer wizard questions; returns the next questions or, at the end, the preview.

        A refused answer is returned as the same question with an `error` (nothing changes).
        At the preview step answer delivery=write to write the file into the working tree
        (this overwrites the target file; the diff is in the preview and the result).
        """
        owner = current_owner()
        view = await run(svc.wizard.answer, owner, session_id, answers, accept_defaults)
        return compact(await elicit_rounds(ctx, view, lambda a: run(svc.wizard.answer, owner, session_id, a, False)))

    @mcp.tool(annotations=CANCEL)
    async def cancel_session(
        session_id: Annotated[str, Field(description="Id returned by start_deployment")],
    ) -> SessionView:
        """End a wizard session without doing anything more. Files already written stay."""
        return await answer(svc.wizard.cancel, current_owner(), session_id)
