"""References inside manifests, checked against their grammars whatever the schema source.

- container images of workloads' pod templates (``containers``, ``initContainers``,
  ``ephemeralContainers``), and the ``images`` entries of kustomizations (``newName``, ``newTag``,
  ``digest``): the grammar of github.com/distribution/reference (:mod:`gitops_mcp.syntax`).

The engines check the URLs of their own sources (``Provider.reference_issues``) with
:func:`url_issue` and :func:`kustomize_images`: parsed with their kind's schemes and a valid host.

Whether ``http://`` may be used is the policy's business (``secure_git_urls``), not this module's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gitops_mcp.manifests.validation.schema import Found
from gitops_mcp.syntax import (
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
_IMAGE_EXAMPLE = "an image reference such as ghcr.io/org/app:1.2.3"


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def reference_issues(doc: Mapping[str, Any]) -> Found:
    """(severity, field path, message) for each image reference that is not valid."""
    group, kind = _group(str(doc.get("apiVersion", ""))), str(doc.get("kind", ""))
    out: Found = []
    pod_path = POD_SPECS.get((group, kind))
    if pod_path is not None:
        _container_images(doc, pod_path, out)
    if group == "kustomize.config.k8s.io" and kind in ("Kustomization", "Component"):
        kustomize_images(doc.get("images"), "images", out)
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


def kustomize_images(entries: Any, where: str, out: Found) -> None:
    """The ``images`` entries of a kustomization (kustomize's own, or an engine's ``spec.images``)."""
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


def url_issue(value: Any, path: str, kind: UrlKind, out: Found) -> None:
    """A URL of ``kind`` at ``path``, when ``value`` is a string that is not one."""
    if isinstance(value, str):
        _check(lambda v: check_url(v, kind), value, path, out)


def _check(parse: Callable[[str], object], value: str, path: str, out: Found) -> None:
    try:
        parse(value)
    except ValueError as exc:
        out.append(("error", path, str(exc)))
