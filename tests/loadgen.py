"""Concurrent MCP clients over streamable HTTP, for the load test and bench/load.py.

Each client is a real SDK client with its own HTTP connection pool; every call's latency is
recorded. Bounded: a fixed number of calls per client, and a deadline for the whole run.

The clients share one process (and its garbage collector): once all are connected, what they
hold is frozen (:func:`gc.freeze`) for the measured calls, so that a full collection of the
fifty clients' objects (100-130 ms of CPU, stopping every client at once: bench/load.py) is not
counted as the server's latency; fifty client processes would each collect only their own.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    owners_seen: dict[int, set[str]] = field(default_factory=dict)

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(p / 100 * (len(xs) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p95(self) -> float:
        return self.pct(95)


def _cause(exc: BaseException) -> str:
    """What went wrong, from inside the task groups around it (the SDK's transport runs in one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _http(token: str | None) -> Any:
    import httpx2

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0, read=120.0))


async def run_clients(
    url: str,
    clients: int,
    calls: int,
    call: Callable[[int, int], tuple[str, dict[str, Any]]],
    token: Callable[[int], str | None] = lambda i: None,
    check: Callable[[int, dict[str, Any]], str | None] | None = None,
    deadline_s: float = 300.0,
    legacy: Callable[[int], bool] = lambda i: False,
    on_start: Callable[[], None] | None = None,
    freeze: bool = True,
) -> LoadResult:
    """``clients`` concurrent clients, each connecting and then making ``calls`` calls given by
    ``call(client, n) -> (tool, arguments)``; ``check`` may name what is wrong with a result.
    ``legacy(client)``: that client speaks the 2025 initialize handshake (as hosts do today)
    instead of the SDK's default 2026 per-request protocol. ``on_start``: called when every client
    has connected, just before the measured calls begin. ``freeze``: see the module docstring."""
    result = LoadResult()
    start, all_ready = anyio.Event(), anyio.Event()
    ready = 0

    def arrived() -> None:
        nonlocal ready
        ready += 1
        if ready == clients:
            all_ready.set()

    async def one(i: int) -> None:
        counted = False
        try:
            async with _http(token(i)) as http:
                transport = streamable_http_client(url, http_client=http)
                async with Client(transport, mode="legacy" if legacy(i) else "auto") as c:
                    await c.list_tools()  # as clients do on connecting (and the SDK client needs the output schemas)
                    counted = True
                    arrived()
                    await start.wait()
                    for n in range(calls):
                        tool, args = call(i, n)
                        t0 = time.perf_counter()
                        r = await c.call_tool(tool, args)
                        result.latencies_ms.append((time.perf_counter() - t0) * 1000)
                        if r.is_error:
                            result.failures.append(f"client {i} {tool}: {r.content}")
                        elif check is not None:
                            problem = check(i, r.structured_content or {})
                            if problem:
                                result.failures.append(f"client {i} {tool}: {problem}")
        except Exception as exc:  # a connection that fails is a failed call, not a crash of the run
            result.failures.append(f"client {i}: {_cause(exc)}")
        finally:
            if not counted:
                arrived()

    try:
        with anyio.fail_after(deadline_s):
            async with anyio.create_task_group() as tg:
                for i in range(clients):
                    tg.start_soon(one, i)
                await all_ready.wait()  # every client has initialized (or failed): measure the calls only
                if freeze:
                    gc.collect()
                    gc.freeze()
                if on_start is not None:
                    on_start()
                start.set()
    finally:
        if freeze:
            gc.unfreeze()
    return result
