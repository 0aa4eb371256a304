"""Resources (providers, sessions), prompts, and the HTTP health check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer

from gitops_mcp.prompts import deploy_with_gitops_text, prompt_text
from gitops_mcp.server.auth import current_principal
from gitops_mcp.server.common import resource
from gitops_mcp.settings import Settings

if TYPE_CHECKING:
    from gitops_mcp.services import Services


def register(mcp: MCPServer, svc: Services, settings: Settings) -> None:
    @mcp.resource("gitops://providers", mime_type="application/json", title="GitOps providers")
    def providersresource() -> str:
        """The registered providers and their questions."""
        from gitops_mcp.services.inspect import ProviderList

        return resource(lambda: ProviderList(providers=svc.inspect.providers()).model_dump_json(indent=2))

    @mcp.resource("gitops://sessions", mime_type="application/json", title="Wizard sessions")
    def sessionsresource() -> str:
        """This caller's wizard sessions."""
        from gitops_mcp.sessions.models import SessionList

        principal = current_principal()
        return resource(lambda: SessionList(sessions=svc.wizard.list_sessions(principal)).model_dump_json(indent=2))

    @mcp.resource("gitops://sessions/{session_id}", mime_type="application/json", title="Wizard session")
    def sessionresource(session_id: str) -> str:
        """One wizard session."""
        principal = current_principal()
        return resource(lambda: svc.wizard.get(principal, session_id).model_dump_json(indent=2))

    @mcp.prompt(title="Deploy with GitOps")
    def deploy_with_gitops(path: str, intent: str = "", provider: str = "") -> str:
        """Guide the assistant through detecting, asking, previewing and writing a deployment."""
        return deploy_with_gitops_text(path, intent, provider, read_only=settings.read_only)

    @mcp.prompt(title="Remediate with GitOps")
    def remediate_with_gitops(api_version: str, kind: str, name: str, namespace: str = "", problem: str = "") -> str:
        """Guide the assistant to fix a live object through Git, reviewed and verified."""
        return prompt_text(
            "remediate_with_gitops.md",
            api_version=api_version,
            kind=kind,
            name=name,
            namespace=namespace or "(cluster-scoped)",
            problem=problem or "(describe it)",
        )

    @mcp.prompt(title="Diagnose a sync")
    def diagnose_sync(kind: str, name: str, namespace: str) -> str:
        """Guide the assistant to find out why a Flux object or Argo CD Application is not synced."""
        return prompt_text("diagnose_sync.md", kind=kind, name=name, namespace=namespace)

    @mcp.custom_route("/healthz", methods=["GET"])  # type: ignore[untyped-decorator]
    async def healthz(request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse("ok")
