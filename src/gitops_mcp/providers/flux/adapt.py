"""How a new Flux deployment fits the repository around it (pure; what it reads is in
:class:`~gitops_mcp.providers.base.Surroundings`): the namespace it targets or creates, free
names, the conventions of the sibling Flux objects, and API versions the controllers no longer serve."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from gitops_mcp.providers.base import DeploymentSpec, ExistingSource, ObjectKey, Surroundings

SERVED = {
    "source.toolkit.fluxcd.io": {"*": "v1"},
    "kustomize.toolkit.fluxcd.io": {"*": "v1"},
    "helm.toolkit.fluxcd.io": {"*": "v2"},
    "notification.toolkit.fluxcd.io": {"Alert": "v1beta3", "Provider": "v1beta3", "Receiver": "v1"},
    "image.toolkit.fluxcd.io": {"*": "v1"},
}
"""The API versions Flux 2.9's controllers serve (older ones were dropped in 2.7 and 2.8)."""
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
CONVENTION_FIELDS = ("serviceAccountName", "decryption", "postBuild")


def stale_api(api_version: str, kind: str) -> str | None:
    """The apiVersion to use instead, when Flux no longer serves ``api_version`` for ``kind``."""
    group, _, version = api_version.rpartition("/")
    served = SERVED.get(group)
    if served is None:
        return None
    want = served.get(kind, served.get("*"))
    return f"{group}/{want}" if want and version != want else None


REMOVED_FIELDS = {  # spec fields the served version dropped: such an object needs editing by hand
    "Kustomization": ("validation", "patchesStrategicMerge", "patchesJson6902"),
    "HelmRelease": ("chart.spec.valuesFile", "postRenderers"),
}


def current_api(doc: Mapping[str, Any]) -> str | None:
    """The served apiVersion for an object Flux no longer serves, when its spec converts as it is."""
    kind = str(doc.get("kind"))
    new = stale_api(str(doc.get("apiVersion")), kind)
    spec: Mapping[str, Any] = doc["spec"] if isinstance(doc.get("spec"), Mapping) else {}
    if new is None or any(_has(spec, f) for f in REMOVED_FIELDS.get(kind, ())):
        return None
    return new


def _has(spec: Mapping[str, Any], dotted: str) -> bool:
    node: Any = spec
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def stale_notes(around: Surroundings, siblings: bool = True) -> list[str]:
    """API versions no longer served: the package's (and the siblings', with ``siblings``)."""
    out: list[str] = []
    uses = [(a.api_version, a.kind, a.file) for a in (around.package.apis if around.package else [])]
    for api, kind, f in uses:
        if (new := stale_api(api, kind)) is not None:
            out.append(
                f"The package uses {kind} {api} ({f}), which Flux 2.8+ no longer serves: the apply fails with "
                f"'no matches for kind'; change it to {new} in the package."
            )
    for o in around.siblings if siblings else []:
        api, kind = str(o.doc.get("apiVersion")), str(o.doc.get("kind"))
        note = f"{o.file} beside the new file uses {kind} {api}, no longer served: change it to {stale_api(api, kind)}."
        if stale_api(api, kind) is not None and note not in out:
            out.append(note)
    return out


def target_namespace(spec: DeploymentSpec) -> tuple[str | None, list[str]]:
    """``targetNamespace`` of the Kustomization: only when the package places none of its own,
    or the answer names another namespace than the package's (then it rewrites them, said so)."""
    facts = spec.around.package
    if facts is None:
        return spec.namespace, []
    if not facts.unplaced and (spec.namespace in facts.namespaces or not facts.namespaces):
        return None, []  # every object placed by the package itself (or none namespaced)
    notes = []
    declared = [n for n in facts.namespaces if n != spec.namespace]
    if declared:
        notes.append(
            f"targetNamespace {spec.namespace} moves every object of the package into it, also those it places in "
            f"{', '.join(declared)} itself; answer namespace={declared[0]} to keep the package's own namespaces."
        )
    return spec.namespace, notes


def missing_namespaces(spec: DeploymentSpec, target: str | None, flux_ns: str) -> list[str]:
    """Namespaces the package needs that neither it nor (as far as known) the cluster has."""
    facts, around = spec.around.package, spec.around
    needed = ({target} if target else set()) | set(facts.namespaces if facts else [])
    have = set(facts.creates if facts else []) | SYSTEM_NAMESPACES | {flux_ns} | set(around.cluster_namespaces or [])
    have |= set(around.repo_namespaces)  # created by what the repository already deploys
    return sorted(needed - have)


