"""Baseline for bench/startup.py: a bare MCPServer with one trivial tool."""

from mcp.server import MCPServer

mcp = MCPServer("bare")


@mcp.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    mcp.run()
