"""Kustomize packages: every directory with a kustomization file, and what each one uses."""

from __future__ import annotations

import posixpath
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from gitops_mcp.detection.kinds import custom_kind
from gitops_mcp.detection.models import Confidence, Package
from gitops_mcp.detection.reader import KUSTOMIZATION_FILES, Scanner, is_manifest


@dataclass
class Claims:
    """What the kustomizations use: files and directories (-> the first kustomization dir using
    them), and the files they apply as patches."""

    files: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, str] = field(default_factory=dict)
    patch_files: set[str] = field(default_factory=set)


def _norm(rel_dir: str, ref: str) -> str | None:
    """Join a kustomization reference to its directory; None when it leaves the repository."""
    joined = posixpath.normpath(posixpath.join(rel_dir, ref)) if rel_dir != "." else posixpath.normpath(ref)
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None
    return joined


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("github.com/", "gitlab.com/", "git@", "bitbucket.org/"))


@dataclass
class KustRefs:
    """What one kustomization references."""

    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)
    patch_files: set[str] = field(default_factory=set)


def kustomization_refs(k: dict[str, Any], rel_dir: str) -> KustRefs:
    """The files and directories a kustomization uses (relative to the repository)."""
    refs = KustRefs()

    def add(ref: Any, *, patch: bool = False) -> None:
        if not isinstance(ref, str) or not ref.strip() or "\n" in ref:
            return  # inline patch
        if _is_remote(ref):
            refs.evidence.append(f"remote resource {ref} (not read)")
            return
        target = _norm(rel_dir, ref)
        if target is None:
            refs.evidence.append(f"reference {ref} points outside the repository")
            return
        if is_manifest(target) or target.rsplit("/", 1)[-1] in KUSTOMIZATION_FILES:
            refs.files.add(target)
            if patch:
                refs.patch_files.add(target)
        else:
            refs.dirs.add(target)

    for key in ("resources", "bases", "components", "crds", "configurations", "transformers", "generators"):
        for item in k.get(key) or []:
            add(item)
    for item in k.get("patchesStrategicMerge") or []:
        add(item, patch=True)
    for item in (k.get("patches") or []) + (k.get("patchesJson6902") or []):
        if isinstance(item, str):
            add(item, patch=True)
        elif isinstance(item, dict):
            add(item.get("path"), patch=True)
    for gen in (k.get("configMapGenerator") or []) + (k.get("secretGenerator") or []):
        if isinstance(gen, dict):
            for f in gen.get("files") or []:
                if isinstance(f, str):
                    add(f.split("=", 1)[-1])
    return refs


def kustomize_packages(sc: Scanner, skip_dirs: Collection[str], claims: Claims) -> dict[str, Package]:
    """One package per kustomization directory (by path), except in ``skip_dirs``; what they use
    is added to ``claims``, and a package used as a base by others lists them in ``used_by``."""
    packages: dict[str, Package] = {}
    users: dict[str, list[str]] = {}
    for rel, info in sc.dirs.items():
        if info.kustomization is None:
            continue
        kfile = info.kustomization
        krel = kfile if rel == "." else f"{rel}/{kfile}"
        text = sc.read_text(info.files[kfile], krel)
        docs = sc.parse(text, krel) if text is not None else None
        evidence = [f"{krel}"]
        confidence: Confidence = "high"
        kdoc: dict[str, Any] = {}
        if not docs or not isinstance(docs[0], dict):
            confidence = "low"
            evidence.append(f"{kfile} could not be parsed as a mapping")
        else:
            kdoc = docs[0]
            kind = kdoc.get("kind")
            if kind not in (None, "Kustomization", "Component"):
                confidence = "low"
                evidence.append(f"{kfile} has kind {kind!r}, not Kustomization")
        refs = kustomization_refs(kdoc, rel)
        for f in refs.files:
            claims.files.setdefault(f, rel)
        for d in refs.dirs:
            claims.dirs.setdefault(d, rel)
            users.setdefault(d, []).append(rel)
        claims.patch_files |= refs.patch_files
        n_res = len(kdoc.get("resources") or []) + len(kdoc.get("bases") or [])
        if n_res:
            evidence.append(f"{n_res} resources")
        if kdoc.get("helmCharts"):
            evidence.append("inflates Helm charts (helmCharts)")
        if kdoc.get("kind") == "Component":
            continue  # a Kustomize Component is part of the kustomizations that use it, not a package
        if info.chart:
            evidence.append("also has Chart.yaml: treated as Kustomize, as GitOps engines do")
            confidence = "medium" if confidence == "high" else confidence
        evidence.extend(refs.evidence)
        ns = kdoc.get("namespace") if isinstance(kdoc.get("namespace"), str) else None
        kinds: set[str] = set()
        custom: set[str] = set()
        for f in sorted(refs.files - refs.patch_files):
            if posixpath.dirname(f) == (rel if rel != "." else "") and f.rsplit("/", 1)[-1] in info.files:
                scan = sc.scan_yaml(info.files[f.rsplit("/", 1)[-1]], f)
                if scan:
                    kinds.update(o.kind for o in scan.objects)
                    custom.update(c for o in scan.objects if (c := custom_kind(o.api_version, o.kind)))
        if rel in skip_dirs:
            continue
        name = posixpath.basename(rel) if rel != "." else sc.fs.name
        pkg = Package(
            path=rel,
            type="kustomize",
            name=name,
            confidence=confidence,
            evidence=evidence,
            namespace=ns,
            kinds=sorted(kinds),
            custom_kinds=sorted(custom),
        )
        packages[rel] = pkg

    for d, using in users.items():
        if d in packages:
            packages[d].used_by.extend(using)
    return packages
