"""The session store on Redis, shared by every replica of the server.

Layout (all keys of one principal share a hash tag, so a Redis Cluster keeps them in one slot):

* ``<prefix>{<principal tag>}:s:<id>``: a hash (owner: the principal, version, timestamps, state JSON, summary JSON)
  whose key TTL is the session TTL, started again by every save: Redis itself expires idle
  sessions (no sweeper).
* ``<prefix>{<principal tag>}:index``: a sorted set of the principal's session ids by ``updated_at``,
  for listing newest first; ids whose hash has expired are dropped from it when listing.

A transition is one Lua script that compares the version read with the stored one and writes
only when they match (optimistic locking: of two replicas answering at once, one wins and the
other gets ConcurrentUpdateError and reads again). The principal is part of the key *and* checked
in the hash: a wrong principal looks exactly like a missing id.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gitops_mcp.errors import StoreUnavailable
from gitops_mcp.scrub import scrub
from gitops_mcp.sessions.models import SessionState, SessionSummary
from gitops_mcp.sessions.store import (
    conflict,
    created,
    not_found,
    state_json,
    summary,
    summary_json,
    transitioned,
)
from gitops_mcp.settings import RedisTarget

PREFIX = "gitops-mcp:"
PAGE = 50

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'version', '1', 'created_at', ARGV[2], 'updated_at', ARGV[2],
           'expires_at', ARGV[3], 'data', ARGV[4], 'summary', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1
"""

_SAVE = """
local cur = redis.call('HMGET', KEYS[1], 'owner', 'version')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[3], 'updated_at', ARGV[4], 'expires_at', ARGV[5],
           'data', ARGV[6], 'summary', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
return 1
"""

_DELETE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""

_PAGE = """
local ids = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2])
local rows = {}
for i, id in ipairs(ids) do
  rows[i] = redis.call('HMGET', ARGV[3] .. id, unpack(ARGV, 4))
end
return cjson.encode({ids, rows})
"""
"""For listing, in one reply: the ids ARGV[1]..ARGV[2] of the index KEYS[1], newest first, and the
fields ARGV[4..] of each one's hash ``ARGV[3]<id>`` (a missing one: false). One round trip per page
instead of two, and no third to find the end (a short page is the last): a listing's CPU was
mostly redis-py parsing replies, and every round trip from a worker thread waits for the GIL again
(bench/load.py: a start_deployment made 6 of them, reading its caller's sessions to count the open
ones). The hashes are not declared keys, as Redis Cluster would have them: they share the index's
hash tag, so they are in its slot on the same node."""

_CONNECT_PREFIX = re.compile(r"^Error \S+ connecting to \S+:\d+\.\s*")


def _num(value: float) -> str:
    return repr(float(value))


