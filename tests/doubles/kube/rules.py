"""What the real API server refuses in a write, dry run or not (as measured on the testbed,
Kubernetes 1.37), for the fake: names that are not RFC 1123 subdomains (422), a workload
without a selector or with one its template's labels do not match (422), a changed selector of
a Deployment, StatefulSet, DaemonSet or ReplicaSet, or a Job's selector or template (422 "field is
immutable"), and in a server-side apply a field the kind's schema does not declare (500 "failed
to create typed patch object", from the Kubernetes schemas of ``kubernetes-validate``)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from doubles.kube.resources import ApiError, Obj, Resource

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SELECTED = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet")}
SCHEMA_VERSION = "1.37.0"


def _what(r: Resource, name: str) -> str:
    return f'{r.kind}{"." + r.group if r.group else ""} "{name}"'


def _invalid(r: Resource, name: str, *causes: str) -> ApiError:
    text = causes[0] if len(causes) == 1 else "[" + ", ".join(causes) + "]"
    return ApiError(422, "Invalid", f"{_what(r, name)} is invalid: {text}")


def check_object(r: Resource, obj: Obj) -> None:
    """A create or an update: the object itself."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    if name and r.kind != "Event" and not _NAME.match(name):
        raise _invalid(
            r, name, f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
            "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        )  # fmt: skip
    if (r.group, r.kind) in _SELECTED:
        spec = obj.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not spec.get("selector"):
            raise _invalid(r, name, "spec.selector: Required value")
        if isinstance(selector, dict) and any(labels.get(k) != v for k, v in selector.items()):
            raise _invalid(
                r, name, f"spec.template.metadata.labels: Invalid value: {json.dumps(labels)}: `selector` does not "
                "match template `labels`",
            )  # fmt: skip


def check_update(r: Resource, old: Obj, new: Obj) -> None:
    """An update of ``old`` to ``new``: fields that never change."""
    name = str(old["metadata"]["name"])
    immutable = ["selector"] if (r.group, r.kind) in _SELECTED else []
    if (r.group, r.kind) == ("batch", "Job"):
        immutable = ["selector", "template"]
    for field in immutable:
        before, after = (old.get("spec") or {}).get(field), (new.get("spec") or {}).get(field)
        if before is not None and before != after:
            raise _invalid(r, name, f"spec.{field}: Invalid value: {json.dumps(after)}: field is immutable")


@cache
def _definitions() -> dict[str, Any]:
    """The Kubernetes 1.37 definitions shipped with kubernetes-validate (empty without it)."""
    try:
        import kubernetes_validate
    except ImportError:
        return {}
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{SCHEMA_VERSION}-local-strict"
    path = base / "_definitions.json"
    return dict(json.loads(path.read_text(encoding="utf-8")).get("$defs") or {}) if path.is_file() else {}


def _schema(group: str, version: str, kind: str) -> dict[str, Any] | None:
    defs = _definitions()
    for key, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group"), gvk.get("version"), gvk.get("kind")) == (group, version, kind):
                return dict(schema, _key=key)
    return None


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _definitions().get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
    for alt in schema.get("allOf") or []:
        if isinstance(alt, dict) and "$ref" in alt:
            return _resolve(alt)
    return schema


def _undeclared(schema: dict[str, Any], value: Any, path: str) -> str | None:
    schema = _resolve(schema)
    if schema.get("x-kubernetes-preserve-unknown-fields") or not isinstance(value, dict | list):
        return None
    if isinstance(value, list):
        item = schema.get("items")
        for v in value if isinstance(item, dict) else []:
            named = isinstance(v, dict) and isinstance(v.get("name"), str)
            found = _undeclared(item, v, f'{path}[name="{v["name"]}"]' if named else path)
            if found:
                return found
        return None
    props = schema.get("properties")
    if not isinstance(props, dict):
        return None  # a map (additionalProperties) or untyped
    for k, v in value.items():
        if k not in props:
            return f"{path}.{k}"
        found = _undeclared(props[k], v, f"{path}.{k}")
        if found:
            return found
    return None


def check_apply(r: Resource, ns: str | None, name: str, body: Obj) -> None:
    """A server-side apply: every field must be declared in the kind's schema."""
    schema = _schema(r.group, r.version, r.kind)
    if schema is None:
        return
    found = _undeclared(schema, {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}, "")
    if found:
        gvk = f"{r.group + '/' if r.group else '/'}{r.version}, Kind={r.kind}"
        where = f"{ns}/{name}" if ns else name
        raise ApiError(
            500,
            "InternalError",
            f"failed to create typed patch object ({where}; {gvk}): {found}: field not declared in schema",
        )


# -- server-side apply: who owns which field ------------------------------------------------------------------
Path_ = tuple[str, ...]


def field_paths(body: Any, prefix: Path_ = ()) -> set[Path_]:
    """The leaf fields an apply configuration sets (lists are atomic here); identity fields left out."""
    out: set[Path_] = set()
    if isinstance(body, dict) and body:
        for k, v in body.items():
            if not prefix and k in ("apiVersion", "kind", "status"):
                continue
            if prefix == ("metadata",) and k in ("name", "namespace", "managedFields", "resourceVersion"):
                continue
            out |= field_paths(v, (*prefix, str(k)))
        return out
    return {prefix} if prefix else out


def to_fields_v1(paths: set[Path_]) -> dict[str, Any]:
    """``managedFields[].fieldsV1`` of a set of leaf paths (``f:`` keys, as the API server writes them)."""
    root: dict[str, Any] = {}
    for p in sorted(paths):
        node = root
        for part in p:
            node = node.setdefault(f"f:{part}", {})
    return root


def from_fields_v1(fields: Any, prefix: Path_ = ()) -> set[Path_]:
    out: set[Path_] = set()
    if not isinstance(fields, dict) or not fields:
        return {prefix} if prefix else out
    for k, v in fields.items():
        if k.startswith("f:"):
            out |= from_fields_v1(v, (*prefix, k[2:]))
    return out


def value_at(obj: Any, path: Path_) -> Any:
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def drop(obj: dict[str, Any], path: Path_) -> None:
    """Remove the field at ``path`` and the maps it leaves empty."""
    parents = [obj]
    for p in path[:-1]:
        nxt = parents[-1].get(p)
        if not isinstance(nxt, dict):
            return
        parents.append(nxt)
    parents[-1].pop(path[-1], None)
    for parent, key in zip(reversed(parents[:-1]), reversed(path[:-1]), strict=True):
        if parent.get(key) == {}:
            parent.pop(key)


def conflicts(live: Obj, body: Obj, manager: str) -> list[tuple[str, str]]:
    """(other manager, ``.path``) of the fields ``body`` sets to another value than the one another
    manager owns: what a server-side apply without ``force`` is refused for (409)."""
    out = []
    mine = field_paths(body)
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            continue
        out.extend(
            (str(entry.get("manager")), "." + ".".join(p))
            for p in sorted(mine & from_fields_v1(entry.get("fieldsV1")))
            if value_at(live, p) != value_at(body, p)
        )
    return out


def take_over(live: Obj, body: Obj, manager: str, force: bool) -> tuple[list[Obj], set[Path_]]:
    """What a server-side apply of ``body`` by ``manager`` does to ``live``'s field ownership: (the
    other managers' entries, without what a forced apply takes from them; the fields ``manager``
    applied before, no longer applies and nobody else owns, which the apply removes).

    Raises:
        ApiError: 409 when another manager owns a field ``body`` sets to another value, unless ``force``.
    """
    found = conflicts(live, body, manager)
    if found and not force:
        raise ApiError(
            409,
            "Conflict",
            f"Apply failed with {len(found)} conflict{'s' if len(found) > 1 else ''}: "
            + "; ".join(f'conflict with "{m}": {p}' for m, p in found),
        )
    mine = field_paths({k: v for k, v in body.items() if k != "status"})
    entries = (live.get("metadata") or {}).get("managedFields") or []
    before = next((e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"), None)
    others: list[Obj] = []
    for e in entries:
        if e is before:
            continue
        e = json.loads(json.dumps(e))
        if "fieldsV1" in e:  # forced: the fields this apply sets are its own now
            left = from_fields_v1(e["fieldsV1"]) - mine
            if not left:
                continue
            e["fieldsV1"] = to_fields_v1(left)
        others.append(e)
    owned = set().union(*(from_fields_v1(e.get("fieldsV1")) for e in others)) if others else set()
    return others, from_fields_v1((before or {}).get("fieldsV1")) - mine - owned
