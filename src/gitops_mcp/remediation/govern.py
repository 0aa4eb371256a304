"""Which place in Git really decides a field of an object that Kustomize builds.

Kustomize applies, at every level of a build (outermost last), the level's patches and then its
``images`` and ``replicas`` transformers; so the value of a field is the one the outermost level
that touches it sets. An autoscaler over ``replicas`` decides the live count at run time: no edit
in Git does. :func:`governing_edit` finds that place and edits it, or refuses with the reason.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.edit import YamlEditor
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.remediation.changes import MergePatch, Refused, SetEnv, SetImage, SetReplicas, SetResources
from gitops_mcp.syntax import parse_image_reference

KFILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_DEPTH = 20
AUTOSCALERS = {"HorizontalPodAutoscaler": "autoscaling", "ScaledObject": "keda.sh"}
Path_ = list[str | int]


def _docs(root: Path, rel: str) -> list[Any]:
    try:
        return load_documents((root / rel).read_text(encoding="utf-8"), rel)
    except (OSError, UnicodeDecodeError, UserInputError):
        return []


def kfile_of(root: Path, directory: str) -> str | None:
    for name in KFILES:
        rel = posixpath.join(directory, name) if directory not in ("", ".") else name
        if (root / rel).is_file():
            return rel
    return None


def _join(directory: str, ref: str) -> str:
    return posixpath.normpath(posixpath.join(directory if directory != "." else "", ref))


def build_chain(root: Path, overlay_dir: str, file: str) -> list[str]:
    """The kustomization files whose build includes ``file``, outermost first (``overlay_dir``:
    the directory the engine applies; without a kustomization, the engine's generated one takes
    in its subdirectories' kustomizations)."""

    def down(kfile: str, depth: int, seen: set[str]) -> list[str] | None:
        if depth > MAX_DEPTH or kfile in seen:
            return None
        seen.add(kfile)
        docs = _docs(root, kfile)
        k = docs[0] if docs and isinstance(docs[0], dict) else {}
        here = posixpath.dirname(kfile) or "."
        for key in ("resources", "bases", "components"):
            for ref in k.get(key) or []:
                if not isinstance(ref, str) or "://" in ref:
                    continue
                target = _join(here, ref)
                if target == file:
                    return [kfile]
                sub = kfile_of(root, target) if (root / target).is_dir() else None
                found = down(sub, depth + 1, seen) if sub else None
                if found is not None:
                    return [kfile, *found]
        return None

    start = kfile_of(root, overlay_dir)
    if start is None:  # a plain directory: its subdirectories with a kustomization are built
        own = kfile_of(root, posixpath.dirname(file) or ".")
        inside = overlay_dir in (".", "") or (file + "/").startswith(overlay_dir.rstrip("/") + "/")
        start = own if own is not None and inside else None
    return (down(start, 0, set()) or []) if start else []


def autoscaler_over(root: Path, dirs: list[str], kind: str, name: str) -> str | None:
    """The autoscaler in these directories that scales ``kind``/``name``, described; or None."""
    for d in dict.fromkeys(dirs):
        try:
            names = sorted(p.name for p in (root / d).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        except OSError:
            continue
        for n in names:
            rel = _join(d, n)
            for doc in _docs(root, rel):
                if not isinstance(doc, dict) or doc.get("kind") not in AUTOSCALERS:
                    continue
                spec: dict[str, Any] = doc["spec"] if isinstance(doc.get("spec"), dict) else {}
                target: dict[str, Any] = spec["scaleTargetRef"] if isinstance(spec.get("scaleTargetRef"), dict) else {}
                if target.get("name") == name and target.get("kind", "Deployment") == kind:
                    bounds = f" between {spec.get('minReplicas', 1)} and {spec.get('maxReplicas', '?')} replicas"
                    bounds = bounds if doc["kind"] == "HorizontalPodAutoscaler" else ""
                    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
                    return f"{doc['kind']} {meta.get('name')} ({rel}) scales {kind} {name}{bounds}"
    return None


def leaves(patch: dict[str, Any], prefix: list[str | int] | None = None) -> list[tuple[list[str | int], Any]]:
    out: list[tuple[list[str | int], Any]] = []
    for k, v in patch.items():
        path: list[str | int] = [*(prefix or []), k]
        if isinstance(v, dict) and v:
            out += leaves(v, path)
        else:
            out.append((path, v))
    return out


def container_index(doc: dict[str, Any], name: str | None) -> tuple[Path_, int]:
    spec = doc.get("spec") or {}
    pod = spec.get("template", {}).get("spec") if doc.get("kind") != "Pod" else spec
    base: Path_ = ["spec", "template", "spec"] if doc.get("kind") != "Pod" else ["spec"]
    if doc.get("kind") == "CronJob":
        pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
        base = ["spec", "jobTemplate", "spec", "template", "spec"]
    containers = (pod or {}).get("containers") or []
    names = [c.get("name") for c in containers]
    if not containers:
        raise Refused(f"{doc.get('kind')} {doc.get('metadata', {}).get('name')} has no containers in Git")
    if name is None:
        if len(containers) > 1:
            raise Refused(f"the workload has several containers ({', '.join(map(str, names))}); name one")
        return base, 0
    if name not in names:
        raise Refused(f"no container {name!r}; containers: {', '.join(map(str, names))}")
    return base, names.index(name)


def field_ops(doc: dict[str, Any], change: Any) -> list[tuple[Path_, Any]]:
    """The fields of the object ``change`` sets, with their values (empty: not a field change)."""
    if isinstance(change, SetReplicas):
        return [(["spec", "replicas"], change.replicas)]
    if isinstance(change, SetImage):
        base, i = container_index(doc, change.container)
        return [([*base, "containers", i, "image"], change.image)]
    if isinstance(change, SetResources):
        base, i = container_index(doc, change.container)
        return [
            ([*base, "containers", i, "resources", s, k], v)
            for s in ("requests", "limits")
            for k, v in getattr(change, s).items()
        ]
    if isinstance(change, SetEnv):  # an existing plain variable (a new one is the object's own)
        base, i = container_index(doc, change.container)
        env = _dig(doc, [*base, "containers", i]).get("env") or []
        j = next((j for j, e in enumerate(env) if isinstance(e, dict) and e.get("name") == change.name), None)
        if j is None or "valueFrom" in env[j]:
            return []
        return [([*base, "containers", i, "env", j, "value"], change.value)]
    if isinstance(change, MergePatch):
        return leaves(change.patch)
    return []


Editor = Callable[[str], YamlEditor]


def _image_name(image: str) -> str:
    try:
        return parse_image_reference(image).name
    except ValueError as exc:
        raise Refused(f"{exc}; fix the image in Git first") from exc


def _transformer(ed: Editor, kfile: str, k: dict[str, Any], doc: dict[str, Any], change: Any, name: str) -> bool:
    """Edit the kustomization's images/replicas entry that decides the field; True when there is one."""
    if isinstance(change, SetReplicas):
        for i, e in enumerate(k.get("replicas") or []):
            if isinstance(e, dict) and e.get("name") == name:
                ed(kfile).set(0, ["replicas", i, "count"], change.replicas)
                return True
    if isinstance(change, SetImage):
        base, idx = container_index(doc, change.container)
        current = _image_name(str(_dig(doc, [*base, "containers", idx]).get("image", "")))
        new = parse_image_reference(change.image)
        for i, e in enumerate(k.get("images") or []):
            if isinstance(e, dict) and e.get("name") == current:
                if new.name != current or "newName" in e:
                    ed(kfile).set(0, ["images", i, "newName"], new.name)
                if new.tag:
                    ed(kfile).set(0, ["images", i, "newTag"], new.tag)
                if new.digest or "digest" in e:
                    ed(kfile).set(0, ["images", i, "digest"], new.digest or "")
                return True
    return False


def _dig(node: Any, path: Path_) -> Any:
    for p in path:
        node = node[p]
    return node


def _has(node: Any, path: Path_) -> bool:
    for p in path:
        in_list = isinstance(p, int) and isinstance(node, list) and p < len(node)
        if not (in_list or (isinstance(p, str) and isinstance(node, dict) and p in node)):
            return False
        node = node[p]
    return True


def _smp_path(patch: dict[str, Any], doc: dict[str, Any], path: Path_) -> Path_ | None:
    """``path`` of the object as it is in a strategic-merge patch (containers matched by name)."""
    out: Path_ = []
    node: Any = patch
    orig: Any = doc
    for i, p in enumerate(path):
        if isinstance(p, int):
            name = orig[p].get("name") if isinstance(orig, list) and p < len(orig) else None
            idx = next((j for j, c in enumerate(node) if isinstance(c, dict) and c.get("name") == name), None)
            if name is None or idx is None:
                return None
            out.append(idx)
            node, orig = node[idx], orig[p]
        elif isinstance(node, dict) and p in node:
            out.append(p)
            node, orig = node[p], (orig.get(p) if isinstance(orig, dict) else None)
        else:
            return None
        if i < len(path) - 1 and not isinstance(node, dict | list):
            return None
    return out


def _patches(root: Path, kfile: str, k: dict[str, Any], kind: str, name: str) -> list[tuple[str, Any]]:
    """(file or '' for inline, patch) of the kustomization's patches that target ``kind``/``name``."""
    here = posixpath.dirname(kfile) or "."
    out: list[tuple[str, Any]] = []
    entries: list[tuple[Any, Any]] = [(p, None) for p in k.get("patchesStrategicMerge") or []]
    entries += [
        (p.get("path") or p.get("patch"), p.get("target")) for p in k.get("patches") or [] if isinstance(p, dict)
    ]
    entries += [(p.get("path"), p.get("target")) for p in k.get("patchesJson6902") or [] if isinstance(p, dict)]
    for ref, target in entries:
        if not isinstance(ref, str):
            continue
        if isinstance(target, dict) and (target.get("kind", kind) != kind or target.get("name", name) != name):
            continue
        inline = "\n" in ref or ref.lstrip().startswith(("-", "{", "["))
        rel = "" if inline else _join(here, ref)
        try:
            docs = load_documents(ref, kfile) if inline else _docs(root, rel)
        except UserInputError:
            continue
        for i, d in enumerate(docs):
            if isinstance(d, list) and isinstance(target, dict):
                out.append((rel, ("json6902", i, d)))
            elif isinstance(d, dict) and d.get("kind") == kind and (d.get("metadata") or {}).get("name") == name:
                out.append((rel, ("smp", i, d)))
    return out


def _patch_edit(
    ed: Editor, kfile: str, found: list[tuple[str, Any]], doc: dict[str, Any], path: Path_, value: Any
) -> str | None:
    """Edit the last patch of ``found`` that sets ``path``; its file, or None when none sets it."""
    pointer = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)
    for rel, (style, i, patch) in reversed(found):
        if style == "json6902":
            j = next(
                (
                    j
                    for j, op in reversed(list(enumerate(patch)))
                    if isinstance(op, dict) and op.get("path") == pointer and op.get("op") in ("add", "replace")
                ),
                None,
            )
            where: Path_ | None = [j, "value"] if j is not None else None
        else:
            where = _smp_path(patch, doc, path) if _has(patch, path[:1]) else None
            where = where if where is not None and _has(patch, where) else None
        if where is None:
            continue
        if not rel:
            raise Refused(
                f"an inline patch in {kfile} sets {'.'.join(map(str, path))}; it decides the value: change it there "
                "by hand (it is not edited automatically)"
            )
        ed(rel).set(i, where, value)
        return str(rel)
    return None


def governing_edit(
    root: Path, ed: Editor, chain: list[str], doc: dict[str, Any], change: Any, kind: str, name: str
) -> tuple[list[tuple[str, str, str]], list[tuple[Path_, Any]]]:
    """Edit the places of the build ``chain`` (kustomization files, outermost first) that decide
    what ``change`` sets: ((file, role, reason) of each, the fields no level decides: the object's
    own document does)."""
    ops = field_ops(doc, change)
    done: list[tuple[str, str, str]] = []
    for kfile in chain:
        if not ops:
            break
        docs = _docs(root, kfile)
        k = docs[0] if docs and isinstance(docs[0], dict) else {}
        if _transformer(ed, kfile, k, doc, change, name):
            what = "images" if isinstance(change, SetImage) else "replicas"
            return [(kfile, "kustomization", f"the {what} transformer of {kfile} decides this {kind}'s {what}")], []
        found = _patches(root, kfile, k, kind, name)
        left = []
        for path, value in ops:
            rel = _patch_edit(ed, kfile, found, doc, path, value)
            if rel is None:
                left.append((path, value))
            elif rel not in [d[0] for d in done]:
                done.append((rel, "patch", f"the patch {rel} of {kfile} sets this over {kind} {name}'s own document"))
        ops = left
    return done, ops
