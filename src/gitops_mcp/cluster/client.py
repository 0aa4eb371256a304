"""A small Kubernetes client on the official ``kubernetes`` package (imported lazily).

Kubeconfig from settings, ``KUBECONFIG`` or ``~/.kube/config`` (context from settings or per
call), else the in-cluster service account. API errors become :class:`ClusterError` with a
message that says what to do; transient ones (429, 5xx, connection failures) are retried
with backoff, a bounded number of times.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_mcp.clock import SYSTEM, Clock
from gitops_mcp.errors import ClusterError, ClusterUnavailable
from gitops_mcp.providers.live import Obj, api_group
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.scrub import scrub
from gitops_mcp.settings import Settings

__all__ = ["FIELD_MANAGER", "KubeClient", "Obj", "ResourceInfo"]
FIELD_MANAGER = "gitops-mcp"
RETRIES = 3
_TRANSIENT = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class ResourceInfo:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return api_group(self.api_version)

    @property
    def version(self) -> str:
        return self.api_version.rsplit("/", 1)[-1]

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{self.api_version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return base + (f"/{name}" if name else "")


def _message(status: int, body: str, what: str) -> str:
    try:
        msg = json.loads(body).get("message") or body
    except ValueError:
        msg = body
    msg = scrub(str(msg))[:500]
    hints = {
        401: "the cluster refused the credentials; check the kubeconfig user or token",
        403: "the credentials are not allowed to do this; check the RBAC of the kubeconfig user",
        404: "not found",
        409: "conflict: the object changed meanwhile; retry",
    }
    hint = hints.get(status, "")
    return f"{what}: {status} {msg}" + (f" ({hint})" if hint and hint not in msg else "")


class KubeClient:
    """One API client for one kubeconfig context.

    The plural and scope of the kinds the registry's providers manage are known without
    discovery (in any version of their group); other kinds (every kind, without a registry) are
    discovered once.
    """

    def __init__(
        self,
        settings: Settings,
        context: str | None = None,
        registry: ProviderRegistry | None = None,
        clock: Clock = SYSTEM,
    ) -> None:
        from kubernetes import client, config

        self.clock = clock  # what its retries and the waits on it read
        self.timeout = settings.kube_timeout_seconds
        cfg = client.Configuration()
        path = settings.kubeconfig or (Path(p) if (p := os.environ.get("KUBECONFIG")) else None)
        default = Path.home() / ".kube" / "config"
        ctx = context or settings.kube_context
        try:
            if path is not None or default.exists():
                config.load_kube_config(
                    config_file=str(path or default), context=ctx, client_configuration=cfg, persist_config=False
                )
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=cfg)
            else:
                raise ClusterUnavailable(
                    "no Kubernetes cluster is configured: set GITOPS_MCP_KUBECONFIG or KUBECONFIG (or run in a pod)"
                )
        except config.ConfigException as exc:
            raise ClusterUnavailable(f"cannot load the kubeconfig: {scrub(str(exc))}") from None
        self.context = ctx
        self.host = cfg.host
        self._api = client.ApiClient(cfg)
        self._resources: dict[tuple[str, str], ResourceInfo] = {}
        self._known = {
            (k.group, k.kind): (k.plural, k.namespaced) for _, k in (registry.kinds() if registry is not None else ())
        }

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw requests -----------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        what: str = "",
    ) -> Obj:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        what = what or f"{method} {path}"
        delay = 0.2
        for attempt in range(RETRIES):
            try:
                params = self._api.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=list((query or {}).items()),
                    header_params=headers,
                    body=body,
                    auth_settings=["BearerToken"],
                )
                resp = self._api.call_api(*params, _request_timeout=self.timeout)
                resp.read()
                status, data = resp.status, resp.data.decode() if isinstance(resp.data, bytes) else str(resp.data)
            except ApiException as exc:
                status, data = exc.status or 0, exc.body or str(exc.reason)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if attempt + 1 < RETRIES:
                    self.clock.sleep(delay)
                    delay *= 2
                    continue
                raise ClusterUnavailable(
                    f"the Kubernetes API at {self.host} is unreachable: {scrub(str(exc))}"
                ) from None
            if 200 <= status < 300:
                return json.loads(data) if data else {}
            if status in _TRANSIENT and attempt + 1 < RETRIES:
                self.clock.sleep(delay)
                delay *= 2
                continue
            raise ClusterError(_message(status, data, what), status)
        raise ClusterError(f"{what}: no answer after {RETRIES} attempts")

    # -- discovery ------------------------------------------------------------------------------------
    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        key = (api_version, kind)
        if key in self._resources:
            return self._resources[key]
        group = api_group(api_version)
        known = self._known.get((group, kind))
        if known is not None:
            info = ResourceInfo(api_version, kind, known[0], known[1])
        else:
            path = f"/apis/{api_version}" if group else f"/api/{api_version}"
            try:
                listing = self.request("GET", path, what=f"discover {api_version}")
            except ClusterError as exc:
                if exc.status == 404:
                    raise ClusterError(f"the cluster does not serve {api_version}", 404) from None
                raise
            match = next(
                (r for r in listing.get("resources", []) if r.get("kind") == kind and "/" not in r["name"]), None
            )
            if match is None:
                raise ClusterError(f"the cluster does not serve {kind} in {api_version}", 404)
            info = ResourceInfo(api_version, kind, match["name"], bool(match.get("namespaced")))
        self._resources[key] = info
        return info

    # -- objects ----------------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        r = self.resource(api_version, kind)
        try:
            return self.request("GET", r.path(namespace, name), what=f"get {kind} {namespace}/{name}")
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], str]:
        r = self.resource(api_version, kind)
        query = {"labelSelector": label_selector} if label_selector else {}
        if field_selector:
            query["fieldSelector"] = field_selector
        out = self.request("GET", r.path(namespace), query, what=f"list {kind}")
        return list(out.get("items") or []), str((out.get("metadata") or {}).get("resourceVersion") or "")

    def patch_merge(self, api_version: str, kind: str, name: str, namespace: str | None, patch: Obj) -> Obj:
        r = self.resource(api_version, kind)
        return self.request(
            "PATCH",
            r.path(namespace, name),
            body=patch,
            content_type="application/merge-patch+json",
            what=f"patch {kind} {namespace}/{name}",
        )

    def apply(self, obj: Obj, dry_run: bool) -> Obj:
        """Server-side apply of ``obj`` (field manager ``gitops-mcp``, never forcing ownership of
        fields another manager owns); ``dry_run``: the API server checks everything (RBAC, schema,
        admission) and stores nothing. The object as the server has (or would have) it.

        Raises:
            ClusterError: with the API server's own reason (403, 404 for a kind it does not serve,
                409 for a field conflict, 422/400 for a rejected object).
        """
        meta = obj.get("metadata") or {}
        kind, name, namespace = str(obj.get("kind")), str(meta.get("name") or ""), meta.get("namespace")
        r = self.resource(str(obj.get("apiVersion")), kind)
        if not name or (r.namespaced and not namespace):
            raise ClusterError(
                f"apply {kind} {name or '?'}: the object needs a name" + (" and a namespace" if r.namespaced else "")
            )
        query = {"fieldManager": FIELD_MANAGER, "force": "false"}
        if dry_run:
            query["dryRun"] = "All"
        where = f"{namespace}/{name}" if r.namespaced else name
        return self.request(
            "PATCH",
            r.path(namespace if r.namespaced else None, name),
            query,
            body=obj,
            content_type="application/apply-patch+yaml",
            what=f"{'dry-run apply' if dry_run else 'apply'} {kind} {where}",
        )

    def create(self, obj: Obj, dry_run: bool) -> Obj:
        """Create ``obj`` (POST, field manager ``gitops-mcp``): needs only the ``create`` verb, where an
        apply needs ``patch`` too. 409 when it exists.

        Raises:
            ClusterError: with the API server's own reason.
        """
        meta = obj.get("metadata") or {}
        kind, name, namespace = str(obj.get("kind")), str(meta.get("name") or ""), meta.get("namespace")
        r = self.resource(str(obj.get("apiVersion")), kind)
        query = {"fieldManager": FIELD_MANAGER} | ({"dryRun": "All"} if dry_run else {})
        return self.request(
            "POST",
            r.path(namespace if r.namespaced else None),
            query,
            body=obj,
            content_type="application/json",
            what=f"{'dry-run create' if dry_run else 'create'} {kind} {name}",
        )

    def watch(
        self, api_version: str, kind: str, name: str, namespace: str | None, resource_version: str, timeout_s: float
    ) -> Iterator[tuple[str, Obj]]:
        """Events for one object from ``resource_version`` until the server ends the stream.

        Raises:
            ClusterError: status 410 when the resource version is too old (list again).
        """
        from kubernetes import client, watch
        from kubernetes.client.exceptions import ApiException

        r = self.resource(api_version, kind)
        co = client.CustomObjectsApi(self._api)
        kwargs: dict[str, Any] = {
            "field_selector": f"metadata.name={name}",
            "resource_version": resource_version,
            "timeout_seconds": max(1, int(timeout_s)),
            "_request_timeout": timeout_s + 30,
        }
        w = watch.Watch()
        try:
            if r.namespaced and namespace:
                stream = w.stream(co.list_namespaced_custom_object, r.group, r.version, namespace, r.plural, **kwargs)
            else:
                stream = w.stream(co.list_cluster_custom_object, r.group, r.version, r.plural, **kwargs)
            for ev in stream:
                yield str(ev["type"]), dict(ev["object"])
        except ApiException as exc:
            raise ClusterError(
                _message(exc.status or 0, exc.body or str(exc.reason), f"watch {kind}"), exc.status
            ) from None
        finally:
            w.stop()
