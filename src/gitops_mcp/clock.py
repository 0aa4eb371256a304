"""The clock every wait and retry reads: a seam, so that tests advance time instead of waiting.

:data:`SYSTEM` is the real one (``time.monotonic``, ``time.sleep``); the cluster client carries
one (``KubeClient.clock``) that its retries and the waits of :mod:`gitops_mcp.cluster.ops` read,
and :class:`~gitops_mcp.services.shared.Shared` carries the one its deadlines read.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM: Clock = SystemClock()
