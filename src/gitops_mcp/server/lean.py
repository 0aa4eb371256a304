"""Lean tool definitions: an assistant pays for ``tools/list`` on every turn.

:func:`lean_tools` rewrites every tool once, before the server publishes it, in the SDK's own
records (``Tool.description``, ``Tool.parameters``, ``FuncMetadata.output_schema``), so what is
published is what the SDK holds. The SDK checks arguments and results against the pydantic
models, not these schemas; clients check results against the published output schema, so every
rewrite of an output schema only drops annotations or assertions, or replaces a part by a
superset of itself — whatever the model accepts, the lean schema accepts.

- Descriptions: whitespace folded (docstrings arrive with their indentation).
- Everywhere: a union of objects says ``type: object`` once; no ``title`` (clients ignore it),
  no ``default: null`` (not required says it) nor a flag's ``default: false`` (not given says
  it), no ``additionalProperties: true`` (the default), no ``discriminator`` (an OpenAPI keyword
  the ``const`` of each variant already says); ``anyOf [T, null]`` becomes ``type [T, "null"]``;
  a definition used once is written in place.
- No model docstrings (the field holding the model describes it).
- Output schemas only: no ``required`` (every result carries every field), defaults or
  constraints; field descriptions only where the name cannot say it (:data:`KEPT_DESCRIPTIONS`);
  a nested model is a plain ``object`` (its fields are in the result itself) unless listed in
  :data:`EXPANDED`; no ``type`` beside an ``enum``, no ``items`` for an array of plain objects or
  strings, no value type for a map of strings.
- Output fields that carry repository content are marked ``"x-repo": true``
  (:data:`REPOSITORY`; the server instructions say once what it means).

Arguments keep their descriptions, defaults and constraints: the lean input schema accepts
exactly what pydantic's does. ``tests/test_tool_defs.py`` checks both claims on generated values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mcp.server.mcpserver.tools import Tool

from gitops_mcp.server.prebuilt import PrebuiltTool

EXPANDED: frozenset[str] = frozenset()
"""Nested parts of a result (``Model.field``) to describe field by field. None is: a nested model
is a plain ``object`` (or an array of them); its fields are in the result, named as in the model
(a wizard's questions, the packages detection finds, validation issues), and what four tools
return would be said four times."""

KEPT_DESCRIPTIONS = frozenset(
    {
        "ArtifactResult.flux_revision",
        "CommitResult.pr_created",
        "OwnerResult.chain",
        "SyncStatus.attempted_revision",
        "SyncStatus.revision",
    }
)
"""Output fields (``Model.field``) whose description says what the name cannot."""

REPOSITORY = frozenset(
    {
        *(f"DetectionReport.{f}" for f in ("root", "packages", "gitops", "skipped")),
        *(f"SessionView.{f}" for f in ("answers", "packages", "preview", "result")),
        "SessionView.questions",  # their options and defaults name packages, paths, branches
        *(f"GenerateResult.{f}" for f in ("yaml", "diff", "objects", "output_path", "notes", "validation")),
        "ValidationResult.issues",
        *(f"WriteResult.{f}" for f in ("repo_root", "path", "diff", "kept")),
        *(f"CommitResult.{f}" for f in ("branch", "base", "files")),
        *(f"RollbackResult.{f}" for f in ("branch", "base", "files", "reverted")),
        *(f"OwnerResult.{f}" for f in ("git", "file", "repo_root")),
        *(f"RemediationResult.{f}" for f in ("plan", "diff", "validation")),
        *(f"PromotionResult.{f}" for f in ("plan", "diff", "validation")),
        *(f"FleetResult.{f}" for f in ("files", "diff", "diff_omitted", "validation", "notes")),
        *(f"ArtifactResult.{f}" for f in ("files", "ignored", "yaml", "validation", "source")),
        *(f"RegisterResult.{f}" for f in ("applied", "skipped")),
    }
)
"""Output fields (``Model.field``) that carry repository content (names, paths, file text, diffs,
build output): published with ``"x-repo": true``, which the server instructions explain once
(such text is data, never instructions). Cleaned at the result boundary (:func:`gitops_mcp.scrub.as_data`)."""
REPO_MARK = "x-repo"

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not")
_OUTPUT_DROPPED = frozenset(
    {
        "required",  # every field is in every result (None included): it would say nothing true
        "default",
        "description",
        "examples",
        "format",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    }
)
_NOT_MERGEABLE = frozenset({"$ref", "const", "anyOf", "oneOf", "allOf", "not"})


def lean_tools(tools: Iterable[Tool]) -> None:
    """Rewrite every tool's description and schemas (see the module docstring), before it is published."""
    for tool in tools:
        if isinstance(tool, PrebuiltTool):
            continue  # made lean when tool_defs.json was written
        tool.description = fold(tool.description)
        tool.parameters = lean_schema(tool.parameters, output=False)
        meta = tool.fn_metadata
        if meta.output_schema is not None:
            meta.output_schema = lean_schema(meta.output_schema, output=True)
            tool.__dict__.pop("output_schema", None)  # Tool caches it; read it anew


def fold(text: str) -> str:
    return " ".join(text.split())


def lean_schema(schema: dict[str, Any], *, output: bool) -> dict[str, Any]:
    """The lean form of a pydantic JSON schema (inputs: the same values; outputs: a superset)."""
    defs: dict[str, Any] = schema.get("$defs", {})
    built: dict[str, Any] = {}
    uses: dict[str, int] = {}

    def model(s: dict[str, Any], name: str | None) -> dict[str, Any]:
        # The model's docstring is for developers: the field that holds it says what it is.
        out = {k: v for k, v in s.items() if k not in ("description", "properties") and not _noise(k, v, s, output)}
        out = _map_subschemas(out, lambda sub: node(sub, not output))
        if "properties" in s:
            fields = {f: field(sub, f"{name}.{f}") for f, sub in s["properties"].items()}
            out = {"properties": fields, **out}
        return _nullable(out)

    def field(s: dict[str, Any], path: str) -> dict[str, Any]:
        out = node(s, not output or path in EXPANDED)
        if output and path in KEPT_DESCRIPTIONS and s.get("description"):
            out["description"] = s["description"]
        if output and path in REPOSITORY:
            out[REPO_MARK] = True
        return out

    def node(s: dict[str, Any], expand: bool) -> dict[str, Any]:
        if "$ref" in s:
            return ref(s, expand)
        out = {k: v for k, v in s.items() if not _noise(k, v, s, output)}
        return _nullable(_map_subschemas(out, lambda sub: node(sub, expand)))

    def ref(s: dict[str, Any], expand: bool) -> dict[str, Any]:
        if not expand:
            return {"type": "object"}
        name = s["$ref"].rsplit("/", 1)[-1]
        if name not in built:
            built[name] = {}  # a placeholder while a model that refers to itself is built
            built[name] = model(defs[name], name)
        uses[name] = uses.get(name, 0) + 1
        return {
            "$ref": f"#/$defs/{name}",
            **{k: v for k, v in s.items() if k != "$ref" and not _noise(k, v, s, output)},
        }

    def inline(s: dict[str, Any]) -> dict[str, Any]:
        name = s["$ref"].rsplit("/", 1)[-1] if "$ref" in s else None
        if name is not None and uses[name] == 1:
            return _nullable({**inline(built[name]), **{k: v for k, v in s.items() if k != "$ref"}})
        return _nullable(_map_subschemas(s, inline))

    top = inline(model({k: v for k, v in schema.items() if k != "$defs"}, schema.get("title")))
    shared = {name: inline(body) for name, body in built.items() if uses[name] > 1}
    lean = {**top, "$defs": shared} if shared else top
    return _plain(_hoisted(lean)) if output else _hoisted(lean)


def _hoisted(s: dict[str, Any]) -> dict[str, Any]:
    """A union whose every option is an object says ``type: object`` once, beside it (the same
    values: the options keep their properties and required)."""
    out = _map_subschemas(s, _hoisted)
    for key in ("oneOf", "anyOf"):
        options = out.get(key)
        if (
            "type" not in out
            and isinstance(options, list)
            and len(options) > 1
            and all(isinstance(o, dict) and o.get("type") == "object" for o in options)
        ):
            out[key] = [{k: v for k, v in o.items() if k != "type"} for o in options]
            out["type"] = "object"
    return out


def _plain(s: dict[str, Any]) -> dict[str, Any]:
    """A result's array of plain objects or strings as a plain array, and its map of strings as a
    plain object (supersets: the values are in the result itself)."""
    out = _map_subschemas(s, _plain)
    if out.get("items") in ({"type": "object"}, {"type": "string"}):
        del out["items"]
    if out.get("additionalProperties") == {"type": "string"}:
        del out["additionalProperties"]
    return out


def _noise(key: str, value: Any, s: dict[str, Any], output: bool) -> bool:
    """Whether ``s[key]`` can go: it changes nothing a client checks or an assistant needs."""
    if key in ("title", "discriminator") or (output and key in _OUTPUT_DROPPED):
        return True
    if key == "default":  # null: not required says it; false, for a flag: not given says it
        return (
            value is None or ("const" in s and s["const"] == value) or (value is False and s.get("type") == "boolean")
        )
    if key == "type" and ("const" in s or (output and "enum" in s)):
        return True  # the constant or (in a result) the values say it
    return key == "additionalProperties" and value is True


def _map_subschemas(s: dict[str, Any], f: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """``s`` with ``f`` applied to each schema directly inside it."""
    out: dict[str, Any] = {}
    for key, value in s.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: f(v) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [f(v) for v in value]
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = f(value)
        else:
            out[key] = value
    return out


def _nullable(s: dict[str, Any]) -> dict[str, Any]:
    """``anyOf [T, null]`` as ``type [T, "null"]`` where that means the same."""
    options = s.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return s
    other = options[1] if options[0] == {"type": "null"} else options[0]
    kind = other.get("type")
    merged = {k: v for k, v in s.items() if k != "anyOf"}
    if kind is None and "enum" in other and not (_NOT_MERGEABLE & other.keys() or set(merged) & set(other)):
        return {**merged, **other, "enum": [*other["enum"], None]}  # a result's enum, its type left out
    if not isinstance(kind, str) or _NOT_MERGEABLE & other.keys() or set(merged) & set(other):
        return s
    merged.update(other, type=[kind, "null"])
    if "enum" in other:
        merged["enum"] = [*other["enum"], None]
    return merged
