"""What a package's own files say that decides how it can be deployed, read from a tree.

Engine-neutral: the namespaces its objects use or create, whether some objects have none (then the
deployment must give one), its CustomResourceDefinitions too large for a client-side apply, the
apiVersions it uses, a Helm chart's dependencies and whether they are built, and Jsonnet imports
that need library paths or top-level arguments. Kustomize packages are followed through their
``resources`` (directories and files inside the repository; remote bases are not fetched).

Also the full documents of the files in one directory (the siblings a new file joins).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from gitops_mcp.detection.reader import CHART_FILE, KUSTOMIZATION_FILES, MAX_FILE_BYTES, is_kube_object, is_yaml
from gitops_mcp.detection.tree import TreeSource
from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.model import Model

LAST_APPLIED_LIMIT = 262144
"""Bytes an annotation may hold: a client-side apply stores the whole object in one."""
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "APIService",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ClusterIssuer",
    }
)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-=+?][^}]*)?\}")
_IMPORT = re.compile(r"""\bimport(?:str|bin)?\s+(['"])([^'"]+)\1""")
_TOP_FUNCTION = re.compile(r"^\s*(?:(?://|#).*\n|/\*.*?\*/\s*|\s)*function\s*\(([^)]*)\)", re.S)
MAX_FILES = 2000
MAX_NODES = 200_000  # per file, counted as if aliases were expanded: a "billion laughs" file is not read here


class ApiUse(Model):
    api_version: str
    kind: str
    file: str


class PackageFacts(Model):
    """What the package's files say (see the module)."""

    namespaces: list[str] = Field(default_factory=list, description="Namespaces its objects are placed in")
    unplaced: bool = Field(False, description="Some namespaced objects have no namespace of their own")
    creates: list[str] = Field(default_factory=list, description="Namespaces it creates (Namespace objects)")
    apis: list[ApiUse] = Field(default_factory=list, description="apiVersion and kind of each object, first file")
    large_crds: list[str] = Field(default_factory=list, description="CRDs too large for a client-side apply")
    chart_dependencies: list[str] = Field(default_factory=list, description="A chart's dependencies")
    chart_dependencies_built: bool = True
    jsonnet_unresolved: list[str] = Field(default_factory=list, description="Imports not found beside the file")
    jsonnet_lib_dirs: list[str] = Field(default_factory=list, description="Repository dirs that resolve them")
    jsonnet_tla: list[str] = Field(default_factory=list, description="Top-level function arguments without default")
    variables: list[str] = Field(default_factory=list, description="${var} substitutions its objects use")
    files_read: int = 0


class _Files:
    """Repository-relative reads over a :class:`TreeSource` rooted at the repository root."""

    def __init__(self, tree: TreeSource) -> None:
        self.tree = tree
        self._handles: dict[str, str | None] = {"": tree.root}

    def _dir(self, rel: str) -> str | None:
        rel = "" if rel in ("", ".") else rel.strip("/")
        if rel in self._handles:
            return self._handles[rel]
        parent, name = posixpath.split(rel)
        ph = self._dir(parent)
        handle = self.tree.child(ph, name) if ph is not None else None
        self._handles[rel] = handle
        return handle

    def listing(self, rel: str) -> tuple[list[str], list[str]]:
        """(files, directories) of a repository directory; empty when it is not one."""
        handle = self._dir(rel)
        if handle is None:
            return [], []
        try:
            entries = self.tree.list_dir(handle)
        except OSError:
            return [], []
        files = sorted(e.name for e in entries if e.kind == "file")
        dirs = sorted(e.name for e in entries if e.kind == "dir" and not e.name.startswith("."))
        return files, dirs

    def read(self, rel: str) -> str | None:
        parent, name = posixpath.split(rel)
        handle = self._dir(parent)
        if handle is None:
            return None
        try:
            entry = next((e for e in self.tree.list_dir(handle) if e.name == name and e.kind == "file"), None)
            if entry is None or self.tree.size(entry.handle) > 4 * MAX_FILE_BYTES:
                return None
            return self.tree.read(entry.handle).decode("utf-8", errors="replace")
        except OSError:
            return None

    def docs(self, rel: str) -> list[Any]:
        text = self.read(rel)
        if text is None:
            return []
        try:
            if rel.endswith(".json"):
                data = json.loads(text)
                return data if isinstance(data, list) else [data]
            docs = load_documents(text, rel)
        except (UserInputError, ValueError):
            return []
        return docs if _expanded_size(docs, MAX_NODES) <= MAX_NODES else []


def _expanded_size(node: Any, budget: int) -> int:
    """Nodes of ``node`` counted as if every alias were expanded, stopping once over ``budget``."""
    count, todo = 0, [node]
    while todo and count <= budget:
        n = todo.pop()
        count += 1
        if isinstance(n, dict):
            todo.extend(n.values())
        elif isinstance(n, list):
            todo.extend(n)
    return count


def _join(base: str, ref: str) -> str | None:
    """``ref`` relative to ``base``, normalised; None when it leaves the repository or is remote."""
    if "://" in ref or ref.startswith(("github.com/", "git@")):
        return None
    joined = posixpath.normpath(posixpath.join(base, ref))
    return None if joined.startswith("..") else ("" if joined == "." else joined)


def _kustomization(files: _Files, rel: str) -> dict[str, Any] | None:
    names, _ = files.listing(rel)
    name = next((n for n in KUSTOMIZATION_FILES if n in names), None)
    if name is None:
        return None
    docs = files.docs(posixpath.join(rel, name) if rel else name)
    return docs[0] if docs and isinstance(docs[0], dict) else {}


def _objects_of(files: _Files, rel: str, seen: set[str]) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """(file, object, namespace the kustomization sets) for every object a directory builds."""
    if rel in seen or len(seen) > MAX_FILES:
        return
    seen.add(rel)
    kust = _kustomization(files, rel)
    if kust is None:  # a plain directory: its YAML and JSON files, and its subdirectories (as Flux builds it)
        names, dirs = files.listing(rel)
        for n in names:
            if is_yaml(n) or n.endswith(".json"):
                f = posixpath.join(rel, n) if rel else n
                yield from ((f, d, None) for d in files.docs(f) if isinstance(d, dict))
        for sub in dirs:
            yield from _objects_of(files, posixpath.join(rel, sub) if rel else sub, seen)
        return
    ns = kust.get("namespace") if isinstance(kust.get("namespace"), str) else None
    refs = [r for key in ("resources", "bases", "components") for r in (kust.get(key) or []) if isinstance(r, str)]
    for ref in refs:
        target = _join(rel, ref)
        if target is None:
            continue
        _, dirs = files.listing(posixpath.dirname(target))
        if posixpath.basename(target) in dirs or target == "":
            for f, obj, inner in _objects_of(files, target, seen):
                yield f, obj, ns or inner
        elif target not in seen:
            seen.add(target)
            yield from ((target, d, ns) for d in files.docs(target) if isinstance(d, dict))


def _crd_size(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc, separators=(",", ":")))


