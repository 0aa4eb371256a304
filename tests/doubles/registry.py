"""A strict OCI distribution registry on 127.0.0.1 for tests (blobs, uploads, manifests, token auth).

- Pushing needs a bearer token from ``/token`` (HTTP Basic with a known user, scope
  ``repository:<name>:push``); the challenge is a real ``WWW-Authenticate: Bearer realm=...``.
- Pulls are anonymous when ``anonymous_pull`` (the simulated source-controller pulls that way).
- Uploads must carry the digest of their body; a manifest must be valid JSON of the media type in its
  Content-Type and reference blobs that exist. Errors use the distribution spec's error format.
- Every request is logged with its Authorization header (to prove where credentials went).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from doubles.http import Exchange, HttpDouble

MANIFEST_TYPES = {"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"}
_NAME = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None


@dataclass
class Store:
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # digest -> (media type, body)
    tags: dict[tuple[str, str], str] = field(default_factory=dict)  # (repo, tag) -> digest
    uploads: dict[str, str] = field(default_factory=dict)  # uuid -> repo


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _error(h: Exchange, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    """An error in the distribution spec's format."""
    h.send_json(status, {"errors": [{"code": code, "message": message}]}, headers or {})


class FakeRegistry(HttpDouble):
    methods = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, users: dict[str, str], anonymous_pull: bool = True, realm: str | None = None) -> None:
        self.users = users
        self.realm = realm  # where the challenge sends clients for a token (default: our own /token)
        self.anonymous_pull = anonymous_pull
        self.store = Store()
        self.log: list[Seen] = []
        self.tokens: dict[str, set[str]] = {}  # token -> scopes granted
        self._lock = threading.Lock()
        super().__init__()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def handle(self, h: Exchange) -> None:
        body = h.body()
        parts = urlsplit(h.path)
        self.log.append(Seen(h.command, h.path, h.headers.get("Authorization")))
        with self._lock:
            try:
                self.route(h, parts.path, parse_qs(parts.query), body)
            except Exception as exc:  # a bug in the fake shows up as a 500 the test will see
                _error(h, 500, "UNKNOWN", repr(exc))

    # -- auth -------------------------------------------------------------------------------------------
    def _challenge(self, h: Exchange, repo: str, action: str) -> None:
        realm = self.realm or f"http://{self.host}/token"
        _error(
            h,
            401,
            "UNAUTHORIZED",
            "authentication required",
            {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake-registry",scope="repository:{repo}:{action}"'},
        )

    def _allowed(self, h: Exchange, repo: str, action: str) -> bool:
        if action == "pull" and self.anonymous_pull:
            return True
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        return f"repository:{repo}:{action}" in self.tokens.get(auth[7:], set())

    def _refused(self, h: Exchange, repo: str, action: str) -> bool:
        """Answer the auth challenge (and say so) unless the caller may ``action`` on ``repo``."""
        if self._allowed(h, repo, action):
            return False
        self._challenge(h, repo, "push,pull" if action == "push" else action)
        return True

    def _token(self, h: Exchange, query: dict[str, list[str]]) -> None:
        auth = h.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            user = name if self.users.get(name) == password and password else None
        if user is None:
            _error(h, 401, "UNAUTHORIZED", "invalid username or password")
            return
        if query.get("service") != ["fake-registry"]:
            _error(h, 400, "DENIED", "unknown service")
            return
        granted: set[str] = set()
        for scope in " ".join(query.get("scope", [])).split():
            m = re.match(rf"^repository:({_NAME}):([a-z,]+)$", scope)
            if m:
                granted.update(f"repository:{m.group(1)}:{a}" for a in m.group(2).split(","))
        token = secrets.token_hex(16)
        self.tokens[token] = granted
        h.send_json(200, {"token": token})

    # -- routes -----------------------------------------------------------------------------------------
    def route(self, h: Exchange, path: str, query: dict[str, list[str]], body: bytes) -> None:
        m = h.command
        if path == "/token" and m == "GET":
            self._token(h, query)
            return
        if path == "/v2/" and m == "GET":
            h.send_json(200, {})
            return
        blob = re.match(rf"^/v2/({_NAME})/blobs/(sha256:[0-9a-f]{{64}})$", path)
        uploads = re.match(rf"^/v2/({_NAME})/blobs/uploads/$", path)
        upload = re.match(rf"^/v2/({_NAME})/blobs/uploads/([0-9a-f]{{32}})$", path)
        manifest = re.match(
            rf"^/v2/({_NAME})/manifests/([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}|sha256:[0-9a-f]{{64}})$", path
        )
        if blob and m in ("GET", "HEAD"):
            repo, digest = blob.groups()
            if self._refused(h, repo, "pull"):
                pass
            elif digest in self.store.blobs:
                data = self.store.blobs[digest]
                h.reply(200, data, {"Docker-Content-Digest": digest, "Content-Type": "application/octet-stream"})
            else:
                _error(h, 404, "BLOB_UNKNOWN", f"blob {digest} unknown")
        elif uploads and m == "POST":
            repo = uploads.group(1)
            if self._refused(h, repo, "push"):
                return
            uid = secrets.token_hex(16)
            self.store.uploads[uid] = repo
            h.reply(202, b"", {"Location": f"/v2/{repo}/blobs/uploads/{uid}", "Docker-Upload-UUID": uid})
        elif upload and m == "PUT":
            repo, uid = upload.groups()
            if self._refused(h, repo, "push"):
                return
            if self.store.uploads.get(uid) != repo:
                _error(h, 404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
                return
            digest = (query.get("digest") or [""])[0]
            if digest != sha(body):
                _error(h, 400, "DIGEST_INVALID", f"provided digest {digest!r} does not match the content")
                return
            del self.store.uploads[uid]
            self.store.blobs[digest] = body
            h.reply(201, b"", {"Location": f"/v2/{repo}/blobs/{digest}", "Docker-Content-Digest": digest})
        elif manifest and m == "PUT":
            repo, ref = manifest.groups()
            if self._refused(h, repo, "push"):
                return
            ctype = h.headers.get("Content-Type", "")
            try:
                doc = json.loads(body)
            except ValueError:
                _error(h, 400, "MANIFEST_INVALID", "not JSON")
                return
            if ctype not in MANIFEST_TYPES or doc.get("mediaType") != ctype or doc.get("schemaVersion") != 2:
                _error(h, 400, "MANIFEST_INVALID", f"media type {ctype!r} does not match the manifest")
                return
            for d in [doc.get("config") or {}, *(doc.get("layers") or [])]:
                if d.get("digest") not in self.store.blobs or len(self.store.blobs[d["digest"]]) != d.get("size"):
                    _error(h, 400, "MANIFEST_BLOB_UNKNOWN", f"blob {d.get('digest')} unknown or of another size")
                    return
            digest = sha(body)
            self.store.manifests[digest] = (ctype, body)
            if not ref.startswith("sha256:"):
                self.store.tags[(repo, ref)] = digest
            h.reply(201, b"", {"Location": f"/v2/{repo}/manifests/{digest}", "Docker-Content-Digest": digest})
        elif manifest and m in ("GET", "HEAD"):
            repo, ref = manifest.groups()
            if self._refused(h, repo, "pull"):
                return
            digest = ref if ref.startswith("sha256:") else self.store.tags.get((repo, ref))
            if digest is None or digest not in self.store.manifests:
                _error(h, 404, "MANIFEST_UNKNOWN", f"manifest {ref} unknown")
                return
            ctype, data = self.store.manifests[digest]
            accept = h.headers.get("Accept", "")
            if accept and ctype not in accept and "*/*" not in accept:
                _error(h, 404, "MANIFEST_UNKNOWN", f"no manifest of the accepted types {accept!r}")
                return
            h.reply(200, data, {"Content-Type": ctype, "Docker-Content-Digest": digest})
        else:
            _error(h, 405 if path.startswith("/v2/") else 404, "UNSUPPORTED", f"{m} {path} is not supported")

    # -- helpers for tests ----------------------------------------------------------------------------------
    def manifest(self, repo: str, tag: str) -> tuple[str, dict[str, Any]]:
        digest = self.store.tags[(repo, tag)]
        return digest, json.loads(self.store.manifests[digest][1])
