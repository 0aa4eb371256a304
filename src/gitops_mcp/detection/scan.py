"""Find deployable packages and existing GitOps structure in a directory tree.

One pass over the tree (a :class:`~gitops_mcp.detection.tree.TreeSource`: the file system, where
no symlinked directory is followed, so loops are impossible; hidden and vendor directories
skipped), then a cheap line scan of YAML files for top-level ``apiVersion``/``kind``; only files
holding GitOps objects, Chart.yaml and kustomization files are fully parsed.

The phases: bootstraps and kustomizations (:mod:`.kustomize`), charts (:mod:`.helm`), then every
other directory here (plain manifests, Jsonnet, directories of GitOps objects). Which objects are
GitOps objects the providers say (:mod:`.kinds`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitops_mcp.detection.gitops import find_bootstraps, gitops_objects
from gitops_mcp.detection.helm import helm_packages
from gitops_mcp.detection.kinds import (
    GitOpsKinds,
    api_group,
    custom_kind,
    gitops_kinds_of,
    is_gitops_kind,
)
from gitops_mcp.detection.kustomize import Claims, kustomize_packages
from gitops_mcp.detection.models import Confidence, DetectionReport, GitOpsObject, GitOpsStructure, Package
from gitops_mcp.detection.reader import (
    KUSTOMIZATION_FILES,
    VALUES_FILE,
    Doc,
    FileScan,
    Scanner,
    is_kube_object,
    is_manifest,
    is_yaml,
)
from gitops_mcp.detection.tree import LocalTree, TreeSource
from gitops_mcp.syntax import to_dns_label as dns_label

__all__ = ["api_group", "detect_packages", "dns_label", "is_gitops_kind", "is_kube_object"]


@dataclass
class _Found:
    packages: list[Package]
    objects: list[GitOpsObject] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)  # holding only GitOps objects


def detect_packages(
    root: Path, prefix: str = ".", tree: TreeSource | None = None, *, gitops_kinds: Sequence[GitOpsKinds] = ()
) -> DetectionReport:
    """Scan ``root`` (an existing local directory) and report packages and GitOps structure.

    Paths in the report are relative to the repository root; ``prefix`` is where ``root`` lies
    inside the repository ('.' when ``root`` is the repository root). ``tree`` reads from
    somewhere else than the file system (e.g. a git commit) with the same rules. ``gitops_kinds``:
    the engines whose objects count as GitOps structure (``ProviderRegistry.gitops_kinds()``).
    """
    engines = tuple(gitops_kinds)
    sc = Scanner(tree or LocalTree(str(root)), frozenset().union(*(e.config_groups for e in engines)))
    sc.walk(prefix)
    bootstraps, generated = find_bootstraps(sc, engines)
    claims = Claims()
    kust_packages = kustomize_packages(sc, generated, claims)
    charts, app_of_apps = helm_packages(sc, engines)
    found = _Found(packages=[*kust_packages.values(), *charts])
    _other_dirs(sc, engines, generated, claims, kust_packages, found)

    packages = sorted(found.packages, key=lambda p: (p.path, p.type))
    _appliers(packages, found.objects)
    for p in packages:
        p.used_by.sort()
    found.objects.sort(key=lambda o: (o.file, o.document))
    bootstraps.sort(key=lambda b: b.path)
    return DetectionReport(
        root=str(root),
        packages=packages,
        gitops=GitOpsStructure(
            bootstraps=bootstraps,
            objects=found.objects,
            directories=sorted(found.directories),
            app_of_apps_charts=sorted(app_of_apps),
        ),
        skipped=sorted(sc.skipped, key=lambda s: s.path),
        skipped_total=sc.skipped_total,
        files_scanned=sc.files_scanned,
        directories_scanned=len(sc.dirs),
    )


def _other_dirs(
    sc: Scanner,
    engines: Sequence[GitOpsKinds],
    generated: Mapping[str, frozenset[str]],
    claims: Claims,
    kust_packages: Mapping[str, Package],
    out: _Found,
) -> None:
    """Plain manifest directories, Jsonnet, and GitOps objects everywhere (charts excepted)."""

    def is_gitops(o: Doc) -> bool:
        return gitops_kinds_of(o.api_version, o.kind, engines) is not None

    for rel, info in sorted(sc.dirs.items()):
        yaml_names = sorted(n for n in info.files if is_manifest(n))
        in_kust = info.kustomization is not None
        if info.chart and not in_kust:
            continue
        obj_files: list[tuple[str, FileScan]] = []
        non_k8s_files: list[str] = []
        for n in yaml_names:
            frel = n if rel == "." else f"{rel}/{n}"
            if n in KUSTOMIZATION_FILES or n in generated.get(rel, ()):
                continue
            scan = sc.scan_yaml(info.files[n], frel)
            if scan is None:
                continue
            if scan.objects:
                obj_files.append((frel, scan))
            elif is_yaml(n) and not VALUES_FILE.match(n):
                non_k8s_files.append(frel)
            if any(is_gitops(o) for o in scan.objects):
                out.objects.extend(gitops_objects(sc, scan, frel in claims.patch_files, engines))
        if in_kust or rel in generated:
            continue
        claimed_by = claims.dirs.get(rel) or next((claims.files[f] for f, _ in obj_files if f in claims.files), None)
        jsonnet = sorted(n for n in info.files if n.endswith(".jsonnet"))
        if claimed_by is not None:
            if claimed_by in kust_packages and rel != claimed_by:
                kust_packages[claimed_by].evidence.append(f"uses files in {rel}/")
            continue
        if obj_files:
            all_objs = [o for _, s in obj_files for o in s.objects]
            if all(is_gitops(o) for o in all_objs):
                out.directories.append(rel)
                continue
            obj_kinds = sorted({o.kind for o in all_objs})
            namespaces = {o.namespace for o in all_objs if o.namespace}
            evidence = [f"{f}: {', '.join(sorted({o.kind for o in s.objects}))}" for f, s in obj_files[:20]]
            if len(obj_files) > 20:
                evidence.append(f"... and {len(obj_files) - 20} more files")
            conf: Confidence = "high"
            if non_k8s_files:
                conf = "medium"
                evidence.append("also non-Kubernetes YAML: " + ", ".join(non_k8s_files[:5]))
            if jsonnet:
                evidence.append("also Jsonnet: " + ", ".join(jsonnet))
            name = posixpath.basename(rel) if rel != "." else sc.fs.name
            out.packages.append(
                Package(
                    path=rel,
                    type="manifests",
                    name=name,
                    confidence=conf,
                    evidence=evidence,
                    kinds=obj_kinds,
                    custom_kinds=sorted({c for o in all_objs if (c := custom_kind(o.api_version, o.kind))}),
                    namespace=next(iter(namespaces)) if len(namespaces) == 1 else None,
                )
            )
        elif jsonnet:
            libs = sorted(n for n in info.files if n.endswith(".libsonnet"))
            evidence = [f"{rel}/{n}" if rel != "." else n for n in jsonnet]
            if libs:
                evidence.append("libraries: " + ", ".join(libs))
            name = posixpath.basename(rel) if rel != "." else sc.fs.name
            out.packages.append(Package(path=rel, type="jsonnet", name=name, confidence="medium", evidence=evidence))


def _appliers(packages: Sequence[Package], objects: Sequence[GitOpsObject]) -> None:
    """Add to each package's ``used_by`` the files of the GitOps objects that apply its path."""
    by_path = {p.path: p for p in packages}
    for o in objects:
        if o.patch or not o.path or "://" in o.path:
            continue
        path = posixpath.normpath(o.path.strip().lstrip("/")) or "."
        pkg = by_path.get(path)
        entry = f"{o.file} ({o.kind} {o.name})"
        if pkg is not None and entry not in pkg.used_by:
            pkg.used_by.append(entry)
