"""A strict fake Kubernetes API server for tests, speaking the real HTTP API.

Enough of the API for the official ``kubernetes`` client: discovery, get/list/create/replace/
patch (merge, JSON, strategic-as-merge; wrong content types are 415)/delete, server-side apply
(``application/apply-patch+yaml``: ``fieldManager`` required, ``force`` only there, creates the
object when absent; see :meth:`Store.apply`), ``dryRun=All`` on every write (nothing stored),
RBAC denials per verb and resource (:meth:`FakeKube.forbid`, 403 with the API server's wording)
or only what a ClusterRole's rules grant (:meth:`FakeKube.allow`), HTTPS (:meth:`FakeKube.use_tls`),
the ``/status`` subresource (status writes change only ``.status``; other writes keep it;
``metadata.generation`` moves only when something outside metadata/status changes), label and
field selectors, ``resourceVersion`` (409 on a stale replace), watch (initial ADDED events,
resume from a resourceVersion, 410 Expired when it is too old, ``timeoutSeconds``), bearer
auth, namespaces that must exist, and fault injection. This module is the HTTP side (paths,
auth, faults, the request log, watch streams); :mod:`doubles.kube.store` keeps the objects.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from doubles.http import Exchange, HttpDouble
from doubles.kube.resources import ApiError, Obj, Resource, discovery
from doubles.kube.store import Store


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


class FakeKube(Store, HttpDouble):
    """Use as a context manager; ``kubeconfig(path)`` writes a kubeconfig for the client."""

    methods = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, token: str | None = None, resources: list[Resource] | None = None, history: int = 2000) -> None:
        Store.__init__(self, resources, history)
        HttpDouble.__init__(self)
        self.token = token
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.denied: set[tuple[str, str, str | None]] = set()  # (verb, plural.group, namespace or None = all)
        self.rules: list[Obj] | None = None  # RBAC rules granted to the user; None = everything
        self.user = "system:serviceaccount:gitops:gitops-mcp"
        self.ca: Path | None = None  # the certificate served with use_tls()

    def forbid(self, verb: str, plural: str, group: str = "", namespace: str | None = None) -> None:
        """RBAC: answer 403 to ``verb`` (get, list, watch, create, update, patch, delete) on the resource
        ``plural`` of ``group`` (in ``namespace``, or in every namespace), as the API server does."""
        self.denied.add((verb, f"{plural}.{group}", namespace))

    def allow(self, rules: list[Obj]) -> None:
        """RBAC as the API server authorizes with a ClusterRole's ``rules`` (apiGroups, resources
        with ``plural/subresource``, verbs, resourceNames; ``*`` wildcards): from now on a request
        no rule allows is answered 403. Server-side apply of an absent object needs ``create``
        besides ``patch``. Discovery stays open (system:discovery); :meth:`forbid` still applies."""
        self.rules = [dict(r) for r in rules]

    def _allowed(self, verb: str, group: str, resource: str, name: str | None) -> bool:
        if self.rules is None:
            return True
        for rule in self.rules:
            names = rule.get("resourceNames") or []
            if (
                any(g in ("*", group) for g in rule.get("apiGroups") or [])
                and any(x in ("*", resource) for x in rule.get("resources") or [])
                and any(v in ("*", verb) for v in rule.get("verbs") or [])
                and (not names or name in names)
            ):
                return True
        return False

    def _authorize(self, method: str, path: str, query: dict[str, list[str]], ctype: str | None = None) -> None:
        if (not self.denied and self.rules is None) or discovery(self.resources, path.rstrip("/") or "/") is not None:
            return
        r, ns, name, sub = self._parse(path.rstrip("/") or "/")
        watching = query.get("watch", [""])[0].lower() in ("true", "1")
        verbs = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        verb = "watch" if watching else ("get" if name else "list") if method == "GET" else verbs.get(method, "")
        key = f"{r.plural}.{r.group}"
        resource = r.plural + (f"/{sub}" if sub else "")
        denied = (verb, key, None) in self.denied or (verb, key, ns) in self.denied
        denied = denied or not self._allowed(verb, r.group, resource, name)
        creates = (
            ctype == "application/apply-patch+yaml" and name and self.find(r.api_version, r.kind, ns, name) is None
        )
        if not denied and creates and not self._allowed("create", r.group, resource, name):
            denied, verb = True, "create"
        if not denied:
            return
        what = f'{key.rstrip(".")} "{name}"' if name else key.rstrip(".")
        where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
        raise ApiError(
            403,
            "Forbidden",
            f'{what} is forbidden: User "{self.user}" cannot {verb} resource "{resource}" '
            f'in API group "{r.group}"{where}',
        )

    def stop(self) -> None:
        self.close()
        HttpDouble.stop(self)

    def wait_request(self, seen: Callable[[Request], bool], after: int = 0, timeout: float = 10.0) -> Request:
        """The first of ``requests[after:]`` that ``seen`` accepts, waiting up to ``timeout`` seconds for it."""

        def first() -> Request | None:
            return next((r for r in self.requests[after:] if seen(r)), None)

        with self.cond:
            found = self.cond.wait_for(first, timeout)
        if found is None:
            raise TimeoutError(f"no such request within {timeout} s")
        return found

    # -- HTTP -----------------------------------------------------------------------------------------
    def handle(self, h: Exchange) -> None:
        parts = urlsplit(h.path)
        query = parse_qs(parts.query)
        body = h.body()
        ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip() or None
        with self.cond:
            self.requests.append(Request(h.command, parts.path, query, ctype))
            self.cond.notify_all()
        try:
            scheme, _, given = (h.headers.get("Authorization") or "").partition(" ")
            if self.token is not None and (scheme.lower() != "bearer" or given != self.token):  # scheme: any case
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self._fault(h.command, parts.path)
            self._authorize(h.command, parts.path, query, ctype)
            if h.command == "GET" and query.get("watch", [""])[0].lower() in ("true", "1"):
                self._stream(h, parts.path, query)
                return
            code, out = self.dispatch(h.command, parts.path.rstrip("/") or "/", query, body, ctype)
            h.send_json(code, out)
        except ApiError as exc:
            h.send_json(exc.code, exc.status())

    def _stream(self, h: Exchange, path: str, query: dict[str, list[str]]) -> None:
        """A watch: one JSON event a line, as a chunked response that ends with the watch."""
        r, ns, name, _ = self._parse(path)
        labels = query.get("labelSelector", [""])[0]
        fields = query.get("fieldSelector", [""])[0]
        if name is not None:
            fields = ",".join(x for x in (fields, f"metadata.name={name}") if x)
        timeout = float(query.get("timeoutSeconds", ["1800"])[0])
        events = self.watch(r, ns, labels, fields, query.get("resourceVersion", [""])[0], timeout)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            for line in events:
                data = (json.dumps(line) + "\n").encode()
                h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                h.wfile.flush()
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True

    def use_tls(self, directory: Path) -> Path:
        """Serve HTTPS (before ``start``) with a new self-signed certificate for 127.0.0.1, as a cluster's
        API server does; the certificate, which is its own CA (the pods' ``ca.crt``)."""
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / "apiserver.crt", directory / "apiserver.key"
        ext = "subjectAltName=IP:127.0.0.1,DNS:localhost"
        args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-addext", ext]
        subprocess.run(
            ["openssl", "req", "-x509", *args, "-subj", "/CN=fake-kube", "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.serve_tls(cert, key)
        self.ca = cert
        return cert

    def kubeconfig(self, path: Path, context: str = "fake", token: str | None = None) -> Path:
        token = token or self.token
        user: dict[str, Any] = {"token": token} if token else {}
        cluster: dict[str, Any] = {"server": self.base}
        if self.ca is not None:
            cluster["certificate-authority"] = str(self.ca)
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": context, "cluster": cluster}],
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
                    400: "BadRequest",
                    422: "Invalid",
                }
                raise ApiError(f.code, reasons.get(f.code, "InternalError"), f"injected fault {f.code}")

    def _by_path(self, group: str, version: str, plural: str) -> Resource:
        for r in self.resources:
            if r.group == group and r.version == version and r.plural == plural:
                return r
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

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

    # -- HTTP dispatch ----------------------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, ctype: str | None
    ) -> tuple[int, Obj]:
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            dry = query.get("dryRun", [])
            if any(v != "All" for v in dry):
                raise ApiError(
                    422,
                    "Invalid",
                    f'PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: {json.dumps(dry)}: '
                    'supported values: "All"',
                )
            if dry:
                with self.dry_run():
                    return self._dispatch(method, path, query, body, ctype)
        return self._dispatch(method, path, query, body, ctype)

    def _dispatch(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, ctype: str | None
    ) -> tuple[int, Obj]:
        if method == "GET":
            found = discovery(self.resources, path)
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
            return 201, self.create(r, ns, obj, strict=True)
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if method == "PUT":
            obj = parsed()
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the body must be an object")
            return 200, self.replace(r, ns, name, obj, status_only, strict=True)
        if method == "PATCH":
            force = query.get("force", [])
            if ctype == "application/apply-patch+yaml":
                manager = query.get("fieldManager", [""])[0]
                if not manager:
                    raise ApiError(
                        400,
                        "BadRequest",
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                        "is required for apply patch",
                    )
                if any(v not in ("true", "false") for v in force):
                    raise ApiError(400, "BadRequest", f"invalid force value {force!r}")
                if status_only:
                    raise ApiError(400, "BadRequest", "this fake does not apply to the status subresource")
                try:
                    doc = yaml.safe_load(body.decode() or "null")
                except (yaml.YAMLError, UnicodeDecodeError):
                    raise ApiError(400, "BadRequest", "the apply patch is not valid YAML") from None
                return self.apply(r, ns, name, doc, manager, force == ["true"])
            if force:
                raise ApiError(
                    400,
                    "BadRequest",
                    'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: '
                    "may not be specified for non-apply patch",
                )
            return 200, self.patch(r, ns, name, parsed(), ctype or "", status_only, strict=True)
        if method == "DELETE":
            return 200, self.delete(r, ns, name)
        raise ApiError(405, "MethodNotAllowed", "method not allowed")
