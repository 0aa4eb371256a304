"""A very small schema language for built-in rules, and its checker.

Providers describe the ``spec`` of each kind they generate with these building blocks (see
``providers/flux/schemas.py``); :func:`check` walks a document's ``spec`` against such a schema.
A schema is a plain mapping:

- ``type``: string, boolean, integer, object or array;
- strings: ``enum``, ``pattern`` (with a human ``hint``), ``maxLength``;
- arrays: ``items``;
- objects: ``properties``, ``required``, ``one_of`` (groups of which exactly one key is set) and
  ``open`` (unknown keys allowed; otherwise they are warnings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_mcp.manifests.validation.result import Severity
from gitops_mcp.syntax import DNS1123_LABEL, DNS1123_SUBDOMAIN, DURATION

Schema = Mapping[str, Any]
Found = list[tuple[Severity, str, str]]  # (severity, field path, message)

DUR: Schema = {"type": "string", "pattern": DURATION.pattern, "hint": "a Go duration such as 30s, 5m, 1h"}
NAME: Schema = {"type": "string", "pattern": DNS1123_SUBDOMAIN.pattern, "maxLength": 253}
LABEL: Schema = {"type": "string", "pattern": DNS1123_LABEL.pattern, "maxLength": 63}
STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
INT: Schema = {"type": "integer"}
OBJ_ANY: Schema = {"type": "object", "open": True}
STR_LIST: Schema = {"type": "array", "items": STR}


def obj(props: Mapping[str, Schema], required: Sequence[str] = (), **kw: Any) -> Schema:
    """An object with these properties (``kw``: ``one_of``, ``open``)."""
    return {"type": "object", "properties": dict(props), "required": list(required), **kw}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


@dataclass(frozen=True)
class KindRule:
    """The built-in check of one kind (for when no CRD schema is at hand)."""

    spec: Schema  # what ``spec`` must look like
    name_in_label: bool = False  # the controller copies the name into label values, so <= 63 characters


BuiltinRules = Mapping[tuple[str, str], KindRule]  # (apiVersion, kind) -> rule
ReferenceCheck = Callable[[Mapping[str, Any]], Found]
"""An engine's check of the references in a document (source URLs): (severity, field path, message)."""
PolicyCheck = Callable[[Mapping[str, Any], Any], list[tuple[str, str, str]]]
"""An engine's site-policy check of a document, given the ``PolicySettings``: (rule, field path, message)."""


class Rules(dict[tuple[str, str], KindRule]):
    """The built-in rules by (apiVersion, kind) (:data:`BuiltinRules`), and the engines' checks
    that run on every document whatever the schema source (``ProviderRegistry.builtin_rules()``)."""

    def __init__(
        self,
        kinds: Mapping[tuple[str, str], KindRule] | None = None,
        references: Sequence[ReferenceCheck] = (),
        policies: Sequence[PolicyCheck] = (),
    ) -> None:
        super().__init__(kinds or {})
        self.references = tuple(references)
        self.policies = tuple(policies)


def api_domain(api_version: str) -> str:
    """The last two labels of the API group (``fluxcd.io`` for ``source.toolkit.fluxcd.io/v1``)."""
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return ".".join(group.split(".")[-2:])


_TYPE_CHECK: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def check(node: Any, schema: Schema, path: str, out: Found) -> None:
    """Append what is wrong with ``node`` (at ``path``) to ``out``."""
    typ = schema.get("type")
    if typ and not _TYPE_CHECK[typ](node):
        out.append(("error", path, f"must be {'an' if typ[0] in 'aeiou' else 'a'} {typ}"))
        return
    if typ == "string":
        if "enum" in schema and node not in schema["enum"]:
            out.append(("error", path, f"{node!r} is not one of {', '.join(schema['enum'])}"))
        if "pattern" in schema and not re.match(schema["pattern"], node):
            out.append(("error", path, f"{node!r} is not {schema.get('hint') or 'valid (' + schema['pattern'] + ')'}"))
        if "maxLength" in schema and len(node) > schema["maxLength"]:
            out.append(("error", path, f"is longer than {schema['maxLength']} characters"))
    elif typ == "array" and "items" in schema:
        for i, item in enumerate(node):
            check(item, schema["items"], f"{path}[{i}]", out)
    elif typ == "object" and "properties" in schema:
        out.extend(("error", f"{path}.{req}", "is required") for req in schema.get("required", []) if req not in node)
        for group in schema.get("one_of", []):
            present = [k for k in group if k in node]
            if len(present) != 1:
                out.append(("error", path, f"exactly one of {', '.join(group)} must be set"))
        props = schema["properties"]
        for key, value in node.items():
            if key in props:
                check(value, props[key], f"{path}.{key}", out)
            elif not schema.get("open"):
                out.append(("warning", f"{path}.{key}", "is not a field gitops-mcp knows; check its spelling"))
