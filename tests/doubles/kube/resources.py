"""The resources the fake API server serves, its errors, and its discovery documents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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
    Resource("", "v1", "events", "Event", status=False, short=("ev",)),
    Resource("events.k8s.io", "v1", "events", "Event", status=False, short=("ev",)),
    Resource("apps", "v1", "deployments", "Deployment", short=("deploy",)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", short=("sts",)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", short=("ds",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", short=("rs",)),
    Resource("batch", "v1", "jobs", "Job"),
    Resource("batch", "v1", "cronjobs", "CronJob", short=("cj",)),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",)),
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",)),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", status=False, short=("netpol",)),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",)),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False, status=False),
    Resource(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False, status=False
    ),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", status=False),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", status=False),
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


def discovery(resources: list[Resource], path: str) -> Obj | None:
    """The answer to a discovery path (``/version``, ``/api``, ``/apis``, a group, a group version), or None."""
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
    for r in resources:
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
        rs = [r for r in resources if r.api_version == gv]
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
