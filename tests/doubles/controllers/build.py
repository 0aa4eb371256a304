"""What the controllers read from Git: files of a commit in a bare repository, and a kustomize build of them."""

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path

import yaml

from doubles.kube.resources import Obj

# The kinds kustomize's namespace transformer leaves alone (cluster-scoped).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "APIService",
    }
)


class BuildError(Exception):
    """What kustomize says when it cannot build (after kustomize-controller's "kustomize build failed: ")."""


# go-yaml's words for what PyYAML says differently (the rest keep PyYAML's words: a known difference)
_GO_YAML = {
    "expected ',' or ']'": "did not find expected ',' or ']'",
    "expected ',' or '}'": "did not find expected ',' or '}'",
}


def load_all(text: str, rel: str) -> list[Obj]:
    """The documents of the resource ``rel`` (as the kustomization lists it); malformed YAML in
    kustomize's words (seen on the testbed): accumulating resources: accumulating resources from
    'cm.yaml': MalformedYAMLError: yaml: line 2: did not find expected ',' or ']' in File: cm.yaml."""
    try:
        return [d for d in yaml.safe_load_all(text) if d]
    except yaml.MarkedYAMLError as exc:
        problem = str(exc.problem or "").split(", but ")[0]
        mark = exc.context_mark or exc.problem_mark
        line = mark.line if exc.context_mark is not None else (mark.line + 1 if mark else 0)
        raise BuildError(
            f"accumulating resources: accumulating resources from '{rel}': MalformedYAMLError: "
            f"yaml: line {line}: {_GO_YAML.get(problem, problem)} in File: {rel}"
        ) from exc
    except yaml.YAMLError as exc:
        raise BuildError(f"accumulating resources: accumulating resources from '{rel}': {exc}") from exc


def git(bare: Path, *args: str) -> str | None:
    p = subprocess.run(["git", "-C", str(bare), *args], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def files_at(bare: Path, sha: str, path: str) -> dict[str, str] | None:
    """Files under ``path`` at ``sha`` (None when the path does not exist)."""
    prefix = path.strip("./") if path not in ("", ".", "./") else ""
    listing = git(bare, "ls-tree", "-r", "--name-only", sha, "--", prefix or ".")
    if listing is None:
        return None
    names = [n for n in listing.splitlines() if n]
    if not names:
        return None
    out = {}
    for n in names:
        if n.endswith((".yaml", ".yml")) or n.rsplit("/", 1)[-1] == "Kustomization":
            out[n] = git(bare, "show", f"{sha}:{n}") or ""
    return out


def build(files: dict[str, str], path: str, recurse: bool = True) -> list[Obj]:
    """Objects of a directory: its kustomization's resources, else every YAML file."""
    base = path.strip("./") if path not in ("", ".", "./") else ""
    kfile = next(
        (f for f in (posixpath.join(base, k) for k in ("kustomization.yaml", "kustomization.yml")) if f in files),
        None,
    )
    docs: list[Obj] = []
    if kfile is not None:
        try:
            k = yaml.safe_load(files[kfile]) or {}
        except yaml.YAMLError as exc:
            raise BuildError(f"{kfile}: {exc}") from exc
        for res in k.get("resources") or []:
            target = posixpath.normpath(posixpath.join(base, res))
            if target in files:
                docs += load_all(files[target], res)
            else:
                docs += build(files, target)
        if k.get("namespace"):
            for d in docs:
                if d.get("kind") not in CLUSTER_SCOPED:
                    d.setdefault("metadata", {})["namespace"] = k["namespace"]
        for r in k.get("replicas") or []:  # the replicas and images transformers
            for d in docs:
                if (d.get("metadata") or {}).get("name") == r.get("name") and "spec" in d:
                    d["spec"]["replicas"] = r.get("count")
        set_images(docs, k.get("images") or [])
        return docs
    kust_dirs = sorted(
        {posixpath.dirname(f) for f in files if posixpath.basename(f) in ("kustomization.yaml", "kustomization.yml")}
    )
    taken: list[str] = []
    for d in kust_dirs:  # subdirectories with their own kustomization are built through it
        below = d.startswith(base + "/") if base else d not in ("", ".")
        if below and not any(d == t or d.startswith(t + "/") for t in taken):
            taken.append(d)
            docs += build(files, d)
    for name, text in sorted(files.items()):
        if base and not name.startswith(base + "/"):
            continue
        rel = name[len(base) + 1 :] if base else name
        if not recurse and "/" in rel:
            continue
        if any(name.startswith(t + "/") for t in taken):
            continue
        docs += load_all(text, rel)
    return docs


def set_images(docs: list[Obj], images: list[Obj]) -> None:
    """The images transformer (a kustomization's ``images``, a Flux Kustomization's ``spec.images``):
    containers whose image is ``name`` (with any tag) get ``newName`` and ``newTag``."""
    for img in images:
        for d in docs:
            pod = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
            for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                repo, _, tag = str(c.get("image", "")).partition(":")
                if repo == img.get("name"):
                    new_tag = img.get("newTag", tag)
                    c["image"] = img.get("newName", repo) + (f":{new_tag}" if new_tag else "")
