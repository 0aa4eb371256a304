"""A strict fake Kubernetes API server for tests, speaking the real HTTP API.

Enough of the API for the official ``kubernetes`` client: discovery, get/list/create/replace/
patch (merge, JSON, strategic-as-merge, apply-as-merge; wrong content types are 415)/delete,
the ``/status`` subresource (status writes change only ``.status``; other writes keep it;
``metadata.generation`` moves only when something outside metadata/status changes), label and
field selectors, ``resourceVersion`` (409 on a stale replace), watch (initial ADDED events,
resume from a resourceVersion, 410 Expired when it is too old, ``timeoutSeconds``), bearer
auth, namespaces that must exist, and fault injection.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status: bool = True
    short: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


DEFAULT_RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",)),
    Resource("", "v1", "configmaps", "ConfigMap", status=False, short=("cm",)),
    Resource("", "v1", "secrets", "Secret", status=False),
    Resource("", "v1", "services", "Service", short=("svc",)),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", status=False, short=("sa",)),
    Resource("", "v1", "pods", "Pod", short=("po",)),
    Resource("apps", "v1", "deployments", "Deployment", short=("deploy",)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", short=("sts",)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", short=("ds",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", short=("rs",)),
    Resource("batch", "v1", "jobs", "Job"),
    Resource("batch", "v1", "cronjobs", "CronJob", short=("cj",)),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",)),
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",)),
    Resource(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd",),
    ),
    Resource("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository", short=("gitrepo",)),
    Resource("source.toolkit.fluxcd.io", "v1", "ocirepositories", "OCIRepository", short=("ocirepo",)),
    Resource("source.toolkit.fluxcd.io", "v1", "helmrepositories", "HelmRepository", short=("helmrepo",)),
    Resource("source.toolkit.fluxcd.io", "v1", "helmcharts", "HelmChart", short=("hc",)),
    Resource("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization", short=("ks",)),
    Resource("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease", short=("hr",)),
    Resource("notification.toolkit.fluxcd.io", "v1beta3", "providers", "Provider"),
    Resource("notification.toolkit.fluxcd.io", "v1beta3", "alerts", "Alert"),
    Resource("argoproj.io", "v1alpha1", "applications", "Application", short=("app",)),
    Resource("argoproj.io", "v1alpha1", "applicationsets", "ApplicationSet", short=("appset",)),
    Resource("argoproj.io", "v1alpha1", "appprojects", "AppProject", short=("appproj",)),
]
PATCH_TYPES = {
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
}


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
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


def field_match(obj: Obj, selector: str) -> bool:
    for term in _split_selector(selector):
        m = _SEL.match(term)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector {term!r}")
        key, op, value = m.groups()
        node: Any = obj
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if key not in ("metadata.name", "metadata.namespace") and not key.startswith("status."):
            raise ApiError(400, "BadRequest", f'field label not supported: "{key}"')
        if (str(node or "") == value) != (op != "!="):
            return False
    return True


@dataclass
class Event:
    rv: int
    type: str
    res: Resource
    obj: Obj


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    code: int
    times: int


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None


class FakeKube:
    """Use as a context manager; ``kubeconfig(path)`` writes a kubeconfig for the client."""

    def __init__(self, token: str | None = None, resources: list[Resource] | None = None, history: int = 2000) -> None:
        self.token = token
        self.resources = list(resources or DEFAULT_RESOURCES)
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (plural.group, ns, name)
        self.events: list[Event] = []
        self.history = history
        self.rv = 1
        self.cond = threading.Condition()
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.hooks: list[Callable[[Event], None]] = []
        self.closed = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def send_json(self, code: int, body: Obj) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip() or None
                outer.requests.append(Request(self.command, parts.path, query, ctype))
                try:
                    if outer.token is not None and self.headers.get("Authorization") != f"Bearer {outer.token}":
                        raise ApiError(401, "Unauthorized", "Unauthorized")
                    outer._fault(self.command, parts.path)
                    if self.command == "GET" and query.get("watch", [""])[0].lower() in ("true", "1"):
                        self.stream(parts.path, query)
                        return
                    code, out = outer.dispatch(self.command, parts.path.rstrip("/") or "/", query, body, ctype)
                    self.send_json(code, out)
                except ApiError as exc:
                    self.send_json(exc.code, exc.status())

            def stream(self, path: str, query: dict[str, list[str]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for line in outer.watch(path, query):
                        data = (json.dumps(line) + "\n").encode()
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self.create(self.resource_for("v1", "Namespace"), None, {"metadata": {"name": "default"}})

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeKube:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()

    def kubeconfig(self, path: Path, context: str = "fake", token: str | None = None) -> Path:
        token = token or self.token
        user: dict[str, Any] = {"token": token} if token else {}
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        }
        path.write_text(json.dumps(cfg), encoding="utf-8")  # JSON is YAML
        return path

    def fail_next(self, method: str, path_regex: str, code: int = 500, times: int = 1) -> None:
        self.faults.append(Fault(method.upper(), re.compile(path_regex), code, times))

    def _fault(self, method: str, path: str) -> None:
        for f in self.faults:
            if f.times > 0 and f.method == method and f.path.search(path):
                f.times -= 1
                reasons = {
                    500: "InternalError",
                    503: "ServiceUnavailable",
                    403: "Forbidden",
                    429: "TooManyRequests",
                    409: "Conflict",
                    404: "NotFound",
                }
                raise ApiError(f.code, reasons.get(f.code, "InternalError"), f"injected fault {f.code}")

    # -- resources ------------------------------------------------------------------------------------
    def resource_for(self, api_version: str, kind: str) -> Resource:
        for r in self.resources:
            if r.api_version == api_version and r.kind == kind:
                return r
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({api_version} {kind})")

    def _by_path(self, group: str, version: str, plural: str) -> Resource:
        for r in self.resources:
            if r.group == group and r.version == version and r.plural == plural:
                return r
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _key(self, r: Resource, ns: str | None, name: str) -> tuple[str, str, str]:
        return (f"{r.plural}.{r.group}", ns or "", name)

    def _parse(self, path: str) -> tuple[Resource, str | None, str | None, str | None]:
        """(resource, namespace, name, subresource) for a resource path."""
        m = re.match(r"^/api/(v1)(/.*)$", path) or re.match(r"^/apis/([^/]+/[^/]+)(/.*)$", path)
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        gv, rest = m.groups()
        group, version = gv.split("/") if "/" in gv else ("", gv)
        parts = rest.strip("/").split("/")
        ns = None
        if len(parts) >= 3 and parts[0] == "namespaces":
            ns, parts = parts[1], parts[2:]
        elif len(parts) in (1, 2, 3) and parts[0] == "namespaces" and (group, version) == ("", "v1"):
            pass
        r = self._by_path(group, version, parts[0])
        if ns is not None and not r.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if sub is not None and (sub != "status" or not r.status):
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({sub})")
        if r.namespaced and name is not None and ns is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return r, ns, name, sub

    # -- discovery ------------------------------------------------------------------------------------
    def discovery(self, path: str) -> Obj | None:
        if path == "/version":
            return {
                "major": "1",
                "minor": "33",
                "gitVersion": "v1.33.0-fake",
                "gitCommit": "0" * 40,
                "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.24",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        if path == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            }
        groups: dict[str, list[str]] = {}
        for r in self.resources:
            if r.group:
                groups.setdefault(r.group, [])
                if r.version not in groups[r.group]:
                    groups[r.group].append(r.version)

        def group_obj(g: str) -> Obj:
            vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in groups[g]]
            return {"name": g, "versions": vs, "preferredVersion": vs[0]}

        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_obj(g) for g in sorted(groups)]}
        if m := re.match(r"^/apis/([^/]+)$", path):
            if m.group(1) not in groups:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return {"kind": "APIGroup", "apiVersion": "v1", **group_obj(m.group(1))}
        m = re.match(r"^/api/(v1)$", path) or re.match(r"^/apis/([^/]+/[^/]+)$", path)
        if m:
            gv = m.group(1)
            rs = [r for r in self.resources if r.api_version == gv]
            if not rs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            out = []
            for r in rs:
                verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
                out.append(
                    {
                        "name": r.plural,
                        "singularName": r.kind.lower(),
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": verbs,
                        "shortNames": list(r.short),
                    }
                )
                if r.status:
                    out.append(
                        {
                            "name": f"{r.plural}/status",
                            "singularName": "",
                            "namespaced": r.namespaced,
                            "kind": r.kind,
                            "verbs": ["get", "patch", "update"],
                        }
                    )
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}
        return None

    # -- storage operations (also used directly by the simulator) ------------------------------------
    def _emit(self, etype: str, r: Resource, obj: Obj) -> None:
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
            return copy.deepcopy(obj)

    def create(self, r: Resource, ns: str | None, body: Obj) -> Obj:
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
            key = self._key(r, ns, name)
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{r.plural} "{name}" already exists')
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
            return copy.deepcopy(obj)

    def _store_update(self, r: Resource, old: Obj, new: Obj, status_only: bool) -> Obj:
        new["apiVersion"], new["kind"] = r.api_version, r.kind
        meta = new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "name", "namespace"):
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
        meta["generation"] = old["metadata"].get("generation", 1)
        if status_only:
            stored = copy.deepcopy(old)
            stored["status"] = new.get("status", {})
        else:
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

    def replace(self, r: Resource, ns: str | None, name: str, body: Obj, status_only: bool = False) -> Obj:
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
            return self._store_update(r, old, copy.deepcopy(body), status_only)

    def patch(self, r: Resource, ns: str | None, name: str, patch: Any, ctype: str, status_only: bool = False) -> Obj:
        if ctype not in PATCH_TYPES:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted "
                f"media types include: {', '.join(sorted(PATCH_TYPES))}",
            )
        with self.cond:
            old = self.get(r, ns, name)
            if ctype == "application/json-patch+json":
                new = json_patch(old, patch)
            else:
                if not isinstance(patch, dict):
                    raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
                new = merge_patch(old, patch)
            rv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "the object has been modified")
            return self._store_update(r, old, new, status_only)

    def delete(self, r: Resource, ns: str | None, name: str) -> Obj:
        with self.cond:
            obj = self.get(r, ns, name)
            del self.objects[self._key(r, ns, name)]
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._emit("DELETED", r, obj)
            return obj

    def list(self, r: Resource, ns: str | None, labels: str = "", fields: str = "") -> list[Obj]:
        with self.cond:
            out = []
            for (plural, ons, _), obj in sorted(self.objects.items()):
                if plural != f"{r.plural}.{r.group}" or (ns is not None and ons != ns):
                    continue
                if labels and not label_match(obj["metadata"].get("labels") or {}, labels):
                    continue
                if fields and not field_match(obj, fields):
                    continue
                out.append(copy.deepcopy(obj))
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

    # -- HTTP dispatch ----------------------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, ctype: str | None
    ) -> tuple[int, Obj]:
        if method == "GET":
            found = self.discovery(path)
            if found is not None:
                return 200, found
        r, ns, name, sub = self._parse(path)
        status_only = sub == "status"

        def parsed() -> Any:
            try:
                return json.loads(body or b"null")
            except ValueError:
                raise ApiError(400, "BadRequest", "the request body is not valid JSON") from None

        if method == "GET":
            if name is not None:
                return 200, self.get(r, ns, name)
            items = self.list(r, ns, query.get("labelSelector", [""])[0], query.get("fieldSelector", [""])[0])
            with self.cond:
                rv = str(self.rv)
            return 200, {
                "kind": f"{r.kind}List",
                "apiVersion": r.api_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
        if method == "POST":
            if name is not None:
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            if ctype not in (None, "application/json"):
                raise ApiError(415, "UnsupportedMediaType", f"unsupported content type {ctype}")
            obj = parsed()
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the body must be an object")
            if obj.get("kind") not in (None, r.kind) or obj.get("apiVersion") not in (None, r.api_version):
                raise ApiError(400, "BadRequest", f"the API version/kind in the body does not match {r.kind}")
            return 201, self.create(r, ns, obj)
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if method == "PUT":
            obj = parsed()
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the body must be an object")
            return 200, self.replace(r, ns, name, obj, status_only)
        if method == "PATCH":
            return 200, self.patch(r, ns, name, parsed(), ctype or "", status_only)
        if method == "DELETE":
            return 200, self.delete(r, ns, name)
        raise ApiError(405, "MethodNotAllowed", "method not allowed")

    def watch(self, path: str, query: dict[str, list[str]]) -> Iterator[Obj]:
        r, ns, name, _ = self._parse(path)
        labels = query.get("labelSelector", [""])[0]
        fields = query.get("fieldSelector", [""])[0]
        if name is not None:
            fields = ",".join(x for x in (fields, f"metadata.name={name}") if x)
        timeout = float(query.get("timeoutSeconds", ["1800"])[0])
        deadline = time.monotonic() + timeout
        rv_text = query.get("resourceVersion", [""])[0]

        def matches(obj: Obj) -> bool:
            if ns is not None and obj["metadata"].get("namespace") != ns:
                return False
            if labels and not label_match(obj["metadata"].get("labels") or {}, labels):
                return False
            return not (fields and not field_match(obj, fields))

        with self.cond:
            if rv_text in ("", "0"):
                last = self.rv
                initial = [o for o in self.list(r, ns) if matches(o)]
            else:
                last = int(rv_text)
                oldest = self.events[0].rv if self.events else self.rv + 1
                if last < oldest - 1 and last < self.rv:
                    yield {
                        "type": "ERROR",
                        "object": ApiError(410, "Expired", f"too old resource version: {last} ({oldest - 1})").status(),
                    }
                    return
                initial = []
        for obj in initial:
            yield {"type": "ADDED", "object": obj}
        while True:
            with self.cond:
                pending = [e for e in self.events if e.rv > last and e.res == r and matches(e.obj)]
                if pending:
                    last = max(e.rv for e in self.events if e.rv > last)
                else:
                    last = max([last] + [e.rv for e in self.events if e.rv > last])
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.closed:
                        return
                    self.cond.wait(min(remaining, 1.0))
                    continue
            for e in pending:
                yield {"type": e.type, "object": e.obj}
