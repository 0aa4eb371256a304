"""Tool definitions built ahead: start-up publishes them without building a pydantic model.

The SDK makes each tool's argument model and output schema from its signature at registration
(about 130 ms for our 21 tools, most of the server's own start-up). ``tool_defs.json`` holds
what that build publishes after :func:`~gitops_mcp.server.lean.lean_tools` — input and output
schema per tool — with the signature it was made from. :class:`PrebuiltTool` publishes those and
makes the argument model on the tool's first call; a tool whose signature differs from the
file's (or that the file does not know) is built the SDK's way, with a warning.

The registration modules import the types their signatures name only for type checking, so that
a start imports no use case; :func:`import_annotation_names` imports them into the module when
a tool's models are made.

``scripts/tool-defs`` writes the file; ``tests/server/test_tool_defs.py`` fails when it is not what
the code builds.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import logging
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata, func_metadata

DEFS_FILE = Path(__file__).with_name("tool_defs.json")
log = logging.getLogger("gitops_mcp.prebuilt")


def signature_of(fn: Callable[..., Any]) -> str:
    """The signature as written (annotations are strings here): what the schemas are made from."""
    return str(inspect.signature(fn))


@cache
def load_defs(path: Path = DEFS_FILE) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("prebuilt tool definitions not read (%s); building them at start-up", exc)
        return {}
    return data if isinstance(data, dict) else {}


@cache
def _deferred_imports(module: str) -> tuple[tuple[str, str, str], ...]:
    """(module, name, as) of each ``from X import Y`` under a top-level ``if TYPE_CHECKING:``."""
    source = inspect.getsource(sys.modules[module])
    found: list[tuple[str, str, str]] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
                    found += [(stmt.module, a.name, a.asname or a.name) for a in stmt.names]
    return tuple(found)


def import_annotation_names(fn: Callable[..., Any]) -> None:
    """Import the names ``fn``'s module imports only for type checking, so that its string
    annotations can be evaluated (the SDK does, to make the models)."""
    namespace = fn.__globals__
    for module, name, alias in _deferred_imports(fn.__module__):
        if alias not in namespace:
            namespace[alias] = getattr(importlib.import_module(module), name)


class PrebuiltTool(Tool):
    """A tool published from its prebuilt definition; the argument model is made on first call."""

    @classmethod
    def ahead(
        cls, fn: Callable[..., Any], name: str, description: str, annotations: Any, spec: dict[str, Any]
    ) -> PrebuiltTool:
        tool = cls.model_construct(  # type: ignore[call-arg]  # fn_metadata: made on first call
            fn=fn,
            name=name,
            title=None,
            description=description,
            parameters=spec["input"],
            is_async=True,
            context_kwarg=spec.get("context"),
            resolved_params={},
            resolver_plans={},
            annotations=annotations,
            icons=None,
            meta=None,
        )
        tool.__dict__["output_schema"] = spec.get("output")  # Tool.output_schema is a cached_property
        return tool

    def metadata(self) -> FuncMetadata:
        """The SDK's argument and output models for this tool, made once."""
        meta: FuncMetadata | None = self.__dict__.get("fn_metadata")
        if meta is None:
            import_annotation_names(self.fn)
            meta = func_metadata(self.fn, skip_names=[self.context_kwarg] if self.context_kwarg else [])
            meta.output_schema = self.__dict__.get("output_schema")  # what was published
            self.__dict__["fn_metadata"] = meta
        return meta

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        self.metadata()
        return await super().run(arguments, context, convert_result)


def prebuilt_tool(
    fn: Callable[..., Any], name: str | None, description: str | None, annotations: Any
) -> PrebuiltTool | None:
    """``fn`` as a :class:`PrebuiltTool`, or None when the prebuilt definitions do not match it."""
    if not inspect.iscoroutinefunction(fn):
        return None
    name = name or fn.__name__
    spec = load_defs().get(name)
    if spec is None:
        return None
    if spec.get("signature") != signature_of(fn):
        log.warning("tool %s changed since tool_defs.json was written (scripts/tool-defs); building it", name)
        return None
    text = " ".join((description or fn.__doc__ or "").split())
    return PrebuiltTool.ahead(fn, name, text, annotations, spec)


def definitions(tools: list[Tool]) -> dict[str, dict[str, Any]]:
    """What ``tool_defs.json`` holds for tools built the SDK's way (and made lean)."""
    out: dict[str, dict[str, Any]] = {}
    for tool in sorted(tools, key=lambda t: t.name):
        out[tool.name] = {
            "signature": signature_of(tool.fn),
            "context": tool.context_kwarg,  # the SDK finds it by evaluating annotations
            "input": tool.parameters,
            "output": tool.output_schema,
        }
    return out
