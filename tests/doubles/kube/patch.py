"""The patch formats of the API server: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and
server-side apply's (``application/apply-patch+yaml``) request checks and merge; the apply itself,
with its field managers' conflicts and ownership, is :meth:`doubles.kube.store.Store.apply`."""

from __future__ import annotations

import copy
from typing import Any

from doubles.kube import rules
from doubles.kube.resources import ApiError, Obj, Resource

PATCH_TYPES = {
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 (add, remove, replace, test, move, copy)."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)

    def parent(path: str) -> tuple[Any, str]:
        parts = _pointer(path)
        if not parts:
            raise ApiError(422, "Invalid", "cannot patch the document root")
        node = doc
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        return node, parts[-1]

    for op in ops:
        try:
            kind, path = op["op"], op["path"]
            if kind in ("add", "replace", "test"):
                node, key = parent(path)
                value = copy.deepcopy(op["value"])
                if kind == "test":
                    current = node[int(key)] if isinstance(node, list) else node[key]
                    if current != value:
                        raise ApiError(422, "Invalid", f"test failed at {path}")
                elif isinstance(node, list):
                    if key == "-":
                        node.append(value)
                    elif kind == "add":
                        node.insert(int(key), value)
                    else:
                        node[int(key)] = value
                else:
                    if kind == "replace" and key not in node:
                        raise ApiError(422, "Invalid", f"replace: no value at {path}")
                    node[key] = value
            elif kind == "remove":
                node, key = parent(path)
                del node[int(key) if isinstance(node, list) else key]
            elif kind in ("move", "copy"):
                src, skey = parent(op["from"])
                value = src[int(skey)] if isinstance(src, list) else src[skey]
                if kind == "move":
                    del src[int(skey) if isinstance(src, list) else skey]
                json_patch_into = [{"op": "add", "path": path, "value": value}]
                doc = json_patch(doc, json_patch_into)
            else:
                raise ApiError(400, "BadRequest", f"unknown JSON patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(422, "Invalid", f"JSON patch failed: {exc!r}") from None
    return doc


def apply_request(r: Resource, ns: str | None, name: str, body: Any, manager: str) -> tuple[Obj, Obj]:
    """An apply patch of ``r`` as the API server checks it (an object of that apiVersion and kind,
    named as on the URL, in the URL's namespace, only fields the schema declares). (What it applies:
    the body less the status of a resource with a status subresource; ``manager``'s managedFields
    entry for it.)"""
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "an apply patch must be an object")
    if body.get("apiVersion") != r.api_version or body.get("kind") != r.kind:
        raise ApiError(
            400,
            "BadRequest",
            f"the apiVersion and kind of an apply patch must be {r.api_version} {r.kind}, "
            f"not {body.get('apiVersion')} {body.get('kind')}",
        )
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    if meta.get("name") != name:
        raise ApiError(
            400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the name on the URL"
        )
    if r.namespaced and meta.get("namespace") not in (None, ns):
        raise ApiError(400, "BadRequest", "the namespace of the object does not match the namespace on the URL")
    rules.check_apply(r, ns, name, body)
    applied = {k: v for k, v in body.items() if k != "status" or not r.status}
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": r.api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": rules.to_fields_v1(rules.field_paths(applied)),
    }
    return applied, entry


def apply_merge(live: Any, applied: Any) -> Any:
    """The applied configuration over the live object: maps merge, anything else is replaced."""
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    out = copy.deepcopy(live)
    for k, v in applied.items():
        out[k] = apply_merge(out.get(k), v)
    return out
