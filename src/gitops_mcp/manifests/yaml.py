"""YAML in and out, with one style for everything we write.

Generated files are block-style YAML, two-space indentation, sequences indented under
their key, ``apiVersion``/``kind``/``metadata``/``spec`` first, documents separated by
``---``.  Loading is safe (no tags, no Python objects).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from gitops_mcp.errors import UserInputError

if TYPE_CHECKING:
    from ruamel.yaml import YAML

TOP_KEYS = ("apiVersion", "kind", "metadata", "spec")


def _writer() -> YAML:
    from ruamel.yaml import YAML  # imported on first use: start-up stays light

    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.default_flow_style = False
    y.preserve_quotes = True
    return y


def ordered(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``obj`` with apiVersion, kind, metadata and spec first (the rest in their order)."""
    out: dict[str, Any] = {k: obj[k] for k in TOP_KEYS if k in obj}
    out.update({k: v for k, v in obj.items() if k not in out})
    return out


def dump_documents(objs: Iterable[Mapping[str, Any]]) -> str:
    """Render objects as one multi-document YAML text."""
    parts: list[str] = []
    y = _writer()
    for obj in objs:
        buf = io.StringIO()
        y.dump(ordered(obj), buf)
        parts.append(buf.getvalue())
    return "---\n".join(parts)


def dump(obj: Any) -> str:
    buf = io.StringIO()
    _writer().dump(obj, buf)
    return buf.getvalue()


@cache
def _loader() -> Any:
    """A safe loader (libyaml when present) that keeps timestamps as strings, as Kubernetes does."""
    import yaml as pyyaml

    base: Any = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    return Loader


def load_documents(text: str, source: str = "<yaml>") -> list[Any]:
    """Parse every document of ``text`` (empty documents dropped); safe, and fast for scanning.

    Raises:
        UserInputError: the text is not valid YAML; the message names the line.
    """
    import yaml as pyyaml

    try:
        return [d for d in pyyaml.load_all(text, Loader=_loader()) if d is not None]
    except pyyaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserInputError(f"{source} is not valid YAML{where}: {problem}") from exc


def load_mapping(text: str, what: str) -> dict[str, Any]:
    """Parse a YAML/JSON mapping given as text (for answers such as Helm values)."""
    if not text.strip():
        return {}
    docs = load_documents(text, what)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise UserInputError(f"{what} must be a single YAML or JSON mapping, e.g. 'replicaCount: 2'")
    return dict(docs[0])
