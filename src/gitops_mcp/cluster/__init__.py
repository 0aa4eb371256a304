"""The cluster seam: the official kubernetes client behind our own small interface (no MCP here)."""
