"""What a package build will read, checked before the build runs.

- Every file is counted against one size budget (``GITOPS_MCP_BUILD_MAX_INPUT_MB``) and a number
  of files (:data:`MAX_FILES`).
- Every YAML file is parsed first (libyaml, which also bounds nesting), and refused when YAML
  aliases would make it grow by more than :data:`MAX_ALIAS_GROWTH` once expanded (a "billion
  laughs" document is a few hundred bytes and expands to gigabytes in the build) or when an
  alias loops back on itself.
- A reference to anything remote (a URL, a git or go-getter address) is never fetched: the
  build is not run, and the reference is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

MAX_ALIAS_GROWTH = 1_000_000  # scalar characters plus nodes that aliases may add to one file
MAX_FILES = 20_000  # files one build may read
_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]*::|[a-z][a-z0-9+.-]*://|git@|gh:|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
_FORGE = re.compile(r"^(?:github\.com|gitlab\.com|bitbucket\.org|dev\.azure\.com)[/:]", re.IGNORECASE)


def is_remote(ref: str) -> bool:
    """Whether kustomize, helm or go-getter would fetch ``ref`` from somewhere else."""
    r = ref.strip()
    return bool(_SCHEME.match(r) or _FORGE.match(r) or "://" in r or "?ref=" in r or "?version=" in r)


class InputError(Exception):
    """A file the build would read is too large, does not parse, or expands too far."""


class Budget:
    """How many more bytes the build may read."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.left = max_bytes
        self.counted: set[Path] = set()

    def take(self, path: Path, shown: str) -> None:
        if path in self.counted:
            return
        self.counted.add(path)
        if len(self.counted) > MAX_FILES:
            raise InputError(f"the build would read more than {MAX_FILES:,} files (at {shown}); not built")
        self.left -= path.stat().st_size
        if self.left < 0:
            raise InputError(
                f"the files the build would read pass {self.max_bytes >> 20} MB at {shown} "
                "(GITOPS_MCP_BUILD_MAX_INPUT_MB); not built"
            )


def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def alias_growth(roots: Iterable[Any]) -> int:
    """How much larger the documents ``roots`` (composed YAML nodes) are with their aliases
    expanded than as written (nodes plus scalar characters).

    Raises:
        InputError: an alias refers to a node that contains it (an endless document).
    """
    import yaml

    cap = 1 << 62
    expanded: dict[int, int] = {}
    written = 0
    total = 0
    for root in roots:
        stack: list[tuple[Any, bool]] = [(root, False)]
        open_nodes: set[int] = set()
        while stack:
            node, done = stack.pop()
            key = id(node)
            if done:
                open_nodes.discard(key)
                own = 1 + (len(node.value) if isinstance(node, yaml.ScalarNode) else 0)
                written += own
                expanded[key] = min(cap, own + sum(expanded[id(c)] for c in _children(node)))
                continue
            if key in expanded:
                continue
            if key in open_nodes:
                raise InputError("a YAML alias refers to a node that contains it")
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node) if id(c) not in expanded)
        total = min(cap, total + expanded[id(root)])
    return total - written


def load_yaml(path: Path, shown: str, budget: Budget) -> list[Any]:
    """The documents of ``path`` once its size and alias expansion are known to be bounded.

    Raises:
        InputError: too large (budget), does not parse, or expands too far.
    """
    budget.take(path, shown)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{shown} does not parse: it is not UTF-8 text") from None
    return load_yaml_text(text, shown)


def load_yaml_text(text: str, shown: str, budget: Budget | None = None) -> list[Any]:
    """:func:`load_yaml` of a text (an inline patch: its size is its file's)."""
    import yaml

    try:
        nodes = list(yaml.compose_all(text, Loader=_loader()))
    except (yaml.YAMLError, RecursionError) as exc:
        first = str(exc).strip().splitlines()
        raise InputError(f"{shown} does not parse: {first[0] if first else type(exc).__name__}") from None
    try:
        growth = alias_growth(n for n in nodes if n is not None)
    except InputError as exc:
        raise InputError(f"{shown}: {exc}; not built") from None
    del nodes  # the node graph goes before the objects are made
    if growth > MAX_ALIAS_GROWTH:
        raise InputError(
            f"{shown} expands by {growth:,} nodes and characters through YAML aliases (at most "
            f"{MAX_ALIAS_GROWTH:,}: a 'billion laughs' document); not built"
        )
    try:
        return list(yaml.load_all(text, Loader=_loader()))
    except yaml.YAMLError as exc:
        raise InputError(f"{shown} does not parse: {str(exc).strip().splitlines()[0]}") from None


def strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def walk_strings(value: Any, keys: frozenset[str]) -> Iterator[tuple[str, str]]:
    """(key, value) of every string under one of ``keys`` anywhere in ``value`` (lists of strings too)."""
    stack = [value]
    seen: set[int] = set()  # an aliased node is one object: visited once
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, dict):
            for k, item in v.items():
                if k in keys and isinstance(item, str):
                    yield str(k), item
                elif k in keys and isinstance(item, list):
                    yield from ((str(k), s) for s in strings(item))
                else:
                    stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)
