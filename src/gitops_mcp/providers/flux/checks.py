"""Flux's checks of its own documents, whatever the schema source: the URLs of its sources and the
images of a Kustomization (references), and the site policy of its kinds (intervals, https
sources, pruning Kustomizations with a source, relative paths)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_mcp.manifests.validation.policy import PolicyIssues, as_map, interval_issues, relative_path_issues
from gitops_mcp.manifests.validation.references import kustomize_images, url_issue
from gitops_mcp.manifests.validation.schema import Found
from gitops_mcp.providers.live import api_group
from gitops_mcp.settings import PolicySettings
from gitops_mcp.syntax import GIT_URL, HELM_URL, OCI_URL, UrlKind

SOURCE_URLS: Mapping[tuple[str, str], UrlKind] = {
    ("source.toolkit.fluxcd.io", "GitRepository"): GIT_URL,
    ("source.toolkit.fluxcd.io", "HelmRepository"): HELM_URL,
    ("source.toolkit.fluxcd.io", "OCIRepository"): OCI_URL,
}
"""(API group, kind) -> what its ``spec.url`` is."""


def _is_flux(api_version: str) -> bool:
    return api_group(api_version).endswith("fluxcd.io")


def reference_issues(doc: Mapping[str, Any]) -> Found:
    group, kind = api_group(str(doc.get("apiVersion", ""))), str(doc.get("kind", ""))
    spec = as_map(doc.get("spec"))
    out: Found = []
    if group == "kustomize.toolkit.fluxcd.io" and kind == "Kustomization":
        kustomize_images(spec.get("images"), "spec.images", out)
    url_kind = SOURCE_URLS.get((group, kind))
    if url_kind is not None:
        if kind == "HelmRepository" and spec.get("type") == "oci":
            url_kind = OCI_URL
        url_issue(spec.get("url"), "spec.url", url_kind, out)
    return out


def policy_issues(doc: Mapping[str, Any], policy: PolicySettings) -> PolicyIssues:
    api, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    if not _is_flux(api):
        return []
    spec = as_map(doc.get("spec"))
    out: PolicyIssues = []
    if policy.check_intervals:
        out += interval_issues(spec, policy, ("interval", "retryInterval"))
    if kind == "GitRepository" and policy.secure_git_urls:
        url = spec.get("url")
        if isinstance(url, str) and not url.startswith(("https://", "ssh://")):
            out.append(("secure_git_urls", "spec.url", f"{url!r} must use https:// or ssh://"))
    if kind == "Kustomization":
        if policy.require_prune and spec.get("prune") is not True:
            out.append(("require_prune", "spec.prune", "prune must be true so removed objects are deleted"))
        if policy.require_source_ref and not spec.get("sourceRef"):
            out.append(("require_source_ref", "spec.sourceRef", "a Kustomization must reference a source"))
    if policy.relative_paths:
        paths: list[tuple[str, Any]] = []
        if kind == "Kustomization":
            paths.append(("spec.path", spec.get("path")))
        if kind == "HelmRelease":
            cs = as_map(as_map(spec.get("chart")).get("spec"))
            if cs:
                paths.append(("spec.chart.spec.chart", cs.get("chart")))
                paths.extend(
                    (f"spec.chart.spec.valuesFiles[{i}]", f) for i, f in enumerate(cs.get("valuesFiles") or [])
                )
        out += relative_path_issues(paths)
    return out
