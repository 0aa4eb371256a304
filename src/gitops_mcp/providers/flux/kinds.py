"""Flux objects in a repository: every toolkit kind, what sources and appliers say, bootstraps."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from gitops_mcp.detection.kinds import Bootstrap, GitOpsKinds, ObjectReader, as_map, as_str
from gitops_mcp.detection.models import GitOpsObject, GitOpsStructure
from gitops_mcp.providers.base import ExistingOwner, ExistingSource

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


def _read_generator(obj: GitOpsObject, spec: Mapping[str, Any]) -> None:
    """source-watcher's ArtifactGenerator: which source directories each ExternalArtifact copies."""
    sources = {}
    for src in spec.get("sources") or []:
        if isinstance(src, dict) and as_str(src.get("alias")):
            sources[str(src["alias"])] = _ref_text(src)
    for art in spec.get("artifacts") or []:
        for c in as_map(art).get("copy") or [] if isinstance(art, dict) else []:
            alias, _, frm = str(as_map(c).get("from", "")).removeprefix("@").partition("/")
            to = str(as_map(c).get("to", "")).removeprefix("@artifact").strip("/")
            if alias in sources and as_str(art.get("name")):
                obj.copies.append(f"{art['name']}|{sources[alias]}|{frm.removesuffix('**').strip('/')}|{to}")


_READERS: dict[str, ObjectReader] = {
    "ArtifactGenerator": _read_generator,
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


BOOTSTRAP_SOURCE = "GitRepository/flux-system"
BOOTSTRAP_NS = "flux-system"


def _bootstrap_ref(o: GitOpsObject) -> bool:
    """A Kustomization reading the bootstrap's own GitRepository (``flux-system/flux-system``)."""
    ref = o.source_ref or ""
    return (
        o.kind == "Kustomization"
        and not o.patch
        and (
            (ref == BOOTSTRAP_SOURCE and (o.namespace or BOOTSTRAP_NS) == BOOTSTRAP_NS)
            or ref == f"{BOOTSTRAP_SOURCE}.{BOOTSTRAP_NS}"
        )
    )


def cluster_dirs(found: GitOpsStructure) -> list[str]:
    """The directories a bootstrap applies: those with a committed ``flux-system``, then those whose
    Kustomizations read the bootstrap's GitRepository (``clusters/<name>`` before ``flux bootstrap``
    committed its own files, or with them kept elsewhere)."""
    boots = [b.path for b in found.bootstraps if posixpath.basename(b.system_path) == "flux-system"]
    inferred = sorted({posixpath.dirname(o.file) or "." for o in found.objects if _bootstrap_ref(o)} - set(boots))
    top = [d for d in inferred if not any(d.startswith(b + "/") for b in boots)]
    return boots + top


def output_dirs(found: GitOpsStructure) -> list[str]:
    """Bootstrapped cluster directories first, then directories holding only Flux objects."""
    boots = cluster_dirs(found)
    files = {o.file for o in found.objects if o.api_version.split("/")[0].endswith("fluxcd.io")}
    return boots + sorted(({posixpath.dirname(f) or "." for f in files} & set(found.directories)) - set(boots))


def existing_sources(found: GitOpsStructure) -> list[ExistingSource]:
    """The committed Git, OCI and Helm repository sources (not patches) a generated object may reuse."""
    out = [
        ExistingSource(kind=o.kind, name=o.name, namespace=o.namespace, url=o.url, ref=o.ref, file=o.file)
        for o in found.objects
        if o.kind in ("GitRepository", "OCIRepository", "HelmRepository") and o.url and not o.patch
    ]
    for d in cluster_dirs(found):  # the bootstrap's own GitRepository serves this repository
        system = f"{d}/flux-system" if d != "." else "flux-system"
        own = next(
            (
                s
                for s in out
                if s.kind == "GitRepository" and s.name == BOOTSTRAP_NS and posixpath.dirname(s.file) == system
            ),
            None,
        )
        if own is not None:
            own.serves = d
        else:
            out.append(
                ExistingSource(
                    kind="GitRepository",
                    name=BOOTSTRAP_NS,
                    namespace=BOOTSTRAP_NS,
                    url="",
                    file=f"{system}/gotk-sync.yaml",
                    serves=d,
                )
            )
    return out


def repo_appliers(found: GitOpsStructure) -> list[ExistingOwner]:
    """Kustomizations committed in the repository that apply a directory of a GitRepository: the
    bootstrap's (``repo_url`` None: this repository) or one committed with its URL."""
    urls = {
        (o.namespace or BOOTSTRAP_NS, o.name): o.url
        for o in found.objects
        if o.kind == "GitRepository" and o.url and not o.patch
    }
    refs = {
        (o.namespace or BOOTSTRAP_NS, o.name): (o.ref or {}).get("branch") or (o.ref or {}).get("tag")
        for o in found.objects
        if o.kind == "GitRepository" and not o.patch
    }
    out: list[ExistingOwner] = []
    for o in found.objects:
        if o.kind != "Kustomization" or o.patch:
            continue
        ns = o.namespace or BOOTSTRAP_NS
        path = posixpath.normpath((o.path or "./").lstrip("/"))
        if (o.source_ref or "").startswith("ExternalArtifact/"):
            via = _generated(found, o, ns, path)
            if via is None:
                continue
            o, path = o.model_copy(update={"source_ref": via[0]}), via[1]
        if not (o.source_ref or "").startswith("GitRepository/"):
            continue
        name, _, src_ns = (o.source_ref or "").removeprefix("GitRepository/").partition(".")
        url = urls.get((src_ns or ns, name))
        if url is None and not _bootstrap_ref(o):
            continue
        out.append(
            ExistingOwner(
                kind=o.kind,
                name=o.name,
                namespace=ns,
                file=o.file,
                path="" if path == "." else path,
                repo_url=url if url and not _bootstrap_ref(o) else None,
                document=o.document,
                revision=None if _bootstrap_ref(o) else refs.get((src_ns or ns, name)),
            )
        )
    return out


def _generated(found: GitOpsStructure, o: GitOpsObject, ns: str, path: str) -> tuple[str, str] | None:
    """(the GitRepository, the repository directory) a Kustomization reading an ExternalArtifact
    applies, from the committed ArtifactGenerator that copies into that artifact."""
    artifact = (o.source_ref or "").removeprefix("ExternalArtifact/").partition(".")[0]
    best: tuple[int, str, str] | None = None
    for g in found.objects:
        if g.kind != "ArtifactGenerator" or (g.namespace or BOOTSTRAP_NS) != ns:
            continue
        for c in g.copies:
            name, src, frm, to = c.split("|")
            rel = "" if path == "." else path
            if name != artifact or not (to == "" or rel == to or rel.startswith(to + "/")):
                continue
            repo_dir = posixpath.normpath(posixpath.join(frm, rel[len(to) :].lstrip("/"))) if to else frm
            repo_dir = posixpath.normpath(posixpath.join(frm, rel)) if not to else repo_dir
            if best is None or len(to) > best[0]:
                best = (len(to), src, repo_dir)
    return (best[1], best[2]) if best else None
