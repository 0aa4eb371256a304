"""Tool definitions: within their budget, and the lean schemas still true to the models.

The budget is what an assistant pays every turn for ``tools/list`` (see bench/tool_defs.py):
at most 30,000 bytes in all and 3,000 per tool, each tool serialised as the wire carries it.

The lean schemas (``gitops_mcp.server.lean``) must not change what a call may send, and must
accept every result the models allow (clients validate results against them). Both are checked
with values generated from the schemas pydantic derives from the models themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from gitops_mcp.server import build_server
from gitops_mcp.server.app import tool_definitions
from gitops_mcp.server.lean import EXPANDED, KEPT_DESCRIPTIONS, REPOSITORY
from gitops_mcp.server.prebuilt import DEFS_FILE, PrebuiltTool, load_defs, prebuilt_tool
from gitops_mcp.settings import Settings

TOTAL_MAX, TOOL_MAX = 30_000, 3_000
EXAMPLES = 40


def server(tmp_path: Path, read_only: bool = False, prebuilt: bool = True) -> Any:
    settings = Settings(allowed_roots=[tmp_path], state_dir=tmp_path / "s", read_only=read_only)
    return build_server(settings, prebuilt=prebuilt)


def test_prebuilt_definitions_are_what_the_code_builds() -> None:
    """tool_defs.json (published at start-up without building a model) is current."""
    assert load_defs.__wrapped__(DEFS_FILE) == tool_definitions(), "tool_defs.json is stale: run scripts/tool-defs"


@pytest.mark.anyio
@pytest.mark.parametrize("read_only", [False, True], ids=["full", "read-only"])
async def test_prebuilt_tools_publish_and_call_as_built_ones(tmp_path: Path, read_only: bool) -> None:
    fast, slow = server(tmp_path, read_only), server(tmp_path, read_only, prebuilt=False)
    assert all(isinstance(t, PrebuiltTool) for t in fast.tools.values())
    assert [t.model_dump() for t in await fast.list_tools()] == [t.model_dump() for t in await slow.list_tools()]
    for s in (fast, slow):  # arguments checked by the models made on first call
        ok = await s.call_tool("list_sessions", {"limit": 3})
        assert not ok.is_error and ok.structured_content == {"sessions": [], "more": False}
        with pytest.raises(ToolError, match="argument 'limit' should be greater than or equal to 1"):
            await s.call_tool("list_sessions", {"limit": 0})
        with pytest.raises(ToolError, match="argument 'yaml' should be a valid string"):
            await s.call_tool("validate_manifests", {"yaml": 1})


def test_a_changed_signature_is_built_not_published_stale() -> None:
    async def list_sessions(limit: int = 20, extra: str = "") -> dict[str, Any]:
        return {}

    assert prebuilt_tool(list_sessions, None, None, None) is None


@pytest.mark.anyio
@pytest.mark.parametrize("read_only", [False, True], ids=["full", "read-only"])
async def test_tools_list_fits_the_budget(tmp_path: Path, read_only: bool) -> None:
    tools = await server(tmp_path, read_only).list_tools()
    assert len(tools) == (12 if read_only else 21)
    sizes = {t.name: len(t.model_dump_json(by_alias=True, exclude_none=True).encode()) for t in tools}
    over = {name: n for name, n in sizes.items() if n > TOOL_MAX}
    assert not over, f"tool definitions over {TOOL_MAX} bytes: {over}"
    assert sum(sizes.values()) <= TOTAL_MAX, f"tools/list is {sum(sizes.values())} bytes: {sizes}"


@pytest.mark.anyio
async def test_published_schemas_have_no_noise(tmp_path: Path) -> None:
    for t in await server(tmp_path).list_tools():
        assert "\n" not in t.description and "  " not in t.description, t.name
        for schema in (t.input_schema, t.output_schema):
            assert schema is not None and schema["type"] == "object", t.name
            for s in subschemas(schema):
                assert "title" not in s and "discriminator" not in s, (t.name, s)
                assert s.get("default", 0) is not None and s.get("additionalProperties") is not True, (t.name, s)


def test_every_kept_description_and_expanded_part_is_published(tmp_path: Path) -> None:
    """No stale names in the lean lists: each names a field that some tool's published result
    schema describes (the result's own fields, or those of an expanded part)."""
    published: set[str] = set()
    for tool in server(tmp_path, prebuilt=False).tools.values():
        schema = original_output(tool)
        models = {schema.get("title"): schema, **schema.get("$defs", {})}
        todo = [schema.get("title")]
        while todo:
            name = todo.pop()
            for field, sub in models[name].get("properties", {}).items():
                path = f"{name}.{field}"
                if path in published:
                    continue
                published.add(path)
                if path in EXPANDED:
                    todo += [s["$ref"].rsplit("/", 1)[-1] for s in subschemas(sub) if "$ref" in s]
    assert not KEPT_DESCRIPTIONS - published, "kept descriptions of fields no result lists"
    assert not EXPANDED - published, "expanded parts no result lists"
    assert not REPOSITORY - published, "repository-content marks on fields no result lists"


def test_lean_schemas_are_true_to_the_models(tmp_path: Path) -> None:
    """Inputs: a value is valid under the lean schema exactly when under pydantic's. Outputs:
    whatever pydantic's schema accepts, the lean one accepts."""
    for tool in server(tmp_path, prebuilt=False).tools.values():
        full_in = tool.fn_metadata.arg_model.model_json_schema(by_alias=True)
        assert_accepts(tool.name + " input", full_in, tool.parameters)
        assert_accepts(tool.name + " input (reverse)", tool.parameters, full_in)
        assert tool.output_schema is not None
        assert_accepts(tool.name + " output", original_output(tool), tool.output_schema)


def original_output(tool: Any) -> dict[str, Any]:
    model = tool.fn_metadata.output_model
    assert isinstance(model, type) and issubclass(model, BaseModel), tool.name
    return model.model_json_schema(by_alias=True)


def assert_accepts(what: str, source: dict[str, Any], target: dict[str, Any]) -> None:
    """Every value generated from ``source`` (and valid under it) is valid under ``target``."""
    Draft202012Validator.check_schema(target)
    src, dst = Draft202012Validator(source), Draft202012Validator(target)
    checked = 0

    @seed(20261203)
    @hsettings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(value=values(source, source))
    def one(value: Any) -> None:
        nonlocal checked
        if src.is_valid(value):
            checked += 1
            errors = [e.message for e in dst.iter_errors(value)]
            assert not errors, f"{what}: {json.dumps(value)[:400]} refused: {errors[:3]}"

    one()
    assert checked >= EXAMPLES // 2, f"{what}: only {checked} generated values were valid to begin with"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)


def values(s: dict[str, Any] | bool, root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for a pydantic-style JSON schema (the subset pydantic and the lean form use)."""
    if s is True or s == {}:
        return JSON
    assert isinstance(s, dict)
    if "$ref" in s:
        return values(root["$defs"][s["$ref"].rsplit("/", 1)[-1]], root, depth + 1)
    if "const" in s:
        return st.just(s["const"])
    if "enum" in s:
        return st.sampled_from(s["enum"])
    for key in ("anyOf", "oneOf"):
        if key in s:
            return st.one_of([values(x, root, depth) for x in s[key]])
    kind = s.get("type")
    if isinstance(kind, list):
        return st.one_of([values({**s, "type": k}, root, depth) for k in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(s.get("minimum", -(2**40)), s.get("maximum", 2**40))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000)
    if kind == "string":
        if "pattern" in s:
            return st.from_regex(s["pattern"], fullmatch=True)
        return st.text(min_size=s.get("minLength", 0), max_size=max(8, s.get("minLength", 0)))
    if kind == "array":
        return st.lists(values(s.get("items", True), root, depth + 1), max_size=0 if depth > 6 else 2)
    props: dict[str, Any] = s.get("properties", {})
    required = set(s.get("required", [])) | {k for k, v in props.items() if "const" in v}  # tags: always given
    fixed = {k: values(v, root, depth + 1) for k, v in props.items() if k in required}
    optional = {k: values(v, root, depth + 1) for k, v in props.items() if k not in required}
    extra = s.get("additionalProperties", True)
    known = st.fixed_dictionaries(fixed, optional=optional)
    if extra is False or props:
        return known
    more = st.dictionaries(st.text(min_size=1, max_size=6), values(extra, root, depth + 1), max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, more)


def subschemas(s: Any) -> list[dict[str, Any]]:
    """``s`` and every schema inside it (not the property maps themselves)."""
    if not isinstance(s, dict):
        return []
    out = [s]
    for key in ("properties", "patternProperties", "$defs"):
        for sub in (s.get(key) or {}).values():
            out += subschemas(sub)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in s.get(key) or []:
            out += subschemas(sub)
    for key in ("items", "additionalProperties", "not"):
        out += subschemas(s.get(key))
    return out
