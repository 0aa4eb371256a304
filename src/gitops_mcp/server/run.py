"""Serve the MCP server over stdio, SSE or streamable HTTP."""

from __future__ import annotations

import gc
import importlib.util
import logging
import sys
from typing import Any

import anyio
from mcp.server.transport_security import TransportSecuritySettings

from gitops_mcp import __version__
from gitops_mcp.server.app import build_server
from gitops_mcp.settings import Settings


def session_place(settings: Settings) -> str:
    """Where sessions live, for the start-up line (no credential)."""
    target = settings.redis_target
    return f"Redis {target.describe()}" if target else f"SQLite {settings.session_db_path}"


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _uvicorn(settings: Settings, app: Any) -> Any:
    """Streamable HTTP as the SDK serves it, cheaper per request (bench/load.py: 50 clients at
    once spend most of the server's CPU in the HTTP layer, not in the tools): httptools' C parser
    instead of h11, uvloop's event loop, and the access log (a line per request) only at DEBUG."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
        http="httptools" if _has("httptools") else "h11",
    )
    return uvicorn.Server(config)


GC_YOUNG = 10_000
"""Allocations between two collections of the youngest generation while serving HTTP (Python's
default is 700); see :func:`settle_heap`."""


def settle_heap() -> None:
    """Before serving HTTP: collect once and freeze what start-up made (modules, tool models and
    schemas, settings: some 110,000 objects that live as long as the process), so that no
    collection walks them again, and collect the youngest generation less often.

    Measured (bench/load.py, 50 clients listing sessions, per 500 calls): with Python's defaults the
    objects of the calls in flight survived the young collections and brought on two full ones, of
    86 ms of CPU each, stopping every call in flight; 244 ms of collector CPU in all. Frozen and
    every 10,000 allocations: 53 ms, no full collection (a young one takes ~10 ms). Only cyclic
    garbage waits longer for its collection (at most that many objects)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)


def quiet_stateless_requests(settings: Settings) -> None:
    """Stateless HTTP: the SDK serves each request of a 2025-protocol client (as hosts speak today)
    on a transport of its own and logs ``Terminating session: None`` at INFO as it ends: a line per
    request, rendered by rich's handler for 0.5-0.8 ms of CPU, a fifth of a ``list_sessions`` call
    (bench/load.py --legacy). It is that logger's only INFO line; its warnings still show, and at
    DEBUG everything does."""
    if settings.http_stateless and settings.log_level != "DEBUG":
        logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)


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
        app = mcp.streamable_http_app(
            stateless_http=settings.http_stateless, transport_security=security, host=settings.host
        )
        quiet_stateless_requests(settings)
        settle_heap()
        anyio.run(_uvicorn(settings, app).serve, backend_options={"use_uvloop": _has("uvloop")})
    else:
        settle_heap()
        mcp.run(transport="sse", host=settings.host, port=settings.port, transport_security=security)
