"""Wizard tools: sessions that ask, preview, deliver and verify a deployment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from gitops_mcp.server.auth import current_principal, current_scopes
from gitops_mcp.server.common import ANSWER, CANCEL, READ, SESSION_WRITE, SessionId, answer, compact, inline, run
from gitops_mcp.server.elicit import elicit_rounds
from gitops_mcp.server.toolset import ToolSet
from gitops_mcp.settings import Settings

if TYPE_CHECKING:
    from gitops_mcp.services import Services
    from gitops_mcp.sessions.models import SessionList, SessionView


def register(tools: ToolSet, svc: Services, settings: Settings) -> None:
    # Stateless HTTP (replicas): no request can go back to the client, so questions come back in
    # the result and the assistant answers them with answer_questions (the session round trip).
    ask_inline = not (settings.transport == "http" and settings.http_stateless)
    local = settings.redis_target is None  # SQLite: reads are local file reads (see Shared.store_local)

    def answered(principal: str, session_id: str) -> Callable[[dict[str, Any]], Awaitable[SessionView]]:
        """Answers given inline (elicitation): delivery only with the write scope."""
        scopes = current_scopes()

        async def go(given: dict[str, Any]) -> SessionView:
            if "delivery" in given and scopes is not None and settings.oidc_write_scope not in scopes:
                raise ToolError(f"delivery needs the {settings.oidc_write_scope} scope; this token has only read")
            return await run(svc.wizard.answer, principal, session_id, given, False)

        return go

    @tools.tool(annotations=READ)
    async def get_session(
        session_id: SessionId,
    ) -> SessionView:
        """Show a wizard session: step, open questions, answers, preview and result."""
        return await answer(svc.wizard.get, current_principal(), session_id, local=local, slots="store")

    @tools.tool(annotations=READ)
    async def list_sessions(
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many")] = 20,
    ) -> SessionList:
        """List this caller's wizard sessions, newest first."""
        # one indexed SQLite read of summary columns: cheaper on the event loop than a thread handoff;
        # Redis is a network call, which waits in a thread
        from gitops_mcp.sessions.models import SessionList

        principal = current_principal()
        if local:
            found = inline(svc.wizard.list_sessions, principal, limit + 1)
        else:
            found = await run(svc.wizard.list_sessions, principal, limit + 1, slots="store")
        return compact(SessionList(sessions=found[:limit], more=len(found) > limit))

    # -- sessions ---------------------------------------------------------------------------------
    @tools.tool(annotations=SESSION_WRITE)
    async def start_deployment(
        repo_path: Annotated[str, Field(description="Local directory or git URL")],
        ctx: Context,
        intent: Annotated[
            str | None, Field(description="What the user asked, e.g. 'deploy charts/podinfo with Flux'")
        ] = None,
        provider: Annotated[str | None, Field(description="flux or argocd, if the user said")] = None,
        answers: Annotated[
            dict[str, Any] | None, Field(description="Answers known ahead, by question id (not delivery)")
        ] = None,
        accept_defaults: Annotated[bool, Field(description="Take every default up to the preview")] = False,
    ) -> SessionView:
        """Open a deployment session: detects packages, returns the first questions. Question ids:
        package, provider, repo_url, path, revision, namespace, app_name, existing, output_path,
        delivery; Argo CD argocd_namespace, project, sync_policy; Flux flux_namespace, interval,
        prune."""
        principal = current_principal()
        # detection and the first questions only compute (no clone, no cluster): a few threads, not
        # the default forty (see common.run); with Redis the store's, as its round trips may wait
        computes = svc.shared.computes_only(repo_path, asks_cluster=True)
        view = await run(
            svc.wizard.start,
            principal,
            repo_path,
            intent,
            provider,
            answers,
            accept_defaults,
            local=local and computes,
            slots="store" if computes else "default",
        )
        if not ask_inline:
            return compact(view)
        return compact(await elicit_rounds(ctx, view, answered(principal, view.session_id)))

    @tools.tool(annotations=SESSION_WRITE if settings.read_only else ANSWER)
    async def answer_questions(
        session_id: SessionId,
        answers: Annotated[dict[str, Any], Field(description='By question id, e.g. {"provider": "flux"}; any subset')],
        ctx: Context,
        accept_defaults: Annotated[bool, Field(description="Take every default up to the preview")] = False,
    ) -> SessionView:
        """Answer wizard questions; returns the next ones or, at the end, the preview (YAML, target
        file, diff, validation); a refused answer returns its question with an error. delivery
        (write; push or pull_request also commit) acts only on a preview already returned; given
        earlier, it is kept."""
        principal = current_principal()
        view = await run(svc.wizard.answer, principal, session_id, answers, accept_defaults)
        if not ask_inline:
            return compact(view)
        return compact(await elicit_rounds(ctx, view, answered(principal, session_id)))

    @tools.tool(annotations=CANCEL)
    async def cancel_session(
        session_id: SessionId,
    ) -> SessionView:
        """End a wizard session without doing anything more. Files already written stay."""
        return await answer(svc.wizard.cancel, current_principal(), session_id, local=local, slots="store")
