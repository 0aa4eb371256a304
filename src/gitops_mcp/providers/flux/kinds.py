"""Flux objects in a repository: every toolkit kind, what sources and appliers say, bootstraps."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from gitops_mcp.detection.kinds import Bootstrap, GitOpsKinds, ObjectReader, as_map, as_str
from gitops_mcp.detection.models import GitOpsObject, GitOpsStructure
from gitops_mcp.providers.base import ExistingSource

SOURCE_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Bucket")


def _ref_text(ref: Mapping[str, Any]) -> str:
    """``Kind/name[.namespace]`` of a ``sourceRef`` / ``chartRef``."""
    return f"{ref.get('kind')}/{ref.get('name')}" + (f".{ref['namespace']}" if ref.get("namespace") else "")


def _read_source(obj: GitOpsObject, spec: Mapping[str, Any]) -> None:
    obj.url = as_str(spec.get("url"))
    ref = spec.get("ref")
    if isinstance(ref, dict):
        obj.ref = {str(k): str(v) for k, v in ref.items() if isinstance(v, str | int | float)}


def _read_kustomization(obj: GitOpsObject, spec: Mapping[str, Any]) -> None:
    obj.path = as_str(spec.get("path"))
    sref = spec.get("sourceRef")
    if isinstance(sref, dict):
        obj.source_ref = _ref_text(sref)


def _read_helm_release(obj: GitOpsObject, spec: Mapping[str, Any]) -> None:
    chart = as_map(as_map(spec.get("chart")).get("spec"))
    sref = chart.get("sourceRef")
    cref = spec.get("chartRef")
    ref_obj = sref if isinstance(sref, dict) else cref if isinstance(cref, dict) else None
    if ref_obj:
        obj.source_ref = _ref_text(ref_obj)
    obj.path = as_str(chart.get("chart"))


_READERS: dict[str, ObjectReader] = {
    **dict.fromkeys(SOURCE_KINDS, _read_source),
    "Kustomization": _read_kustomization,
    "HelmRelease": _read_helm_release,
}

GITOPS_KINDS = GitOpsKinds(
    domains=("fluxcd.io",),
    readers=_READERS,
    bootstrap=Bootstrap(
        directory="flux-system",
        markers=frozenset({"gotk-sync.yaml", "gotk-components.yaml"}),
        generated=frozenset({"gotk-components.yaml"}),
    ),
    config_groups=frozenset({"schema.plugin.fluxcd.io"}),  # kustomize's openapi plugin config for Flux kinds
)


def output_dirs(found: GitOpsStructure) -> list[str]:
    """Bootstrapped cluster directories first, then directories holding only Flux objects."""
    boots = [b.path for b in found.bootstraps if posixpath.basename(b.system_path) == "flux-system"]
    files = {o.file for o in found.objects if o.api_version.split("/")[0].endswith("fluxcd.io")}
    return boots + sorted({posixpath.dirname(f) or "." for f in files} & set(found.directories))


def existing_sources(found: GitOpsStructure) -> list[ExistingSource]:
    """The committed Git, OCI and Helm repository sources (not patches) a generated object may reuse."""
    return [
        ExistingSource(kind=o.kind, name=o.name, namespace=o.namespace, url=o.url, ref=o.ref, file=o.file)
        for o in found.objects
        if o.kind in ("GitRepository", "OCIRepository", "HelmRepository") and o.url and not o.patch
    ]
