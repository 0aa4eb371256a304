"""Remediation through Git: structured changes, where to make them, and the surgical edits.

:func:`plan` is pure (files in, edited files out): it decides which file and document carry the
change — where the owner's provider routes it (:meth:`Provider.remediation_route`): the values of
the owner document that installs a chart (the environment's patch of it when its overlay has one),
or the values file of a chart the owner renders from Git; else the overlay's ``replicas``/``images``
fields for an object from a shared Kustomize base, otherwise the object's own document — and
refuses, with the reason, what cannot be done safely (unmanaged objects, what the provider refuses,
an ambiguous container, a value rendered by a chart without a values route).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from gitops_mcp.cluster.owner import OwnerResult
from gitops_mcp.detection import detect_packages
from gitops_mcp.detection.kinds import GitOpsKinds
from gitops_mcp.manifests.edit import YamlEditor
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.model import Model
from gitops_mcp.providers.effects import LiveEffect
from gitops_mcp.providers.live import RemediationRoute
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.remediation.changes import (
    MergePatch,
    Refused,
    SetEnv,
    SetHelmValues,
    SetImage,
    SetReplicas,
    SetResources,
)
from gitops_mcp.remediation.govern import autoscaler_over, build_chain, container_index, governing_edit, leaves
from gitops_mcp.syntax import parse_image_reference


class FileEdit(Model):
    file: str
    role: Literal["object", "patch", "kustomization", "values"] = Field(
        "object",
        description="object: a full manifest (schema-validated); patch: a Kustomize patch; "
        "kustomization: kustomization.yaml; values: a Helm values file",
    )
    document: int
    reason: str = Field(description="Why this file and document")
    before: str
    after: str = Field(description="Empty: the file is removed")


class Plan(Model):
    edits: list[FileEdit]
    affects: list[str] = Field(default_factory=list, description="Other environments the change reaches")
    notes: list[str] = Field(default_factory=list)
    live_effect: LiveEffect | None = Field(None, description="pull_request: what the merge would do (dry run)")


def _read(root: Path, rel: str) -> str:
    p = (root / rel).resolve()
    if root.resolve() not in p.parents:
        raise Refused(f"{rel} is outside the repository")
    return p.read_text(encoding="utf-8")


def _docs(root: Path, rel: str) -> list[Any]:
    return load_documents(_read(root, rel), rel)


def kustomization_file(root: Path, directory: str) -> str | None:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        rel = posixpath.join(directory, name) if directory not in ("", ".") else name
        if (root / rel).is_file():
            return rel
    return None


def _norm_dir(path: str) -> str:
    p = posixpath.normpath(path.removeprefix("./")) if path not in ("", ".", "./") else "."
    return p


def _split_image(image: str) -> tuple[str, str | None]:
    """(name, tag) of an image reference; a digest is not part of either."""
    try:
        ref = parse_image_reference(image)
    except ValueError as exc:
        raise Refused(f"{exc}; fix the image in Git first") from exc
    return ref.name, ref.tag


def _object_edits(editor: YamlEditor, doc_index: int, doc: dict[str, Any], change: Any) -> None:
    if isinstance(change, SetReplicas):
        editor.set(doc_index, ["spec", "replicas"], change.replicas)
    elif isinstance(change, SetImage):
        base, i = container_index(doc, change.container)
        editor.set(doc_index, [*base, "containers", i, "image"], change.image)
    elif isinstance(change, SetEnv):
        base, i = container_index(doc, change.container)
        container = _dig(doc, [*base, "containers", i])
        env = container.get("env")
        if env:
            names = [e.get("name") for e in env]
            if change.name in names:
                j = names.index(change.name)
                if "valueFrom" in env[j]:
                    raise Refused(f"{change.name} comes from valueFrom; change its source instead")
                editor.set(doc_index, [*base, "containers", i, "env", j, "value"], change.value)
            else:
                editor.append(doc_index, [*base, "containers", i, "env"], {"name": change.name, "value": change.value})
        else:
            editor.set(doc_index, [*base, "containers", i, "env"], [{"name": change.name, "value": change.value}])
    elif isinstance(change, SetResources):
        base, i = container_index(doc, change.container)
        for section in ("requests", "limits"):
            for k, v in getattr(change, section).items():
                editor.set(doc_index, [*base, "containers", i, "resources", section, k], v)
    elif isinstance(change, MergePatch):
        for path, value in leaves(change.patch):
            if value is None:
                raise Refused("deleting fields (null in the merge patch) is not supported; edit the file by hand")
            editor.set(doc_index, path, value)
    else:
        raise Refused("Helm values apply to HelmReleases and Helm-based Applications, not to this object")


def _dig(node: Any, path: list[str | int]) -> Any:
    for p in path:
        node = node[p]
    return node


def values_ops(change: Any) -> list[tuple[list[str | int], Any]]:
    if isinstance(change, SetHelmValues):
        return [(list(k.split(".")), v) for k, v in change.values.items()]
    if isinstance(change, SetReplicas):
        return [(["replicaCount"], change.replicas)]
    if isinstance(change, SetImage):
        repo, tag = _split_image(change.image)
        ops: list[tuple[list[str | int], Any]] = [(["image", "repository"], repo)]
        if tag:
            ops.append((["image", "tag"], tag))
        return ops
    raise Refused(
        "the object is rendered by a Helm chart: change it through the chart's values (set_helm_values, "
        "set_replicas or set_image), never in the templates"
    )


def route_of(owner: OwnerResult, registry: ProviderRegistry) -> RemediationRoute:
    """Where the managing provider makes a change to the object (nothing special when unknown)."""
    if owner.manager is None or owner.manager not in registry:
        return RemediationRoute()
    return registry.get(owner.manager).remediation_route(owner.chain, owner.git)


def check_owner(owner: OwnerResult, registry: ProviderRegistry) -> RemediationRoute:
    """Refuse, before any repository is touched, what cannot be changed through Git: unmanaged
    objects, what the managing provider refuses, a chain that names no Git location; else the route."""
    if not owner.managed:
        raise Refused(owner.message + "; nothing was changed")
    route = route_of(owner, registry)
    if route.refusal is not None:
        raise Refused(route.refusal + "; nothing was changed")
    if owner.git is None:
        raise Refused(
            "the owner chain names no Git repository that defines the object; pass repo_path (a local path or "
            "the git URL of that repository)"
        )
    return route


def plan(
    root: Path, owner: OwnerResult, change: Any, registry: ProviderRegistry, gitops_kinds: Sequence[GitOpsKinds] = ()
) -> Plan:
    """Decide where ``change`` goes and make the edits in memory (nothing is written)."""
    route = check_owner(owner, registry)
    if owner.git is None or owner.repo_root is None:
        raise Refused(
            "the repository that defines the object is not available here; pass repo_path (a local clone or "
            f"the git URL of {owner.git.url if owner.git else 'the source repository'})"
        )
    git = owner.git
    texts: dict[str, YamlEditor] = {}
    roles: dict[str, str] = {}

    def editor(rel: str) -> YamlEditor:
        if rel not in texts:
            texts[rel] = YamlEditor(_read(root, rel))
        return texts[rel]

    result = Plan(edits=[])
    overlay_dir = _norm_dir(git.path)
    chart_dir = overlay_dir if overlay_dir != "." else ""
    nearest = owner.chain[0].kind if owner.chain else "owner"
    if route.chart_values and (root / chart_dir / "Chart.yaml").is_file():
        values_rel = posixpath.join(chart_dir, git.value_files[-1] if git.value_files else "values.yaml")
        if not (root / values_rel).is_file():
            raise Refused(f"the values file {values_rel} of the {nearest}'s chart does not exist")
        ed = editor(values_rel)
        roles[values_rel] = "values"
        for path, value in values_ops(change):
            ed.set(0, path, value)
        return _finish(
            root,
            texts,
            {
                values_rel: f"the {nearest} renders the chart {chart_dir or '.'}; its values "
                f"for this environment are in {values_rel}"
            },
            result,
            roles,
        )
    file = owner.file
    if file is None:
        raise Refused(f"no document for {git.defining_kind} {git.defining_name} under {git.path}; {owner.message}")
    defining_dir = posixpath.dirname(file.file) or "."
    reasons: dict[str, str] = {}
    if route.values_kind is not None:
        kind = route.values_kind
        target_rel, target_doc = file.file, file.document
        reason = f"the object is rendered from the {kind} {git.defining_name}; its values are in {file.file}"
        patch = _overlay_patch(root, overlay_dir, kind, git.defining_name)
        if patch is not None and patch[0] != file.file:
            target_rel, target_doc = patch
            reason = (
                f"the overlay {overlay_dir} patches the {kind} {git.defining_name} in {target_rel}; "
                "changed there so only this environment changes"
            )
        ed = editor(target_rel)
        for path, value in values_ops(change):
            ed.set(target_doc, [*route.values_path, *path], value)
        reasons[target_rel] = reason
        roles[target_rel] = "patch" if target_rel != file.file else "object"
    elif route.chart_values and git.value_files and git.defining_kind not in ("",):
        raise Refused(
            f"the {nearest} renders a Helm chart from Git: set values in "
            f"{posixpath.join(git.path, git.value_files[-1])} with set_helm_values"
        )
    else:
        doc = _docs(root, file.file)[file.document]
        in_base = overlay_dir != "." and not (defining_dir + "/").startswith(overlay_dir.rstrip("/") + "/")
        chain = build_chain(root, overlay_dir, file.file)
        if isinstance(change, SetReplicas) or (
            isinstance(change, MergePatch) and "replicas" in (change.patch.get("spec") or {})
        ):
            dirs = [overlay_dir, *(posixpath.dirname(k) or "." for k in chain), defining_dir]
            scaler = autoscaler_over(root, dirs, git.defining_kind, git.defining_name)
            if scaler is not None:
                raise Refused(
                    f"{scaler}: it decides the live replica count, so replicas in Git would not take effect; "
                    "change its minReplicas/maxReplicas instead (merge_patch on it), or remove it first; "
                    "nothing was changed"
                )
        governed, left = governing_edit(root, editor, chain, doc, change, git.defining_kind, git.defining_name)
        for rel, role, why in governed:
            roles[rel], reasons[rel] = role, why
        for path, value in left if governed else []:  # what no level of the build sets: the object's own
            editor(file.file).set(file.document, path, value)
            reasons[file.file] = f"{git.defining_kind} {git.defining_name} is defined in {file.file}"
        if governed:
            return _finish(root, texts, reasons, result, roles)
        kfile = kustomization_file(root, overlay_dir) if in_base else None
        done = False
        if kfile is not None and isinstance(change, SetReplicas | SetImage):
            done = _overlay_field(editor(kfile), _docs(root, kfile)[0], change, git.defining_name, doc)
            if done:
                roles[kfile] = "kustomization"
                reasons[kfile] = (
                    f"{file.file} is in a shared base; the overlay {overlay_dir} sets this for its own environment only"
                )
        if not done:
            _object_edits(editor(file.file), file.document, doc, change)
            reasons[file.file] = f"{git.defining_kind} {git.defining_name} is defined in {file.file}"
            if in_base:
                result.affects = _base_users(root, defining_dir, overlay_dir, gitops_kinds)
                result.notes.append(f"{file.file} is a shared base: the change reaches every overlay that uses it")
    return _finish(root, texts, reasons, result, roles)


def collect_edits(
    root: Path, texts: dict[str, YamlEditor], reasons: dict[str, str], roles: dict[str, str] | None = None
) -> list[FileEdit]:
    """The files whose text changed, with their before/after, reason and role."""
    out = []
    for rel, ed in texts.items():
        before = _read(root, rel)
        if ed.text != before:
            out.append(
                FileEdit.model_validate(
                    {
                        "file": rel,
                        "role": (roles or {}).get(rel, "object"),
                        "document": 0,
                        "reason": reasons.get(rel, ""),
                        "before": before,
                        "after": ed.text,
                    }
                )
            )
    return out


def _finish(
    root: Path, texts: dict[str, YamlEditor], reasons: dict[str, str], result: Plan, roles: dict[str, str] | None = None
) -> Plan:
    result.edits = collect_edits(root, texts, reasons, roles)
    if not result.edits:
        result.notes.append("the files already have this value; nothing to change")
    return result


def _overlay_patch(root: Path, overlay: str, kind: str, name: str) -> tuple[str, int] | None:
    kfile = kustomization_file(root, overlay)
    if kfile is None:
        return None
    k = _docs(root, kfile)[0] or {}
    refs: list[str] = [p for p in k.get("patchesStrategicMerge") or [] if isinstance(p, str)]
    refs += [str(p["path"]) for p in k.get("patches") or [] if isinstance(p, dict) and p.get("path")]
    for ref in refs:
        rel = posixpath.normpath(posixpath.join(overlay if overlay != "." else "", ref))
        if not (root / rel).is_file():
            continue
        for i, d in enumerate(_docs(root, rel)):
            if isinstance(d, dict) and d.get("kind") == kind and (d.get("metadata") or {}).get("name") == name:
                return rel, i
    return None


def _overlay_field(ed: YamlEditor, k: dict[str, Any], change: Any, name: str, doc: dict[str, Any]) -> bool:
    """Set replicas/images in the overlay's kustomization.yaml; True when done."""
    if isinstance(change, SetReplicas):
        entries = k.get("replicas") or []
        for i, e in enumerate(entries):
            if isinstance(e, dict) and e.get("name") == name:
                ed.set(0, ["replicas", i, "count"], change.replicas)
                return True
        if entries:
            ed.append(0, ["replicas"], {"name": name, "count": change.replicas})
        else:
            ed.set(0, ["replicas"], [{"name": name, "count": change.replicas}])
        return True
    if isinstance(change, SetImage):
        base, idx = container_index(doc, change.container)
        current = _dig(doc, [*base, "containers", idx]).get("image", "")
        cur_repo, _ = _split_image(str(current))
        new_repo, new_tag = _split_image(change.image)
        entry: dict[str, Any] = {"name": cur_repo}
        if new_repo != cur_repo:
            entry["newName"] = new_repo
        if new_tag:
            entry["newTag"] = new_tag
        entries = k.get("images") or []
        for i, e in enumerate(entries):
            if isinstance(e, dict) and e.get("name") == cur_repo:
                for key in ("newName", "newTag"):
                    if key in entry:
                        ed.set(0, ["images", i, key], entry[key])
                return True
        if entries:
            ed.append(0, ["images"], entry)
        else:
            ed.set(0, ["images"], [entry])
        return True
    return False


def _base_users(root: Path, base: str, overlay: str, gitops_kinds: Sequence[GitOpsKinds]) -> list[str]:

    report = detect_packages(root, gitops_kinds=gitops_kinds)
    users = next((p.used_by for p in report.packages if p.path == base), [])
    return [u for u in users if u != overlay]
