"""The tools of one server, made before it: published through the SDK's public registration
(``MCPServer(tools=...)``), each prebuilt from ``tool_defs.json`` when that matches (see
:mod:`.prebuilt`), else built the SDK's way (``Tool.from_function``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations

from gitops_mcp.server.prebuilt import import_annotation_names, prebuilt_tool

F = TypeVar("F", bound=Callable[..., Any])


class ToolSet:
    """What the registration modules add tools to (``@tools.tool(annotations=...)``, as on an MCPServer)."""

    def __init__(self, prebuilt: bool = True) -> None:
        self.prebuilt = prebuilt
        self.tools: list[Tool] = []

    def tool(self, name: str | None = None, annotations: ToolAnnotations | None = None) -> Callable[[F], F]:
        def add(fn: F) -> F:
            self.add(fn, name, annotations)
            return fn

        return add

    def add(self, fn: Callable[..., Any], name: str | None = None, annotations: ToolAnnotations | None = None) -> Tool:
        tool: Tool | None = prebuilt_tool(fn, name, None, annotations) if self.prebuilt else None
        if tool is None:
            import_annotation_names(fn)
            tool = Tool.from_function(fn, name=name, annotations=annotations)
        if any(t.name == tool.name for t in self.tools):
            raise ValueError(f"tool {tool.name} is registered twice")
        self.tools.append(tool)
        return tool

    def by_name(self) -> dict[str, Tool]:
        return {t.name: t for t in self.tools}
