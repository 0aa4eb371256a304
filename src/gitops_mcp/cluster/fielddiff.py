"""Which fields differ between a live object and what a server-side dry run returned for it.

Pure. Both sides are whole objects as the API server serves them, so only what the apply would
change differs; what the server itself keeps moving (``status``, ``resourceVersion``,
``generation``, ``managedFields``, timestamps) is left out. A path reads
``spec.template.spec.containers[name=web].image``: a list of objects that all carry a ``name``
(containers, env, ports, volumes) is matched by name, any other list by position when the
lengths agree, else it is one changed field; keys other than plain words are quoted
(``metadata.labels["app.kubernetes.io/name"]``). Never a value: a path says what changes,
Secrets included.
"""

from __future__ import annotations

import json
import re
from typing import Any

IGNORED_METADATA = frozenset(
    {"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink", "deletionTimestamp"}
)
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what the API server moves on its own."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k not in IGNORED_METADATA}
    return out


def _key(prefix: str, key: str) -> str:
    if _WORD.match(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key)}]"


def _named(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    names = [i["name"] for i in items]
    return dict(zip(names, items, strict=True)) if len(set(names)) == len(names) else None


def changed_paths(before: Any, after: Any, prefix: str = "", out: list[str] | None = None) -> list[str]:
    """The paths of the fields that differ between ``before`` and ``after`` (added, removed or changed)."""
    out = [] if out is None else out
    if before == after:
        return out
    if isinstance(before, dict) and isinstance(after, dict):
        for k in list(before) + [k for k in after if k not in before]:
            changed_paths(before.get(k), after.get(k), _key(prefix, str(k)), out)
        return out
    if isinstance(before, list) and isinstance(after, list):
        a, b = _named(before), _named(after)
        if a is not None and b is not None:
            for name in list(a) + [n for n in b if n not in a]:
                changed_paths(a.get(name), b.get(name), f"{prefix}[name={name}]", out)
            return out
        if len(before) == len(after):
            for i, (x, y) in enumerate(zip(before, after, strict=True)):
                changed_paths(x, y, f"{prefix}[{i}]", out)
            return out
    out.append(prefix or ".")
    return out


def object_diff(live: dict[str, Any], dry_run: dict[str, Any]) -> list[str]:
    """The changed field paths of ``live`` once the dry-run apply's result is what it becomes."""
    return changed_paths(comparable(live), comparable(dry_run))
