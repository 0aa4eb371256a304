"""What an Argo CD Application applies at a revision, as its repo-server renders it.

The source's ``path`` is a Helm chart (``Chart.yaml``, or ``source.helm``): ``helm template``
with ``valueFiles``, ``values``/``valuesObject`` and ``parameters`` as the release ``releaseName``
(else the Application's name) in the destination namespace; a kustomization: ``kustomize
build`` with the source's ``kustomize`` options (``namePrefix``, ``nameSuffix``, ``images``,
``namespace``, ``commonLabels``, ``commonAnnotations``, ``patches``, ``components``,
``replicas``); else a directory of manifests, read file by file as the repo-server reads it
(``directory.recurse``, ``include``, ``exclude``: :mod:`.directory`). Namespaced objects without
a namespace go to the destination namespace; every object carries the tracking annotation
``<app>:<group>/<kind>:<namespace>/<name>``.
"""

from __future__ import annotations

import copy
from typing import Any

from gitops_mcp.manifests.render import HelmChart, Overlay, RenderPlan
from gitops_mcp.providers.argocd.directory import selection
from gitops_mcp.providers.argocd.owner import DEFAULT_NAMESPACE, TRACKING
from gitops_mcp.providers.live import APPLIES_NOTHING, NO_NETWORK, ClusterReader, Obj, Rendering, api_group, repo_dir

FIELD_MANAGER = "argocd-controller"


def _images(items: list[Any]) -> list[dict[str, str]]:
    """``name=new:tag``, ``name:tag``, ``name@digest`` into kustomize ``images`` entries."""
    out = []
    for item in items:
        text = str(item)
        name, _, new = text.partition("=") if "=" in text else ("", "", text)
        ref, at, digest = new.partition("@")
        base, colon, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        entry = {"name": name or base}
        if name and base:
            entry["newName"] = base
        if colon:
            entry["newTag"] = tag
        if at:
            entry["digest"] = digest
        out.append(entry)
    return out


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = values
    for p in parts[:-1]:
        nxt = node.get(p)
        node[p] = nxt if isinstance(nxt, dict) else {}
        node = node[p]
    node[parts[-1]] = value


def _helm(app: Obj, source: Obj, namespace: str) -> tuple[HelmChart, list[str]]:
    import yaml

    helm = source.get("helm") or {}
    notes: list[str] = []
    values: dict[str, Any] = {}
    if isinstance(helm.get("values"), str) and helm["values"].strip():
        loaded = yaml.safe_load(helm["values"])
        values = loaded if isinstance(loaded, dict) else {}
    if isinstance(helm.get("valuesObject"), dict):
        values = {**values, **helm["valuesObject"]}
    for p in helm.get("parameters") or []:
        if isinstance(p, dict) and p.get("name"):
            _set(values, str(p["name"]), p.get("value"))
    files = [str(f) for f in helm.get("valueFiles") or []]
    if any(f.startswith("$") for f in files):
        notes.append("value files of another source ($ref) are left out")
        files = [f for f in files if not f.startswith("$")]
    release = str(helm.get("releaseName") or (app.get("metadata") or {}).get("name"))
    return HelmChart(release=release, namespace=namespace, values=values, value_files=files), notes


def _overlay(source: Obj) -> Overlay:
    k = source.get("kustomize") or {}
    return Overlay(
        namespace=k.get("namespace"),
        name_prefix=k.get("namePrefix"),
        name_suffix=k.get("nameSuffix"),
        images=_images(list(k.get("images") or [])),
        patches=[p for p in k.get("patches") or [] if isinstance(p, dict)],
        components=[str(c) for c in k.get("components") or []],
        labels={str(a): str(b) for a, b in (k.get("commonLabels") or {}).items()},
        annotations={str(a): str(b) for a, b in (k.get("commonAnnotations") or {}).items()},
        replicas=[r for r in k.get("replicas") or [] if isinstance(r, dict)],
    )


def rendering(cluster: ClusterReader, app: Obj) -> Rendering | str:
    """How the (live or generated) Application renders its source, or why it cannot be rendered here."""
    if app.get("kind") != "Application":
        return f"an Argo CD {app.get('kind')} {APPLIES_NOTHING}"
    spec, meta = app.get("spec") or {}, app.get("metadata") or {}
    if spec.get("sources"):
        return "a multi-source Application is not rendered here"
    source = spec.get("source") or {}
    if source.get("chart"):
        return f"chart {source['chart']} from {source.get('repoURL')} is not rendered offline ({NO_NETWORK})"
    if str(source.get("repoURL") or "").startswith("oci://"):
        return f"the OCI artifact {source['repoURL']} is not rendered offline ({NO_NETWORK})"
    if source.get("plugin") or (source.get("directory") or {}).get("jsonnet"):
        return "a plugin or Jsonnet source is not rendered here"
    namespace = str((spec.get("destination") or {}).get("namespace") or "")
    name, app_ns = str(meta.get("name")), str(meta.get("namespace") or DEFAULT_NAMESPACE)
    instance = name if app_ns == DEFAULT_NAMESPACE else f"{app_ns}_{name}"
    notes: list[str] = []
    path = repo_dir(source.get("path"))
    chart, notes = _helm(app, source, namespace)
    directory = source.get("directory") or {}
    plan = RenderPlan(
        path=path,
        overlay=_overlay(source),
        recurse=bool(directory.get("recurse")),
        helm=chart if source.get("helm") is not None else None,
        chart=chart,
        files=selection(directory),
    )

    def finish(obj: Obj, namespaced: bool) -> Obj:
        out = copy.deepcopy(obj)
        m = out.setdefault("metadata", {})
        if namespaced and not m.get("namespace") and namespace:
            m["namespace"] = namespace
        ns = m.get("namespace") or namespace
        group = api_group(str(out.get("apiVersion")))
        m.setdefault("annotations", {})[TRACKING] = f"{instance}:{group}/{out.get('kind')}:{ns}/{m.get('name')}"
        return out

    return Rendering(
        plan=plan,
        field_manager=FIELD_MANAGER,
        finish=finish,
        notes=tuple(notes),
        repo_url=str(source.get("repoURL") or "") or None,
    )
