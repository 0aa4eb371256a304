"""What every simulated controller shares: the fake API server and the repositories it reads,
injected failures, status writes, and applying objects the way the controllers apply them."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from pathlib import Path

from doubles.kube import ApiError, FakeKube
from doubles.kube.resources import Obj

FLUX_KS = "kustomize.toolkit.fluxcd.io"
_DUR = re.compile(r"([0-9.]+)(ms|s|m|h)")


def seconds(duration: str | None, default: float) -> float:
    if not duration:
        return default
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in _DUR.findall(duration)) or default


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def cond(ctype: str, status: str, reason: str, message: str, gen: int) -> Obj:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": gen,
        "lastTransitionTime": now(),
    }


def failing(obj: Obj) -> bool:
    """A workload that never becomes ready: one of its images has ``fail`` in its name."""
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return any("fail" in str(c.get("image", "")) for c in pod.get("containers") or [])


class Controllers:
    def __init__(self, kube: FakeKube, repos: dict[str, Path]) -> None:
        self.kube = kube
        self.repos = repos
        self.failures: dict[tuple[str, str], str] = {}  # (kind, name) -> injected failure message
        # dependency-requeue-interval (30s in the real controller), scaled down like everything here
        self.requeue = 0.2
        self._requeue: dict[tuple[str, str, str], float] = {}
        self._oci_artifacts: dict[str, dict[str, str]] = {}  # revision -> files (source-controller's storage)

    def fail_next(self, kind: str, name: str, message: str) -> None:
        self.failures[(kind, name)] = message

    def _bare(self, url: str) -> Path | None:
        norm = url.rstrip("/").removesuffix(".git")
        for u, p in self.repos.items():
            if u.rstrip("/").removesuffix(".git") == norm:
                return p
        return None

    def _status(self, obj: Obj, status: Obj) -> None:
        meta = obj["metadata"]
        requested = (meta.get("annotations") or {}).get("reconcile.fluxcd.io/requestedAt")
        if requested:
            status["lastHandledReconcileAt"] = requested
        self.kube.patch_status(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"], status)

    def _apply(
        self,
        docs: list[Obj],
        namespace: str | None,
        labels: dict[str, str],
        annotations: dict[str, str],
        create_ns: bool = False,
        tracking: Callable[[Obj], str] | None = None,
        flux_messages: bool = False,
    ) -> tuple[list[Obj], str | None]:
        """Apply docs like the controller; (applied, error). ``flux_messages``: errors worded as
        kustomize-controller words them (seen on the testbed), naming <Kind>/<namespace>/<name>."""
        out = []
        for d in docs:
            d = copy.deepcopy(d)
            try:
                r = self.kube.resource_for(str(d.get("apiVersion")), str(d.get("kind")))
            except ApiError:
                name = (d.get("metadata") or {}).get("name")
                if flux_messages:
                    name = f"{namespace or (d.get('metadata') or {}).get('namespace') or 'default'}/{name}"
                return out, (
                    f"{d.get('kind')}/{name} dry-run failed: no matches for "
                    f'kind "{d.get("kind")}" in version "{d.get("apiVersion")}"'
                )
            meta = d.setdefault("metadata", {})
            if r.namespaced:
                meta["namespace"] = namespace or meta.get("namespace") or "default"
                in_build = any(
                    x.get("kind") == "Namespace" and x["metadata"]["name"] == meta["namespace"] for x in docs
                )
                if in_build or create_ns:
                    self.kube.ensure_namespace(meta["namespace"])
                if self.kube.find("v1", "Namespace", None, meta["namespace"]) is None:
                    missing = f'namespaces "{meta["namespace"]}" not found'
                    if flux_messages:
                        missing = f"{d.get('kind')}/{meta['namespace']}/{meta.get('name')} not found: {missing}"
                    return out, missing
            meta.setdefault("labels", {}).update(labels)
            if annotations or tracking:
                meta.setdefault("annotations", {}).update(annotations)
                if tracking:
                    meta["annotations"]["argocd.argoproj.io/tracking-id"] = tracking(d)
            live = self.kube.find(d["apiVersion"], d["kind"], meta.get("namespace"), meta["name"])
            if live is not None:  # like server-side apply: fields of other managers (annotations, labels) stay
                for field in ("annotations", "labels"):
                    merged = {**((live.get("metadata") or {}).get(field) or {}), **(meta.get(field) or {})}
                    if merged:
                        meta[field] = merged
            stored = self.kube.put(d)
            if d["kind"] in ("Deployment", "StatefulSet") and not failing(d):
                replicas = (d.get("spec") or {}).get("replicas", 1)
                self.kube.patch_status(
                    d["apiVersion"],
                    d["kind"],
                    meta.get("namespace"),
                    meta["name"],
                    {
                        "observedGeneration": stored["metadata"]["generation"],
                        "replicas": replicas,
                        "readyReplicas": replicas,
                        "updatedReplicas": replicas,
                        "availableReplicas": replicas,
                    },
                )
            out.append(stored)
        return out, None
