"""Property-based fuzzing of every tool over the SDK's in-memory client.

For each tool, Hypothesis generates arguments from its declared input schema, mixed with
wrong types, unknown names, deep nesting, huge strings, path traversal and option injection.
Every answer must be a structured result or one readable line: no traceback, no pydantic
internals, never empty. The server must still answer afterwards. Deterministic (derandomized)
and bounded: about 2,100 calls in all.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from mcp import Client

from gitops_mcp.server import build_server
from gitops_mcp.settings import Settings

CALLS_PER_TOOL = 105
BAD = re.compile(r"Traceback|input_value|errors\.pydantic\.dev|validation errors? for|\bFile \"|rollbackArguments")
NASTY = [
    "",
    " ",
    "../../../../etc/passwd",
    "/etc",
    "/",
    "$(id)",
    "`id`",
    "--all",
    "-f",
    "--upload-pack=touch /tmp/x",
    ";rm -rf /",
    "a\x00b",
    "x" * 300,
    "é" * 70,
    "https://github.com/" + "../" * 20 + "etc",
    "git@github.com:../../x",
    "ssh://git@github.com/%2e%2e/x",
    "file:///etc",
    "oci://127.0.0.1:1/x:y",
    "http://127.0.0.1:9/x.git",
    ".git/config",
    "deploy/../../x.yaml",
    "a/a/a/a/a/!",
    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: b}\n",
    "{{ .Values }}",
    "main@sha1:" + "f" * 40,
    "f" * 40,
    "Kustomization",
    "flux",
    "argocd",
]


def junk(depth: int = 3) -> st.SearchStrategy[Any]:
    leaf = st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=40),
        st.integers(-(2**40), 2**40),
        st.booleans(),
        st.none(),
        st.floats(),
    )
    if depth == 0:
        return leaf
    return st.one_of(
        leaf, st.lists(junk(depth - 1), max_size=3), st.dictionaries(st.text(max_size=10), junk(depth - 1), max_size=3)
    )


def deep(n: int) -> Any:
    v: Any = "x"
    for _ in range(n):
        v = [v]
    return v


def value_for(schema: dict[str, Any], paths: list[str]) -> st.SearchStrategy[Any]:
    """Mostly the right shape (to reach the code behind the checks), sometimes anything."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"] or [schema]
    s = options[0]
    kinds = s.get("type")  # a nullable argument is type [T, "null"]
    kind = next((k for k in kinds if k != "null"), None) if isinstance(kinds, list) else kinds
    right: st.SearchStrategy[Any]
    if "enum" in s:
        right = st.sampled_from(s["enum"])
    elif kind == "string":
        right = st.one_of(st.sampled_from(paths), st.sampled_from(NASTY), st.text(max_size=30))
    elif kind in ("integer", "number"):
        right = st.one_of(st.integers(-5, 5000), st.floats(allow_nan=True))
    elif kind == "boolean":
        right = st.booleans()
    elif kind == "array":
        right = st.lists(st.one_of(st.sampled_from(paths), st.sampled_from(NASTY)), max_size=4)
    else:
        right = st.dictionaries(
            st.sampled_from(["type", "image", "replicas", "values", "interval", "prune", "x"]), junk(2)
        )
    return st.one_of(right, right, right, junk(), st.just(deep(40)))


def arguments_for(schema: dict[str, Any], paths: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    props = schema.get("properties", {})
    fields = {name: value_for(p, paths) for name, p in props.items()}
    known = st.fixed_dictionaries({}, optional=fields) if fields else st.just({})
    extra = st.dictionaries(st.sampled_from(["path", "interval", "unknown", "repo", "x" * 80]), junk(1), max_size=2)
    return st.one_of(known, known, known, st.builds(lambda a, b: {**a, **b}, known, extra))


def check_answer(tool: str, result: Any) -> None:
    texts = [getattr(c, "text", "") for c in result.content]
    joined = "\n".join(texts)
    assert not BAD.search(joined), f"{tool}: internals in the answer: {joined[:500]}"
    if result.is_error:
        assert len(texts) == 1 and "\n" not in texts[0], f"{tool}: not one line: {texts!r}"[:600]
        reason = re.sub(r"^Error executing tool \w+:?", "", texts[0]).strip()
        assert reason, f"{tool}: empty error {texts!r}"
    else:
        assert result.structured_content is not None, f"{tool}: no structured result"


@pytest.mark.slow
def test_every_tool_answers_every_input(tmp_path: Path, fixture_repo: Callable[..., Path]) -> None:
    repo = fixture_repo("podinfo")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    paths = [
        str(repo),
        str(repo / "kustomize"),
        str(tmp_path / "plain"),
        str(tmp_path / "plain" / "a.yaml"),
        "kustomize",
    ]
    settings = Settings(
        allowed_roots=[tmp_path], state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", allowed_git_hosts=[]
    )
    started, calls = time.monotonic(), 0
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(build_server(settings))) as c:
        tools = portal.call(c.list_tools).tools
        assert len(tools) == 21

        def fuzz(tool: Any) -> None:
            @seed(20261202)
            @hsettings(
                max_examples=CALLS_PER_TOOL,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(args=arguments_for(tool.input_schema, paths))
            def one(args: dict[str, Any]) -> None:
                nonlocal calls
                calls += 1
                check_answer(tool.name, portal.call(c.call_tool, tool.name, args))

            one()

        for tool in tools:
            fuzz(tool)
            assert time.monotonic() - started < 600, "the fuzz run is over its time bound"
        alive = portal.call(c.call_tool, "list_sessions", {})
        assert not alive.is_error and alive.structured_content is not None
    assert calls >= 2000, calls


# -- the raw stdio framing ----------------------------------------------------------------------

METHODS = ["ping", "tools/list", "prompts/list", "resources/list", "made/up", "tools/call", "notifications/x"]


def _json_value() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
        max_leaves=12,
    )