def _manifest_facts(files: _Files, path: str, out: PackageFacts) -> None:
    namespaces: set[str] = set()
    seen_apis: set[tuple[str, str]] = set()
    seen: set[str] = set()
    for f, doc, kust_ns in _objects_of(files, path, seen):
        api, kind = doc.get("apiVersion"), doc.get("kind")
        if not isinstance(api, str) or not isinstance(kind, str) or not is_kube_object(api, kind):
            continue
        meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
        for var in _VARIABLE.findall(json.dumps(doc)):
            if var not in out.variables and len(out.variables) < 20:
                out.variables.append(var)
        if (api, kind) not in seen_apis:
            seen_apis.add((api, kind))
            out.apis.append(ApiUse(api_version=api, kind=kind, file=f))
        if kind == "Namespace" and isinstance(meta.get("name"), str):
            out.creates.append(meta["name"])
        if kind == "CustomResourceDefinition" and _crd_size(doc) > LAST_APPLIED_LIMIT:
            out.large_crds.append(f"{meta.get('name')} ({_crd_size(doc) // 1024} KiB, {f})")
        if kind in CLUSTER_SCOPED or kind.startswith("Cluster") or kind.endswith("List"):
            continue
        ns = kust_ns or (meta.get("namespace") if isinstance(meta.get("namespace"), str) else None)
        if ns:
            namespaces.add(ns)
        else:
            out.unplaced = True
    out.files_read = len(seen)
    out.namespaces = sorted(namespaces)


