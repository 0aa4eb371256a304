"""Which objects in a repository are an engine's GitOps objects, as the providers describe them.

Detection knows no engine: each provider supplies a :class:`GitOpsKinds` (``Provider.gitops_kinds``)
and callers pass them in (``detect_packages(..., gitops_kinds=registry.gitops_kinds())``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_mcp.detection.models import GitOpsObject

# Fills in what an object of one kind says about its source or target, from its ``spec``.
ObjectReader = Callable[[GitOpsObject, Mapping[str, Any]], None]

# apiVersions that look like Kubernetes but are configuration files, not cluster objects.
NON_OBJECT_GROUPS = frozenset(
    {
        "kustomize.config.k8s.io",
        "config.kubernetes.io",
        "kind.x-k8s.io",
        "kubeadm.k8s.io",
        "kubelet.config.k8s.io",
        "kubeproxy.config.k8s.io",
        "apiserver.config.k8s.io",
        "audit.k8s.io",
        "client.authentication.k8s.io",
        "k3d.io",
        "ctlptl.dev",
        "skaffold",
        "builtin",
    }
)


# API groups Kubernetes itself serves (a kind of any other group needs its CRD, or an aggregated API)
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "extensions",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "node.k8s.io",
        "discovery.k8s.io",
        "certificates.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "apiregistration.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "resource.k8s.io",
        "internal.apiserver.k8s.io",
        "storagemigration.k8s.io",
        "metrics.k8s.io",
    }
)


def custom_kind(api_version: str, kind: str) -> str | None:
    """``group/Kind`` when the kind comes from a CustomResourceDefinition, else None."""
    group = api_group(api_version)
    return None if group in BUILTIN_GROUPS else f"{group}/{kind}"


def as_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def as_map(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


@dataclass(frozen=True)
class Bootstrap:
    """A directory an engine's bootstrap commits (Flux: ``clusters/<name>/flux-system``)."""

    directory: str  # its name
    markers: frozenset[str]  # any of these files in it marks a bootstrap
    generated: frozenset[str] = frozenset()  # files in it that are the engine's own install, not read


@dataclass(frozen=True)
class AppOfApps:
    """Helm templates that render an engine's objects make their chart an app of apps."""

    pattern: re.Pattern[str]  # searched in each template
    evidence: str  # what the chart's evidence says then


@dataclass(frozen=True)
class GitOpsKinds:
    """How one engine's objects are recognised in a repository."""

    domains: tuple[str, ...] = ()  # API group suffixes whose every kind is a GitOps object
    kinds: Mapping[str, frozenset[str]] = field(default_factory=dict)  # API group -> the kinds that are
    readers: Mapping[str, ObjectReader] = field(default_factory=dict)  # kind -> reads its details
    bootstrap: Bootstrap | None = None
    app_of_apps: AppOfApps | None = None
    config_groups: frozenset[str] = frozenset()  # API groups of the engine's configuration files (not objects)

    def matches(self, api_version: str, kind: str) -> bool:
        group = api_group(api_version)
        return group.endswith(self.domains) or kind in self.kinds.get(group, ())


def gitops_kinds_of(api_version: str, kind: str, engines: Iterable[GitOpsKinds]) -> GitOpsKinds | None:
    """The engine whose GitOps object this is, or None."""
    engines = tuple(engines)
    group = api_group(api_version)
    if group in NON_OBJECT_GROUPS or any(group in e.config_groups for e in engines):
        return None
    return next((e for e in engines if e.matches(api_version, kind)), None)


def is_gitops_kind(api_version: str, kind: str, gitops_kinds: Iterable[GitOpsKinds] = ()) -> bool:
    """True for the GitOps objects of one of the engines ``gitops_kinds`` describe."""
    return gitops_kinds_of(api_version, kind, gitops_kinds) is not None