def namespace_object(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def free_name(kind: str, name: str, namespace: str, taken: Iterable[ObjectKey]) -> str:
    """``name``, or the first of ``name-2``, ``name-3``... no object of ``kind`` in ``namespace`` has."""
    used = {t.name for t in taken if t.kind == kind and (t.namespace or namespace) == namespace}
    if name not in used:
        return name
    n = 2
    while f"{name}-{n}"[:63] in used:
        n += 1
    return f"{name}-{n}"[:63]


def clash_note(kind: str, wanted: str, got: str, namespace: str, around: Surroundings) -> list[str]:
    if wanted == got:
        return []
    where = next(
        (o.file for o in around.siblings if o.key() == (kind, wanted, namespace)),
        "the directory it joins (or the cluster)",
    )
    return [
        f"{kind} {namespace}/{wanted} already exists in {where}; the new one is named {got} "
        "(answer app_name to choose another name)."
    ]


def bootstrap_source(spec: DeploymentSpec, ns: str) -> ExistingSource | None:
    """The bootstrap's GitRepository when the new file joins the cluster directory it serves and the
    revision is a branch (a bootstrap follows one)."""
    out = spec.around.output_path
    if not out or spec.git_ref is None or spec.git_ref.kind != "branch":
        return None
    out_dir = posixpath.dirname(out)
    for s in spec.existing_sources:
        if s.kind == "GitRepository" and s.serves is not None:
            d = "" if s.serves == "." else s.serves
            if d == "" or out_dir == d or out_dir.startswith(d + "/"):
                return s
    return None


def _siblings(around: Surroundings, kind: str, ns: str) -> list[dict[str, Any]]:
    out = []
    for o in around.siblings:
        meta = o.doc.get("metadata") or {}
        flux = str(o.doc.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io")
        if o.doc.get("kind") == kind and flux and (meta.get("namespace") or ns) == ns:
            out.append(o.doc)
    return out


def conventions(around: Surroundings, ns: str, own_name: str) -> tuple[dict[str, Any], list[str]]:
    """Fields the sibling Kustomizations (same namespace) share, for the new one to follow, and notes."""
    sibs = _siblings(around, "Kustomization", ns)
    if not sibs:
        return {}, []
    specs = [s.get("spec") or {} for s in sibs]
    fields: dict[str, Any] = {}
    notes: list[str] = []
    for key in CONVENTION_FIELDS:
        values = [sp.get(key) for sp in specs]
        present = [v for v in values if v is not None]
        if present and len(present) == len(values) and all(v == present[0] for v in present):
            fields[key] = present[0]
            notes.append(f"Follows its sibling Kustomizations: {key} {_short(present[0])}.")
        elif present and key == "postBuild" and around.package is not None and around.package.variables:
            fields[key] = present[0]
            notes.append(
                f"The package uses ${{{around.package.variables[0]}}}-style variables: postBuild copied from a "
                f"sibling Kustomization ({_short(present[0])})."
            )
        elif present:
            notes.append(
                f"Some sibling Kustomizations set {key} ({_short(present[0])}), not all: the new one does not; "
                "add it if the package needs it."
            )
    deps = _maximal({d.get("name") for sp in specs for d in sp.get("dependsOn") or [] if isinstance(d, dict)}, sibs)
    # never after what itself waits for the package's current owner (or for this name): a cycle
    replaced = {own_name} | {o.name for o in around.owners if o.kind == "Kustomization"}
    deps = {d for d in deps if d not in replaced and not (_below(d, sibs) & replaced)}
    if deps:
        fields["dependsOn"] = [{"name": d} for d in sorted(deps)]
        notes.append(
            f"Depends on {', '.join(sorted(deps))} like its siblings (applied after them); remove spec.dependsOn "
            "if the package does not need them."
        )
    return fields, notes


def _graph(sibs: list[dict[str, Any]]) -> dict[str, set[str]]:
    return {
        str((s.get("metadata") or {}).get("name")): {
            str(d.get("name")) for d in (s.get("spec") or {}).get("dependsOn") or [] if isinstance(d, dict)
        }
        for s in sibs
    }


def _below(name: str, sibs: list[dict[str, Any]]) -> set[str]:
    """What ``name`` depends on, transitively."""
    graph, out, todo = _graph(sibs), set(), [name]
    while todo:
        for d in graph.get(todo.pop(), set()):
            if d not in out:
                out.add(d)
                todo.append(d)
    return out


def _maximal(names: set[Any], sibs: list[dict[str, Any]]) -> set[str]:
    """The names no other one of them depends on (transitively): the last layer of the chain."""
    wanted = {str(n) for n in names if n}
    covered = set().union(*(_below(n, sibs) for n in wanted)) if wanted else set()
    return wanted - covered


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def owner_notes(spec: DeploymentSpec, kind: str) -> list[str]:
    owners = spec.around.owners
    if not owners:
        return []
    first, rest = owners[0], owners[1:]
    also = f" (also {'; '.join(o.text() for o in rest[:3])})" if rest else ""
    return [
        f"./{spec.path} is already applied by {first.text()}{also}: a second {kind} would fight it over the same "
        f"objects (both apply and prune them). To change that deployment, edit that object in {first.file} "
        "instead of adding this file; keep this only to replace it (then remove the other)."
    ]
