"""Who calls, on the HTTP transports: static bearer tokens and OpenID Connect access tokens.

This server is an OAuth resource server (the MCP authorization spec): the SDK's middleware asks
:class:`GitOpsTokenVerifier` about each bearer token, answers 401 with ``WWW-Authenticate:
Bearer ... resource_metadata="..."`` without one, and 403 ``insufficient_scope`` for a token
without the read scope. :func:`metadata_routes` serve the RFC 9728 document at
``/.well-known/oauth-protected-resource`` (and at that path plus the endpoint's, where the SDK
points clients). JWT checks are plain Python in :mod:`gitops_mcp.oidc`.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

import anyio
from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, cors_middleware
from mcp.server.auth.settings import AuthSettings
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.routing import Route

from gitops_mcp.caller import Caller
from gitops_mcp.settings import Settings

if TYPE_CHECKING:  # imported when an issuer is configured (httpx and PyJWT stay out of a plain start)
    from gitops_mcp.oidc import OidcVerifier

LOCAL_PRINCIPAL = "local"
SHARED_TOKEN = "default"  # GITOPS_MCP_AUTH_TOKEN: one token for everyone, naming nobody
log = logging.getLogger("gitops_mcp.auth")


class GitOpsTokenVerifier(TokenVerifier):
    """Static tokens (each maps to a principal, with every scope) and, when an issuer is
    configured, JWT access tokens of that issuer (principal: ``sub``, scopes from the token)."""

    def __init__(self, settings: Settings, oidc: OidcVerifier | None = None) -> None:
        self._tokens = [(principal, token.encode()) for principal, token in settings.bearer_tokens().items()]
        self._scopes = [settings.oidc_read_scope, settings.oidc_write_scope]
        self._oidc = oidc

    async def verify_token(self, token: str) -> AccessToken | None:
        given = token.encode()
        found: str | None = None
        for principal, expected in self._tokens:  # compare with every token: timing does not depend on which
            if hmac.compare_digest(given, expected):
                found = principal
        if found is not None:
            return AccessToken(token="", client_id=found, scopes=list(self._scopes))
        if self._oidc is None:
            return None
        from gitops_mcp.oidc import KeysNeeded, TokenRejected

        try:
            try:
                who = self._oidc.verify(token, fetch=False)
            except KeysNeeded:  # the provider's keys first: a blocking fetch, in a worker thread
                who = await anyio.to_thread.run_sync(self._oidc.verify, token)
        except TokenRejected as exc:
            log.info("bearer token refused: %s", exc)
            return None
        return AccessToken(
            token="",
            client_id=who.client_id,
            scopes=list(who.scopes),
            expires_at=who.expires_at,
            subject=who.subject,
            claims={"iss": who.issuer, "name": who.name, "email": who.email},
        )


def make_auth(settings: Settings) -> tuple[TokenVerifier | None, AuthSettings | None]:
    if settings.transport == "stdio" or not (settings.bearer_tokens() or settings.oidc_issuer):
        return None, None
    oidc = None
    if settings.oidc_issuer:
        from gitops_mcp.oidc import OidcVerifier

        oidc = OidcVerifier(
            settings.oidc_issuer,
            settings.oidc_audience or settings.mcp_url,
            settings.oidc_read_scope,
            settings.oidc_write_scope,
            settings.oidc_ca_file,
            settings.oidc_leeway_seconds,
        )
    resource = settings.mcp_url
    issuer = settings.oidc_issuer or resource.rsplit("/", 1)[0]
    return GitOpsTokenVerifier(settings, oidc), AuthSettings(
        issuer_url=AnyHttpUrl(issuer),
        resource_server_url=AnyHttpUrl(resource),
        required_scopes=[settings.oidc_read_scope],
        validate_token_resource=False,  # the audience is checked by the verifier (static tokens carry none)
    )


def metadata_routes(settings: Settings, auth: AuthSettings) -> list[Route]:
    """The RFC 9728 document, naming both scopes, at the well-known path and at it plus the endpoint's."""
    assert auth.resource_server_url is not None
    metadata = ProtectedResourceMetadata(
        resource=auth.resource_server_url,
        authorization_servers=[auth.issuer_url],
        scopes_supported=[settings.oidc_read_scope, settings.oidc_write_scope],
        resource_name="gitops-mcp",
    )
    handler = cors_middleware(ProtectedResourceMetadataHandler(metadata).handle, ["GET", "OPTIONS"])
    suffixed = AnyHttpUrl(str(build_resource_metadata_url(auth.resource_server_url))).path or ""
    paths = dict.fromkeys(["/.well-known/oauth-protected-resource", suffixed])
    return [Route(p, endpoint=handler, methods=["GET", "OPTIONS"]) for p in paths if p]


def current_caller(tool: str | None = None) -> Caller:
    """The authenticated caller of this request; ``local`` over stdio and in-process."""
    tok = get_access_token()
    if tok is None:
        return Caller(LOCAL_PRINCIPAL, tool, person=False)
    claims = tok.claims or {}
    if tok.subject:
        return Caller(tok.subject, tool, name=claims.get("name"), email=claims.get("email"))
    return Caller(tok.client_id, tool, name=tok.client_id, person=tok.client_id != SHARED_TOKEN)


def current_principal() -> str:
    """The principal of wizard sessions and kept changes: ``token:<name>``, ``oidc:<sub>`` or ``local``."""
    tok = get_access_token()
    if tok is None:
        return LOCAL_PRINCIPAL
    return f"oidc:{tok.subject}" if tok.subject else f"token:{tok.client_id}"


def current_scopes() -> list[str] | None:
    """The scopes of this request's token; None without authentication (stdio, loopback): all."""
    tok = get_access_token()
    return None if tok is None else list(tok.scopes)
