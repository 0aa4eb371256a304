"""The MCP layer: tools, resources and prompts over :class:`gitops_mcp.services.Services`.

Thin on purpose: each registration module (read tools, wizard tools, write tools, resources
and prompts) checks nothing itself, calls a use case in a worker thread and returns its
pydantic result. Domain errors become ``is_error`` results whose text says what to do.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    ErrorData,
    Icon,
    InputRequiredResult,
    JSONRPCError,
    ToolAnnotations,
)
from pydantic import ValidationError

from gitops_mcp import __version__, audit
from gitops_mcp.caller import acting
from gitops_mcp.scrub import install_log_scrubbing, register_secrets
from gitops_mcp.server import resources, tools_read, tools_wizard, tools_write
from gitops_mcp.server.auth import current_caller, current_scopes, make_auth, metadata_routes
from gitops_mcp.server.guard import (
    check_arguments,
    describe_validation,
    resolve_aliases,
    unexpected,
    unparsable_request_id,
)
from gitops_mcp.server.lean import lean_tools
from gitops_mcp.server.policy import WIZARD_DELIVERY, ToolPolicy, delivers
from gitops_mcp.server.prebuilt import DEFS_FILE, definitions, import_annotation_names, prebuilt_tool
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

INSTRUCTIONS = """\
gitops-mcp deploys and repairs Kubernetes workloads the GitOps way (list_providers names the engines): every change \
goes through Git, and nothing is applied to the cluster directly. Deploy: detect_packages(path); \
start_deployment(path, intent, provider); answer_questions(session_id, answers) until the preview \
(YAML, target file, diff, validation); show it to the user; then answer delivery (write, push or \
pull_request) and wait. Question ids are stable and can be answered ahead; generate_manifests does \
the same in one call without writing. Verify: get_sync_status, reconcile, wait_for_sync(revision=SHA). \
Repair: find_owner names the GitOps objects and the Git file behind a live object; remediate changes \
that file (pull request by default) and verifies it live; promote and rollback move versions \
between environments and back. repo_path is an absolute local path (or, for detect_packages and \
start_deployment, a git URL)."""


log = logging.getLogger("gitops_mcp")


class GitOpsServer(MCPServer):
    """The SDK's server, with every call answered in one readable line (see :mod:`.guard`), and
    tools published from their prebuilt definitions when those match (see :mod:`.prebuilt`)."""

    prebuilt = True
    policy: ToolPolicy | None = None
    audit_log: audit.AuditLog | None = None
    settings_kube_context: str | None = None
    extra_routes: list[Any] = []  # set per instance by build_server

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        plain = title is None and icons is None and meta is None and structured_output is None
        tool = prebuilt_tool(fn, name, description, annotations) if self.prebuilt and plain else None
        if tool is None:
            import_annotation_names(fn)
            super().add_tool(fn, name, title, description, annotations, icons, meta, structured_output)
        else:
            self._tool_manager._tools[tool.name] = tool

    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        if self.policy is None:
            return tools
        scopes = current_scopes()
        return [t for t in tools if self.policy.visible(t.name, scopes)]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        caller = current_caller(name)
        audited = self.policy is not None and name in self.policy.write_tools
        if self.policy is not None:
            refusal = self.policy.refusal(name, arguments, current_scopes())
            if refusal:
                if audited or (
                    name == WIZARD_DELIVERY and delivers(arguments)
                ):  # a refused delivery of the wizard too (a made one: see Wizard)
                    self._audit(name, caller.principal, arguments, None, refusal, "refused")
                raise ToolError(f"Error executing tool {name}: {refusal}")
            arguments = self.policy.adjust(name, arguments)
        with acting(caller):
            try:
                result = await self._call_tool(name, arguments, context)
            except ToolError as exc:
                if audited:
                    self._audit(
                        name, caller.principal, arguments, None, str(exc).removeprefix(f"Error executing tool {name}: ")
                    )
                raise
        if audited and isinstance(result, CallToolResult):
            error = str(getattr(result.content[0], "text", "")) if result.is_error and result.content else None
            self._audit(name, caller.principal, arguments, result.structured_content, error)
        return result

    def _audit(
        self,
        tool: str,
        principal: str,
        arguments: dict[str, Any],
        result: dict[str, Any] | None,
        error: str | None,
        outcome: str | None = None,
    ) -> None:
        if self.audit_log is None or not self.audit_log.enabled:
            return
        cluster = None
        if "context" in arguments or tool in ("reconcile", "register_gitops_objects", "remediate"):
            cluster = arguments.get("context") or self.settings_kube_context or "current"
        self.audit_log.write(audit.from_call(tool, principal, arguments, result, error, outcome, cluster))

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            arguments, problem = resolve_aliases(name, arguments)
            problem = problem or check_arguments(tool.parameters, arguments)
            if problem:
                raise ToolError(f"Error executing tool {name}: {problem}")
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            raise ToolError(f"Error executing tool {name}: {unexpected(name, exc)}") from None
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(f"Error executing tool {name}: {describe_validation(exc.__cause__)}") from None
            text = str(exc)
            if "\n" in text:  # one line: git's and validators' multi-line output folded
                raise ToolError(re.sub(r"\s*\n\s*", " ", text).strip()) from exc.__cause__
            raise

    def streamable_http_app(self, **kwargs: Any) -> Any:
        app = super().streamable_http_app(**kwargs)
        app.router.routes[0:0] = self.extra_routes  # before the SDK's own metadata route: ours names both scopes
        return app

    def sse_app(self, *args: Any, **kwargs: Any) -> Any:
        app = super().sse_app(*args, **kwargs)
        app.router.routes[0:0] = self.extra_routes
        return app

    async def run_stdio_async(self) -> None:
        async with stdio_server() as (read_stream, write_stream):
            await self._lowlevel_server.run(
                _AnswerUnparsable(read_stream, write_stream),
                write_stream,
                self._lowlevel_server.create_initialization_options(),
            )


class _AnswerUnparsable:
    """The stdio read stream, answering requests the SDK's parser refused (instead of dropping them)."""

    def __init__(self, inner: Any, write: Any) -> None:
        self._inner, self._write = inner, write

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        while True:
            item = await self._inner.receive()
            answerable, request_id = unparsable_request_id(item) if isinstance(item, Exception) else (False, None)
            if not answerable:
                return item
            log.warning("refused a request nested too deeply to parse (id %r)", request_id)
            if request_id is not None:
                error = ErrorData(code=INVALID_PARAMS, message="the request is nested too deeply (at most 32 levels)")
                await self._write.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=request_id, error=error)))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _AnswerUnparsable:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _AnswerUnparsable:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        return bool(await self._inner.__aexit__(*exc))


