"""Every tool call answered, in one readable line.

- Arguments are checked against the tool's declared parameters before anything runs: an
  unknown name is refused with the valid ones (and, for provider answers, a pointer to
  ``options``); nesting deeper than :data:`MAX_DEPTH` and strings longer than their bound are
  refused by name.
- A wrong type or a missing argument says which argument and what was expected, without the
  caller's value, pydantic's internals or links.
- An unexpected exception becomes its kind and first line (scrubbed); the detail goes to the
  log with the traceback.
- Over stdio, a line the SDK cannot read is answered by :mod:`.framing`.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from gitops_mcp.scrub import scrub

log = logging.getLogger("gitops_mcp.guard")

MAX_DEPTH = 32
MAX_TEXT = 4096  # a top-level string argument: a path, name, URL, revision, chart, intent
MAX_NESTED_TEXT = 64 << 10  # a string inside answers/options/values/patch
LONG_TEXT = {"yaml": 5 << 20, "message": 64 << 10}
# Old argument names still understood (not published): the repository is ``repo_path`` on every tool.
ALIASES: dict[str, dict[str, str]] = {
    "detect_packages": {"path": "repo_path"},
    "start_deployment": {"path": "repo_path"},
}


def resolve_aliases(tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``arguments`` with old names replaced by the current ones, or why they cannot be."""
    aliases = ALIASES.get(tool)
    if not aliases or not any(old in arguments for old in aliases):
        return arguments, None
    out = dict(arguments)
    for old, new in aliases.items():
        if old in out:
            if new in out:
                return arguments, f"give '{new}' only ('{old}' is its old name)"
            out[new] = out.pop(old)
    return out, None


def check_arguments(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` cannot be given to a tool with input ``schema``; None when they can."""
    props: Mapping[str, Any] = schema.get("properties") or {}
    unknown = sorted(k for k in arguments if k not in props)
    if unknown and not props:
        names = ", ".join(repr(k[:64]) for k in unknown)
        return f"unknown argument{'s' if len(unknown) > 1 else ''} {names}; this tool takes none"
    if unknown:
        return _unknown(unknown, sorted(props))
    for name, value in arguments.items():
        limit = LONG_TEXT.get(name, MAX_TEXT)
        if isinstance(value, str) and len(value) > limit:
            return f"argument '{name}' is {len(value)} characters long; at most {limit}"
        problem = _nested(value, name, 0)
        if problem:
            return problem
    return None


def _unknown(unknown: list[str], valid: list[str]) -> str:
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        parts.append(f"'{name[:64]}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    text = f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(parts)}; valid: {', '.join(valid)}"
    if "options" in valid:
        text += "; provider answers (interval, prune, sync_policy, ...) go in options"
    return text


def _nested(value: Any, where: str, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"argument '{where.split('.')[0].split('[')[0]}' is nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and len(k) > MAX_TEXT:
                return f"argument '{where}' has a key {len(k)} characters long; at most {MAX_TEXT}"
            problem = _nested(v, f"{where}.{k}", depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for i, v in enumerate(value):
            problem = _nested(v, f"{where}[{i}]", depth + 1)
            if problem:
                return problem
    elif isinstance(value, str) and depth > 0 and len(value) > MAX_NESTED_TEXT:
        return f"'{where[:200]}' is {len(value)} characters long; at most {MAX_NESTED_TEXT}"
    return None


def describe_validation(exc: ValidationError) -> str:
    """Pydantic's errors for tool arguments as one line: which argument, what was expected."""
    out: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = _loc(err.get("loc", ()))
        kind = err.get("type", "")
        if kind == "missing":
            out.append(f"argument '{loc}' is required")
        elif kind in ("extra_forbidden", "unexpected_keyword_argument"):
            out.append(f"'{loc}' is not a known field")
        else:
            msg = str(err.get("msg", "is not valid")).replace("Input should be", "should be")
            out.append(f"argument '{loc}' {msg[0].lower() + msg[1:]}" if msg else f"argument '{loc}' is not valid")
    return "; ".join(dict.fromkeys(out)) or "the arguments are not valid"


def _loc(parts: Any) -> str:
    text = ""
    for p in parts:
        if isinstance(p, int):
            text += f"[{p}]"
        elif not text:
            text = str(p)
        elif str(p) in ("function-after[", "tagged-union["):
            continue
        else:
            text += f".{p}"
    return text or "arguments"


def unexpected(tool: str, exc: BaseException) -> str:
    """An unexpected failure's kind and first line, for the caller; the detail is logged."""
    cause: BaseException = exc.__cause__ or exc
    log.error("tool %s failed unexpectedly", tool, exc_info=(type(cause), cause, cause.__traceback__))
    first = scrub(str(cause)).strip().splitlines()[0][:300] if str(cause).strip() else "no detail"
    return f"unexpected {type(cause).__name__}: {first}"
