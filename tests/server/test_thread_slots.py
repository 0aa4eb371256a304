"""Which worker threads a tool's work runs on (``server.common.run``): starting a session on a local
directory only computes (and, with Redis, makes a few short store round trips), so it shares a few
threads with either store. On the default forty, fifty starts at once spent twice the CPU handing
the GIL from thread to thread (bench/load.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from gitops_mcp.server import build_server
from gitops_mcp.server.common import LOCAL_SLOTS, STORE_SLOTS, _limiter
from gitops_mcp.services import Services
from gitops_mcp.settings import Settings

QUEUED = 3


@pytest.mark.anyio
@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_session_starts_share_a_few_threads(
    store: str, tmp_path: Path, fixture_repo: Callable[..., Path], request: pytest.FixtureRequest
) -> None:
    repo = fixture_repo("podinfo")
    extra: dict[str, Any] = {"session_store": request.getfixturevalue("redis_server").url} if store == "redis" else {}
    settings = Settings(
        allowed_roots=[tmp_path],
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        allowed_git_hosts=[],
        **extra,
    )
    slots, limiter = (LOCAL_SLOTS, _limiter("local")) if store == "sqlite" else (STORE_SLOTS, _limiter("store"))
    assert limiter is not None
    svc = Services(settings)
    real_start = svc.wizard.start
    gate, lock = threading.Event(), threading.Lock()
    running = 0
    most = 0

    def held_start(*args: Any) -> Any:  # each start waits in its thread until the test lets them all go
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            assert gate.wait(30)
            return real_start(*args)
        finally:
            with lock:
                running -= 1

    svc.wizard.start = held_start  # type: ignore[method-assign]
    results: list[Any] = []

    async def start() -> None:
        results.append(await c.call_tool("start_deployment", {"repo_path": str(repo), "provider": "flux"}))

    try:
        async with Client(build_server(settings, svc)) as c, anyio.create_task_group() as tg:
            for _ in range(slots + QUEUED):
                tg.start_soon(start)
            try:
                with anyio.move_on_after(30):  # until the slots are taken and the rest wait for one
                    while limiter.statistics().tasks_waiting < QUEUED or running < slots:
                        await anyio.sleep(0.01)
                assert (running, most, limiter.statistics().tasks_waiting) == (slots, slots, QUEUED)
            finally:
                gate.set()
    finally:
        svc.close()
    assert len(results) == slots + QUEUED and not any(r.is_error for r in results), [r.content for r in results]
    assert len({r.structured_content["session_id"] for r in results}) == slots + QUEUED
