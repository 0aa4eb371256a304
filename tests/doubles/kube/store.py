"""The fake API server's storage: objects, resourceVersions, generations, events and watches.

Writes keep the API server's rules: status writes (``status_only``) change only ``.status`` and
other writes keep it; ``metadata.generation`` moves only when something outside metadata/status
changes; a no-op write keeps the resourceVersion; a stale resourceVersion is 409. Every change
is an event (kept for ``history`` events, for watches to resume from) and is passed to ``hooks``.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from doubles.kube import events, rules, validate
from doubles.kube.patch import PATCH_TYPES, apply_merge, apply_request, json_patch, merge_patch
from doubles.kube.resources import DEFAULT_RESOURCES, ApiError, Obj, Resource
from doubles.kube.selectors import field_match, label_match

if TYPE_CHECKING:
    from gitops_mcp.clock import Clock


@dataclass
class Event:
    rv: int
    type: str
    res: Resource
    obj: Obj


class Store:
    """Objects by resource, namespace and name; thread-safe (one condition guards everything)."""

    def __init__(self, resources: list[Resource] | None = None, history: int = 2000) -> None:
        self.resources = list(resources or DEFAULT_RESOURCES)
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (plural.group, ns, name)
        self.events: list[Event] = []
        self.history = history
        self.rv = 1
        self.cond = threading.Condition()
        self.hooks: list[Callable[[Event], None]] = []
        self.closed = False
        self._dry = False
        self.clock: Clock | None = None  # None: watches end in real time; a test clock: idle watch time passes at once
        self.create(self.resource_for("v1", "Namespace"), None, {"metadata": {"name": "default"}})

    def close(self) -> None:
        """End every watch."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def resource_for(self, api_version: str, kind: str) -> Resource:
        for r in self.resources:
            if r.api_version == api_version and r.kind == kind:
                return r
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({api_version} {kind})")

    def _key(self, r: Resource, ns: str | None, name: str) -> tuple[str, str, str]:
        r = self._canon(r)
        return (f"{r.plural}.{r.group}", ns or "", name)

    @staticmethod
    def _canon(r: Resource) -> Resource:
        """Where objects of ``r`` are stored: events.k8s.io/v1 Events are core/v1 Events."""
        return events.CORE if r == events.NEW else r

    @staticmethod
    def _out(view: Resource, obj: Obj) -> Obj:
        """A stored object as ``view`` serves it."""
        return events.to_new(obj) if view == events.NEW else obj

    # -- storage operations (also used directly by the simulator) ------------------------------------
    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """``dryRun=All``: the writes inside run every check and answer as usual, but nothing is
        stored, no resourceVersion is used up and no event is emitted."""
        with self.cond:
            saved, rv = dict(self.objects), self.rv
            self._dry = True
            try:
                yield
            finally:
                self.objects, self.rv, self._dry = saved, rv, False

    def _emit(self, etype: str, r: Resource, obj: Obj) -> None:
        if self._dry:
            return
        ev = Event(int(obj["metadata"]["resourceVersion"]), etype, r, copy.deepcopy(obj))
        self.events.append(ev)
        if len(self.events) > self.history:
            del self.events[: len(self.events) - self.history]
        self.cond.notify_all()
        for hook in list(self.hooks):
            hook(ev)

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def get(self, r: Resource, ns: str | None, name: str) -> Obj:
        with self.cond:
            obj = self.objects.get(self._key(r, ns, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{r.plural}.{r.group or ""} "{name}" not found'.replace(". ", " "))
            return self._out(r, copy.deepcopy(obj))

    def create(self, r: Resource, ns: str | None, body: Obj, strict: bool = False) -> Obj:
        view, r = r, self._canon(r)
        if view != r:
            events.check_new(body)
            body = events.to_core(body)
        with self.cond:
            meta = body.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            name = meta.get("name")
            if not name:
                raise ApiError(422, "Invalid", "metadata.name: Required value")
            if r.namespaced:
                ns = ns or meta.get("namespace")
                if not ns:
                    raise ApiError(422, "Invalid", "metadata.namespace: Required value")
                if ("namespaces.", "", ns) not in self.objects:
                    raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
                if meta.get("namespace") not in (None, ns):
                    raise ApiError(400, "BadRequest", "the namespace of the object does not match the request")
                meta["namespace"] = ns
            else:  # as the API server does: a cluster-scoped object has no namespace
                meta.pop("namespace", None)
            if strict:  # a request to the API (tests and the simulator may store what they like)
                rules.check_object(r, body)
            key = self._key(r, ns, name)
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{r.plural} "{name}" already exists')
            validate.check(r, body)
            obj = copy.deepcopy(body)
            obj["apiVersion"], obj["kind"] = r.api_version, r.kind
            obj["metadata"].update(
                uid=str(uuid.uuid4()),
                resourceVersion=self._next_rv(),
                generation=1,
                creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
            obj["metadata"].pop("generateName", None)
            if r.status:
                obj.pop("status", None)
            self.objects[key] = obj
            self._emit("ADDED", r, obj)
            return self._out(view, copy.deepcopy(obj))

    def _store_update(self, r: Resource, old: Obj, new: Obj, status_only: bool, strict: bool = False) -> Obj:
        new["apiVersion"], new["kind"] = r.api_version, r.kind
        meta = new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "name", "namespace"):
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
        meta["generation"] = old["metadata"].get("generation", 1)
        if not status_only:
            validate.check(r, new)
        if status_only:
            stored = copy.deepcopy(old)
            stored["status"] = new.get("status", {})
        else:
            if strict:
                rules.check_object(r, new)
                rules.check_update(r, old, new)
            stored = new
            if r.status:
                if "status" in old:
                    stored["status"] = old["status"]
                else:
                    stored.pop("status", None)
            changed = {k: v for k, v in stored.items() if k not in ("metadata", "status")} != {
                k: v for k, v in old.items() if k not in ("metadata", "status")
            }
            if changed:
                meta["generation"] = old["metadata"].get("generation", 1) + 1
        if stored == old:
            return copy.deepcopy(old)  # a no-op write keeps the resourceVersion
        stored["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[self._key(r, old["metadata"].get("namespace"), old["metadata"]["name"])] = stored
        self._emit("MODIFIED", r, stored)
        return copy.deepcopy(stored)

    def replace(
        self, r: Resource, ns: str | None, name: str, body: Obj, status_only: bool = False, strict: bool = False
    ) -> Obj:
        view, r = r, self._canon(r)
        body = events.to_core(body) if view != r else body
        with self.cond:
            old = self.get(r, ns, name)
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {r.plural} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try again",
                )
            if (body.get("metadata") or {}).get("name") not in (None, name):
                raise ApiError(400, "BadRequest", "the name of the object does not match the request")
            new = copy.deepcopy(body)
            if not r.namespaced and isinstance(new.get("metadata"), dict):
                new["metadata"].pop("namespace", None)
            return self._out(view, self._store_update(r, old, new, status_only, strict))

    def patch(
        self,
        r: Resource,
        ns: str | None,
        name: str,
        patch: Any,
        ctype: str,
        status_only: bool = False,
        strict: bool = False,
    ) -> Obj:
        if ctype not in PATCH_TYPES:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted "
                f"media types include: {', '.join(sorted(PATCH_TYPES))}",
            )
        view, r = r, self._canon(r)
        with self.cond:
            old = self.get(r, ns, name)
            seen = self._out(view, old)  # a patch is applied to the object as the client sees it
            if ctype == "application/json-patch+json":
                new = json_patch(seen, patch)
            else:
                if not isinstance(patch, dict):
                    raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
                new = merge_patch(seen, patch)
            new = events.to_core(new) if view != r else new
            rv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "the object has been modified")
            return self._out(view, self._store_update(r, old, new, status_only, strict))

    def apply(
        self, r: Resource, ns: str | None, name: str, body: Any, manager: str, force: bool = False
    ) -> tuple[int, Obj]:
        """Server-side apply of ``body`` by the field manager ``manager``: creates the object when it
        is absent (201), else merges the applied configuration into it (200), as the API server
        does: a field another manager owns with another value is a 409 conflict unless ``force``
        (which takes it over), and a field this manager applied before and no longer applies
        (nor anyone else owns) is removed; each manager's fields are kept in its ``managedFields``
        entry. Approximation: lists are atomic (replaced whole; no merge by key). The request's
        checks and the merge are :func:`doubles.kube.patch.apply_request` and ``apply_merge``."""
        applied, entry = apply_request(r, ns, name, body, manager)
        with self.cond:
            if self._key(r, ns, name) not in self.objects:
                new = copy.deepcopy(body)
                new["metadata"]["managedFields"] = [entry]
                return 201, self.create(r, ns, new, strict=True)
            view, r = r, self._canon(r)
            body = events.to_core(body) if view != r else body
            old = self.get(r, ns, name)
            others, dropped = rules.take_over(old, body, manager, force)
            new = apply_merge(old, applied)
            for path in dropped:
                rules.drop(new, path)  # no longer applied by anyone: gone
            new["metadata"]["managedFields"] = [*others, entry]
            return 200, self._out(view, self._store_update(r, old, new, status_only=False, strict=True))

    def delete(self, r: Resource, ns: str | None, name: str) -> Obj:
        view, r = r, self._canon(r)
        with self.cond:
            obj = self.get(r, ns, name)
            del self.objects[self._key(r, ns, name)]
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._emit("DELETED", r, obj)
            return self._out(view, obj)

    def list(self, r: Resource, ns: str | None, labels: str = "", fields: str = "") -> list[Obj]:
        view, r = r, self._canon(r)
        field_labels = events.labels_for(view)
        with self.cond:
            out = []
            for (plural, ons, _), obj in sorted(self.objects.items()):
                if plural != f"{r.plural}.{r.group}" or (ns is not None and ons != ns):
                    continue
                if labels and not label_match(obj["metadata"].get("labels") or {}, labels):
                    continue
                if fields and not field_match(obj, fields, field_labels):
                    continue
                out.append(self._out(view, copy.deepcopy(obj)))
            return out

    # -- convenience for tests and the simulator --------------------------------------------------------
    def put(self, obj: Obj) -> Obj:
        """Create or replace (ignoring resourceVersion) an object given as a full manifest."""
        r = self.resource_for(obj["apiVersion"], obj["kind"])
        ns = obj["metadata"].get("namespace") if r.namespaced else None
        with self.cond:
            if self._key(r, ns, obj["metadata"]["name"]) in self.objects:
                body = copy.deepcopy(obj)
                body["metadata"].pop("resourceVersion", None)
                return self.replace(r, ns, obj["metadata"]["name"], body)
            return self.create(r, ns, copy.deepcopy(obj))

    def ensure_namespace(self, name: str) -> None:
        r = self.resource_for("v1", "Namespace")
        with self.cond:
            if self._key(r, None, name) not in self.objects:
                self.create(r, None, {"metadata": {"name": name}})

    def patch_status(self, api_version: str, kind: str, ns: str | None, name: str, status: Obj) -> Obj:
        r = self.resource_for(api_version, kind)
        with self.cond:
            old = self.get(r, ns, name)
            return self._store_update(r, old, {**copy.deepcopy(old), "status": status}, status_only=True)

    def find(self, api_version: str, kind: str, ns: str | None, name: str) -> Obj | None:
        try:
            return self.get(self.resource_for(api_version, kind), ns, name)
        except ApiError:
            return None

    def watch(
        self, r: Resource, ns: str | None, labels: str, fields: str, resource_version: str, timeout: float
    ) -> Iterator[Obj]:
        """Watch events of ``r`` (in ``ns`` when given) matching the selectors: the current objects as
        ADDED when ``resource_version`` is empty or "0", else the changes after it (410 Expired when
        it is older than the history); ends after ``timeout`` seconds or when the store closes."""
        clock = self.clock
        deadline = (clock or time).monotonic() + timeout
        view, r = r, self._canon(r)
        field_labels = events.labels_for(view)

        def matches(obj: Obj) -> bool:
            if ns is not None and obj["metadata"].get("namespace") != ns:
                return False
            if labels and not label_match(obj["metadata"].get("labels") or {}, labels):
                return False
            return not (fields and not field_match(obj, fields, field_labels))

        with self.cond:
            if resource_version in ("", "0"):
                last = self.rv
                initial = [o for o in self.list(r, ns) if matches(o)]
            else:
                last = int(resource_version)
                oldest = self.events[0].rv if self.events else self.rv + 1
                if last < oldest - 1 and last < self.rv:
                    yield {
                        "type": "ERROR",
                        "object": ApiError(410, "Expired", f"too old resource version: {last} ({oldest - 1})").status(),
                    }
                    return
                initial = []
        for obj in initial:
            yield {"type": "ADDED", "object": self._out(view, obj)}
        while True:
            with self.cond:
                pending = [e for e in self.events if e.rv > last and e.res == r and matches(e.obj)]
                if pending:
                    last = max(e.rv for e in self.events if e.rv > last)
                else:
                    last = max([last] + [e.rv for e in self.events if e.rv > last])
                    remaining = deadline - (clock or time).monotonic()
                    if remaining <= 0 or self.closed:
                        return
                    if clock is None:
                        self.cond.wait(min(remaining, 1.0))
                    else:
                        clock.sleep(min(remaining, 1.0))  # nothing pending: the test's time moves on
                    continue
            for e in pending:
                yield {"type": e.type, "object": self._out(view, e.obj)}
