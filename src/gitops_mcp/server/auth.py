"""Bearer-token authentication for the HTTP transports, and the caller's identity."""

from __future__ import annotations

import hmac

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

from gitops_mcp.settings import Settings

LOCAL_PRINCIPAL = "local"


class StaticTokenVerifier(TokenVerifier):
    """Accepts the configured tokens; each maps to a principal (who opened a session, who calls)."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = [(principal, token.encode()) for principal, token in tokens.items()]

    async def verify_token(self, token: str) -> AccessToken | None:
        given = token.encode()
        found: str | None = None
        for principal, expected in self._tokens:  # compare with every token: timing does not depend on which
            if hmac.compare_digest(given, expected):
                found = principal
        if found is None:
            return None
        return AccessToken(token="", client_id=found, scopes=["gitops"])


def make_auth(settings: Settings) -> tuple[TokenVerifier | None, AuthSettings | None]:
    tokens = settings.bearer_tokens()
    if not tokens or settings.transport == "stdio":
        return None, None
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{host}:{settings.port}"
    path = "/mcp" if settings.transport == "http" else "/sse"
    return StaticTokenVerifier(tokens), AuthSettings(
        issuer_url=AnyHttpUrl(base),
        resource_server_url=AnyHttpUrl(base + path),
        required_scopes=["gitops"],
        validate_token_resource=False,  # static tokens carry no audience
    )


def current_principal() -> str:
    """The authenticated principal of this request, or ``local`` (stdio, in-process)."""
    tok = get_access_token()
    return f"token:{tok.client_id}" if tok is not None else LOCAL_PRINCIPAL
