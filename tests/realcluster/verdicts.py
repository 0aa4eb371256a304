"""What the real controllers made of a deployment: Ready at the pushed revision, or why not, and
whether the reason is the testbed's (a source outside its loopback-only network, a controller it
does not run) rather than the generated file's."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gitops_testbed.procs import TestbedError

from .conftest import Testbed

FLUX_SOURCES = {"GitRepository", "HelmRepository", "OCIRepository", "Bucket"}
FLUX_KINDS = {
    "Kustomization": "kustomizations.kustomize.toolkit.fluxcd.io",
    "HelmRelease": "helmreleases.helm.toolkit.fluxcd.io",
    "GitRepository": "gitrepositories.source.toolkit.fluxcd.io",
    "HelmRepository": "helmrepositories.source.toolkit.fluxcd.io",
    "OCIRepository": "ocirepositories.source.toolkit.fluxcd.io",
    "Bucket": "buckets.source.toolkit.fluxcd.io",
    "HelmChart": "helmcharts.source.toolkit.fluxcd.io",
    "ExternalArtifact": "externalartifacts.source.toolkit.fluxcd.io",
}
# What a real Flux install has and the testbed does not run (source-watcher): its kinds
TESTBED_LACKS = {"ArtifactGenerator": "source-watcher (ArtifactGenerator) does not run in the testbed"}


@dataclass
class Observed:
    ready: bool
    message: str  # the controller's own words when not ready
    blocked: str | None = None  # the testbed's reason, when it is the testbed's
    objects: list[str] = field(default_factory=list)


def _get(tb: Testbed, kind: str, name: str, ns: str) -> dict[str, Any] | None:
    try:
        return json.loads(tb.kubectl("get", FLUX_KINDS.get(kind, kind), name, "-n", ns, "-o", "json"))  # type: ignore[no-any-return]
    except TestbedError:
        return None


def _ready(obj: dict[str, Any]) -> tuple[bool, str]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True", str(c.get("message", ""))
    return False, "not reconciled yet"


def _outside(url: str) -> bool:
    host = urlsplit(url if "://" in url else "ssh://" + url.replace(":", "/", 1)).hostname or ""
    return host not in ("127.0.0.1", "localhost", "::1")


def testbed_reason(tb: Testbed, kind: str, name: str, ns: str, seen: set[str] | None = None) -> str | None:
    """Why the Flux object is not Ready when the reason is the testbed's, else None."""
    seen = set() if seen is None else seen
    key = f"{kind}/{ns}/{name}"
    if key in seen:
        return None
    seen.add(key)
    obj = _get(tb, kind, name, ns)
    if obj is None:
        return None
    ok, msg = _ready(obj)
    if ok:
        return None
    for lacked, why in TESTBED_LACKS.items():
        if f'"{lacked}"' in msg or f"kind {lacked}" in msg:
            return f"{kind} {name}: {why}"
    spec = obj.get("spec") or {}
    if kind in FLUX_SOURCES and _outside(str(spec.get("url", ""))):
        return f"{kind} {ns}/{name} fetches {spec.get('url')}, outside the testbed's loopback network"
    refs: list[tuple[str, str, str]] = []
    src = (
        spec.get("sourceRef") or ((spec.get("chart") or {}).get("spec") or {}).get("sourceRef") or spec.get("chartRef")
    )
    if src:
        refs.append((src.get("kind", ""), src.get("name", ""), src.get("namespace") or ns))
    if kind == "HelmRelease":
        refs.append(("HelmChart", f"{ns}-{name}", (src or {}).get("namespace") or ns))
    refs += [("Kustomization" if kind == "Kustomization" else "HelmRelease", d["name"], d.get("namespace") or ns)
             for d in spec.get("dependsOn") or []]  # fmt: skip
    for entry in ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []:
        e_ns, e_name, _group, e_kind = entry["id"].split("_", 3)
        if e_kind in FLUX_KINDS:
            refs.append((e_kind, e_name, e_ns))
    for r_kind, r_name, r_ns in refs:
        if r_kind in FLUX_KINDS:
            reason = testbed_reason(tb, r_kind, r_name, r_ns, seen)
            if reason:
                return reason
    return None


