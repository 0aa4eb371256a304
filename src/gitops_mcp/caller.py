"""Who asked for the change being made: the person, the tool, and why.

The MCP layer sets the caller around each tool call (:func:`acting`); the wizard adds the
session's intent as the reason (:func:`because`). Git delivery reads it to sign commits with a
trailer naming the person (the author and committer stay the configured bot identity) and to
say in a pull request who asked, through which tool, and why. Worker threads see it: anyio
runs them in a copy of the calling context.

The person comes from a verified token (OIDC claims, or the name of a static token), never from
tool arguments; it is cleaned to one short line before it reaches a commit.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace

TRAILER = "Requested-by"
MAX_TEXT = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>]+")
_TRAILER_LINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*: ")


def clean(text: str | None, limit: int = MAX_TEXT) -> str:
    """One line, no control characters or angle brackets, at most ``limit`` characters."""
    return " ".join(_UNSAFE.sub(" ", text or "").split())[:limit].strip()


@dataclass(frozen=True)
class Caller:
    """``principal``: the stable id (OIDC ``sub``, or a static token's name); ``name``/``email``:
    how commits and pull requests name the person; ``person=False`` for a caller that names
    nobody (a shared token)."""

    principal: str
    tool: str | None = None
    name: str | None = None
    email: str | None = None
    reason: str | None = None
    person: bool = True

    def signature(self) -> str:
        """``Name <email>``, else the name, else the principal."""
        name = clean(self.name) or clean(self.principal)
        email = clean(self.email, 254)
        return f"{name} <{email}>" if email and "@" in email else name


_current: ContextVar[Caller | None] = ContextVar("gitops_mcp_caller", default=None)


def current() -> Caller | None:
    return _current.get()


@contextlib.contextmanager
def acting(caller: Caller | None) -> Iterator[None]:
    """``caller`` is the one asking for everything done inside the block."""
    token = _current.set(caller)
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def because(reason: str | None) -> Iterator[None]:
    """Inside the block, the current caller's reason is ``reason`` (when given)."""
    now = _current.get()
    if now is None or not clean(reason):
        yield
        return
    with acting(replace(now, reason=clean(reason, 500))):
        yield


def sign(message: str) -> str:
    """``message`` with a ``Requested-by:`` trailer naming the person, when one is known (once)."""
    who = _current.get()
    if who is None or not who.person:
        return message
    line = f"{TRAILER}: {who.signature()}"
    text = message.rstrip("\n")
    if line in text.splitlines():
        return text + "\n"
    last = text.rsplit("\n\n", 1)[-1].splitlines()
    joiner = "\n" if "\n\n" in text and last and all(_TRAILER_LINE.match(x) for x in last) else "\n\n"
    return f"{text}{joiner}{line}\n"


def pr_note(title: str) -> str:
    """The pull request's line saying who asked, through which tool, and why ('' when nobody is known)."""
    who = _current.get()
    if who is None or not who.person:
        return ""
    why = clean(who.reason, 500) or clean(title, 250)
    tool = f" through `{clean(who.tool, 64)}`" if who.tool else ""
    return f"Requested by {who.signature()}{tool}: {why}"
