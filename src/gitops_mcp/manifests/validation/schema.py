"""The built-in rules: JSON Schema (draft 2020-12) of the ``spec`` of each kind a provider
generates, checked with ``jsonschema``.

Providers write their schemas with the builders here (see ``providers/flux/schemas.py``): plain
JSON Schema, in which ``description`` words a pattern for the user ("a Go duration such as 30s").
:func:`check` reports what is wrong in the words the assistant reads: a field no schema names is a
warning (``additionalProperties: false`` says the schema knows every field), everything else an
error; at a field whose type is wrong, only that is said.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from gitops_mcp.manifests.validation.result import Severity
from gitops_mcp.syntax import DNS1123_LABEL, DNS1123_SUBDOMAIN, DURATION

Schema = Mapping[str, Any]
Found = list[tuple[Severity, str, str]]  # (severity, field path, message)

DUR: Schema = {"type": "string", "pattern": DURATION.pattern, "description": "a Go duration such as 30s, 5m, 1h"}
NAME: Schema = {"type": "string", "pattern": DNS1123_SUBDOMAIN.pattern, "maxLength": 253}
LABEL: Schema = {"type": "string", "pattern": DNS1123_LABEL.pattern, "maxLength": 63}
STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
INT: Schema = {"type": "integer"}
OBJ_ANY: Schema = {"type": "object"}
STR_LIST: Schema = {"type": "array", "items": STR}


def obj(
    props: Mapping[str, Schema],
    required: Sequence[str] = (),
    *,
    one_of: Sequence[Sequence[str]] = (),
    open: bool = False,
) -> Schema:
    """An object with these properties; ``one_of``: groups of keys of which exactly one is set;
    ``open``: other keys allowed (otherwise they are warnings)."""
    schema: dict[str, Any] = {"type": "object", "properties": dict(props)}
    if required:
        schema["required"] = list(required)
    if not open:
        schema["additionalProperties"] = False
    groups = [{"oneOf": [{"required": [k]} for k in group]} for group in one_of]
    if groups:
        schema["allOf"] = groups
    return schema


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def _path(base: str, parts: Sequence[Any]) -> str:
    return base + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _article(typ: str) -> str:
    return "an" if typ[0] in "aeiou" else "a"


def _words(error: Any, base: str) -> list[tuple[Severity, str, str]]:
    """One jsonschema error in our words: (severity, field path, message)."""
    where, node, what, schema = _path(base, error.absolute_path), error.instance, error.validator, error.schema
    if what == "type":
        return [("error", where, f"must be {_article(str(error.validator_value))} {error.validator_value}")]
    if what == "required":
        missing = [k for k in error.validator_value if isinstance(node, dict) and k not in node]
        return [("error", f"{where}.{k}", "is required") for k in missing]
    if what == "oneOf":
        keys = [k for sub in error.validator_value for k in sub.get("required", [])]
        return [("error", where, f"exactly one of {', '.join(keys)} must be set")]
    if what == "additionalProperties":
        known = schema.get("properties") or {}
        return [
            ("warning", f"{where}.{k}", "is not a field gitops-mcp knows; check its spelling")
            for k in node
            if k not in known
        ]
    if what == "enum":
        return [("error", where, f"{node!r} is not one of {', '.join(map(str, error.validator_value))}")]
    if what == "pattern":
        hint = schema.get("description") or f"valid ({error.validator_value})"
        return [("error", where, f"{node!r} is not {hint}")]
    if what == "maxLength":
        return [("error", where, f"is longer than {error.validator_value} characters")]
    return [("error", where, error.message)]


@dataclass(frozen=True)
class KindRule:
    """The built-in check of one kind (for when no CRD schema is at hand)."""

    spec: Schema  # the JSON Schema of ``spec``
    name_in_label: bool = False  # the controller copies the name into label values, so <= 63 characters

    @cached_property
    def validator(self) -> Any:
        """The schema checked (a provider's mistake fails here, not at a user's document) and compiled once."""
        from jsonschema import Draft202012Validator

        Draft202012Validator.check_schema(self.spec)
        return Draft202012Validator(self.spec)


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


def check(node: Any, rule: KindRule, path: str, out: Found) -> None:
    """Append what is wrong with ``node`` (the ``spec`` at ``path``) under ``rule`` to ``out``, in
    document order; at a field whose type is wrong, only that."""
    found = [w for e in rule.validator.iter_errors(node) for w in _words(e, path)]
    wrong_type = {where for sev, where, msg in found if msg.startswith("must be a")}
    out.extend(f for f in sorted(found, key=lambda f: f[1]) if f[1] not in wrong_type or f[2].startswith("must be a"))
