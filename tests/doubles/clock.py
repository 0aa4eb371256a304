"""A clock the tests advance (:class:`gitops_mcp.clock.Clock`): waits and retries that read it end
without real time passing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class FakeClock:
    """``monotonic()`` moves on ``tick`` seconds at every read (a wait sees its deadline pass);
    ``sleep()`` moves it on by the time asked, records it and returns at once. Thread-safe: the
    code under test and a double serving it (the fake API server's watches) may share one."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 0.0
        self.tick = tick
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            t = self.now
            self.now += self.tick
            return t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@contextmanager
def virtual_time(*holders: Any, tick: float = 0.0) -> Iterator[FakeClock]:
    """Every one of ``holders`` (whatever reads a ``clock`` attribute: a KubeClient, the services'
    ``Shared``, a FakeKube whose watches then end on it) on one :class:`FakeClock` while the block runs."""
    clock = FakeClock(tick)
    real = [h.clock for h in holders]
    for h in holders:
        h.clock = clock
    try:
        yield clock
    finally:
        for h, c in zip(holders, real, strict=True):
            h.clock = c
