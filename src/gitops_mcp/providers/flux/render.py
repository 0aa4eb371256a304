"""What a Flux applier applies at a revision, as kustomize-controller and helm-controller build it.

kustomize-controller builds ``spec.path`` (a generated kustomization for a plain directory) with
``targetNamespace``, ``namePrefix``/``nameSuffix``, ``images``, ``patches``, ``components`` and
``commonMetadata`` added, substitutes ``${var}`` (``postBuild.substitute`` over
``postBuild.substituteFrom`` ConfigMaps and Secrets, in order) in every object that does not
say ``kustomize.toolkit.fluxcd.io/substitute: disabled``, labels each with its name and
namespace, and applies server-side as ``kustomize-controller``. helm-controller renders a chart
(here: one from a GitRepository) with ``valuesFrom`` then ``values`` as the release
``[targetNamespace-]name`` in ``targetNamespace`` (else its own namespace).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from gitops_mcp.errors import ClusterError
from gitops_mcp.manifests.render import HelmChart, Overlay, RenderPlan
from gitops_mcp.providers.flux.owner import KS_LABEL
from gitops_mcp.providers.live import APPLIES_NOTHING, NO_NETWORK, ClusterReader, Obj, Rendering, repo_dir

SUBSTITUTE = "kustomize.toolkit.fluxcd.io/substitute"
_VAR = re.compile(r"\$\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-=])([^}]*))?\}")
_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


def envsubst(text: str, variables: Mapping[str, str]) -> str:
    """``${var}``, ``${var:=default}``, ``${var:-default}`` (``=``/``-``: only when unset) as
    Flux's non-strict substitution does: an unset variable without a default becomes empty."""

    def one(m: re.Match[str]) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        value = variables.get(name)
        if op is None:
            return value or ""
        if op.startswith(":"):
            return value if value else default
        return value if value is not None else default

    return _VAR.sub(one, text)


def _substitute(obj: Obj, variables: Mapping[str, str]) -> Obj:
    import yaml

    meta = obj.get("metadata") or {}
    if "disabled" in ((meta.get("annotations") or {}).get(SUBSTITUTE), (meta.get("labels") or {}).get(SUBSTITUTE)):
        return obj
    text = yaml.safe_dump(obj, sort_keys=False)
    if "${" not in text:
        return obj
    out = yaml.safe_load(envsubst(text, variables))
    return out if isinstance(out, dict) else obj


def _variables(cluster: ClusterReader, ks: Obj) -> tuple[dict[str, str], list[str]]:
    post = (ks.get("spec") or {}).get("postBuild") or {}
    ns = (ks.get("metadata") or {}).get("namespace")
    out: dict[str, str] = {}
    notes: list[str] = []
    for ref in post.get("substituteFrom") or []:
        kind, name = str(ref.get("kind")), str(ref.get("name"))
        try:
            src = cluster.get("v1", kind, name, ns) if kind in ("ConfigMap", "Secret") else None
        except ClusterError as exc:
            notes.append(f"the variables of {kind} {ns}/{name} are not substituted: it cannot be read ({exc})")
            continue
        if src is None:
            if not ref.get("optional"):
                notes.append(f"{kind} {ns}/{name} of postBuild.substituteFrom is missing: the controller fails")
            continue
        data = src.get("data") or {}
        for k, v in data.items():
            if kind == "Secret":
                try:
                    v = base64.b64decode(str(v)).decode()
                except (ValueError, UnicodeDecodeError):
                    continue
            out[str(k)] = str(v)
    out.update({str(k): str(v) for k, v in (post.get("substitute") or {}).items()})
    return {k: v for k, v in out.items() if _NAME.match(k)}, notes


