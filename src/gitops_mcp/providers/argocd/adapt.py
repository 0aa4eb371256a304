"""How a new Application fits what surrounds it (pure; see
:class:`~gitops_mcp.providers.base.Surroundings`): sync options the package needs, Jsonnet library
paths, chart dependencies, namespaces, a free name, and the Applications that already deploy it."""

from __future__ import annotations

from typing import Any

from gitops_mcp.providers.base import DeploymentSpec

SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def free_name(name: str, namespace: str, spec: DeploymentSpec) -> tuple[str, list[str]]:
    """``name``, or ``name-2``... when an Application of that name exists beside the file or in the cluster."""
    used = {t.name for t in spec.around.taken if t.kind == "Application" and (t.namespace or namespace) == namespace}
    if name not in used:
        return name, []
    n = 2
    while f"{name}-{n}" in used:
        n += 1
    got = f"{name}-{n}"
    return got, [
        f"An Application {namespace}/{name} already exists beside this file or in the cluster; the new one is named "
        f"{got} (answer app_name to choose another name)."
    ]


def adjust(
    spec: DeploymentSpec, source: dict[str, Any], sync: dict[str, Any], argocd_ns: str, package_notes: list[str]
) -> list[str]:
    """Sync options and source settings the package needs (changes ``source`` and ``sync``), and notes
    (those about the package itself also added to ``package_notes``)."""
    notes: list[str] = []
    facts = spec.around.package
    if facts is None:
        return notes
    if facts.large_crds:
        options = sync.setdefault("syncOptions", [])
        if "ServerSideApply=true" not in options:
            options.append("ServerSideApply=true")
        notes.append(
            f"ServerSideApply=true: the package has CRDs too large for a client-side apply (its 256 KiB annotation): "
            f"{'; '.join(facts.large_crds[:3])}."
        )
    if facts.jsonnet_unresolved:
        if facts.jsonnet_lib_dirs:
            source.setdefault("directory", {})["jsonnet"] = {"libs": list(facts.jsonnet_lib_dirs)}
            notes.append(
                f"Jsonnet imports {', '.join(facts.jsonnet_unresolved[:3])} resolve from "
                f"{', '.join(facts.jsonnet_lib_dirs)}: set as directory.jsonnet.libs."
            )
        else:
            notes.append(
                f"Jsonnet imports {', '.join(facts.jsonnet_unresolved[:3])} are not in the repository beside the file: "
                "add directory.jsonnet.libs with the directory that holds them, or vendor them into the repository."
            )
    if facts.jsonnet_tla:
        notes.append(
            f"The Jsonnet is a function whose arguments {', '.join(facts.jsonnet_tla[:4])} have no default: give "
            "them as directory.jsonnet.tlas in the Application, or the render fails."
        )
    if facts.chart_dependencies and not facts.chart_dependencies_built:
        notes.append(
            f"The chart's dependencies ({'; '.join(facts.chart_dependencies)}) are not vendored in charts/: the "
            "repo-server runs helm dependency build on every render, which needs those repositories reachable "
            "(a private one registered in Argo CD); run helm dependency build and commit charts/ to pin them."
        )
    package_notes += [n for n in notes if not n.startswith(("ServerSideApply", "Jsonnet imports"))]
    have = set(facts.creates) | SYSTEM_NAMESPACES | {argocd_ns} | set(spec.around.cluster_namespaces or [])
    have |= set(spec.around.repo_namespaces)
    creates = "CreateNamespace=true" in sync.get("syncOptions", [])
    if creates:
        have.add(spec.namespace)
    missing = sorted(set(facts.namespaces) - have)
    if missing:
        notes.append(
            f"The package places objects in {', '.join(missing)}, which it does not create"
            + ("" if spec.around.cluster_namespaces is None else " and the cluster lacks")
            + f": CreateNamespace creates only the destination namespace {spec.namespace}; create "
            f"{missing[0]} first (kubectl create namespace {missing[0]}) or add a Namespace to the package."
        )
    elif not creates and spec.namespace not in have and spec.around.cluster_namespaces is not None:
        notes.append(
            f"The destination namespace {spec.namespace} does not exist in the cluster: answer create_namespace=true."
        )
    return notes


def owner_notes(spec: DeploymentSpec) -> list[str]:
    owners = spec.around.owners
    if not owners:
        return []
    first = owners[0]
    also = f" (also {'; '.join(o.text() for o in owners[1:4])})" if len(owners) > 1 else ""
    return [
        f"{spec.path} is already deployed by {first.text()}{also}: a second Application would fight it over the same "
        "objects (SharedResourceWarning, each pruning the other's). To change that deployment, edit that object "
        "instead of adding this file; keep this only to replace it (then remove the other)."
    ]
