"""Property-based fuzzing of every tool over the SDK's in-memory client.

For each tool, Hypothesis generates arguments from its declared input schema, mixed with
wrong types, unknown names, deep nesting, huge strings, path traversal and option injection.
Every answer must be a structured result or one readable line: no traceback, no pydantic
internals, never empty. The server must still answer afterwards. Deterministic (derandomized)
and bounded: about 2,100 calls in all.
"""

from __future__ import annotations

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