def _chart_facts(files: _Files, path: str, out: PackageFacts) -> None:
    chart = files.docs(posixpath.join(path, CHART_FILE) if path not in ("", ".") else CHART_FILE)
    deps: list[Any] = []
    if chart and isinstance(chart[0], dict):
        deps = chart[0].get("dependencies") or []
    req = files.docs(posixpath.join(path, "requirements.yaml") if path not in ("", ".") else "requirements.yaml")
    if req and isinstance(req[0], dict):
        deps = [*deps, *(req[0].get("dependencies") or [])]
    for d in deps:
        if isinstance(d, dict) and d.get("name"):
            out.chart_dependencies.append(f"{d['name']} {d.get('version', '*')} from {d.get('repository', '?')}")
    if out.chart_dependencies:
        _, dirs = files.listing(path)
        names, _ = files.listing(posixpath.join(path, "charts") if path not in ("", ".") else "charts")
        out.chart_dependencies_built = "charts" in dirs and len(names) >= len(out.chart_dependencies)


def _jsonnet_facts(files: _Files, path: str, out: PackageFacts) -> None:
    names, _ = files.listing(path)
    for n in names:
        if not n.endswith(".jsonnet"):
            continue
        rel = posixpath.join(path, n) if path not in ("", ".") else n
        text = files.read(rel) or ""
        m = _TOP_FUNCTION.match(text)
        if m:
            params = [p.strip() for p in m.group(1).split(",") if p.strip()]
            out.jsonnet_tla += [f"{p} ({rel})" for p in params if "=" not in p]
        for _, imp in _IMPORT.findall(text):
            if _found(files, _join(path, imp)):
                continue
            out.jsonnet_unresolved.append(f"{imp} ({rel})")
            for lib in _lib_candidates(files, imp):
                if lib not in out.jsonnet_lib_dirs:
                    out.jsonnet_lib_dirs.append(lib)


def _found(files: _Files, rel: str | None) -> bool:
    if rel is None:
        return False
    names, _ = files.listing(posixpath.dirname(rel))
    return posixpath.basename(rel) in names


def _lib_candidates(files: _Files, imp: str) -> list[str]:
    """Top-level repository directories (and ``vendor``-style ones below them) that hold ``imp``."""
    _, top = files.listing("")
    return [base for d in top for base in (d, f"{d}/vendor", f"{d}/lib") if _found(files, _join(base, imp))]


def package_facts(tree: TreeSource, path: str, package_type: str) -> PackageFacts:
    """What the package at ``path`` (repository-relative) of type ``package_type`` says;
    ``tree`` is rooted at the repository root."""
    files = _Files(tree)
    out = PackageFacts()
    rel = "" if path in ("", ".") else path.strip("/")
    if package_type in ("kustomize", "manifests"):
        _manifest_facts(files, rel, out)
    elif package_type == "helm":
        _chart_facts(files, rel, out)
        crds = posixpath.join(rel, "crds") if rel else "crds"
        sub = PackageFacts()
        _manifest_facts(files, crds, sub)
        out.large_crds, out.creates = sub.large_crds, []
    elif package_type == "jsonnet":
        _jsonnet_facts(files, rel, out)
    return out


class FileObject(Model):
    """An object of a repository file, whole (a sibling a new file joins)."""

    file: str
    document: int
    doc: dict[str, Any]

    def key(self) -> tuple[str, str, str | None]:
        meta = self.doc.get("metadata") or {}
        ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
        return str(self.doc.get("kind")), str(meta.get("name")), ns


def directory_objects(tree: TreeSource, directory: str, recursive: bool = True) -> list[FileObject]:
    """Every object (with apiVersion and kind) in the YAML files of ``directory`` (and below it)."""
    files = _Files(tree)
    out: list[FileObject] = []
    todo = ["" if directory in ("", ".") else directory.strip("/")]
    count = 0
    while todo and count < MAX_FILES:
        rel = todo.pop(0)
        names, dirs = files.listing(rel)
        for n in names:
            if not is_yaml(n) or n in KUSTOMIZATION_FILES:
                continue
            f = posixpath.join(rel, n) if rel else n
            count += 1
            for i, d in enumerate(files.docs(f)):
                if isinstance(d, dict) and isinstance(d.get("apiVersion"), str) and isinstance(d.get("kind"), str):
                    out.append(FileObject(file=f, document=i, doc=d))
        if recursive:
            todo += [posixpath.join(rel, d) if rel else d for d in dirs]
    return out
