"""References inside manifests, checked against their grammars whatever the schema source.

- container images of workloads' pod templates (``containers``, ``initContainers``,
  ``ephemeralContainers``), and the ``images`` entries of kustomizations (``newName``, ``newTag``,
  ``digest``): the grammar of github.com/distribution/reference (:mod:`gitops_mcp.syntax`);
- the URLs of sources: Flux ``GitRepository`` / ``HelmRepository`` / ``OCIRepository`` and the
  sources of an Argo CD ``Application``, parsed with their kind's schemes and a valid host.

Whether ``http://`` may be used is the policy's business (``secure_git_urls``), not this module's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gitops_mcp.manifests.validation.schema import Found
from gitops_mcp.syntax import (
    ARGO_HELM_URL,
    GIT_URL,
    GIT_URL_OR_SCP,
    HELM_URL,
    OCI_URL,
    UrlKind,
    check_url,
    image_digest,
    image_name,
    image_tag,
    parse_image_reference,
)

_POD_TEMPLATE = ("spec", "template", "spec")
# (API group, kind) -> where the pod spec is
POD_SPECS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("apps", "Deployment"): _POD_TEMPLATE,
    ("apps", "StatefulSet"): _POD_TEMPLATE,
    ("apps", "DaemonSet"): _POD_TEMPLATE,
    ("apps", "ReplicaSet"): _POD_TEMPLATE,
    ("extensions", "Deployment"): _POD_TEMPLATE,
    ("extensions", "DaemonSet"): _POD_TEMPLATE,
    ("extensions", "ReplicaSet"): _POD_TEMPLATE,
    ("batch", "Job"): _POD_TEMPLATE,
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# (API group, kind) -> what its spec.url is
SOURCE_URLS: Mapping[tuple[str, str], UrlKind] = {
    ("source.toolkit.fluxcd.io", "GitRepository"): GIT_URL,
    ("source.toolkit.fluxcd.io", "HelmRepository"): HELM_URL,
    ("source.toolkit.fluxcd.io", "OCIRepository"): OCI_URL,
}
_IMAGE_EXAMPLE = "an image reference such as ghcr.io/org/app:1.2.3"


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def reference_issues(doc: Mapping[str, Any]) -> Found:
    """(severity, field path, message) for each image reference or source URL that is not valid."""
    group, kind = _group(str(doc.get("apiVersion", ""))), str(doc.get("kind", ""))
    spec = doc.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    out: Found = []
    pod_path = POD_SPECS.get((group, kind))
    if pod_path is not None:
        _container_images(doc, pod_path, out)
    if group == "kustomize.config.k8s.io" and kind in ("Kustomization", "Component"):
        _kustomize_images(doc.get("images"), "images", out)
    if group == "kustomize.toolkit.fluxcd.io" and kind == "Kustomization":
        _kustomize_images(spec.get("images"), "spec.images", out)
    url_kind = SOURCE_URLS.get((group, kind))
    if url_kind is not None:
        if kind == "HelmRepository" and spec.get("type") == "oci":
            url_kind = OCI_URL
        _url(spec.get("url"), "spec.url", url_kind, out)
    if group == "argoproj.io" and kind == "Application":
        sources = [("spec.source", spec.get("source"))]
        if isinstance(spec.get("sources"), list):
            sources += [(f"spec.sources[{i}]", s) for i, s in enumerate(spec["sources"])]
        for where, src in sources:
            if isinstance(src, dict):
                _url(src.get("repoURL"), f"{where}.repoURL", ARGO_HELM_URL if src.get("chart") else GIT_URL_OR_SCP, out)
    return out


def _container_images(doc: Mapping[str, Any], pod_path: tuple[str, ...], out: Found) -> None:
    pod: Any = doc
    for key in pod_path:
        pod = pod.get(key) if isinstance(pod, dict) else None
    if not isinstance(pod, dict):
        return
    where = ".".join(pod_path)
    for list_name in CONTAINER_LISTS:
        containers = pod.get(list_name)
        if not isinstance(containers, list):
            continue
        for i, c in enumerate(containers):
            if isinstance(c, dict) and "image" in c:
                path = f"{where}.{list_name}[{i}].image"
                if isinstance(c["image"], str):
                    _check(parse_image_reference, c["image"], path, out)
                else:
                    out.append(("error", path, f"must be a string: {_IMAGE_EXAMPLE}"))


def _kustomize_images(entries: Any, where: str, out: Found) -> None:
    if not isinstance(entries, list):
        return
    checks: tuple[tuple[str, Callable[[str], object], str], ...] = (
        ("newName", image_name, "an image name such as ghcr.io/org/app"),
        ("newTag", image_tag, "a tag such as '1.2.3'"),
        ("digest", image_digest, "a digest such as sha256:<64 hex digits>"),
    )
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        for key, parse, expected in checks:
            if key not in entry:
                continue
            value, path = entry[key], f"{where}[{i}].{key}"
            if isinstance(value, str):
                _check(parse, value, path, out)
            elif key == "newTag" and isinstance(value, int | float) and not isinstance(value, bool):
                out.append(("warning", path, f"is the number {value}; quote it so the tag stays as written"))
            else:
                out.append(("error", path, f"must be a string: {expected}"))


def _url(value: Any, path: str, kind: UrlKind, out: Found) -> None:
    if isinstance(value, str):
        _check(lambda v: check_url(v, kind), value, path, out)


def _check(parse: Callable[[str], object], value: str, path: str, out: Found) -> None:
    try:
        parse(value)
    except ValueError as exc:
        out.append(("error", path, str(exc)))
