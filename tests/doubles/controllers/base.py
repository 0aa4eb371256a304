"""What every simulated controller shares: the fake API server and the repositories it reads,
injected failures, status writes, and applying objects the way the controllers apply them."""

from __future__ import annotations

import copy
import random
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

    def record(self, obj: Obj, etype: str, reason: str, message: str, component: str) -> None:
        """An Event about ``obj``, as client-go's recorder writes it (core/v1; the same reason and
        message again counts up the existing Event)."""
        meta = obj["metadata"]
        about = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        }
        sel = (
            f"involvedObject.uid={meta.get('uid')},reason={reason}"
            if reason
            else f"involvedObject.uid={meta.get('uid')}"
        )
        r = self.kube.resource_for("v1", "Event")
        ns = meta.get("namespace") or "default"
        same = [e for e in self.kube.list(r, ns, "", sel) if e.get("message") == message and e.get("type") == etype]
        if same:
            ev = same[0]
            ev.update(count=int(ev.get("count") or 1) + 1, lastTimestamp=now())
            self.kube.replace(r, ns, ev["metadata"]["name"], ev)
            return
        self.kube.create(
            r,
            ns,
            {
                "metadata": {"generateName": f"{meta['name']}."},
                "involvedObject": about,
                "type": etype,
                "reason": reason,
                "message": message,
                "source": {"component": component},
                "reportingComponent": component,
                "count": 1,
                "firstTimestamp": now(),
                "lastTimestamp": now(),
            },
        )

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
        kustomize-controller words them (seen on the testbed), naming <Kind>/<namespace>/<name> and
        ending with a newline."""
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
                    f'kind "{d.get("kind")}" in version "{d.get("apiVersion")}"' + ("\n" if flux_messages else "")
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
                        missing = f"{d.get('kind')}/{meta['namespace']}/{meta.get('name')} not found: {missing}\n"
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
            try:
                stored = self.kube.put(d)
            except ApiError as e:  # refused by the API server (the real controllers' dry run is)
                if flux_messages:
                    return out, f"{d['kind']}/{meta.get('namespace')}/{meta['name']} dry-run failed ({e.reason}): {e}\n"
                if live is None:  # Argo CD: its dry run refuses a new object (seen on the testbed)
                    return out, str(e)
                # an object that exists: kubectl's words (Argo CD applies it from a temporary file)
                return out, f'error when patching "/dev/shm/{random.randrange(10**9, 10**10)}": {e}'
            self._workload_status(d, stored)
            out.append(stored)
        return out, None

    def _workload_status(self, d: Obj, stored: Obj) -> None:
        """What the cluster's own controllers report for an applied workload: ready replicas; a failing
        Deployment's progress deadline passed (scaled down: at once); a failing Job's backoff limit."""
        meta = d["metadata"]
        if d["kind"] == "Deployment" and failing(d):
            rs = f"{meta['name']}-{stored['metadata']['generation']:x}5f7c"
            self.kube.patch_status(
                d["apiVersion"],
                d["kind"],
                meta.get("namespace"),
                meta["name"],
                {
                    "observedGeneration": stored["metadata"]["generation"],
                    "replicas": (d.get("spec") or {}).get("replicas", 1),
                    "updatedReplicas": (d.get("spec") or {}).get("replicas", 1),
                    "unavailableReplicas": (d.get("spec") or {}).get("replicas", 1),
                    "conditions": [
                        cond(
                            "Available",
                            "False",
                            "MinimumReplicasUnavailable",
                            "Deployment does not have minimum availability.",
                            0,
                        ),
                        cond(
                            "Progressing",
                            "False",
                            "ProgressDeadlineExceeded",
                            f'ReplicaSet "{rs}" has timed out progressing.',
                            0,
                        ),
                    ],
                },
            )
        if d["kind"] == "Job":
            done = ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            if not failing(d):
                done = ("Complete", "", "")
            self.kube.patch_status(
                d["apiVersion"],
                "Job",
                meta.get("namespace"),
                meta["name"],
                {
                    "conditions": [cond(done[0], "True", done[1], done[2], 0)],
                    "failed" if failing(d) else "succeeded": 1,
                },
            )
            if failing(d):
                self.record(stored, "Warning", done[1], done[2], "job-controller")
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
