"""The server publishes its prebuilt tools through the SDK's public registration, and its lifespan
owns the Services: every run of the server enters it, the last one to end closes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from gitops_mcp.server import build_server
from gitops_mcp.server.prebuilt import PrebuiltTool
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings


@pytest.mark.anyio
async def test_the_lifespan_owns_and_closes_the_services(tmp_path: Path) -> None:
    settings = Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s")
    services = Services(settings)
    server = build_server(settings, services)
    assert [t.name for t in await server.list_tools()] == sorted(server.tools) or set(server.tools) == {
        t.name for t in await server.list_tools()
    }
    assert all(isinstance(t, PrebuiltTool) for t in server.tools.values())
    async with Client(server) as first:
        assert not (await first.call_tool("list_sessions", {})).is_error
        assert services.shared._store is not None  # opened by the call
        async with Client(server) as second:  # another run of the same server (a second SSE connection)
            assert not (await second.call_tool("list_sessions", {})).is_error
        assert services.shared._store is not None  # the first run still uses it
    assert services.shared._store is None  # the last run closed it
    async with Client(server) as again:  # and a new run opens it again
        assert not (await again.call_tool("list_sessions", {})).is_error
    assert services.shared._store is None