def observe_flux(tb: Testbed, kind: str, name: str, ns: str, head: str) -> Observed:
    obj = _get(tb, kind, name, ns)
    if obj is None:
        return Observed(False, f"{kind} {ns}/{name} is not in the cluster")
    ok, msg = _ready(obj)
    status = obj.get("status") or {}
    if kind == "Kustomization":
        at = status.get("lastAppliedRevision") == f"main@sha1:{head}"
    else:  # a chart from Git, reconcileStrategy Revision: the chart version carries the commit
        at = head[:12] in str(status.get("lastAttemptedRevision", ""))
    if ok and at:
        return Observed(True, "")
    where = f" (at {status.get('lastAppliedRevision') or status.get('lastAttemptedRevision')}, pushed {head[:12]})"
    return Observed(False, f"{kind} {name}: {msg}{where}", testbed_reason(tb, kind, name, ns))


def observe_app(tb: Testbed, name: str, head: str) -> Observed:
    app = _get(tb, "application", name, "argocd")
    if app is None:
        return Observed(False, f"Application {name} is not in the cluster")
    st = app.get("status") or {}
    sync, health = st.get("sync") or {}, (st.get("health") or {}).get("status")
    if sync.get("status") == "Synced" and sync.get("revision") == head and health == "Healthy":
        return Observed(True, "")
    said = [c.get("message", "") for c in st.get("conditions") or []]
    said.append(str((st.get("operationState") or {}).get("message", "")))
    msg = f"Application {name}: sync {sync.get('status')} at {str(sync.get('revision'))[:12]}, health {health}: "
    msg += "; ".join(s for s in said if s)[:400]
    # Argo CD 3 keeps each resource's health out of the Application: look at what it applied
    for r in st.get("resources") or []:
        reason = None
        if r["kind"] in FLUX_KINDS:
            reason = testbed_reason(tb, r["kind"], r["name"], r.get("namespace", ""))
        elif r["kind"] == "Application":
            child = _get(tb, "application", r["name"], r.get("namespace", "argocd")) or {}
            url = str(((child.get("spec") or {}).get("source") or {}).get("repoURL", ""))
            reason = f"Application {r['name']} reads {url}, outside the testbed" if _outside(url) else None
        elif r["kind"] == "HorizontalPodAutoscaler" and health == "Degraded":
            hpa = _get(tb, "horizontalpodautoscaler", r["name"], r.get("namespace", "")) or {}
            why = [c.get("reason") for c in (hpa.get("status") or {}).get("conditions") or []]
            reason = f"HPA {r['name']}: the testbed serves no metrics API" if "FailedGetResourceMetric" in why else None
        elif r["kind"] == "Service" and health == "Progressing":
            svc = _get(tb, "service", r["name"], r.get("namespace", "")) or {}
            lb = (svc.get("spec") or {}).get("type") == "LoadBalancer"
            reason = (
                f"Service {r['name']} is a LoadBalancer: the testbed has no load-balancer controller" if lb else None
            )
        if reason:
            return Observed(False, msg, reason)
    workloads = [r for r in st.get("resources") or [] if r["kind"] in ("Deployment", "StatefulSet")]
    if health == "Progressing" and workloads and all(_available(tb, r) for r in workloads):
        return Observed(False, msg, "Argo CD's health lags the API server: every workload is available there")
    return Observed(False, msg)


def _available(tb: Testbed, r: dict[str, Any]) -> bool:
    obj = _get(tb, r["kind"].lower(), r["name"], r.get("namespace", "")) or {}
    want, st = (obj.get("spec") or {}).get("replicas", 1), obj.get("status") or {}
    return bool(obj) and st.get("readyReplicas", 0) >= want and st.get("updatedReplicas", 0) >= want
