"""Reading a tree for detection: one walk over the directories, and a cheap line scan of YAML.

The walk (over a :class:`~gitops_mcp.detection.tree.TreeSource`) skips hidden and vendor
directories and every spelling of .git (``GIT~1``), and does not descend into a Helm chart's own
directories; a YAML file is only
scanned line by line for top-level ``apiVersion``/``kind`` (and ``metadata.namespace``), and
parsed in full only when a caller needs its documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gitops_mcp.detection.kinds import NON_OBJECT_GROUPS, api_group
from gitops_mcp.detection.models import Skipped
from gitops_mcp.detection.tree import TreeSource
from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.paths import is_git_name

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
VALUES_FILE = re.compile(r"^values.*\.ya?ml$")
_API_VERSION = re.compile(
    r"^(v1|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/v[0-9]+((alpha|beta)[0-9]+)?)$"
)


def is_kube_object(api_version: str, kind: str, config_groups: frozenset[str] = frozenset()) -> bool:
    """True when apiVersion/kind name an object one would apply to a cluster (``config_groups``:
    the engines' configuration file groups, see ``GitOpsKinds.config_groups``)."""
    if not _API_VERSION.match(api_version) or not kind[:1].isupper():
        return False
    group = api_group(api_version)
    if group in NON_OBJECT_GROUPS or group in config_groups:
        return False
    return not (api_version == "v1" and kind == "Config")


def is_yaml(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def is_manifest(name: str) -> bool:
    """A file an engine may read as manifests: YAML or JSON."""
    return name.endswith((".yaml", ".yml", ".json"))


@dataclass
class Doc:
    api_version: str
    kind: str
    namespace: str | None


@dataclass
class FileScan:
    rel: str
    text: str
    objects: list[Doc]
    non_objects: int  # YAML documents that are not cluster objects


@dataclass
class DirInfo:
    rel: str
    abs: str  # the tree source's handle
    files: dict[str, str] = field(default_factory=dict)  # name -> handle
    subdirs: set[str] = field(default_factory=set)
    kustomization: str | None = None
    chart: bool = False


class Scanner:
    """One walk over a tree: its directories, what was skipped and why, and cached line scans."""

    def __init__(self, tree: TreeSource, config_groups: frozenset[str] = frozenset()) -> None:
        self.fs = tree
        self.config_groups = config_groups
        self.dirs: dict[str, DirInfo] = {}
        self.skipped: list[Skipped] = []
        self.skipped_total = 0
        self.files_scanned = 0
        self._scans: dict[str, FileScan | None] = {}

    # -- walking ---------------------------------------------------------------
    def skip(self, rel: str, reason: str) -> None:
        self.skipped_total += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(Skipped(path=rel, reason=reason))

    def walk(self, prefix: str = ".") -> None:
        stack: list[tuple[str, str]] = [(self.fs.root, prefix)]
        while stack:
            handle, rel_dir = stack.pop()
            info = DirInfo(rel=rel_dir, abs=handle)
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
                elif entry.kind == "dir" and is_git_name(name):
                    self.skip(rel, "a .git directory by another name, not read")
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

    def scan_yaml(self, abs_path: str, rel: str) -> FileScan | None:
        if rel in self._scans:
            return self._scans[rel]
        text = self.read_text(abs_path, rel)
        result: FileScan | None = None
        if text is not None and rel.endswith(".json"):
            result = self._scan_json(text, rel)
        elif text is not None:
            objects: list[Doc] = []
            non_objects = 0
            for part in _DOC_SPLIT.split(text) if "---" in text else (text,):
                api = _API_LINE.search(part)
                kind = _KIND_LINE.search(part) if api else None
                if api and kind and is_kube_object(api.group(1), kind.group(1), self.config_groups):
                    ns = _META_NS.search(part)
                    objects.append(Doc(api.group(1), kind.group(1), ns.group(1) if ns else None))
                elif any(ln.strip() and not ln.lstrip().startswith("#") for ln in part.splitlines()):
                    non_objects += 1  # a YAML document that is not a cluster object (comments alone do not count)
            result = FileScan(rel, text, objects, non_objects)
        self._scans[rel] = result
        return result

    def _scan_json(self, text: str, rel: str) -> FileScan:
        """A JSON manifest: one object, or a List of them; any other JSON (a dashboard) holds none."""
        import json

        try:
            doc = json.loads(text) if '"apiVersion"' in text and '"kind"' in text else None
        except ValueError:
            doc = None
        items = doc.get("items") if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else [doc]
        objects = []
        for d in items if isinstance(items, list) else []:
            api, kind = (d.get("apiVersion"), d.get("kind")) if isinstance(d, dict) else (None, None)
            if isinstance(api, str) and isinstance(kind, str) and is_kube_object(api, kind, self.config_groups):
                meta = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
                ns = meta.get("namespace")
                objects.append(Doc(api, kind, ns if isinstance(ns, str) else None))
        return FileScan(rel, text, objects, 0)

    def parse(self, text: str, rel: str) -> list[Any] | None:
        """The documents of a file; read-only (they are shared between scans of the same text)."""
        try:
            # the reason names no path: the path is beside it, and it is the repository's text
            return list(_parsed(text) if len(text) <= CACHED_TEXT else load_documents(text, "the file"))
        except UserInputError as exc:
            self.skip(rel, str(exc))
            return None


CACHED_TEXT = 16 << 10  # kustomization.yaml, Chart.yaml, GitOps objects: small files, bounded memory


@lru_cache(maxsize=1024)
def _parsed(text: str) -> tuple[Any, ...]:
    """Parsing is most of a scan's time, and a repository is scanned again at every session start:
    the same text parses to the same documents."""
    return tuple(load_documents(text, "the file"))
