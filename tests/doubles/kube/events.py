"""Events as the API server keeps them: one storage, served as ``v1`` Event and as
``events.k8s.io/v1`` Event (each object readable, listable and watchable through both).

The conversion and the field labels follow the API server (``pkg/apis/events/v1`` conversion,
``pkg/registry/core/event`` selectable fields): ``involvedObject`` is ``regarding``, ``message``
is ``note``, ``reportingComponent`` is ``reportingController``, ``source``, ``firstTimestamp``,
``lastTimestamp`` and ``count`` are ``deprecatedSource``, ``deprecatedFirstTimestamp``,
``deprecatedLastTimestamp`` and ``deprecatedCount``; an Event recorded through core/v1 without
``eventTime`` has ``"eventTime": null`` there (which the official Python client cannot read).
Field selectors: ``involvedObject.*`` (core)
or ``regarding.*`` (events.k8s.io), ``reason``, ``type``, ``reportingComponent`` /
``reportingController``, ``source`` (core only) and ``metadata.name`` / ``metadata.namespace``;
anything else is 400. A create through events.k8s.io/v1 is checked as the API server checks it
(``eventTime``, ``reportingController``, ``reportingInstance``, ``action``, ``reason`` required;
``type`` Normal or Warning).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from doubles.kube.resources import ApiError, Obj, Resource

CORE = Resource("", "v1", "events", "Event", status=False, short=("ev",))
NEW = Resource("events.k8s.io", "v1", "events", "Event", status=False, short=("ev",))

_REF_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
# new name <-> stored (core) name, at the top level
_RENAMED = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def _path(*keys: str) -> Callable[[Obj], str]:
    def read(obj: Obj) -> str:
        node: object = obj
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        return "" if node is None else str(node)

    return read


def _source(obj: Obj) -> str:
    return _path("source", "component")(obj) or _path("reportingComponent")(obj)


_META = {"metadata.name": _path("metadata", "name"), "metadata.namespace": _path("metadata", "namespace")}
CORE_LABELS: dict[str, Callable[[Obj], str]] = {
    **_META,
    **{f"involvedObject.{f}": _path("involvedObject", f) for f in _REF_FIELDS},
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _source,
    "type": _path("type"),
}
NEW_LABELS: dict[str, Callable[[Obj], str]] = {
    **_META,
    **{f"regarding.{f}": _path("involvedObject", f) for f in _REF_FIELDS},
    "reason": _path("reason"),
    "reportingController": _path("reportingComponent"),
    "type": _path("type"),
}


def is_event(r: Resource) -> bool:
    return r in (CORE, NEW)


def labels_for(r: Resource) -> dict[str, Callable[[Obj], str]] | None:
    """The field labels a selector on ``r`` may use, read from the stored (core) form; None: not an Event."""
    return CORE_LABELS if r == CORE else NEW_LABELS if r == NEW else None


def to_new(core: Obj) -> Obj:
    """A stored (core/v1) Event as events.k8s.io/v1 serves it."""
    back = {v: k for k, v in _RENAMED.items()}
    out = {back.get(k, k): copy.deepcopy(v) for k, v in core.items()}
    out["apiVersion"], out["kind"] = NEW.api_version, NEW.kind
    out.setdefault("eventTime", None)  # a zero MicroTime is written as null
    return out


def to_core(new: Obj) -> Obj:
    """An events.k8s.io/v1 Event in its stored (core/v1) form."""
    out = {_RENAMED.get(k, k): copy.deepcopy(v) for k, v in new.items()}
    out["apiVersion"], out["kind"] = CORE.api_version, CORE.kind
    return out


def check_new(obj: Obj) -> None:
    """What the API server requires of an Event created through events.k8s.io/v1."""
    missing = [
        f for f in ("eventTime", "reportingController", "reportingInstance", "action", "reason") if not obj.get(f)
    ]
    if missing:
        raise ApiError(422, "Invalid", "; ".join(f"{f}: Required value" for f in missing))
    if obj.get("type") not in ("Normal", "Warning"):
        raise ApiError(422, "Invalid", f'type: Unsupported value: "{obj.get("type")}": "Normal", "Warning"')
    if len(str(obj.get("note") or "")) > 1024:
        raise ApiError(422, "Invalid", "note: Too long: may not be more than 1024 bytes")
