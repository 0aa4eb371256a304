"""Label and field selectors, parsed the way the API server parses them (a bad one is 400)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from doubles.kube.resources import ApiError, Obj

_SEL = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")
_SET = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(sel: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in sel:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def label_match(labels: dict[str, str], selector: str) -> bool:
    for term in _split_selector(selector):
        t = term.strip()
        if m := _SET.match(t):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if (op == "in") != (labels.get(key) in values and key in labels):
                return False
        elif m := _SEL.match(t):
            key, op, value = m.groups()
            if (labels.get(key) == value) != (op != "!="):
                return False
        elif t.startswith("!"):
            if t[1:].strip() in labels:
                return False
        elif re.match(r"^[A-Za-z0-9./_-]+$", t):
            if t not in labels:
                return False
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {t!r}")
    return True


def field_match(obj: Obj, selector: str, labels: Mapping[str, Callable[[Obj], str]] | None = None) -> bool:
    """Whether ``obj`` matches a field selector. ``labels``: the field labels of the resource and how
    each reads the object (Events have their own); else ``metadata.name``, ``metadata.namespace``
    and ``status.*``."""
    for term in _split_selector(selector):
        m = _SEL.match(term)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector {term!r}")
        key, op, value = m.groups()
        if labels is not None:
            if key not in labels:
                raise ApiError(400, "BadRequest", f'field label not supported: "{key}"')
            found = labels[key](obj)
        else:
            if key not in ("metadata.name", "metadata.namespace") and not key.startswith("status."):
                raise ApiError(400, "BadRequest", f'field label not supported: "{key}"')
            node: Any = obj
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            found = str(node or "")
        if (found == value) != (op != "!="):
            return False
    return True
