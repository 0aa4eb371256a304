"""The judge's own reading of a repository for bench/deployments.py: its YAML documents, what a
directory builds to as Flux would build it (kustomizations, plain directories), which directory
includes which, its Flux bootstraps, and the committed Kustomizations and Applications that apply
it. Written independently of the generator (gitops_mcp) on purpose: the judge must not share its
mistakes."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import yaml


def docs_of(path: Path) -> list[dict[str, Any]]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return []


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, list[dict[str, Any]]] = {}
        for p in sorted(root.rglob("*.y*ml")):
            rel = p.relative_to(root).as_posix()
            if ".git/" in rel or rel.endswith("gotk-components.yaml"):
                continue
            self.files[rel] = docs_of(p)

    def kustomization(self, d: str) -> dict[str, Any] | None:
        for n in ("kustomization.yaml", "kustomization.yml"):
            if f"{d}/{n}".lstrip("/") in self.files:
                docs = self.files[f"{d}/{n}".lstrip("/")]
                return docs[0] if docs else {}
        return None

    def build(self, d: str, seen: set[str] | None = None) -> list[tuple[dict[str, Any], str | None]]:
        """(object, namespace the kustomization sets) of a directory as Flux would build it."""
        seen = set() if seen is None else seen
        if d in seen:
            return []
        seen.add(d)
        k = self.kustomization(d)
        out: list[tuple[dict[str, Any], str | None]] = []
        if k is None:
            for f, docs in self.files.items():
                if posixpath.dirname(f) == d:
                    out += [(x, None) for x in docs if "apiVersion" in x and "kind" in x]
            for sub in sorted({posixpath.dirname(f) for f in self.files if posixpath.dirname(f).startswith(d + "/")}):
                if posixpath.dirname(sub) == d:
                    out += self.build(sub, seen)
            return out
        ns = k.get("namespace")
        for r in [*(k.get("resources") or []), *(k.get("bases") or [])]:
            t = posixpath.normpath(posixpath.join(d, r))
            if t in self.files:
                out += [(x, ns) for x in self.files[t] if "apiVersion" in x]
            else:
                out += [(x, ns or n) for x, n in self.build(t, seen)]
        return out

    def includes(self, parent: str, target: str) -> bool:
        if parent == target:
            return True
        k = self.kustomization(parent)
        if k is None:
            return target.startswith(parent + "/") if parent else True
        for r in [*(k.get("resources") or []), *(k.get("bases") or [])]:
            t = posixpath.normpath(posixpath.join(parent, r))
            if t not in self.files and self.includes(t, target):
                return True
        return False

    def flux_bootstraps(self) -> list[str]:
        out = set()
        for f, docs in self.files.items():
            for d in docs:
                src = (d.get("spec") or {}).get("sourceRef") or {}
                if d.get("kind") == "Kustomization" and src.get("name") == "flux-system" and f.startswith("clusters/"):
                    out.add("/".join(f.split("/")[:2]))
            if "/flux-system/" in f and f.startswith("clusters/"):
                out.add("/".join(f.split("/")[:2]))
        return sorted(out)

    def appliers(self, origin: str) -> list[tuple[str, str, str]]:
        """(file, name, path) of committed Kustomizations / Applications applying this repository."""
        out = []
        for f, docs in self.files.items():
            for d in docs:
                spec = d.get("spec") or {}
                name = str((d.get("metadata") or {}).get("name"))
                src = spec.get("sourceRef") or {}
                ks = d.get("kind") == "Kustomization" and src.get("kind") == "GitRepository" and "interval" in spec
                if ks and (src.get("name") == "flux-system" or self._serves(src.get("name"), origin)):
                    out.append((f, name, posixpath.normpath(str(spec.get("path") or ".")).lstrip("./")))
                if d.get("kind") == "Kustomization" and src.get("kind") == "ExternalArtifact":
                    out += [(f, name, p) for p in self._generated(str(src.get("name")), str(spec.get("path") or "."))]
                s = spec.get("source") or {}
                if (
                    d.get("kind") == "Application"
                    and str(s.get("repoURL", "")).rstrip("/").removesuffix(".git") == origin
                ):
                    out.append((f, name, posixpath.normpath(str(s.get("path") or ".")).lstrip("./")))
        return out

    def _generated(self, artifact: str, path: str) -> list[str]:
        """Repository directories an ArtifactGenerator copies to ``path`` of ExternalArtifact ``artifact``."""
        path = posixpath.normpath(path).lstrip("./")
        out = []
        for docs in self.files.values():
            for d in docs:
                if d.get("kind") != "ArtifactGenerator":
                    continue
                for art in (d.get("spec") or {}).get("artifacts") or []:
                    for c in art.get("copy") or [] if art.get("name") == artifact else []:
                        frm = str(c.get("from", "")).partition("/")[2].removesuffix("**").strip("/")
                        to = str(c.get("to", "")).removeprefix("@artifact").strip("/")
                        if not to or path == to or path.startswith(to + "/"):
                            out.append(posixpath.normpath(posixpath.join(frm, path[len(to) :].lstrip("/"))))
        return out

    def _serves(self, name: Any, origin: str) -> bool:
        return any(
            d.get("kind") == "GitRepository"
            and (d.get("metadata") or {}).get("name") == name
            and str((d.get("spec") or {}).get("url", "")).rstrip("/").removesuffix(".git") == origin
            and ((d.get("spec") or {}).get("ref") or {}).get("branch") in (None, "main", "master")
            for docs in self.files.values()
            for d in docs
        )
