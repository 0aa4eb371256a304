"""existing=update: the file of the object that already deploys the package, with the user's
answers applied to that object (only the fields the provider maps to answers given, not defaults);
every other line stays byte-identical (:class:`~gitops_mcp.manifests.edit.YamlEditor`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from gitops_mcp.errors import UserInputError
from gitops_mcp.manifests.edit import EditError, YamlEditor
from gitops_mcp.providers.base import ExistingOwner, ObjectSummary, summary_of


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(doc, dict) or p not in doc:
            return None
        doc = doc[p]
    return doc


def _index(editor: YamlEditor, owner: ExistingOwner) -> int:
    for i, d in enumerate(editor.docs):
        meta = d.get("metadata") if isinstance(d, dict) else None
        if (
            isinstance(meta, dict)
            and d.get("kind") == owner.kind
            and meta.get("name") == owner.name
            and (meta.get("namespace") or None) == (owner.namespace or None)
        ):
            return i
    raise UserInputError(f"{owner.file} no longer holds {owner.kind} {owner.name}; answer existing=add")


def updated_file(
    old: str | None,
    owner: ExistingOwner,
    generated: list[dict[str, Any]],
    paths: Mapping[str, tuple[tuple[str, ...], ...]],
    answered: Collection[str],
    current_api: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> tuple[str, dict[str, Any], ObjectSummary, list[str]]:
    """(new file text, the updated object, its summary, notes)."""
    if old is None:
        raise UserInputError(f"{owner.file} is gone; answer existing=add")
    editor = YamlEditor(old)
    idx = _index(editor, owner)
    mine = next((d for d in generated if d.get("kind") == owner.kind), None)
    changes: list[str] = []
    for qid in sorted(set(answered) & set(paths)):
        for path in paths[qid]:
            want = _get(mine, path)
            current = _get(editor.docs[idx], path)
            if want is None or want == current:
                continue
            try:
                editor.set(idx, list(path), want)
            except EditError as exc:
                raise UserInputError(f"{owner.file}: {'.'.join(path)} cannot be updated in place: {exc}") from None
            changes.append(f"{'.'.join(path)} {current!r} -> {want!r}")
    plain = json.loads(json.dumps(editor.docs[idx], default=str))
    if current_api is not None and (api := current_api(plain)) is not None:
        editor.set(idx, ["apiVersion"], api)
        changes.append(f"apiVersion {plain.get('apiVersion')} (no longer served) -> {api}")
    doc = json.loads(json.dumps(editor.docs[idx], default=str))
    head = f"Updates {owner.text()} instead of adding a second owner of the same objects"
    if changes:
        notes = [f"{head}: {'; '.join(changes)} (answer existing=add for a separate deployment)."]
    else:
        notes = [
            f"{head}: it already deploys the package as answered, nothing to change (the answers that update it: "
            f"{', '.join(sorted(paths))}; existing=add for a separate deployment)."
        ]
    return editor.text, doc, summary_of(doc, "updated in place" if changes else "unchanged"), notes