def build_server(settings: Settings, services: Services | None = None, *, prebuilt: bool = True) -> MCPServer:
    """Build the MCP server. What the mode or the tool list turns off is not published (see
    :mod:`.policy`); ``prebuilt=False`` builds every tool definition from its signature (as
    scripts/tool-defs does)."""
    svc = services or Services(settings)
    svc.start()
    token_verifier, auth = make_auth(settings)
    register_secrets(settings.secret_values())
    mcp = GitOpsServer(
        "gitops-mcp",
        version=__version__,
        title="GitOps MCP",
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,
        token_verifier=token_verifier,
        auth=auth,
    )
    mcp.prebuilt = prebuilt
    mcp.audit_log = audit.AuditLog(settings.audit_log)
    mcp.settings_kube_context = settings.kube_context
    mcp.extra_routes = metadata_routes(settings, auth) if auth is not None else []
    install_log_scrubbing()
    tools_read.register(mcp, svc, settings)
    tools_wizard.register(mcp, svc, settings)
    registered = mcp._tool_manager._tools
    before = set(registered)
    tools_write.register(mcp, svc, settings)
    mcp.policy = ToolPolicy(settings, registered, set(registered) - before)
    for name in mcp.policy.off:
        del registered[name]
    lean_tools(mcp)
    if settings.proposes_only:
        for name, tool in registered.items():
            params = copy.deepcopy(tool.parameters)
            mcp.policy.narrow(name, params)
            tool.parameters = params
    resources.register(mcp, svc, settings)
    return mcp


def tool_definitions() -> dict[str, dict[str, Any]]:
    """What ``tool_defs.json`` should hold: every tool, full and read-only, built the SDK's way."""
    import tempfile

    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for read_only in (False, True):
            settings = Settings(allowed_roots=[Path(tmp)], state_dir=Path(tmp) / f"s{read_only}", read_only=read_only)
            built = definitions(build_server(settings, prebuilt=False)._tool_manager.list_tools())
            for name, spec in built.items():
                if out.setdefault(name, spec) != spec:
                    raise RuntimeError(f"tool {name} differs between full and read-only mode")
    return dict(sorted(out.items()))


def write_tool_definitions() -> Path:
    """Write ``tool_defs.json`` (scripts/tool-defs)."""
    DEFS_FILE.write_text(json.dumps(tool_definitions(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return DEFS_FILE
