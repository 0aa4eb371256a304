"""Which files of a directory source Argo CD's repo-server reads (``spec.source.directory``).

Every regular file under the path (subdirectories with ``recurse``) named ``*.yaml``, ``*.yml``,
``*.json`` or ``*.jsonnet`` (any name with ``disableExtensionFilter``), unless ``exclude``
matches its path relative to the source's path, and only when ``include`` matches it (when
set); a file holding ``+argocd:skip-file-rendering`` is left out. The patterns are the glob
syntax Argo CD compiles (github.com/gobwas/glob, no separators): ``*`` and ``**`` match any run
of characters, ``/`` included; ``?`` one character; ``[abc]``, ``[a-z]``, ``[!...]`` a class;
``{a,b}`` alternatives (nested globs); ``\\`` escapes. A pattern that does not compile matches
nothing (Argo CD logs it and goes on), so a bad ``include`` selects no file.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from gitops_mcp.manifests.directory import FileSelection

SKIP_MARKER = "+argocd:skip-file-rendering"
_MANIFEST = re.compile(r"^.*\.(yaml|yml|json|jsonnet)$", re.DOTALL)


class _Bad(Exception):
    pass


def _text(p: str, i: int, stops: str) -> tuple[str, int]:
    out = []
    while i < len(p) and p[i] not in stops:
        if p[i] == "\\":
            if i + 1 >= len(p):
                raise _Bad("a trailing escape")
            i += 1
        out.append(p[i])
        i += 1
    return re.escape("".join(out)), i


def _range(p: str, i: int) -> tuple[str, int]:
    """A class after ``[``: ``!``?, then ``lo-hi`` or characters, then ``]``."""
    neg = ""
    if i < len(p) and p[i] == "!":
        neg, i = "^", i + 1
    if i + 2 < len(p) and p[i + 1] == "-":
        body, i = f"{re.escape(p[i])}-{re.escape(p[i + 2])}", i + 3
    else:
        raw = []
        while i < len(p) and p[i] != "]":
            if p[i] == "\\" and i + 1 < len(p):
                i += 1
            raw.append(p[i])
            i += 1
        body = "".join(re.escape(c) for c in raw)
    if i >= len(p) or p[i] != "]" or not body:
        raise _Bad("an unclosed or empty class")
    return f"[{neg}{body}]", i + 1


def _seq(p: str, i: int, depth: int) -> tuple[str, int]:
    """The regex of a glob from ``i`` up to the end (or, inside braces, a ``,`` or ``}``)."""
    out = []
    while i < len(p):
        c = p[i]
        if depth and c in ",}":
            break
        if c == "*":
            while i < len(p) and p[i] == "*":
                i += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            part, i = _range(p, i + 1)
            out.append(part)
        elif c == "{":
            alts = []
            i += 1
            while True:
                part, i = _seq(p, i, depth + 1)
                alts.append(part)
                if i >= len(p):
                    raise _Bad("an unclosed {")
                i += 1
                if p[i - 1] == "}":
                    break
            out.append(f"(?:{'|'.join(alts)})")
        else:
            part, i = _text(p, i, "*?[{" + (",}" if depth else ""))
            out.append(part)
    return "".join(out), i


@functools.lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str] | None:
    """The pattern as Argo CD matches it, or None when it does not compile (it matches nothing)."""
    try:
        regex, _ = _seq(pattern, 0, 0)
    except _Bad:
        return None
    return re.compile(regex, re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    compiled = compile_glob(pattern)
    return compiled is not None and compiled.fullmatch(text) is not None


def selection(directory: dict[str, Any]) -> FileSelection:
    """The files a directory source reads (see the module's description)."""
    include, exclude = str(directory.get("include") or ""), str(directory.get("exclude") or "")
    every = bool(directory.get("disableExtensionFilter"))

    def wants(rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        if not every and not _MANIFEST.match(name):
            return False
        if exclude and glob_match(exclude, rel):
            return False
        return not include or glob_match(include, rel)

    return FileSelection(wants=wants, skips=lambda text: SKIP_MARKER in text)
