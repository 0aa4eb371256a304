"""A clock the tests advance (:class:`gitops_mcp.clock.Clock`): waits and retries that read it end
without real time passing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class FakeClock:
    """``monotonic()`` moves on ``tick`` seconds at every read (a wait sees its deadline pass);
    ``sleep()`` moves it on by the time asked, records it and returns at once."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 0.0
        self.tick = tick
        self.slept: list[float] = []

    def monotonic(self) -> float:
        t = self.now
        self.now += self.tick
        return t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def virtual_time(client: Any, tick: float = 0.0) -> Iterator[FakeClock]:
    """``client`` (a KubeClient) on a :class:`FakeClock` while the block runs."""
    real, client.clock = client.clock, FakeClock(tick)
    try:
        yield client.clock
    finally:
        client.clock = real
