"""Flux OCI artifacts (``flux push artifact``): the media types, and the OCIRepository +
Kustomization that deploy one (``push_artifact`` with generate=true)."""

from __future__ import annotations

from typing import Any

from gitops_mcp.providers.flux.objects import (
    KustomizationSpec,
    OCIRepositorySpec,
    kustomization,
    object_ref,
    oci_repository,
)


def artifact_objects(
    name: str,
    namespace: str,
    url: str,
    tag: str,
    interval: str,
    target_namespace: str | None = None,
    prune: bool = True,
    insecure: bool = False,
) -> list[dict[str, Any]]:
    """Pure: an OCIRepository for ``url`` at ``tag`` and the Kustomization that applies it (a Flux
    artifact pushed by ``push_artifact``). ``insecure`` only for plain-http registries."""
    oci_spec: OCIRepositorySpec = {"interval": interval, "url": url, "ref": {"tag": tag}}
    if insecure:
        oci_spec["insecure"] = True
    ks_spec: KustomizationSpec = {
        "interval": interval,
        "path": "./",
        "prune": prune,
        "sourceRef": object_ref("OCIRepository", name),
    }
    if target_namespace:
        ks_spec["targetNamespace"] = target_namespace
    return [oci_repository(name, namespace, oci_spec), kustomization(name, namespace, ks_spec)]


class FluxArtifacts:
    """``Provider.oci`` of Flux."""

    config_type = "application/vnd.cncf.flux.config.v1+json"
    content_type = "application/vnd.cncf.flux.content.v1.tar+gzip"
    namespace = "flux-system"

    def objects(
        self, name: str, namespace: str, url: str, tag: str, interval: str, target_namespace: str | None, insecure: bool
    ) -> list[dict[str, Any]]:
        return artifact_objects(name, namespace, url, tag, interval, target_namespace, True, insecure)

    def revision(self, tag: str, digest: str) -> str:
        """An OCIRepository reports ``<tag>@<digest>``."""
        return f"{tag}@{digest}"
