"""Command line: ``gitops-mcp serve --transport stdio|sse|http [--host H --port P] [--mode M]``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from gitops_mcp import __version__
from gitops_mcp.errors import ConfigError
from gitops_mcp.settings import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gitops-mcp", description="GitOps MCP server (Argo CD and Flux through Git)")
    p.add_argument("--version", action="version", version=f"gitops-mcp {__version__}")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the MCP server (default)")
    serve.add_argument("--transport", choices=["stdio", "sse", "http"], help="default: stdio")
    serve.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve.add_argument("--read-only", action="store_true", default=None, help="register no write tool")
    serve.add_argument("--mode", choices=["read-only", "propose", "full"], help="default: full")
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    return p


def load_settings(args: argparse.Namespace) -> Settings:
    """Environment first, CLI flags on top (flags win)."""
    overrides: dict[str, Any] = {}
    for name in ("transport", "host", "port", "read_only", "mode", "log_level"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if "mode" in overrides or "read_only" in overrides:  # a flag settles the mode over the environment
        overrides.setdefault("mode", "read-only")
        overrides["read_only"] = overrides["mode"] == "read-only"
    settings = Settings(**overrides)
    check_exposure(settings)
    return settings


def check_exposure(settings: Settings) -> None:
    """Refuse to serve HTTP beyond loopback without a bearer token.

    Raises:
        ConfigError: bound beyond loopback and no ``GITOPS_MCP_AUTH_TOKEN``.
    """
    authenticated = settings.bearer_tokens() or settings.oidc_issuer
    if settings.transport != "stdio" and not settings.is_loopback and not authenticated:
        raise ConfigError(
            f"refusing to listen on {settings.host} without authentication: set GITOPS_MCP_AUTH_TOKEN "
            "(clients then send 'Authorization: Bearer <token>') or GITOPS_MCP_OIDC_ISSUER, or bind 127.0.0.1"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args)
    except ValidationError as exc:  # never echo the input: it may be a token
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        print(f"gitops-mcp: configuration error: {details}", file=sys.stderr)
        return 2
    except (ConfigError, SettingsError) as exc:
        print(f"gitops-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    from gitops_mcp.server.run import serve

    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(settings)
    except ConfigError as exc:  # found while building the server: an unknown tool name, an audit file
        print(f"gitops-mcp: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0