def _kustomization(cluster: ClusterReader, ks: Obj) -> Rendering:
    spec, meta = ks.get("spec") or {}, ks.get("metadata") or {}
    common = spec.get("commonMetadata") or {}
    overlay = Overlay(
        namespace=spec.get("targetNamespace"),
        name_prefix=spec.get("namePrefix"),
        name_suffix=spec.get("nameSuffix"),
        images=[i for i in spec.get("images") or [] if isinstance(i, dict)],
        patches=[p for p in spec.get("patches") or [] if isinstance(p, dict)],
        components=[str(c) for c in spec.get("components") or []],
        labels={str(k): str(v) for k, v in (common.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (common.get("annotations") or {}).items()},
    )
    variables, notes = _variables(cluster, ks) if spec.get("postBuild") else ({}, [])
    owner = {f"{KS_LABEL}/name": str(meta.get("name")), f"{KS_LABEL}/namespace": str(meta.get("namespace"))}

    def finish(obj: Obj, namespaced: bool) -> Obj:
        out = _substitute(copy.deepcopy(obj), variables) if spec.get("postBuild") else copy.deepcopy(obj)
        labels = out.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(owner)
        return out

    return Rendering(
        plan=RenderPlan(path=repo_dir(spec.get("path")), overlay=overlay),
        field_manager="kustomize-controller",
        finish=finish,
        notes=tuple(notes),
    )


def _values(cluster: ClusterReader, hr: Obj) -> tuple[dict[str, Any], list[str]]:
    import yaml

    spec, ns = hr.get("spec") or {}, (hr.get("metadata") or {}).get("namespace")
    values: dict[str, Any] = {}
    notes: list[str] = []
    for ref in spec.get("valuesFrom") or []:
        kind, name, key = str(ref.get("kind")), str(ref.get("name")), str(ref.get("valuesKey") or "values.yaml")
        try:
            src = cluster.get("v1", kind, name, ns) if kind in ("ConfigMap", "Secret") else None
        except ClusterError as exc:
            notes.append(f"the values of {kind} {ns}/{name} are left out: it cannot be read ({exc})")
            continue
        raw = (src or {}).get("data", {}).get(key)
        if raw is None:
            if not ref.get("optional"):
                notes.append(f"{kind} {ns}/{name} key {key} of valuesFrom is missing: the controller fails")
            continue
        text = base64.b64decode(str(raw)).decode("utf-8", "replace") if kind == "Secret" else str(raw)
        if ref.get("targetPath"):
            node = values
            parts = str(ref["targetPath"]).split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = text
            continue
        loaded = yaml.safe_load(text)
        if isinstance(loaded, dict):
            values = _merge(values, loaded)
    return _merge(values, spec.get("values") or {}), notes


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def _offline(cluster: ClusterReader, hr: Obj, chart: Obj) -> str:
    """Why a chart that is not in a Git repository has no live effect, naming where it comes from."""
    spec, ns = hr.get("spec") or {}, (hr.get("metadata") or {}).get("namespace")
    ref = chart.get("sourceRef") or spec.get("chartRef") or {}
    kind, name = str(ref.get("kind") or "chart source"), str(ref.get("name") or "")
    where = f"{kind} {ref.get('namespace') or ns}/{name}"
    if kind in ("HelmRepository", "OCIRepository", "Bucket"):
        try:
            found = cluster.get("source.toolkit.fluxcd.io/v1", kind, name, ref.get("namespace") or ns)
        except ClusterError:
            found = None
        where = str(((found or {}).get("spec") or {}).get("url") or "") or where
    what = f"chart {chart['chart']}" if chart.get("chart") else "chart"
    return f"{what} from {where} is not rendered offline ({NO_NETWORK})"


def _offline_source(cluster: ClusterReader, ks: Obj, ref: Obj) -> str:
    ns = ref.get("namespace") or (ks.get("metadata") or {}).get("namespace")
    try:
        found = cluster.get("source.toolkit.fluxcd.io/v1", str(ref["kind"]), str(ref.get("name")), ns)
    except ClusterError:
        found = None
    where = str(((found or {}).get("spec") or {}).get("url") or "") or f"{ref['kind']} {ns}/{ref.get('name')}"
    return f"the artifact of {where} is not rendered offline ({NO_NETWORK})"


def _helm_release(cluster: ClusterReader, hr: Obj) -> Rendering | str:
    spec, meta = hr.get("spec") or {}, hr.get("metadata") or {}
    chart = ((spec.get("chart") or {}).get("spec")) or {}
    source = chart.get("sourceRef") or {}
    if source.get("kind") != "GitRepository":
        return _offline(cluster, hr, chart)
    target = spec.get("targetNamespace") or meta.get("namespace")
    release = spec.get("releaseName") or (
        f"{spec['targetNamespace']}-{meta.get('name')}" if spec.get("targetNamespace") else str(meta.get("name"))
    )
    values, notes = _values(cluster, hr)
    files = [str(f) for f in chart.get("valuesFiles") or []]
    labels = {
        "helm.toolkit.fluxcd.io/name": str(meta.get("name")),
        "helm.toolkit.fluxcd.io/namespace": str(meta.get("namespace")),
    }

    def finish(obj: Obj, namespaced: bool) -> Obj:
        out = copy.deepcopy(obj)
        m = out.setdefault("metadata", {})
        if namespaced and not m.get("namespace"):
            m["namespace"] = target
        m.setdefault("labels", {}).update({**labels, "app.kubernetes.io/managed-by": "Helm"})
        m.setdefault("annotations", {}).update(
            {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": str(target)}
        )
        return out

    return Rendering(
        plan=RenderPlan(
            path=repo_dir(chart.get("chart")),
            helm=HelmChart(release=release, namespace=str(target), values=values, value_files=files),
        ),
        field_manager="helm-controller",
        finish=finish,
        notes=tuple(notes),
    )


def rendering(cluster: ClusterReader, applier: Obj) -> Rendering | str:
    """How the live (or generated) ``applier`` renders its path, or why it cannot be rendered here."""
    kind = applier.get("kind")
    if kind == "Kustomization":
        found: Rendering | str = _kustomization(cluster, applier)
    elif kind == "HelmRelease":
        found = _helm_release(cluster, applier)
    else:
        return f"a Flux {kind} {APPLIES_NOTHING}"
    if isinstance(found, str):
        return found
    url = source_url(cluster, applier)
    if url is None:
        ref = (applier.get("spec") or {}).get("sourceRef") or {}
        if kind == "Kustomization" and ref.get("kind") in ("OCIRepository", "Bucket"):
            return _offline_source(cluster, applier, ref)
        return "its source is not a GitRepository with a URL in the cluster"
    return dataclasses.replace(found, repo_url=url)


def source_url(cluster: ClusterReader, applier: Obj) -> str | None:
    """The URL of the Git repository the applier's path is in (None: not a GitRepository)."""
    spec, ns = applier.get("spec") or {}, (applier.get("metadata") or {}).get("namespace")
    ref = spec.get("sourceRef") or ((spec.get("chart") or {}).get("spec") or {}).get("sourceRef") or {}
    if ref.get("kind") != "GitRepository":
        return None
    src = cluster.get("source.toolkit.fluxcd.io/v1", "GitRepository", str(ref.get("name")), ref.get("namespace") or ns)
    return str((src or {}).get("spec", {}).get("url") or "") or None
