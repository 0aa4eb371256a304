"""Removal and suspension through Git: which file changes, and what is refused before anything is written.

A removal deletes the object's document from the file that defines it (the whole file when it
holds nothing else, and its entry in the ``kustomization.yaml`` of that directory). It is refused,
with what would work instead, when the controller would leave the live object (pruning off,
see :meth:`Provider.prunes` and :meth:`Provider.removal`) unless ``orphan``, when a chart or a
generator still produces the object, for a bootstrap's own objects unless ``bootstrap``, and in a
shared base. Suspend and resume set the fields the object's provider names
(:meth:`Provider.suspension`) in its own document.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_mcp.cluster.owner import OwnerResult
from gitops_mcp.manifests.edit import YamlEditor
from gitops_mcp.manifests.yaml import load_documents
from gitops_mcp.providers.live import Removal
from gitops_mcp.providers.registry import ProviderRegistry
from gitops_mcp.remediation.changes import Refused, Remove, Suspension
from gitops_mcp.remediation.plan import (
    FileEdit,
    Plan,
    _norm_dir,
    _read,
    check_owner,
    collect_edits,
    kustomization_file,
)

_SEP = re.compile(r"^---(?:[ \t].*)?$")


@dataclass(frozen=True)
class LiveFacts:
    """What the cluster says about a removal: the removed object's own (its provider's
    :meth:`removal`), and why the object that applies its file would not prune it."""

    removal: Removal = field(default_factory=Removal)
    applier_keeps: str | None = None


def drop_document(text: str, index: int, rel: str) -> str:
    """``text`` without its ``index``-th non-empty document (separators kept consistent)."""
    lines = text.splitlines(keepends=True)
    seps = [i for i, line in enumerate(lines) if _SEP.match(line.rstrip("\r\n"))]
    chunks = list(zip([0, *[s + 1 for s in seps]], [*seps, len(lines)], strict=True))
    content = [c for c in chunks if load_documents("".join(lines[c[0] : c[1]]), rel)]
    docs = load_documents(text, rel)
    if len(content) != len(docs) or index >= len(docs):
        raise Refused(f"cannot tell the documents of {rel} apart; remove the document by hand")
    start, end = content[index]
    cut_from = start - 1 if start > 0 else start  # its own separator, or the next one when it is the first
    cut_to = end if start > 0 else min(end + 1, len(lines))
    out = "".join(lines[:cut_from] + lines[cut_to:])
    if load_documents(out, rel) != docs[:index] + docs[index + 1 :]:
        raise Refused(f"removing the document from {rel} would change the others; remove it by hand")
    return out


def drop_resource(text: str, entry: str, rel: str) -> str | None:
    """The kustomization text without ``entry`` in its ``resources`` (None when it does not list it)."""
    editor = YamlEditor(text)
    doc: Any = editor.docs[0] if editor.docs else {}
    seq = doc.get("resources") if isinstance(doc, dict) else None
    if not seq or not hasattr(seq, "lc"):
        return None
    names = [posixpath.normpath(str(r)) for r in seq]
    if entry not in names:
        return None
    i = names.index(entry)
    line = seq.lc.item(i)[0]
    lines = text.splitlines(keepends=True)
    out = "".join(lines[:line] + lines[line + 1 :])
    expected = [str(r) for j, r in enumerate(seq) if j != i]
    after = (load_documents(out, rel) or [{}])[0]
    if not isinstance(after, dict) or [str(r) for r in after.get("resources") or []] != expected:
        raise Refused(f"cannot remove {entry} from the resources of {rel}; edit it by hand")
    return out


def plan_remove(root: Path, owner: OwnerResult, change: Remove, registry: ProviderRegistry, facts: LiveFacts) -> Plan:
    """Refuse what would not end with the live objects gone (unless asked), else the edits."""
    route = check_owner(owner, registry)
    git, obj = owner.git, owner.object
    if git is None or owner.repo_root is None:
        raise Refused("the repository that defines the object is not available here; pass repo_path")
    what = f"{obj.kind} {obj.name}"
    nearest = owner.chain[0] if owner.chain else None
    overlay = _norm_dir(git.path)
    chart = route.values_kind is not None or (
        route.chart_values and (root / (overlay if overlay != "." else "") / "Chart.yaml").is_file()
    )
    if chart and nearest is not None:
        raise Refused(
            f"{what} is rendered by the chart of the {nearest.kind} {nearest.name}, which still produces it: "
            f"turn it off in the chart's values (set_helm_values), or remove the {nearest.kind} itself; nothing was "
            "written"
        )
    if owner.file is None:
        raise Refused(
            f"no document under {git.path} defines {what}: a generator (a kustomize generator, a chart) produces it; "
            "remove it there; nothing was written"
        )
    if facts.removal.bootstrap and not change.bootstrap:
        raise Refused(f"{facts.removal.bootstrap}; nothing was written (bootstrap: true removes it anyway)")
    stays = [s for s in (facts.applier_keeps, *facts.removal.stays) if s]
    if stays and not change.orphan:
        raise Refused(
            "the live objects would stay: " + "; ".join(stays) + "; nothing was written (orphan: true removes it "
            "from Git and leaves them)"
        )
    rel, index = owner.file.file, owner.file.document
    directory = posixpath.dirname(rel) or "."
    if overlay != "." and directory != overlay and not directory.startswith(overlay.rstrip("/") + "/"):
        raise Refused(
            f"{rel} is in a shared base that other environments may use: removing it there removes it everywhere; "
            f"delete it in the overlay {overlay} with a patch ($patch: delete), or edit the base by hand"
        )
    _check_not_last(root, overlay, rel, nearest.kind if nearest else "applier")
    result = Plan(edits=[], notes=[f"stays after the merge: {s}" for s in stays])
    reason = f"{obj.kind} {obj.name} is defined in {rel}"
    text = _read(root, rel)
    if len(load_documents(text, rel)) > 1:
        result.edits.append(
            FileEdit(file=rel, document=index, reason=reason, before=text, after=drop_document(text, index, rel))
        )
    else:
        result.edits.append(FileEdit(file=rel, document=index, reason=reason + " (alone)", before=text, after=""))
        kfile = kustomization_file(root, directory)
        k_text = _read(root, kfile) if kfile else ""
        after = drop_resource(k_text, posixpath.basename(rel), kfile) if kfile else None
        if kfile and after is not None:
            result.edits.append(
                FileEdit(
                    file=kfile,
                    role="kustomization",
                    document=0,
                    reason=f"{kfile} lists {posixpath.basename(rel)}",
                    before=k_text,
                    after=after,
                )
            )
    if facts.removal.managed:
        result.notes.append(f"{len(facts.removal.managed)} objects it applied are pruned with it")
    return result


def _check_not_last(root: Path, path: str, rel: str, applier: str) -> None:
    """Refuse emptying the directory the applier applies: Git keeps no empty directory, and an
    applier whose path is gone fails instead of pruning."""
    base = (root / path).resolve() if path != "." else root.resolve()
    others = (p for p in base.rglob("*") if p.is_file() and p.resolve() != (root / rel).resolve())
    if len(load_documents(_read(root, rel), rel)) <= 1 and next(others, None) is None:
        raise Refused(
            f"{rel} is the last file under {path}: without it the directory is gone and the {applier} that "
            f"applies it fails instead of pruning; remove the {applier} itself; nothing was written"
        )


def plan_suspend(root: Path, owner: OwnerResult, change: Suspension, registry: ProviderRegistry) -> Plan:
    """Set the fields that suspend or resume the GitOps object in its own document."""
    check_owner(owner, registry)
    obj = owner.object
    found = registry.kind_of(obj.api_version, obj.kind)
    if found is None:
        raise Refused(f"{obj.kind} is not a GitOps object: suspend and resume apply to the objects that apply Git")
    if owner.file is None or owner.repo_root is None:
        raise Refused(f"no document in Git defines {obj.kind} {obj.name}; pass repo_path")
    rel, index = owner.file.file, owner.file.document
    doc: Any = load_documents(_read(root, rel), rel)[index]
    edits = found[0].suspension(doc, change.type == "suspend")
    editor = YamlEditor(_read(root, rel))
    for path, value in edits:
        editor.set(index, list(path), value)
    result = Plan(edits=collect_edits(root, {rel: editor}, {rel: f"{obj.kind} {obj.name} is defined in {rel}"}))
    if not result.edits:
        word = "suspended" if change.type == "suspend" else "resumed"
        result.notes.append(f"{obj.kind} {obj.name} is already {word} in Git; nothing to change")
    return result
