"""Stdio framing: every line a client writes gets an answer, unless it is a valid notification or response.

The SDK's stdio transport hands the server an ``Exception`` for a line it cannot read (not JSON,
not JSON-RPC 2.0, a batch, a lone surrogate escape, nesting past pydantic's recursion limit), and
the server drops it: the client waits forever. :func:`stdio_transport` feeds the SDK's reader
from our own line reader, which keeps each line until its message comes out of the transport;
a refused line is answered at once with a JSON-RPC error (:func:`refusal`): the request's id when
one can be read (so the client's call ends), else ``id: null``, as JSON-RPC 2.0 says. The reason
names what is wrong, never the line's content. A line that is not UTF-8 is refused by its byte
offset even when the SDK could read the rest.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, BinaryIO, cast

import anyio
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCNotification

log = logging.getLogger("gitops_mcp.framing")

_CONTAINER = object()  # a member whose value is an object or an array (see _envelope)
_TOKEN = re.compile(
    r'[ \t\r\n]*(?:("(?:[^"\\\x00-\x1f]|\\.)*")|([{}\[\]:,])|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null))'
)
_SURROGATE = re.compile("[\ud800-\udfff]")
RequestId = str | int | None


def refusal(line: str, not_utf8: int | None = None) -> JSONRPCError:
    """The answer to a line the transport could not turn into a message (or that is not UTF-8:
    ``not_utf8`` is the offset of its first bad byte)."""
    code, reason, request_id = _judge(line.strip(), not_utf8)
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=reason))


def _judge(text: str, not_utf8: int | None) -> tuple[int, str, RequestId]:
    if not_utf8 is not None:
        return PARSE_ERROR, f"Parse error: the line is not UTF-8 (byte {not_utf8})", _id_of(_envelope(text)[0])
    if not text:
        return PARSE_ERROR, "Parse error: an empty line (one JSON-RPC message per line)", None
    try:
        data = json.loads(text)
    except RecursionError:  # deeper than Python's parser goes: read the envelope without recursion
        members, _ = _envelope(text)
        return INVALID_PARAMS, "the request is nested too deeply", _id_of(members)
    except ValueError as exc:
        where = f" at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        return PARSE_ERROR, f"Parse error: not JSON{where}", _id_of(_envelope(text)[0])
    if isinstance(data, list):
        return INVALID_REQUEST, "batches are not supported: send one message per line", None
    if not isinstance(data, dict):
        return INVALID_REQUEST, "a JSON-RPC message is a JSON object", None
    request_id = _id_of(data)
    if data.get("jsonrpc") != "2.0":
        return INVALID_REQUEST, 'jsonrpc must be "2.0"', request_id
    if "id" in data and not _valid_id(data["id"]):
        return INVALID_REQUEST, "id must be a string of valid Unicode or an integer", None
    if "method" in data and not isinstance(data["method"], str):
        return INVALID_REQUEST, "method must be a string", request_id
    if "params" in data and not isinstance(data["params"], dict):
        return INVALID_PARAMS, "params must be an object", request_id
    depth, surrogate = _walk(data)
    if surrogate:
        return INVALID_PARAMS, "a string holds a lone surrogate escape (e.g. \\ud800): not valid Unicode", request_id
    if depth > 64:
        return INVALID_PARAMS, "the request is nested too deeply", request_id
    if "method" not in data and not ("id" in data and ("result" in data or "error" in data)):
        return INVALID_REQUEST, "not a request, notification or response (no method, or no id with result/error)", None
    return INVALID_REQUEST, "not a valid JSON-RPC 2.0 message", request_id


def _valid_id(value: Any) -> bool:
    """A string (valid Unicode: a lone surrogate cannot be written back) or an integer."""
    if isinstance(value, str):
        return not _SURROGATE.search(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _id_of(members: dict[str, Any]) -> RequestId:
    """The id to answer with: a request's (it has a method); never a response's, whose id belongs
    to a request of ours (the client would take our error for the answer to its own request)."""
    request_id = members.get("id")
    return request_id if "method" in members and _valid_id(request_id) else None


def _walk(data: Any) -> tuple[int, bool]:
    """(nesting depth, whether a key or string holds a surrogate), without recursion."""
    deepest, surrogate = 0, False
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            for k, v in value.items():
                surrogate = surrogate or bool(_SURROGATE.search(k))
                stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            surrogate = surrogate or bool(_SURROGATE.search(value))
    return deepest, surrogate


def _envelope(text: str) -> tuple[dict[str, Any], int]:
    """The top-level members of a JSON object read token by token (scalars decoded; objects and
    arrays only noted), up to the end or to where the text stops being JSON; and the depth seen.
    For a line too deep for Python's parser or cut short: enough to find its id and method."""
    members: dict[str, Any] = {}
    depth = deepest = pos = 0
    key: Any = None
    expect_key = False
    if not text.lstrip(" \t\r\n").startswith("{"):
        return members, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            break
        pos = m.end()
        string, punct, literal = m.groups()
        if punct in ("{", "["):
            if depth == 1 and key is not None:
                members[key], key = _CONTAINER, None
            depth += 1
            deepest = max(deepest, depth)
            expect_key = depth == 1 and punct == "{"
        elif punct in ("}", "]"):
            depth -= 1
            if depth <= 0:
                break
        elif punct == ",":
            expect_key = expect_key or depth == 1
        elif punct is None and depth == 1:
            try:
                value = json.loads(string or literal)
            except ValueError:
                value = None
            if expect_key and string is not None:
                key, expect_key = value, False
            elif key is not None:
                members[key], key = value, None
    return members, deepest


