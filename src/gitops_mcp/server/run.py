"""Serve the MCP server over stdio, SSE or streamable HTTP."""

from __future__ import annotations

import sys

from mcp.server.transport_security import TransportSecuritySettings

from gitops_mcp import __version__
from gitops_mcp.server.app import build_server
from gitops_mcp.settings import Settings


def session_place(settings: Settings) -> str:
    """Where sessions live, for the start-up line (no credential)."""
    target = settings.redis_target
    return f"Redis {target.describe()}" if target else f"SQLite {settings.session_db_path}"


def serve(settings: Settings) -> None:

    mcp = build_server(settings)
    if settings.transport == "stdio":
        mcp.run()
        return
    security = None
    if not settings.is_loopback:
        hosts = settings.allowed_http_hosts
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=bool(hosts),
            allowed_hosts=hosts,
            allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts],
        )
    print(
        f"gitops-mcp {__version__}: {'streamable HTTP' if settings.transport == 'http' else 'SSE'} on "
        f"http://{settings.host}:{settings.port}{'/mcp' if settings.transport == 'http' else '/sse'}"
        f"{' (bearer token required)' if settings.bearer_tokens() and not settings.oidc_issuer else ''}"
        f"{f' (sign-in with {settings.oidc_issuer})' if settings.oidc_issuer else ''}"
        f"{f'; mode {settings.mode}' if settings.mode != 'full' else ''}"
        f"{f'; audit trail to {settings.audit_log}' if settings.audit_log else ''}"
        f"{'; stateless (replicas)' if settings.transport == 'http' and settings.http_stateless else ''}"
        f"; sessions in {session_place(settings)}",
        file=sys.stderr,
        flush=True,
    )
    if settings.transport == "http":
        mcp.run(
            transport="streamable-http",
            host=settings.host,
            port=settings.port,
            transport_security=security,
            stateless_http=settings.http_stateless,
        )
    else:
        mcp.run(transport="sse", host=settings.host, port=settings.port, transport_security=security)
