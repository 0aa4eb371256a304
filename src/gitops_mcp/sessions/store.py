"""What a session store is: the contract every backend keeps (SQLite embedded, Redis for replicas).

Sessions are keyed by an unguessable id *and* their principal (who opened them; stored as
``owner``, the column and hash field keep their name): a caller never sees, changes or
learns of another caller's session (a wrong principal looks exactly like a missing id). Every
transition is one atomic, versioned write (optimistic locking): of two writers that read the
same version, one wins and the other gets :class:`ConcurrentUpdateError` and must read again.
Idle sessions expire after the store's TTL; every save starts it again.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
from typing import Any, Protocol

from pydantic_core import PydanticSerializationError

from gitops_mcp.errors import GitOpsError, NotFoundError
from gitops_mcp.sessions.models import SessionState, SessionSummary


class ConcurrentUpdateError(GitOpsError):
    """The session changed while this call was working on it."""


class SessionStore(Protocol):
    """A session backend. Thread-safe. Raises ``StoreUnavailable`` when its storage cannot be reached."""

    ttl: int

    @property
    def local(self) -> bool:
        """Whether a read is a local file read (cheap enough for the event loop) rather than a network call."""
        ...

    def describe(self) -> str:
        """Where sessions live, for logs and errors (never a credential)."""
        ...

    def create(self, state: SessionState) -> SessionState:
        """Store a new session (version 1, timestamps and expiry set from the store's clock)."""
        ...

    def get(self, session_id: str, principal: str) -> SessionState:
        """The session, or NotFoundError if it is missing, expired or another principal's."""
        ...

    def save(self, state: SessionState) -> SessionState:
        """Store a transition of ``state`` as read; ConcurrentUpdateError if another one was stored since."""
        ...

    def delete(self, session_id: str, principal: str) -> bool: ...

    def list(self, principal: str, limit: int = 50) -> builtins.list[SessionState]:
        """The principal's live sessions, most recently updated first."""
        ...

    def summaries(self, principal: str, limit: int = 50) -> builtins.list[SessionSummary]:
        """As :meth:`list`, read from the stored summaries (not the whole state)."""
        ...

    def close(self) -> None: ...


def new_session_id() -> str:
    return "s_" + secrets.token_urlsafe(24)


def not_found(session_id: str) -> NotFoundError:
    return NotFoundError(
        f"no session {session_id!r} (it never existed, expired, or belongs to another caller); "
        "start a new one with start_deployment"
    )


def conflict(session_id: str) -> ConcurrentUpdateError:
    return ConcurrentUpdateError(
        f"session {session_id} was changed by another call at the same time; read it again with get_session and retry"
    )


def created(state: SessionState, now: float, ttl: int) -> SessionState:
    return state.model_copy(update={"created_at": now, "updated_at": now, "expires_at": now + ttl, "version": 1})


def transitioned(state: SessionState, now: float, ttl: int) -> SessionState:
    return state.model_copy(update={"updated_at": now, "expires_at": now + ttl, "version": state.version + 1})


_SURROGATE = re.compile("[\ud800-\udfff]")


def state_json(state: SessionState) -> str:
    """The state as stored. A name read from a repository that is not UTF-8 (a file name's bytes
    kept as lone surrogates) cannot be encoded: it is stored with U+FFFD in their place, as every
    answer shows it (no tool argument can name it otherwise), instead of failing the call."""
    try:
        return state.model_dump_json()
    except PydanticSerializationError:
        return SessionState.model_validate(_valid_unicode(state.model_dump())).model_dump_json()


def _valid_unicode(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_unicode(v) for v in value]
    return value


def summary_json(state: SessionState) -> str:
    """What list_sessions shows of a session, stored beside it so that listing parses no state."""
    a = state.answers
    return json.dumps(
        {
            "status": state.status,
            "step": state.step,
            "app_name": a.get("app_name"),
            "provider": a.get("provider"),
            "package": a.get("package"),
        }
    )


def summary(session_id: str, updated_at: float, expires_at: float, fields: str) -> SessionSummary:
    return SessionSummary(session_id=session_id, updated_at=updated_at, expires_at=expires_at, **json.loads(fields))