def _message() -> st.SearchStrategy[dict[str, Any]]:
    """Mostly JSON-RPC shaped: each member right, wrong or missing."""
    maybe = lambda s: st.one_of(st.just(...), s)  # noqa: E731 - ... stands for "left out"
    parts = st.fixed_dictionaries(
        {
            "jsonrpc": maybe(st.sampled_from(["2.0", "2.0", "1.0", 2, None])),
            "id": maybe(st.one_of(st.integers(-5, 10**6), st.text(max_size=8), st.none(), st.floats(), _json_value())),
            "method": maybe(st.one_of(st.sampled_from(METHODS), _json_value())),
            "params": maybe(
                st.one_of(
                    st.fixed_dictionaries(
                        {"name": st.sampled_from(["list_sessions", "nope"]), "arguments": _json_value()}
                    ),
                    _json_value(),
                )
            ),
            "result": maybe(_json_value()),
        }
    )
    return parts.map(lambda d: {k: v for k, v in d.items() if v is not ...})


def _line() -> st.SearchStrategy[bytes]:
    def nest(msg: dict[str, Any], n: int) -> bytes:
        text = json.dumps(msg)
        return (text[:-1] + ',"deep":' + "[" * n + "]" * n + "}").encode() if text != "{}" else text.encode()

    encoded = _message().map(lambda m: json.dumps(m).encode())
    return st.one_of(
        encoded,
        encoded,
        st.builds(lambda m: json.dumps(m, ensure_ascii=False).encode("utf-8", "surrogatepass"), _message()),
        st.builds(lambda b, i: b[:i], encoded, st.integers(0, 200)),  # cut short
        st.builds(nest, _message(), st.integers(150, 3000)),
        st.lists(_message(), max_size=3).map(lambda ms: json.dumps(ms).encode()),  # a batch
        st.binary(max_size=60),
        st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.sampled_from([b"", b" ", b"\r", b"null", b"[]", b"{}", b'"x"', b"\xef\xbb\xbf{}", b'"\\ud800"']),
    ).map(lambda b: b.replace(b"\n", b" "))


def _expected_answers(line: bytes) -> tuple[int, bool]:
    """(1, unless the line is a valid notification or response; whether it is a valid request),
    judged by the SDK's own model."""
    import mcp_types

    try:
        text = line.decode("utf-8")
        message = mcp_types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except Exception:
        return 1, False
    if isinstance(message, mcp_types.JSONRPCNotification):
        data = json.loads(text)
        return (1 if "id" in data else 0), False  # an id that is not a string or an integer: a broken request
    return (0, False) if isinstance(message, mcp_types.JSONRPCResponse | mcp_types.JSONRPCError) else (1, True)


@pytest.mark.slow
def test_every_stdio_line_is_answered_once(tmp_path: Path) -> None:
    from doubles.stdio_wire import StdioWire

    started, lines = time.monotonic(), 0
    with StdioWire(tmp_path) as wire:

        @seed(20261206)
        @hsettings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(line=_line())
        def one(line: bytes) -> None:
            nonlocal lines
            lines += 1
            wire.send(line)
            answers = wire.answers_until_probe(timeout=20)
            want, request = _expected_answers(line)
            if request and not answers:  # answered by the server's own task: may come after the probe's
                late = wire.answer(timeout=20)
                answers += [late] if late is not None else []
            assert len(answers) == want, (line[:200], answers)
            for a in answers:
                assert a.get("jsonrpc") == "2.0" and ("result" in a) != ("error" in a), a
            assert wire.alive

        one()
        assert time.monotonic() - started < 600, "the fuzz run is over its time bound"
        assert wire.call(10**9, "list_sessions", {})["result"]["isError"] is False
    assert lines >= 400, lines
