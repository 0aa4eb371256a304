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
from decimal import Decimal, InvalidOperation
from typing import Any

IGNORED_METADATA = frozenset(
    {"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink", "deletionTimestamp"}
)
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
"""A client-side apply's record of what it applied (Argo CD applies this way): bookkeeping, not a change."""


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without what the API server moves on its own."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k not in IGNORED_METADATA}
        notes = out["metadata"].get("annotations")
        if isinstance(notes, dict) and LAST_APPLIED in notes:
            rest = {k: v for k, v in notes.items() if k != LAST_APPLIED}
            out["metadata"] = (
                {**out["metadata"], "annotations": rest}
                if rest
                else {k: v for k, v in out["metadata"].items() if k != "annotations"}
            )
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


Segment = tuple[str, str]
"""("f", key) for a field, ("k", name) for the item of a list of named objects."""


def _owned(fields: Any, prefix: tuple[Segment, ...], out: set[tuple[Segment, ...]]) -> None:
    """The leaf paths of a ``managedFields[].fieldsV1`` tree."""
    if not isinstance(fields, dict):
        return
    children = {k: v for k, v in fields.items() if k != "."}
    if not children:
        out.add(prefix)
        return
    for k, v in children.items():
        if k.startswith("f:"):
            _owned(v, (*prefix, ("f", k[2:])), out)
        elif k.startswith("k:"):
            try:
                ident = json.loads(k[2:])
            except ValueError:
                continue
            if isinstance(ident, dict) and set(ident) == {"name"}:
                _owned(v, (*prefix, ("k", str(ident["name"]))), out)
            else:
                out.add(prefix)  # keyed otherwise (ports by port and protocol): the list as a whole


def _text(path: tuple[Segment, ...]) -> str:
    out = ""
    for kind, key in path:
        out = f"{out}[name={key}]" if kind == "k" else _key(out, key)
    return out or "."


def _gone(desired: Any, path: tuple[Segment, ...]) -> tuple[Segment, ...] | None:
    """The shortest prefix of ``path`` that ``desired`` does not have (None: it has it all)."""
    node = desired
    for i, (kind, key) in enumerate(path):
        if kind == "f":
            if not isinstance(node, dict) or key not in node:
                return path[: i + 1]
            node = node[key]
        else:
            named = _named(node) if isinstance(node, list) else None
            if named is None or key not in named:
                return path[: i + 1]
            node = named[key]
    return None


def _at(obj: Any, path: tuple[Segment, ...]) -> Any:
    for kind, key in path:
        if kind == "f":
            obj = obj.get(key) if isinstance(obj, dict) else None
        else:
            named = _named(obj) if isinstance(obj, list) else None
            obj = named.get(key) if named else None
    return obj


def _present(desired: Any, live: Any, prefix: str, out: list[str]) -> None:
    """Paths of ``desired``'s fields whose value ``live`` does not have."""
    if isinstance(desired, dict) and isinstance(live, dict):
        for k, v in desired.items():
            if k not in live:
                out.append(_key(prefix, str(k)))
            else:
                _present(v, live[k], _key(prefix, str(k)), out)
        return
    if isinstance(desired, list) and isinstance(live, list):
        a, b = _named(desired), _named(live)
        if a is not None and b is not None:
            for name, item in a.items():
                if name not in b:
                    out.append(f"{prefix}[name={name}]")
                else:
                    _present(item, b[name], f"{prefix}[name={name}]", out)
            return
        if len(desired) == len(live):
            for i, (x, y) in enumerate(zip(desired, live, strict=True)):
                _present(x, y, f"{prefix}[{i}]", out)
            return
    if not _same(desired, live):
        out.append(prefix or ".")


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$")
_SCALE = {"m": "1e-3", "k": "1e3", "M": "1e6", "G": "1e9", "T": "1e12", "P": "1e15", "E": "1e18"}
_SCALE |= {f"{k}i": str(1024 ** (i + 1)) for i, k in enumerate(("K", "M", "G", "T", "P", "E"))}


def _quantity(value: Any) -> Decimal | None:
    """A number or a Kubernetes quantity (``500m``, ``128Mi``, ``1e3``) as a number; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    m = _QUANTITY.match(str(value))
    if m is None:
        return None
    suffix = m.group(2) or ""
    try:
        number = Decimal(m.group(1))
        if suffix[:1] in ("e", "E"):
            return number * Decimal(10) ** int(suffix[1:])
        return number * Decimal(_SCALE.get(suffix, "1"))
    except (InvalidOperation, ValueError):
        return None


def _same(desired: Any, live: Any) -> bool:
    """Equal as the API server stores them: numbers and their text, quantities in any unit (1 = 1000m)."""
    if desired == live:
        return True
    a, b = _quantity(desired), _quantity(live)
    return a is not None and a == b


def applied_diff(live: dict[str, Any], desired: dict[str, Any], manager: str) -> list[str]:
    """Without the API server: the fields a server-side apply of ``desired`` by ``manager`` would
    change in ``live``: those it sets to another value, and those ``manager`` applied before (its
    ``managedFields``) that it no longer sets. Defaults the server would add are not known here."""
    out: list[str] = []
    mine = {k: v for k, v in comparable(desired).items() if k not in ("apiVersion", "kind")}
    meta = mine.get("metadata")
    if isinstance(meta, dict):
        mine["metadata"] = {k: v for k, v in meta.items() if k not in ("name", "namespace")}
    _present(mine, comparable(live), "", out)
    return out + [p for p in no_longer_applied(live, desired, manager) if p not in out]


def no_longer_applied(
    live: dict[str, Any], desired: dict[str, Any], manager: str, server_side: bool = True
) -> list[str]:
    """The fields ``manager`` applied to ``live`` before that ``desired`` no longer sets, which the apply
    removes: its server-side apply fields (``server_side``; a dry run already shows those), and a
    client-side apply's last-applied configuration (Argo CD applies this way)."""
    out: list[str] = []
    mine = comparable(desired)
    owned: set[tuple[Segment, ...]] = set()
    meta = live.get("metadata") or {}
    for entry in meta.get("managedFields") or [] if server_side else []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            _owned(entry.get("fieldsV1"), (), owned)
    last = (meta.get("annotations") or {}).get(LAST_APPLIED)
    if isinstance(last, str):
        try:
            before = json.loads(last)
        except ValueError:
            before = None
        if isinstance(before, dict):
            _owned(
                _as_fields(comparable({k: v for k, v in before.items() if k not in ("apiVersion", "kind")})), (), owned
            )
    identity = ((("f", "metadata"), ("f", "name")), (("f", "metadata"), ("f", "namespace")))
    for path in sorted(owned):
        if isinstance(_at(live, path), dict):
            continue  # owning a map only (Flux applies a Namespace's spec: {}): its content is not the manager's
        gone = _gone(mine, path)
        if gone is not None and gone[:2] not in identity and _text(gone) not in out:
            out.append(_text(gone))
    return out


def _as_fields(value: Any) -> Any:
    """``value`` as a fieldsV1 tree (lists of named objects keyed by name, other lists whole)."""
    if isinstance(value, dict):
        return {f"f:{k}": _as_fields(v) for k, v in value.items()}
    named = _named(value) if isinstance(value, list) else None
    if named is not None:
        return {f"k:{json.dumps({'name': n})}": _as_fields(v) for n, v in named.items()}
    return {}
