"""MCP layer only: tool, resource and prompt registration over the plain-Python core."""

from gitops_mcp.server.app import build_server

__all__ = ["build_server"]
