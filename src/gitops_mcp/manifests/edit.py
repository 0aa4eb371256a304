"""Surgical YAML edits: every line the change does not touch stays byte-identical.

ruamel.yaml (round-trip) is used only to *locate* nodes (line and column); the text itself is
edited in place: a scalar is replaced on its line with the same quoting style, a missing key or
list item is inserted with the indentation the file already uses. The result is parsed again
and must equal the intended data, otherwise nothing is returned (:class:`EditError`).
"""

from __future__ import annotations

import copy
import io
import json
import re
from typing import Any

from gitops_mcp.errors import UserInputError

Path_ = list[str | int]


class EditError(UserInputError):
    """The change cannot be made without reformatting the file, or would not mean what was asked."""


def _rt() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    return y


def _docs(text: str) -> list[Any]:
    from ruamel.yaml.error import YAMLError

    try:
        return list(_rt().load_all(text))
    except YAMLError as exc:
        raise EditError(f"the file is not valid YAML: {str(exc).splitlines()[0]}") from None


def _plain(node: Any) -> Any:
    """ruamel round-trip data -> plain Python (dict/list/scalars)."""
    return json.loads(json.dumps(node, default=str))


def _scalar_text(value: Any, style: str | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    s = str(value)
    if style == "'":
        return "'" + s.replace("'", "''") + "'"
    if style == '"':
        return json.dumps(s)
    return s if _plain_safe(s) else json.dumps(s)


def _plain_safe(s: str) -> bool:
    """Would ``s`` read back as the same string when written unquoted (YAML 1.1 and 1.2 alike)?"""
    if not re.match(r"^[A-Za-z0-9_./@+=-][A-Za-z0-9_ ./:@+=,-]*$", s) or ": " in s or s.endswith(":"):
        return False
    import yaml as pyyaml

    try:
        return bool(pyyaml.safe_load(s) == s)
    except pyyaml.YAMLError:
        return False


def _render_block(value: Any, indent: int, step: int, dash: int = 2) -> list[str]:
    """``value`` (a mapping or scalar) as block YAML lines at ``indent`` columns."""
    pad = " " * indent
    if isinstance(value, dict):
        lines: list[str] = []
        for k, v in value.items():
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{_scalar_text(k, None)}:")
                lines += _render_block(v, indent + step, step, dash)
            elif isinstance(v, list) and v:
                lines.append(f"{pad}{_scalar_text(k, None)}:")
                lines += _render_list(v, indent + dash, step, dash)
            else:
                lines.append(f"{pad}{_scalar_text(k, None)}: {_flow(v)}")
        return lines
    return [pad + _flow(value)]


def _render_list(items: list[Any], indent: int, step: int, dash: int = 2) -> list[str]:
    lines: list[str] = []
    for item in items:
        if isinstance(item, dict) and item:
            sub = _render_block(item, indent + 2, step, dash)
            sub[0] = " " * indent + "- " + sub[0].lstrip()
            lines += sub
        else:
            lines.append(" " * indent + "- " + _flow(item))
    return lines


def _flow(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v) if v else ("{}" if isinstance(v, dict) else "[]")
    return _scalar_text(v, None)


class YamlEditor:
    """Edits one multi-document YAML text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.docs = _docs(text)

    # -- helpers ------------------------------------------------------------------------------------------
    def _reload(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.docs = _docs(text)

    def _node(self, doc: int, path: Path_) -> Any:
        node = self.docs[doc]
        for p in path:
            node = node[p]
        return node

    def _dash(self) -> int:
        """How far list dashes sit right of their key in this file (``key:\n  - x`` -> 2); 2 when unknown."""
        m = re.search(r"^( *)[^\s#-][^\n]*:[ \t]*\n( *)- ", self.text, re.M)
        return max(0, len(m.group(2)) - len(m.group(1))) if m else 2

    def _step(self) -> int:
        ind = [len(m.group(1)) for m in re.finditer(r"^( +)[A-Za-z0-9_\"'][^\n:]*:", self.text, re.M)]
        return min(ind) if ind else 2

    def _replace_scalar(self, container: Any, key: str | int, value: Any) -> None:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        old = container[key]
        if isinstance(old, CommentedMap | CommentedSeq):
            raise EditError(f"{key} holds a mapping or list, not a single value")
        line, col = container.lc.value(key) if isinstance(container, CommentedMap) else container.lc.item(key)
        text_line = self.lines[line]
        rest = text_line[col:]
        if rest.startswith(("|", ">")):
            raise EditError(f"{key} is a multi-line block scalar; edit it by hand")
        if rest.startswith('"'):
            m = re.match(r'"(?:[^"\\]|\\.)*"', rest)
            style = '"'
        elif rest.startswith("'"):
            m = re.match(r"'(?:[^']|'')*'", rest)
            style = "'"
        else:
            m = re.match(r"[^#\n]*?(?=\s+#|\s*$)", rest)
            style = None
        if not m:
            raise EditError(f"cannot find the value of {key} on line {line + 1}")
        new = text_line[:col] + _scalar_text(value, style) + rest[m.end() :]
        self.lines[line] = new

    def _block_end(self, line: int, indent: int) -> int:
        """First line after the block that starts below ``line`` and is indented > ``indent``."""
        i = line + 1
        while i < len(self.lines):
            s = self.lines[i]
            if s.strip() and not s.lstrip().startswith("#"):
                lead = len(s) - len(s.lstrip(" "))
                if lead <= indent or s.startswith("---"):
                    break
            i += 1
        while i > line + 1 and not self.lines[i - 1].strip():
            i -= 1
        return i

    def _insert_key(self, mapping: Any, key: str, value: Any, mapping_line: int, mapping_indent: int) -> None:
        """Insert ``key: value`` at the end of a block mapping whose keys sit at ``mapping_indent``."""
        from ruamel.yaml.comments import CommentedMap

        if not isinstance(mapping, CommentedMap):
            raise EditError("cannot add a key to something that is not a mapping")
        if mapping.fa.flow_style():
            raise EditError("the mapping is written in flow style ({...}); edit it by hand")
        if len(mapping):
            last = list(mapping.keys())[-1]
            last_line = mapping.lc.key(last)[0]
            end = self._block_end(last_line, mapping_indent)
        else:
            end = mapping_line + 1
        step = self._step()
        block = _render_block({key: value}, mapping_indent, step, self._dash())
        nl = "\n" if not self.lines or self.lines[-1].endswith("\n") or end < len(self.lines) else ""
        if end == len(self.lines) and self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.lines[end:end] = [b + "\n" for b in block]
        if nl == "" and self.lines:
            self.lines[-1] = self.lines[-1].rstrip("\n")

    def _mapping_indent(self, mapping: Any, parent_line: int, parent_indent: int) -> int:
        if len(mapping):
            first = next(iter(mapping.keys()))
            return int(mapping.lc.key(first)[1])
        return parent_indent + self._step()

    # -- public ---------------------------------------------------------------------------------------------
    def set(self, doc: int, path: Path_, value: Any) -> None:
        """Set ``path`` in document ``doc`` to ``value``, creating missing mapping keys."""
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        if doc >= len(self.docs):
            raise EditError(f"the file has no document {doc}")
        expected = [_plain(d) for d in self.docs]
        _set_plain(expected[doc], path, value)
        node = self.docs[doc]
        if not isinstance(node, CommentedMap | CommentedSeq):  # a sequence: a JSON 6902 patch
            raise EditError("the document is not a mapping")
        line, indent = -1, -self._step()
        for i, p in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, CommentedMap) and p in node:
                if last:
                    if isinstance(value, dict) and isinstance(node[p], CommentedMap):
                        self._commit(expected)
                        for k, v in value.items():
                            self.set(doc, [*path, k], v)
                        return
                    self._replace_scalar(node, p, value)
                    break
                line = node.lc.key(p)[0]
                child = node[p]
                indent = int(node.lc.key(p)[1])
                node = child
            elif isinstance(node, CommentedSeq) and isinstance(p, int) and p < len(node):
                if last:
                    self._replace_scalar(node, p, value)
                    break
                line, indent = node.lc.item(p)[0], int(node.lc.item(p)[1])
                node = node[p]
            elif isinstance(node, CommentedMap) and isinstance(p, str):
                sub: Any = value
                for q in reversed(path[i + 1 :]):
                    if not isinstance(q, str):
                        raise EditError(f"cannot create list index {q} in {path}")
                    sub = {q: sub}
                self._insert_key(node, p, sub, line, self._mapping_indent(node, line, indent))
                break
            else:
                raise EditError(f"{'.'.join(map(str, path))} does not exist and cannot be created")
        self._commit(expected)

    def append(self, doc: int, path: Path_, item: Any) -> None:
        """Append ``item`` to the block sequence at ``path``."""
        from ruamel.yaml.comments import CommentedSeq

        expected = [_plain(d) for d in self.docs]
        _get_plain(expected[doc], path).append(copy.deepcopy(item))
        seq = self._node(doc, path)
        if not isinstance(seq, CommentedSeq) or not len(seq) or seq.fa.flow_style():
            raise EditError(f"{'.'.join(map(str, path))} is not a non-empty block list")
        last_line, col = seq.lc.item(len(seq) - 1)
        dash = self.lines[last_line].rfind("-", 0, col + 1)
        dash = dash if dash >= 0 else col - 2
        end = self._block_end(last_line, dash)
        if end == len(self.lines) and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.lines[end:end] = [line + "\n" for line in _render_list([item], dash, self._step(), self._dash())]
        self._commit(expected)

    def _commit(self, expected: list[Any]) -> None:
        new = "".join(self.lines)
        docs = _docs(new)
        if [_plain(d) for d in docs] != expected:
            raise EditError("the edit would not produce the intended document; nothing was changed")
        self._reload(new)


def _get_plain(node: Any, path: Path_) -> Any:
    for p in path:
        node = node[p]
    return node


def _set_plain(node: Any, path: Path_, value: Any) -> None:
    for p in path[:-1]:
        if isinstance(node, dict) and p not in node:
            node[p] = {}
        node = node[p]
    last = path[-1]
    if isinstance(node, dict) and isinstance(value, dict) and isinstance(node.get(last), dict):
        for k, v in value.items():
            _set_plain(node[last], [k], v)
    else:
        node[last] = copy.deepcopy(value)


def dump_plain(data: Any) -> str:
    from ruamel.yaml import YAML

    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, buf)
    return buf.getvalue()
