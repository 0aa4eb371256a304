"""What applying a revision would do in the cluster, per object (see :mod:`gitops_mcp.cluster.effect`):
the models, provider-neutral, bounded: at most :data:`MAX_LISTED` objects listed per kind of
effect and :data:`MAX_FIELDS` field paths each; the rest counted."""

from __future__ import annotations

import json
import re

from pydantic import Field, PrivateAttr

from gitops_mcp.model import Model

MAX_LISTED = 20
MAX_FIELDS = 12
MAX_TEXT = 6000
MAX_GONE = 100
_MARK = re.compile(r"<!-- gitops-mcp prunes: (\[.*?\]) -->", re.DOTALL)


def pruned_in(text: str) -> list[tuple[str, str, str, str]]:
    """(apiVersion, kind, namespace, name) of what a description written by :meth:`LiveEffect.text`
    says the merge prunes (and what those applied); empty when it says nothing."""
    m = _MARK.search(text or "")
    try:
        items = json.loads(m.group(1)) if m else []
    except ValueError:
        return []
    ok = [i for i in items if isinstance(i, list) and len(i) == 4 and all(isinstance(x, str) for x in i)]
    return [(a, b, c, d) for a, b, c, d in ok[:MAX_GONE]]


class Effect(Model):
    kind: str
    name: str
    namespace: str | None = None
    fields: list[str] = Field(default_factory=list, description="changed: the field paths that change")
    note: str | None = None

    def text(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        extra = f": {', '.join(self.fields)}" if self.fields else ""
        return f"{self.kind} {where}{self.name}{extra}" + (f" ({self.note})" if self.note else "")


class LiveEffect(Model):
    """What applying ``revision`` would do in the cluster, per object (server-side dry run)."""

    applier: str = Field("", description="The GitOps object whose render was dry-run, and the revision")
    created: list[Effect] = Field(default_factory=list)
    changed: list[Effect] = Field(default_factory=list)
    pruned: list[Effect] = Field(default_factory=list)
    orphaned: list[Effect] = Field(default_factory=list, description="No longer rendered but left in the cluster")
    refused: list[Effect] = Field(default_factory=list, description="The API server refused them: the sync fails")
    unchecked: list[Effect] = Field(default_factory=list, description="Not readable by this server")
    unchanged: int = 0
    more: int = Field(0, description="Objects left out of the lists (bounded)")
    notes: list[str] = Field(default_factory=list)
    skipped: str | None = Field(None, description="Why there is no live effect")
    _gone: list[tuple[str, str, str, str]] = PrivateAttr(default_factory=list)
    """What the merge deletes, with what those applied: checked gone after the merge (see :func:`pruned_in`)."""

    def will_delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> None:
        if len(self._gone) < MAX_GONE:
            self._gone.append((api_version, kind, namespace or "", name))

    def add(self, which: list[Effect], effect: Effect) -> None:
        if len(which) >= MAX_LISTED:
            self.more += 1
            return
        effect.fields = effect.fields[:MAX_FIELDS] + (
            [f"... {len(effect.fields) - MAX_FIELDS} more"] if len(effect.fields) > MAX_FIELDS else []
        )
        which.append(effect)

    def text(self) -> str:
        """For a commit message or a pull request's description (Markdown)."""
        if self.skipped:
            return f"Live effect unavailable: {self.skipped}."
        lines = [f"Live effect (server-side dry run of {self.applier}):"]
        for word, items in (
            ("create", self.created),
            ("change", self.changed),
            ("prune", self.pruned),
            ("stays, no longer in Git", self.orphaned),
            ("refused by the API server", self.refused),
            ("not checked", self.unchecked),
        ):
            lines += [f"- {word}: {e.text()}" for e in items]
        if not (self.created or self.changed or self.pruned or self.orphaned or self.refused):
            lines.append("- nothing changes")
        lines += [f"- unchanged: {self.unchanged} object{'s' if self.unchanged > 1 else ''}"] if self.unchanged else []
        lines += [f"- and {self.more} more"] if self.more else []
        lines += [f"- note: {n}" for n in self.notes]
        text = "\n".join(lines)
        if len(text) > MAX_TEXT:
            cut = text[:MAX_TEXT].rsplit("\n", 1)[0]
            text = f"{cut}\n- ... and {text[len(cut) :].count(chr(10))} more lines"
        if self._gone:  # for wait_for_sync after the merge (invisible in a rendered description)
            text += f"\n<!-- gitops-mcp prunes: {json.dumps([list(g) for g in self._gone], separators=(',', ':'))} -->"
        return text
