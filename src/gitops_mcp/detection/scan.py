"""Find deployable packages and existing GitOps structure in a directory tree.

One pass over the tree (a :class:`~gitops_mcp.detection.tree.TreeSource`: the file system, where
no symlinked directory is followed, so loops are impossible; hidden and vendor directories
skipped), then a cheap line scan of YAML files for top-level ``apiVersion``/``kind``; only files
holding Argo CD or Flux objects, Chart.yaml and kustomization files are fully parsed.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_mcp.detection.models import (
    Confidence,
    DetectionReport,
    FluxBootstrap,
    GitOpsObject,
    GitOpsStructure,
    Package,
    Skipped,
)
from gitops_mcp.detection.tree import LocalTree, TreeSource
from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.yaml import load_documents

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
SKIP_DIRS = frozenset(
    {"node_modules", "vendor", "bower_components", "third_party", "__pycache__", "venv", "site-packages"}
)
CHART_INTERNAL_DIRS = frozenset({"templates", "charts", "crds"})
MAX_FILE_BYTES = 1 << 20
MAX_SKIPPED_LISTED = 50

_DOC_SPLIT = re.compile(r"^---[ \t]*(?:#.*)?$", re.M)
_API_LINE = re.compile(r"""^apiVersion:[ \t]*["']?([^"'\s#]+)""", re.M)
_KIND_LINE = re.compile(r"""^kind:[ \t]*["']?([^"'\s#]+)""", re.M)
_META_NS = re.compile(  # line alternatives are disjoint, so a failing match cannot backtrack exponentially
    r"""^metadata:[ \t]*\n(?:(?:[ \t]+\S.*|[ \t]*)\n)*?[ \t]+namespace:[ \t]*["']?([^"'\s#]+)""", re.M
)
_API_VERSION = re.compile(
    r"^(v1|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/v[0-9]+((alpha|beta)[0-9]+)?)$"
)
# apiVersions that look like Kubernetes but are configuration files, not cluster objects.
NON_OBJECT_GROUPS = frozenset(
    {
        "kustomize.config.k8s.io",
        "config.kubernetes.io",
        "kind.x-k8s.io",
        "kubeadm.k8s.io",
        "kubelet.config.k8s.io",
        "kubeproxy.config.k8s.io",
        "apiserver.config.k8s.io",
        "audit.k8s.io",
        "client.authentication.k8s.io",
        "schema.plugin.fluxcd.io",
        "k3d.io",
        "ctlptl.dev",
        "skaffold",
        "builtin",
    }
)
ARGO_GITOPS_KINDS = frozenset({"Application", "ApplicationSet", "AppProject"})
_VALUES_FILE = re.compile(r"^values.*\.ya?ml$")
_TEMPLATE_APP = re.compile(r"^apiVersion:[ \t]*argoproj\.io/\S+\s*\n(?:.*\n)?kind:[ \t]*Application\b", re.M)


def api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def is_kube_object(api_version: str, kind: str) -> bool:
    """True when apiVersion/kind name an object one would apply to a cluster."""
    if not _API_VERSION.match(api_version) or not kind[:1].isupper():
        return False
    group = api_group(api_version)
    if group in NON_OBJECT_GROUPS:
        return False
    return not (api_version == "v1" and kind == "Config")


def is_gitops_kind(api_version: str, kind: str) -> bool:
    """True for Flux toolkit objects and Argo CD Application/ApplicationSet/AppProject."""
    group = api_group(api_version)
    if group.endswith("fluxcd.io") and group not in NON_OBJECT_GROUPS:
        return True
    return group == "argoproj.io" and kind in ARGO_GITOPS_KINDS


@dataclass
class _Doc:
    api_version: str
    kind: str
    namespace: str | None


@dataclass
class _FileScan:
    rel: str
    text: str
    objects: list[_Doc]
    non_objects: int  # YAML documents that are not cluster objects


@dataclass
class _DirInfo:
    rel: str
    abs: str  # the tree source's handle
    files: dict[str, str] = field(default_factory=dict)  # name -> handle
    subdirs: set[str] = field(default_factory=set)
    kustomization: str | None = None
    chart: bool = False


class _Scanner:
    def __init__(self, tree: TreeSource) -> None:
        self.fs = tree
        self.dirs: dict[str, _DirInfo] = {}
        self.skipped: list[Skipped] = []
        self.skipped_total = 0
        self.files_scanned = 0
        self._scans: dict[str, _FileScan | None] = {}

    # -- walking ---------------------------------------------------------------
    def skip(self, rel: str, reason: str) -> None:
        self.skipped_total += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(Skipped(path=rel, reason=reason))

    def walk(self, prefix: str = ".") -> None:
        stack: list[tuple[str, str]] = [(self.fs.root, prefix)]
        while stack:
            handle, rel_dir = stack.pop()
            info = _DirInfo(rel=rel_dir, abs=handle)
            subdirs: list[tuple[str, str]] = []
            try:
                entries = self.fs.list_dir(handle)
            except OSError as exc:
                self.skip(rel_dir, f"directory not readable ({exc.strerror or exc.__class__.__name__})")
                continue
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                if entry.kind == "skip":
                    self.skip(rel, entry.reason)
                elif entry.kind == "dir":
                    info.subdirs.add(name)
                    if name not in SKIP_DIRS:
                        subdirs.append((entry.handle, rel))
                else:
                    info.files[name] = entry.handle
            self.files_scanned += len(info.files)
            info.chart = CHART_FILE in info.files
            info.kustomization = next((k for k in KUSTOMIZATION_FILES if k in info.files), None)
            self.dirs[rel_dir] = info
            if info.chart and info.kustomization is None:
                continue  # the whole subtree belongs to the chart
            for sub_handle, rel_sub in subdirs:
                if info.chart and rel_sub.rsplit("/", 1)[-1] in CHART_INTERNAL_DIRS:
                    continue
                stack.append((sub_handle, rel_sub))

    # -- reading ---------------------------------------------------------------
    def read_text(self, handle: str, rel: str) -> str | None:
        try:
            if self.fs.size(handle) > MAX_FILE_BYTES:
                self.skip(rel, "larger than 1 MiB")
                return None
            data = self.fs.read(handle)
        except OSError as exc:
            self.skip(rel, f"not readable ({exc.strerror or exc.__class__.__name__})")
            return None
        if b"\x00" in data[:8192]:
            self.skip(rel, "binary file")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.skip(rel, "not UTF-8 text")
            return None

    def scan_yaml(self, abs_path: str, rel: str) -> _FileScan | None:
        if rel in self._scans:
            return self._scans[rel]
        text = self.read_text(abs_path, rel)
        result: _FileScan | None = None
        if text is not None:
            objects: list[_Doc] = []
            non_objects = 0
            for part in _DOC_SPLIT.split(text) if "---" in text else (text,):
                api = _API_LINE.search(part)
                kind = _KIND_LINE.search(part) if api else None
                if api and kind and is_kube_object(api.group(1), kind.group(1)):
                    ns = _META_NS.search(part)
                    objects.append(_Doc(api.group(1), kind.group(1), ns.group(1) if ns else None))
                elif any(ln.strip() and not ln.lstrip().startswith("#") for ln in part.splitlines()):
                    non_objects += 1  # a YAML document that is not a cluster object (comments alone do not count)
            result = _FileScan(rel, text, objects, non_objects)
        self._scans[rel] = result
        return result

    def parse(self, text: str, rel: str) -> list[Any] | None:
        try:
            return load_documents(text, rel)
        except UserInputError as exc:
            self.skip(rel, str(exc))
            return None


def _norm(rel_dir: str, ref: str) -> str | None:
    """Join a kustomization reference to its directory; None when it leaves the repository."""
    joined = posixpath.normpath(posixpath.join(rel_dir, ref)) if rel_dir != "." else posixpath.normpath(ref)
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None
    return joined


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("github.com/", "gitlab.com/", "git@", "bitbucket.org/"))


