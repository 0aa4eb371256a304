"""Remove credentials from any text before it reaches a caller, a log or storage.

Linear time: the patterns have no nested quantifiers and bounded alternatives, and known
secret values are removed with plain substring replacement.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MASK = "***"
_PATTERNS = [
    # userinfo in URLs: scheme://user:pass@host or scheme://token@host
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,20}://)[^\s/@:]{0,256}(?::[^\s/@]{0,512})?@"),
    # Authorization / private-token headers, e.g. in git trace output or error text
    re.compile(
        r"(?i)\b(authorization|private-token|proxy-authorization)(\s*[:=]\s*)(?:(basic|bearer|token)\s+)?\S{1,4096}"
    ),
    # well-known token shapes
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255}|glpat-[A-Za-z0-9_\-]{20,255})\b"),
]
_known: set[str] = set()
_private: dict[str, str] = {}  # a directory of the server's own -> what is said instead
_lock = threading.Lock()


def register_private_path(path: Path, label: str) -> None:
    """Say ``label`` wherever ``path`` (as given, or where it really leads) would appear."""
    for form in {os.path.abspath(path), os.path.realpath(path)}:
        if len(form) > 1:
            with _lock:
                _private[form] = label


def register_secret(value: str | None) -> None:
    """Remember a secret so that every later scrub removes it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def register_secrets(values: Iterable[str | None]) -> None:
    for v in values:
        register_secret(v)


def _sub_url(m: re.Match[str]) -> str:
    return f"{m.group(1)}{MASK}@"


def _sub_header(m: re.Match[str]) -> str:
    scheme = m.group(3)
    return f"{m.group(1)}{m.group(2)}{scheme + ' ' if scheme else ''}{MASK}"


def scrub(text: str) -> str:
    """``text`` with every known secret and credential-shaped substring masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
        private = sorted(_private.items(), key=lambda kv: len(kv[0]), reverse=True)
    for where, label in private:
        if where in text:
            text = text.replace(where, label)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _PATTERNS[0].sub(_sub_url, text)
    text = _PATTERNS[1].sub(_sub_header, text)
    return _PATTERNS[2].sub(MASK, text)


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the record as is
            return True
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def install_log_scrubbing() -> None:
    """Scrub every record handled by the root logger's handlers (and any added later to it)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())


# -- repository text is data ----------------------------------------------------------------------
# Text read from a repository (names, paths, file contents, diffs, build output) reaches the
# assistant only as data: cleaned of characters that hide or reorder text (every string of every
# result and error), in the result's fields; the server's instructions (:data:`INSTRUCTION_KEYS`)
# never interpolate it but through :func:`quoted`; messages that quote values are :func:`capped`.
_INVISIBLE = "\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060\u2066-\u2069\ufeff"  # at and above U+007F
_HIDING = re.compile(f"[\x00-\x08\x0b-\x1f{_INVISIBLE}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_TOKEN = 200  # a run of text without a space, in the server's own words
MAX_MESSAGE = 2000
_LONG_TOKEN = re.compile(rf"\S{{{MAX_TOKEN + 1},}}")
INSTRUCTION_KEYS = frozenset({"next", "prompt", "help"})  # what the server tells the assistant to do
MESSAGE_KEYS = INSTRUCTION_KEYS | {"message", "error", "errors", "notes", "live_detail", "reason"}


def clean(text: str) -> str:
    """``text`` without control characters (tab and newline kept), bidirectional overrides and
    invisible characters; a lone surrogate (not Unicode) becomes U+FFFD."""
    if _HIDING.search(text):
        text = _HIDING.sub("", text)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def capped(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cleaned, each run of more than :data:`MAX_TOKEN` characters without a space cut,
    and at most ``limit`` characters: what a message may echo of a value it quotes."""
    text = clean(text)
    if len(text) > MAX_TOKEN:
        text = _LONG_TOKEN.sub(lambda m: f"{m[0][:MAX_TOKEN]}…({len(m[0])} characters)", text)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} characters)"


def quoted(text: str, limit: int = 120) -> str:
    """Repository-derived ``text`` (a path, a name) quoted for a message: cleaned, on one line, cut."""
    text = " ".join(clean(text).split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def as_data(value: Any, key: str = "") -> Any:
    """A result as it may leave the server: every string :func:`clean` (keys too), and the
    server's own words (values under :data:`MESSAGE_KEYS`) :func:`capped`."""
    if isinstance(value, str):
        return capped(value) if key in MESSAGE_KEYS else clean(value)
    if isinstance(value, dict):
        return {
            clean(k) if isinstance(k, str) else k: as_data(v, key if key in MESSAGE_KEYS else k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [as_data(v, key) for v in value]
    return value


# What compact JSON (``ensure_ascii=False``) shows of anything :func:`as_data` would change: a
# character it removes or replaces (as itself, or escaped: \b, \f, \r, \u00XX below U+0020), or a
# key whose value it caps. They may match more (an escaped backslash before b, f, r or u), never less.
_JSON_INVISIBLE = re.compile(f"[{_INVISIBLE}\ud800-\udfff]")
_JSON_ESCAPE = re.compile(r"\\[bfru]")
_JSON_MESSAGE = re.compile('"(?:' + "|".join(map(re.escape, sorted(MESSAGE_KEYS))) + ')":')


def data_json(value: Any) -> tuple[Any, str]:
    """``(as_data(value), its compact JSON)``, without walking ``value`` when its JSON shows that
    :func:`as_data` would change nothing (no character to clean, no message to cap): three quick
    looks at the text instead of a search per string (list_sessions' result: 90 -> 20 us)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if (
        ((text.isascii() and "\x7f" not in text) or _JSON_INVISIBLE.search(text) is None)
        and ("\\" not in text or _JSON_ESCAPE.search(text) is None)
        and _JSON_MESSAGE.search(text) is None
    ):
        return value, text
    value = as_data(value)
    return value, json.dumps(value, separators=(",", ":"), ensure_ascii=False)
