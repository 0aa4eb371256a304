"""Kubernetes API versions the API server no longer serves (removed in 1.16 to 1.29): an object
still written in one fails every engine's apply with 'no matches for kind'."""

from __future__ import annotations

from collections.abc import Iterable

WORKLOADS = {"Deployment", "DaemonSet", "ReplicaSet", "StatefulSet"}
# apiVersion -> (removed in, {kind: what to write instead}; "*": any kind)
REMOVED: dict[str, tuple[str, dict[str, str]]] = {
    "extensions/v1beta1": (
        "1.22",
        {
            **dict.fromkeys(WORKLOADS, "apps/v1"),
            "Ingress": "networking.k8s.io/v1",
            "NetworkPolicy": "networking.k8s.io/v1",
            "PodSecurityPolicy": "",
        },
    ),
    "apps/v1beta1": ("1.16", {"*": "apps/v1"}),
    "apps/v1beta2": ("1.16", {"*": "apps/v1"}),
    "networking.k8s.io/v1beta1": ("1.22", {"*": "networking.k8s.io/v1"}),
    "rbac.authorization.k8s.io/v1beta1": ("1.22", {"*": "rbac.authorization.k8s.io/v1"}),
    "rbac.authorization.k8s.io/v1alpha1": ("1.22", {"*": "rbac.authorization.k8s.io/v1"}),
    "apiextensions.k8s.io/v1beta1": ("1.22", {"*": "apiextensions.k8s.io/v1"}),
    "admissionregistration.k8s.io/v1beta1": ("1.22", {"*": "admissionregistration.k8s.io/v1"}),
    "apiregistration.k8s.io/v1beta1": ("1.22", {"*": "apiregistration.k8s.io/v1"}),
    "scheduling.k8s.io/v1beta1": ("1.22", {"*": "scheduling.k8s.io/v1"}),
    "storage.k8s.io/v1beta1": ("1.22", {"*": "storage.k8s.io/v1"}),
    "certificates.k8s.io/v1beta1": ("1.22", {"*": "certificates.k8s.io/v1"}),
    "coordination.k8s.io/v1beta1": ("1.22", {"*": "coordination.k8s.io/v1"}),
    "batch/v1beta1": ("1.25", {"*": "batch/v1"}),
    "batch/v2alpha1": ("1.21", {"*": "batch/v1"}),
    "policy/v1beta1": ("1.25", {"PodDisruptionBudget": "policy/v1", "PodSecurityPolicy": ""}),
    "autoscaling/v2beta1": ("1.25", {"*": "autoscaling/v2"}),
    "autoscaling/v2beta2": ("1.26", {"*": "autoscaling/v2"}),
    "discovery.k8s.io/v1beta1": ("1.25", {"*": "discovery.k8s.io/v1"}),
    "events.k8s.io/v1beta1": ("1.25", {"*": "events.k8s.io/v1"}),
    "node.k8s.io/v1beta1": ("1.25", {"*": "node.k8s.io/v1"}),
    "flowcontrol.apiserver.k8s.io/v1beta1": ("1.26", {"*": "flowcontrol.apiserver.k8s.io/v1"}),
    "flowcontrol.apiserver.k8s.io/v1beta2": ("1.29", {"*": "flowcontrol.apiserver.k8s.io/v1"}),
}


def removed_api_notes(apis: Iterable[tuple[str, str, str]], limit: int = 3) -> list[str]:
    """One note per removed (apiVersion, kind) the package uses (``apis``: apiVersion, kind, file)."""
    out: list[str] = []
    for api, kind, f in apis:
        if api not in REMOVED or len(out) >= limit:
            continue
        since, instead = REMOVED[api]
        new = instead.get(kind, instead.get("*"))
        fix = f"change it to {new} (its spec may need editing)" if new else f"{kind} has no successor: remove it"
        out.append(
            f"The package uses {kind} {api} ({f}), which Kubernetes {since}+ no longer serves: the apply fails "
            f"with 'no matches for kind'; {fix}."
        )
    return out