def _stray_id(item: SessionMessage, line: str) -> bool:
    """A request whose id is not a string or an integer reads as a notification (extra members are
    allowed): it has an id member all the same, and its sender waits for an answer."""
    if not isinstance(item.message, JSONRPCNotification) or '"id"' not in line:
        return False
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return True
    return isinstance(data, dict) and "id" in data


def _id_ok(item: SessionMessage) -> bool:
    """A request the SDK read whose id holds a lone surrogate (``"id":"\\ud800"``) cannot be
    answered with that id (its answer cannot be encoded, and the SDK's writer would stop for good):
    it is refused with ``id: null``."""
    request_id = getattr(item.message, "id", None)
    return not (isinstance(request_id, str) and _SURROGATE.search(request_id))


class _Lines:
    """stdin as the SDK's reader iterates it: one line at a time, each kept (with the offset of
    its first byte that is not UTF-8, if any) until the transport delivers what it made of it."""

    def __init__(self, binary: BinaryIO) -> None:
        self._file = anyio.wrap_file(binary)
        self.pending: deque[tuple[str, int | None]] = deque()

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        raw = await self._file.readline()
        if not raw:
            raise StopAsyncIteration
        try:
            text, bad = raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            text, bad = raw.decode("utf-8", "replace"), exc.start
        self.pending.append((text, bad))
        return text


class _Answering:
    """The transport's read stream; a line it refused is answered here and skipped."""

    def __init__(self, inner: Any, write: Any, lines: _Lines) -> None:
        self._inner, self._write, self._lines = inner, write, lines

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        while True:
            item = await self._inner.receive()
            line, bad = self._lines.pending.popleft() if self._lines.pending else ("", None)
            if not isinstance(item, Exception) and bad is None and not _stray_id(item, line) and _id_ok(item):
                return item
            answer = refusal(line, bad)
            log.warning("refused a line (%s; id %r)", answer.error.message, answer.id)
            await self._write.send(SessionMessage(answer))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _Answering:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _Answering:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        return bool(await self._inner.__aexit__(*exc))


def _claim_stdin() -> tuple[BinaryIO, Callable[[], None]]:
    """Read the wire from a private copy of fd 0 and point fd 0 at the null device, as the SDK
    does when it opens stdin itself: a child process or a handler reading stdin gets end of file,
    not the protocol. Restored on exit."""
    try:
        private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:
        return sys.stdin.buffer, lambda: None
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    except OSError:
        pass  # fd 0 stays the wire; reading goes through the private copy all the same

    def restore() -> None:
        os.dup2(private, 0)

    # closefd=False: a worker thread can still block reading it after the transport exits
    return cast(BinaryIO, os.fdopen(private, "rb", closefd=False)), restore


@asynccontextmanager
async def stdio_transport() -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's stdio transport (which claims stdout), read through :class:`_Lines`."""
    binary, restore = _claim_stdin()
    lines = _Lines(binary)
    try:
        async with stdio_server(stdin=lines) as (read_stream, write_stream):  # type: ignore[arg-type]
            yield _Answering(read_stream, write_stream, lines), write_stream
    finally:
        restore()


class HttpEnvelope:
    """The streamable HTTP endpoint's counterpart of :func:`stdio_transport`: a POSTed message the
    SDK would refuse with pydantic's whole report (inputs and links included), or take for a
    notification although it has an id (``"id": null``, a float, an object: 202, never answered),
    is answered 400 with :func:`refusal`'s one line and the request's id when it can be read.
    Bodies past ``limit`` and bodies that are not JSON go on to the SDK (413, its parse error)."""

    def __init__(self, app: Any, limit: int = 4 << 20) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        held: list[Any] = []
        size, complete = 0, False
        while size <= self.limit:
            message = await receive()
            held.append(message)
            if message.get("type") != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                complete = True
                break
        if complete and size <= self.limit:
            answer = http_refusal(b"".join(m.get("body", b"") for m in held))
            if answer is not None:
                body = answer.model_dump_json(by_alias=True, exclude_unset=True).encode()
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 400, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return

        async def replay() -> Any:
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)


def http_refusal(body: bytes) -> JSONRPCError | None:
    """The answer to a POSTed body whose JSON the SDK reads but whose envelope it would refuse
    unreadably (or wrongly take for a notification); None for everything else."""
    from mcp.types import jsonrpc_message_adapter
    from pydantic import ValidationError

    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None  # the SDK's own parse error is one line
    if isinstance(data, dict) and "id" in data and "method" in data and not _valid_id(data["id"]):
        return refusal(text)
    try:
        jsonrpc_message_adapter.validate_python(data, by_name=False)
    except ValidationError:
        return refusal(text)
    except RecursionError:
        return refusal(text)
    return None
