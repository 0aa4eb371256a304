"""Write a manifest file inside a repository working tree and report the diff."""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import Field

from gitops_mcp.errors import UserInputError
from gitops_mcp.model import Model
from gitops_mcp.paths import check_writable, safe_repo_file, write_text_atomic


class WriteResult(Model):
    repo_root: str
    path: str = Field(description="File written, relative to the repository root")
    created: bool
    changed: bool
    diff: str
    kept: str | None = Field(None, description="Given a git URL: where the change is kept, how to deliver it")


def _read_existing(target: Path, rel: str) -> str | None:
    if not target.exists():
        return None
    try:
        return target.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{rel} exists and is not UTF-8 text; refusing to overwrite it") from exc


DIFF_MAX = 6000
"""Characters of one file's diff a result carries; the rest is summarised in a last line."""


def unified_diff(old: str | None, new: str, rel: str) -> str:
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile="/dev/null" if old is None else f"a/{rel}",
        tofile=f"b/{rel}",
    )
    return "".join(lines)


def bounded_diff(diff: str, limit: int = DIFF_MAX) -> str:
    """``diff`` as a result carries it: whole hunks up to ``limit`` characters, then one line
    saying how much is left out (the new file is whole in the result's YAML or on disk)."""
    if len(diff) <= limit:
        return diff
    cut = diff.rfind("\n@@", 0, limit)
    cut = cut + 1 if cut > 0 else diff.rfind("\n", 0, limit) + 1
    rest = diff[cut:]
    hunks = rest.count("\n@@") + rest.startswith("@@")
    return diff[:cut] + f"# ... {rest.count(chr(10))} more diff line(s) in {hunks} hunk(s) not shown\n"


def diff_against(repo_root: Path, rel: str, new: str) -> tuple[bool, str]:
    """(file exists, unified diff) for writing ``new`` to ``rel``; nothing is written."""
    target = safe_repo_file(repo_root, rel)
    old = _read_existing(target, rel)
    return old is not None, bounded_diff(unified_diff(old, new, rel))


def write_manifest_file(repo_root: Path, rel: str, text: str) -> WriteResult:
    """Write ``text`` to ``rel`` inside ``repo_root`` (guards in :func:`safe_repo_file`)."""
    target = safe_repo_file(repo_root, rel)
    check_writable(repo_root, target)
    old = _read_existing(target, rel)
    diff = bounded_diff(unified_diff(old, text, rel))
    if old != text:
        write_text_atomic(repo_root, target, text)
    return WriteResult(repo_root=str(repo_root), path=rel, created=old is None, changed=old != text, diff=diff)
