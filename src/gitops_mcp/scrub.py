"""Remove credentials from any text before it reaches a caller, a log or storage.

Linear time: the patterns have no nested quantifiers and bounded alternatives, and known
secret values are removed with plain substring replacement.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

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