class RedisSessionStore:
    """Sessions in Redis. Thread-safe (one connection pool); connects on first use, so the server
    starts while Redis is down and only the session tools fail, each with a clear error."""

    local = False

    def __init__(
        self,
        target: RedisTarget,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
        prefix: str = PREFIX,
    ) -> None:
        self.target = target
        self.ttl = ttl_seconds
        self.clock = clock
        self.prefix = prefix
        self._redis = redis.Redis(
            host=target.host,
            port=target.port,
            db=target.db,
            username=target.username,
            password=target.password,
            ssl=target.tls,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one reconnect: a pooled connection may predate a Redis restart
            decode_responses=True,
            client_name="gitops-mcp",
        )
        self._create = self._redis.register_script(_CREATE)
        self._save = self._redis.register_script(_SAVE)
        self._delete = self._redis.register_script(_DELETE)
        self._page = self._redis.register_script(_PAGE)

    def describe(self) -> str:
        return f"Redis {self.target.describe()}"

    def __repr__(self) -> str:
        return f"RedisSessionStore({self.target.describe()!r})"

    def close(self) -> None:
        self._redis.close()

    # -- keys and errors ----------------------------------------------------------------------------
    def _keys(self, principal: str, session_id: str) -> tuple[str, str]:
        base = self._base(principal)
        return f"{base}:s:{session_id}", f"{base}:index"

    def _base(self, principal: str) -> str:
        return f"{self.prefix}{{{hashlib.sha256(principal.encode('utf-8')).hexdigest()[:32]}}}"

    @contextmanager
    def _redis_call(self) -> Iterator[None]:
        try:
            yield
        except redis.exceptions.RedisError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: redis.exceptions.RedisError) -> StoreUnavailable:
        where = f"{self.target.host}:{self.target.port}"
        reason = _CONNECT_PREFIX.sub("", str(exc)).strip().rstrip(".") or type(exc).__name__
        if self.target.password:
            reason = reason.replace(self.target.password, "***")
        reason = scrub(reason)[:300]
        auth = isinstance(exc, redis.exceptions.AuthenticationError) or reason.startswith(("NOAUTH", "WRONGPASS"))
        if (auth or "already authenticated" in reason) and not self.target.password:
            what = f"Redis at {where} requires a password; give it in GITOPS_MCP_SESSION_STORE "
            what += "(redis://:PASSWORD@host:port/db) or GITOPS_MCP_REDIS_PASSWORD"
        elif auth:
            what = f"Redis at {where} refused the credentials ({reason}); check the password in "
            what += "GITOPS_MCP_SESSION_STORE or GITOPS_MCP_REDIS_PASSWORD"
        elif isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            what = f"cannot reach Redis at {where} ({reason})"
        else:
            what = f"Redis at {where} refused the request ({reason})"
        return StoreUnavailable(
            f"session store unavailable: {what}; the session tools need it, the other tools still work"
        )

    # -- operations -----------------------------------------------------------------------------------
    def create(self, state: SessionState) -> SessionState:
        now = self.clock()
        state = created(state, now, self.ttl)
        skey, ikey = self._keys(state.principal, state.id)
        args: builtins.list[str | int] = [
            state.principal,
            _num(now),
            _num(state.expires_at),
            state_json(state),
            summary_json(state),
            self.ttl * 1000,
            state.id,
        ]
        with self._redis_call():
            stored = self._create(keys=[skey, ikey], args=args)
        if stored != 1:
            raise conflict(state.id)
        return state

    def get(self, session_id: str, principal: str) -> SessionState:
        skey, _ = self._keys(principal, session_id)
        with self._redis_call():
            row: builtins.list[Any] = self._redis.hmget(skey, ["owner", "expires_at", "data"])
        stored, expires, data = row
        if stored != principal or data is None or float(expires) <= self.clock():
            raise not_found(session_id)
        return SessionState.model_validate_json(data)

    def save(self, state: SessionState) -> SessionState:
        """Store a transition; fails if someone else stored one since ``state`` was read."""
        now = self.clock()
        new = transitioned(state, now, self.ttl)
        skey, ikey = self._keys(state.principal, state.id)
        args: builtins.list[str | int] = [
            state.principal,
            str(state.version),
            str(new.version),
            _num(now),
            _num(new.expires_at),
            state_json(new),
            summary_json(new),
            self.ttl * 1000,
            state.id,
        ]
        with self._redis_call():
            stored = self._save(keys=[skey, ikey], args=args)
        if stored != 1:
            raise conflict(state.id)
        return new

    def delete(self, session_id: str, principal: str) -> bool:
        skey, ikey = self._keys(principal, session_id)
        with self._redis_call():
            return bool(self._delete(keys=[skey, ikey], args=[principal, session_id]) == 1)

    def _live(self, principal: str, limit: int, fields: Sequence[str]) -> builtins.list[tuple[str, builtins.list[Any]]]:
        """The principal's live sessions newest first: (id, [updated_at, expires_at, *fields]). Ids
        whose hash Redis has expired are removed from the index on the way."""
        base = self._base(principal)
        ikey = f"{base}:index"
        wanted = ["owner", "updated_at", "expires_at", *fields]
        out: builtins.list[tuple[str, builtins.list[Any]]] = []
        start, now = 0, self.clock()
        with self._redis_call():
            while len(out) < limit:
                page = min(PAGE, limit - len(out))  # as many as are still wanted: each costs a read and a parse
                ids, rows = json.loads(self._page(keys=[ikey], args=[start, start + page - 1, f"{base}:s:", *wanted]))
                if not ids:  # cjson writes an empty table as {}
                    break
                gone = [sid for sid, row in zip(ids, rows, strict=True) if row[0] is False]
                if gone:
                    self._redis.zrem(ikey, *gone)
                for sid, row in zip(ids, rows, strict=True):
                    if row[0] == principal and float(row[2]) > now and len(out) < limit:
                        out.append((sid, [float(row[1]), float(row[2]), *(None if v is False else v for v in row[3:])]))
                if len(ids) < page:
                    break  # the index has no more
                start += len(ids) - len(gone)
        return out

    def list(self, principal: str, limit: int = 50) -> builtins.list[SessionState]:
        return [SessionState.model_validate_json(row[2]) for _, row in self._live(principal, limit, ["data"])]

    def summaries(self, principal: str, limit: int = 50) -> builtins.list[SessionSummary]:
        return [summary(sid, row[0], row[1], row[2]) for sid, row in self._live(principal, limit, ["summary"])]
