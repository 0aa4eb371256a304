"""What every registration module shares: tool annotations (defined once), the worker-thread
runner that turns our errors into tool errors, and the resource error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar, cast

import anyio
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from gitops_mcp.errors import GitOpsError, NotFoundError
from gitops_mcp.scrub import data_json, scrub

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _annotations(read_only: bool, destructive: bool, idempotent: bool, open_world: bool) -> ToolAnnotations:
    """The hints, published only where they say something the spec's defaults (not read-only,
    destructive, not idempotent, open world) do not: readOnlyHint when true; destructiveHint
    always when not read-only (clients act on it); idempotentHint only when not read-only (the
    only case the spec gives it a meaning) and true; openWorldHint only when false."""
    return ToolAnnotations(
        read_only_hint=True if read_only else None,
        destructive_hint=None if read_only else destructive,
        idempotent_hint=idempotent if idempotent and not read_only else None,
        open_world_hint=None if open_world else False,
    )


READ = _annotations(True, False, True, False)
READ_CLUSTER = _annotations(True, False, True, True)
SESSION_WRITE = _annotations(False, False, False, False)
ANSWER = _annotations(False, True, False, False)
CANCEL = _annotations(False, False, True, False)
WRITE_FILE = _annotations(False, True, True, False)
GIT_WRITE = _annotations(False, True, False, True)
CLUSTER_ACTION = _annotations(False, False, False, True)
CLUSTER_WRITE = _annotations(False, True, True, True)

# Provider-specific values are plain strings checked by the registry (a wrong one is answered
# with the valid ones), so that a registered provider needs no change here.
SyncKind = Annotated[str, Field(description="e.g. Kustomization, HelmRelease, Application")]
ProviderName = Annotated[str, Field(description="flux or argocd (list_providers names all)")]

# Arguments many tools share, described once.
RepoPath = Annotated[str, Field(description="Absolute path of the local repository")]
Cluster = Annotated[str | None, Field(description="Kubeconfig context (default: current)")]
ObjectName = Annotated[str, Field(description="Object name")]
ObjectNamespace = Annotated[str, Field(description="Object namespace")]
SessionId = Annotated[str, Field(description="From start_deployment")]


LOCAL_SLOTS = 4
STORE_SLOTS = 4
_limiters: dict[str, anyio.CapacityLimiter] = {}
Slots = Literal["default", "local", "store"]


def _limiter(slots: Slots) -> anyio.CapacityLimiter | None:
    """``local``: calls that only compute (no network, no waiting) share a few threads: forty
    threads all holding out for the GIL cost twice the CPU of four (50 session starts at once:
    1.3-1.5 s of server CPU with the default pool, 0.7 s with four). ``store``: calls on a
    networked session store (Redis), which may wait on it (Redis down: a timeout), share a few of
    their own: its short reads and a session started on a local directory (it computes, then
    makes two or three round trips). Every thread past the first that wants the GIL takes it at
    each system call of another (detection reads and stats files): bench/load.py, Redis, 50
    starts at once, server CPU per call and p95: 40 threads (the default pool) ~29 ms, 1.2-1.3 s;
    8: 18.7 ms, 954-974 ms; 4: 11-14 ms, 683-703 ms (20,000-34,000 voluntary context switches
    per 50 starts with 8, 4,000-17,000 with 4); 50 clients listing sessions: the same with 8, 4
    or 2. Calls that wait keep the default pool."""
    if slots == "default":
        return None
    if slots not in _limiters:
        _limiters[slots] = anyio.CapacityLimiter(LOCAL_SLOTS if slots == "local" else STORE_SLOTS)
    return _limiters[slots]


async def run(fn: Callable[..., T], *args: Any, local: bool = False, slots: Slots = "default") -> T:
    """Run use-case work in a worker thread; our errors become tool errors the model can read.
    ``local``: the work only computes and reads local files; ``slots``: see :func:`_limiter`."""
    return await anyio.to_thread.run_sync(inline, fn, *args, limiter=_limiter("local" if local else slots))


def inline(fn: Callable[..., T], *args: Any) -> T:
    """Call use-case work where it stands (for what is cheaper than a thread handoff); our errors
    become tool errors."""
    try:
        return fn(*args)
    except GitOpsError as exc:
        raise ToolError(scrub(str(exc))) from exc


def compact(value: M) -> M:
    """The result as the wire carries it: the structured content once, and its text copy as compact
    JSON (not the SDK's indented dump of it). The SDK passes a CallToolResult through after
    validating its structured content against the tool's declared output, so the declared
    schema still holds; the cast keeps the tools' return annotations (their output schemas)."""
    data, text = data_json(value.model_dump(mode="json", by_alias=True))  # repository text is data: scrub.as_data
    return cast(M, CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data))


async def answer(fn: Callable[..., M], *args: Any, local: bool = False, slots: Slots = "default") -> M:
    """:func:`run`, answered as :func:`compact`."""
    return compact(await run(fn, *args, local=local, slots=slots))


def resource(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except NotFoundError as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except GitOpsError as exc:
        raise ResourceError(str(exc)) from exc
