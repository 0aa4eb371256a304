"""Flux objects, one builder per kind: the wizard's generator, ``push_artifact`` and the fleet layout
all build their Flux objects here.

A builder owns its kind's apiVersion, kind and metadata; the spec is typed per kind and keeps the
order its caller writes the fields in (the wizard follows ``flux create``, the fleet ``flux bootstrap``
and Flux's example layout), which is the order of the fields in the files we write.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict

SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1beta3"


class LocalRef(TypedDict):
    """A reference to an object in the same namespace (secretRef, providerRef, dependsOn)."""

    name: str


class ObjectRef(TypedDict, total=False):
    """A reference to an object by kind (sourceRef, chartRef, an Alert's eventSources)."""

    kind: Required[str]
    name: Required[str]
    namespace: str


class GitRepositorySpec(TypedDict, total=False):
    interval: Required[str]
    url: Required[str | None]  # None only from a deployment spec without one; validation refuses it
    ref: Required[dict[str, str]]
    secretRef: LocalRef


class OCIRepositorySpec(TypedDict, total=False):
    interval: Required[str]
    url: Required[str]
    ref: Required[dict[str, str]]
    layerSelector: dict[str, str]
    insecure: bool


class HelmRepositorySpec(TypedDict):
    interval: str
    url: str | None  # as GitRepositorySpec.url


class KustomizationSpec(TypedDict, total=False):
    dependsOn: list[LocalRef]
    interval: Required[str]
    retryInterval: str
    timeout: str
    path: str
    prune: Required[bool]
    wait: bool
    sourceRef: Required[ObjectRef]
    serviceAccountName: str
    decryption: dict[str, Any]
    postBuild: dict[str, Any]
    targetNamespace: str


class HelmChartTemplateSpec(TypedDict, total=False):
    chart: Required[str | None]  # as GitRepositorySpec.url
    version: str
    reconcileStrategy: str
    sourceRef: Required[ObjectRef]
    valuesFiles: list[str]


class HelmChartTemplate(TypedDict):
    spec: HelmChartTemplateSpec


class HelmReleaseSpec(TypedDict, total=False):
    interval: Required[str]
    serviceAccountName: str
    chart: HelmChartTemplate
    chartRef: ObjectRef
    releaseName: str
    targetNamespace: str
    storageNamespace: str
    install: dict[str, Any]
    upgrade: dict[str, Any]
    values: dict[str, Any]


class NotificationProviderSpec(TypedDict, total=False):
    type: Required[str]
    channel: str
    secretRef: LocalRef


class AlertSpec(TypedDict):
    providerRef: LocalRef
    eventSeverity: str
    eventSources: list[ObjectRef]
    eventMetadata: dict[str, str]


def object_ref(kind: str, name: str, namespace: str | None = None) -> ObjectRef:
    """``{kind, name}``, with ``namespace`` when given."""
    ref: ObjectRef = {"kind": kind, "name": name}
    if namespace:
        ref["namespace"] = namespace
    return ref


def _flux_object(api_version: str, kind: str, name: str, namespace: str, spec: object) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def git_repository(name: str, namespace: str, spec: GitRepositorySpec) -> dict[str, Any]:
    return _flux_object(SOURCE_API, "GitRepository", name, namespace, spec)


def oci_repository(name: str, namespace: str, spec: OCIRepositorySpec) -> dict[str, Any]:
    return _flux_object(SOURCE_API, "OCIRepository", name, namespace, spec)


def helm_repository(name: str, namespace: str, spec: HelmRepositorySpec) -> dict[str, Any]:
    return _flux_object(SOURCE_API, "HelmRepository", name, namespace, spec)


def kustomization(name: str, namespace: str, spec: KustomizationSpec) -> dict[str, Any]:
    return _flux_object(KUSTOMIZE_API, "Kustomization", name, namespace, spec)


def helm_release(name: str, namespace: str, spec: HelmReleaseSpec) -> dict[str, Any]:
    return _flux_object(HELM_API, "HelmRelease", name, namespace, spec)


def notification_provider(name: str, namespace: str, spec: NotificationProviderSpec) -> dict[str, Any]:
    return _flux_object(NOTIFICATION_API, "Provider", name, namespace, spec)


def alert(name: str, namespace: str, spec: AlertSpec) -> dict[str, Any]:
    return _flux_object(NOTIFICATION_API, "Alert", name, namespace, spec)
