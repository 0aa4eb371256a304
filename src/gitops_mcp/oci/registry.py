"""Pushing an artifact to an OCI registry (distribution spec v1.1) with httpx: blob uploads,
the manifest, Basic or token auth with credentials only for allowed hosts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from gitops_mcp.oci.artifact import MANIFEST_TYPE, MediaTypes, OciError, OciRef, digest_of, manifest_for
from gitops_mcp.scrub import register_secrets, scrub
from gitops_mcp.settings import Settings

# -- the registry ------------------------------------------------------------------------------------------


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


class Registry:
    """One repository on one registry: blob uploads and manifest pushes, with Basic or token auth."""

    def __init__(self, ref: OciRef, settings: Settings) -> None:
        import httpx

        self.ref = ref
        self.settings = settings
        self._httpx = httpx
        self._client = httpx.Client(timeout=settings.oci_timeout_seconds, follow_redirects=False)
        self._auth: str | None = None  # Authorization header for the registry host

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _basic(self) -> str | None:
        s = self.settings
        if not (s.oci_username and s.oci_password):
            return None
        import base64

        raw = f"{s.oci_username}:{s.oci_password.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _login(self, challenge: str) -> None:
        scheme, params = _challenge(challenge)
        basic = self._basic()
        if scheme == "basic":
            if basic is None:
                raise OciError(
                    f"the registry {self.ref.host} wants credentials: set GITOPS_MCP_OCI_USERNAME and "
                    "GITOPS_MCP_OCI_PASSWORD"
                )
            self._auth = basic
            return
        if scheme != "bearer" or "realm" not in params:
            raise OciError(f"the registry {self.ref.host} asks for an authentication scheme we do not speak")
        realm = params["realm"]
        parts = urlsplit(realm)
        realm_host = parts.netloc.lower()
        own = urlsplit(self.ref.base).netloc.lower()
        allowed = {h.lower() for h in self.settings.allowed_oci_hosts}
        if realm_host != own and realm_host not in allowed:
            raise OciError(
                f"the registry {self.ref.host} sends us to the token service {realm_host}, which is not in "
                "GITOPS_MCP_ALLOWED_OCI_HOSTS; no credentials were sent"
            )
        if parts.scheme != "https" and not (parts.scheme == "http" and self.ref.scheme == "http"):
            raise OciError(f"the token service {realm_host} is not https; no credentials were sent")
        query = {"scope": f"repository:{self.ref.repository}:pull,push"}
        if "service" in params:
            query["service"] = params["service"]
        headers = {"Authorization": basic} if basic else {}
        try:
            r = self._client.get(realm, params=query, headers=headers)
        except self._httpx.HTTPError as exc:
            raise OciError(f"the token service {realm_host} failed: {scrub(str(exc))}") from None
        if r.status_code in (401, 403):
            raise OciError(
                f"the registry {self.ref.host} refused the credentials for {self.ref.repository} (HTTP "
                f"{r.status_code}); set GITOPS_MCP_OCI_USERNAME / GITOPS_MCP_OCI_PASSWORD to an account that may "
                "push there"
            )
        if r.status_code != 200:
            raise OciError(f"the token service {realm_host} answered HTTP {r.status_code}")
        body = r.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise OciError(f"the token service {realm_host} returned no token")

        register_secrets([token])
        self._auth = f"Bearer {token}"

    def _request(
        self, method: str, url: str, *, content: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        full = urljoin(self.ref.base + "/", url)
        if urlsplit(full).netloc.lower() != urlsplit(self.ref.base).netloc.lower():
            raise OciError(f"the registry {self.ref.host} sent us to another host ({urlsplit(full).netloc}); refused")
        for attempt in range(2):
            h = dict(headers or {})
            if self._auth:
                h["Authorization"] = self._auth
            try:
                r = self._client.request(method, full, content=content, headers=h)
            except self._httpx.HTTPError as exc:
                raise OciError(f"the registry {self.ref.host} cannot be reached: {scrub(str(exc))}") from None
            if r.status_code == 401 and attempt == 0:
                self._login(r.headers.get("WWW-Authenticate", ""))
                continue
            return r
        return r

    def _fail(self, r: Any, what: str) -> OciError:
        detail = ""
        try:
            errors = r.json().get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
        except ValueError:
            detail = r.text[:300]
        if r.status_code in (401, 403):
            return OciError(
                f"the registry {self.ref.host} refused to let us {what} (HTTP {r.status_code}: {scrub(detail)}); "
                "check GITOPS_MCP_OCI_USERNAME / GITOPS_MCP_OCI_PASSWORD and the repository's permissions"
            )
        return OciError(f"the registry {self.ref.host} failed to {what}: HTTP {r.status_code} {scrub(detail)}")

    def push_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        repo = self.ref.repository
        head = self._request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if head.status_code == 200:
            return digest
        r = self._request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        if r.status_code != 202 or "Location" not in r.headers:
            raise self._fail(r, f"start a blob upload to {repo}")
        location = r.headers["Location"]
        sep = "&" if "?" in location else "?"
        r = self._request(
            "PUT",
            f"{location}{sep}digest={digest}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if r.status_code != 201:
            raise self._fail(r, f"upload the blob {digest[:19]}")
        return digest

    def push_manifest(self, manifest: bytes) -> str:
        r = self._request(
            "PUT",
            f"/v2/{self.ref.repository}/manifests/{self.ref.tag}",
            content=manifest,
            headers={"Content-Type": MANIFEST_TYPE},
        )
        if r.status_code != 201:
            raise self._fail(r, f"store the manifest {self.ref.repository}:{self.ref.tag}")
        digest = digest_of(manifest)
        said = r.headers.get("Docker-Content-Digest")
        if said and said != digest:
            raise OciError(f"the registry stored the manifest as {said}, not {digest}; refusing to trust it")
        return digest


def push(ref: OciRef, settings: Settings, layer: bytes, annotations: Mapping[str, str], types: MediaTypes) -> str:
    """Push layer, config and manifest (of the engine's media ``types``); the manifest digest."""
    config = b"{}"
    manifest = manifest_for(layer, config, annotations, types)
    with Registry(ref, settings) as reg:
        reg.push_blob(config)
        reg.push_blob(layer)
        return reg.push_manifest(manifest)