def _is_yaml(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def dns_label(name: str, fallback: str = "app") -> str:
    """Turn any name into a DNS-1123 label (lowercase, [a-z0-9-], <= 63)."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    out = re.sub(r"-{2,}", "-", out)[:63].strip("-")
    return out or fallback


@dataclass
class _KustRefs:
    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)
    patch_files: set[str] = field(default_factory=set)


def _kustomization_refs(k: dict[str, Any], rel_dir: str) -> _KustRefs:
    refs = _KustRefs()

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
        if _is_yaml(target) or target.rsplit("/", 1)[-1] in KUSTOMIZATION_FILES:
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


def detect_packages(root: Path, prefix: str = ".", tree: TreeSource | None = None) -> DetectionReport:
    """Scan ``root`` (an existing local directory) and report packages and GitOps structure.

    Paths in the report are relative to the repository root; ``prefix`` is where ``root`` lies
    inside the repository ('.' when ``root`` is the repository root). ``tree`` reads from
    somewhere else than the file system (e.g. a git commit) with the same rules.
    """
    sc = _Scanner(tree or LocalTree(str(root)))
    sc.walk(prefix)
    packages: list[Package] = []
    objects: list[GitOpsObject] = []
    bootstraps: list[FluxBootstrap] = []
    gitops_dirs: list[str] = []
    app_of_apps: list[str] = []

    claimed_files: dict[str, str] = {}  # file -> kustomization dir that uses it
    claimed_dirs: dict[str, str] = {}
    dir_users: dict[str, list[str]] = {}
    patch_files: set[str] = set()
    kust_packages: dict[str, Package] = {}

    bootstrap_dirs: set[str] = set()
    for rel, info in sc.dirs.items():
        if rel.rsplit("/", 1)[-1] == "flux-system" and (
            "gotk-sync.yaml" in info.files or "gotk-components.yaml" in info.files
        ):
            parent = posixpath.dirname(rel) or "."
            bootstraps.append(
                FluxBootstrap(cluster=posixpath.basename(parent) or "default", path=parent, flux_system_path=rel)
            )
            bootstrap_dirs.add(rel)

    # Kustomize packages.
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
        refs = _kustomization_refs(kdoc, rel)
        for f in refs.files:
            claimed_files.setdefault(f, rel)
        for d in refs.dirs:
            claimed_dirs.setdefault(d, rel)
            dir_users.setdefault(d, []).append(rel)
        patch_files |= refs.patch_files
        n_res = len(kdoc.get("resources") or []) + len(kdoc.get("bases") or [])
        if n_res:
            evidence.append(f"{n_res} resources")
        if kdoc.get("helmCharts"):
            evidence.append("inflates Helm charts (helmCharts)")
        if kdoc.get("kind") == "Component":
            evidence.append("a Kustomize Component (used by other kustomizations)")
            confidence = "medium"
        if info.chart:
            evidence.append("also has Chart.yaml: treated as Kustomize, as Argo CD does")
            confidence = "medium" if confidence == "high" else confidence
        evidence.extend(refs.evidence)
        ns = kdoc.get("namespace") if isinstance(kdoc.get("namespace"), str) else None
        kinds: set[str] = set()
        for f in sorted(refs.files - refs.patch_files):
            if posixpath.dirname(f) == (rel if rel != "." else "") and f.rsplit("/", 1)[-1] in info.files:
                scan = sc.scan_yaml(info.files[f.rsplit("/", 1)[-1]], f)
                if scan:
                    kinds.update(o.kind for o in scan.objects)
        if rel in bootstrap_dirs:
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
        )
        kust_packages[rel] = pkg
        packages.append(pkg)

    for d, users in dir_users.items():
        if d in kust_packages:
            kust_packages[d].used_by.extend(users)

    # Helm charts.
    for rel, info in sc.dirs.items():
        if not info.chart or info.kustomization is not None:
            continue
        crel = CHART_FILE if rel == "." else f"{rel}/{CHART_FILE}"
        text = sc.read_text(info.files[CHART_FILE], crel)
        docs = sc.parse(text, crel) if text is not None else None
        chart = docs[0] if docs and isinstance(docs[0], dict) else {}
        evidence = [crel]
        confidence = "high"
        chart_name = _str(chart.get("name"))
        if not chart:
            confidence = "low"
            evidence.append("Chart.yaml could not be parsed")
        if chart.get("type") == "library":
            sc.skip(rel, "Helm library chart (not deployable on its own)")
            continue
        if chart_name:
            evidence.append(
                f"chart {chart_name} version {chart.get('version', '?')} (apiVersion {chart.get('apiVersion', '?')})"
            )
        else:
            confidence = "low"
            evidence.append("Chart.yaml has no name")
        templates = sc.fs.child(info.abs, "templates") if "templates" in info.subdirs else None
        has_templates = templates is not None
        deps = [d.get("name") for d in chart.get("dependencies") or [] if isinstance(d, dict)]
        if templates is not None:
            evidence.append("templates/ present")
            if _renders_applications(sc, templates, f"{rel}/templates" if rel != "." else "templates"):
                app_of_apps.append(rel)
                evidence.append("templates render Argo CD Applications (app of apps)")
        if deps:
            evidence.append("dependencies: " + ", ".join(str(d) for d in deps))
        if not has_templates and not deps and confidence == "high":
            confidence = "medium"
            evidence.append("no templates/ and no dependencies")
        values = sorted((n for n in info.files if _VALUES_FILE.match(n)), key=lambda n: (n != "values.yaml", n))
        version = chart.get("version")
        packages.append(
            Package(
                path=rel,
                type="helm",
                name=chart_name or posixpath.basename(rel) or "chart",
                confidence=confidence,
                evidence=evidence,
                values_files=values,
                chart_version=str(version) if version is not None else None,
            )
        )

    # Plain manifest directories, Jsonnet, and GitOps objects everywhere.
    for rel, info in sorted(sc.dirs.items()):
        yaml_names = sorted(n for n in info.files if _is_yaml(n))
        in_kust = info.kustomization is not None
        if info.chart and not in_kust:
            continue
        obj_files: list[tuple[str, _FileScan]] = []
        non_k8s_files: list[str] = []
        for n in yaml_names:
            frel = n if rel == "." else f"{rel}/{n}"
            if n in KUSTOMIZATION_FILES or (rel in bootstrap_dirs and n == "gotk-components.yaml"):
                continue
            scan = sc.scan_yaml(info.files[n], frel)
            if scan is None:
                continue
            if scan.objects:
                obj_files.append((frel, scan))
            elif not _VALUES_FILE.match(n):
                non_k8s_files.append(frel)
            if any(is_gitops_kind(o.api_version, o.kind) for o in scan.objects):
                objects.extend(_gitops_objects(sc, scan, frel in patch_files))
        if in_kust or rel in bootstrap_dirs:
            continue
        claimed_by = claimed_dirs.get(rel) or next((claimed_files[f] for f, _ in obj_files if f in claimed_files), None)
        jsonnet = sorted(n for n in info.files if n.endswith(".jsonnet"))
        if claimed_by is not None:
            if claimed_by in kust_packages and rel != claimed_by:
                kust_packages[claimed_by].evidence.append(f"uses files in {rel}/")
            continue
        if obj_files:
            all_objs = [o for _, s in obj_files for o in s.objects]
            if all(is_gitops_kind(o.api_version, o.kind) for o in all_objs):
                gitops_dirs.append(rel)
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
            packages.append(
                Package(
                    path=rel,
                    type="manifests",
                    name=name,
                    confidence=conf,
                    evidence=evidence,
                    kinds=obj_kinds,
                    namespace=next(iter(namespaces)) if len(namespaces) == 1 else None,
                )
            )
        elif jsonnet:
            libs = sorted(n for n in info.files if n.endswith(".libsonnet"))
            evidence = [f"{rel}/{n}" if rel != "." else n for n in jsonnet]
            if libs:
                evidence.append("libraries: " + ", ".join(libs))
            name = posixpath.basename(rel) if rel != "." else sc.fs.name
            packages.append(Package(path=rel, type="jsonnet", name=name, confidence="medium", evidence=evidence))

    packages.sort(key=lambda p: (p.path, p.type))
    for p in packages:
        p.used_by.sort()
    objects.sort(key=lambda o: (o.file, o.document))
    bootstraps.sort(key=lambda b: b.path)
    return DetectionReport(
        root=str(root),
        packages=packages,
        gitops=GitOpsStructure(
            flux_bootstraps=bootstraps,
            objects=objects,
            directories=sorted(gitops_dirs),
            app_of_apps_charts=sorted(app_of_apps),
        ),
        skipped=sorted(sc.skipped, key=lambda s: s.path),
        skipped_total=sc.skipped_total,
        files_scanned=sc.files_scanned,
        directories_scanned=len(sc.dirs),
    )


def _renders_applications(sc: _Scanner, templates: str, templates_rel: str) -> bool:
    try:
        entries = sc.fs.list_dir(templates)
    except OSError:
        return False
    for e in sorted((e for e in entries if e.kind == "file" and _is_yaml(e.name)), key=lambda e: e.name):
        text = sc.read_text(e.handle, f"{templates_rel}/{e.name}")
        if text and _TEMPLATE_APP.search(text):
            return True
    return False


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _map(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _gitops_objects(sc: _Scanner, scan: _FileScan, patch: bool) -> list[GitOpsObject]:
    docs = sc.parse(scan.text, scan.rel)
    out: list[GitOpsObject] = []
    for i, doc in enumerate(docs or []):
        if not isinstance(doc, dict):
            continue
        api, kind = _str(doc.get("apiVersion")), _str(doc.get("kind"))
        if not api or not kind or not is_gitops_kind(api, kind):
            continue
        meta, spec = _map(doc.get("metadata")), _map(doc.get("spec"))
        obj = GitOpsObject(
            api_version=api,
            kind=kind,
            name=_str(meta.get("name")) or "",
            namespace=_str(meta.get("namespace")),
            file=scan.rel,
            document=i,
            patch=patch,
        )
        if kind in ("GitRepository", "OCIRepository", "HelmRepository", "Bucket"):
            obj.url = _str(spec.get("url"))
            ref = spec.get("ref")
            if isinstance(ref, dict):
                obj.ref = {str(k): str(v) for k, v in ref.items() if isinstance(v, str | int | float)}
        elif kind == "Kustomization":
            obj.path = _str(spec.get("path"))
            sref = spec.get("sourceRef")
            if isinstance(sref, dict):
                obj.source_ref = f"{sref.get('kind')}/{sref.get('name')}" + (
                    f".{sref['namespace']}" if sref.get("namespace") else ""
                )
        elif kind == "HelmRelease":
            chart = _map(_map(spec.get("chart")).get("spec"))
            sref = chart.get("sourceRef")
            cref = spec.get("chartRef")
            ref_obj = sref if isinstance(sref, dict) else cref if isinstance(cref, dict) else None
            if ref_obj:
                obj.source_ref = f"{ref_obj.get('kind')}/{ref_obj.get('name')}" + (
                    f".{ref_obj['namespace']}" if ref_obj.get("namespace") else ""
                )
            obj.path = _str(chart.get("chart"))
        elif kind == "Application":
            src = spec.get("source")
            if not isinstance(src, dict) and isinstance(spec.get("sources"), list) and spec["sources"]:
                src = spec["sources"][0]
            if isinstance(src, dict):
                obj.repo_url = _str(src.get("repoURL"))
                obj.path = _str(src.get("path")) or _str(src.get("chart"))
                rev = src.get("targetRevision")
                obj.target_revision = str(rev) if rev is not None else None
        out.append(obj)
    return out
