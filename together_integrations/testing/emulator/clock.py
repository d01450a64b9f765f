"""Time for the emulator: a real clock, or a virtual one that tests move by hand.

Every timestamp the emulator writes (``created``, ``x-api-*`` headers, job ``created_at`` /
``completed_at``) and every job state it computes comes from one clock, so a 24-hour batch
completes the moment a test calls ``clock.advance(86_400)``, and outputs are byte-stable.

Pass the virtual clock's :meth:`VirtualClock.sleep` / :meth:`VirtualClock.asleep` to a
client's job poller: each poll interval then moves virtual time instead of waiting.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Protocol, runtime_checkable

from together_integrations.testing.emulator.wire import DEFAULT_CREATED

__all__ = ["Clock", "SystemClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """What the emulator needs from a clock."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (async)."""
        ...

    def poll(self) -> None:
        """Called once for every read of a job's state (a no-op unless auto-advancing)."""
        ...


class SystemClock:
    """Wall-clock time; ``sleep`` really sleeps."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def poll(self) -> None:
        pass

    def __repr__(self) -> str:
        return "SystemClock()"


class VirtualClock:
    """A clock that only moves when told to.

    Args:
        start: The initial time, seconds since the epoch (default: the emulator's fixed
            ``created`` stamp, so recordings stay byte-stable).
        auto_advance: Seconds to move forward on every :meth:`poll`, i.e. every time a
            client reads a job (``GET /batches/{id}``, ``GET /fine-tunes/{id}``, …). Use it
            when the test cannot reach the clock, e.g. a client in another process polling
            :meth:`TogetherEmulator.serve` over loopback with real sleeps.

    Example:
        >>> clock = VirtualClock(start=0)
        >>> clock.sleep(3600)           # returns at once
        >>> clock.now()
        3600.0
    """

    def __init__(self, start: float = DEFAULT_CREATED, *, auto_advance: float = 0.0) -> None:
        self._check(start, "start")
        self._check(auto_advance, "auto_advance")
        self._now = float(start)
        self.auto_advance = float(auto_advance)
        self._lock = threading.Lock()

    @staticmethod
    def _check(value: float, name: str) -> None:
        if not math.isfinite(value) or (name != "start" and value < 0):
            raise ValueError(f"{name} must be a finite, non-negative number of seconds: {value!r}")

    def now(self) -> float:
        """The current virtual time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never back) and return the new time."""
        self._check(seconds, "seconds")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, timestamp: float) -> None:
        """Jump to ``timestamp``; it may not be earlier than now (time does not run back)."""
        with self._lock:
            if not math.isfinite(timestamp) or timestamp < self._now:
                raise ValueError(f"cannot move the clock back from {self._now} to {timestamp}")
            self._now = float(timestamp)

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` instead of sleeping (negative values count as zero)."""
        self.advance(max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        """Advance by ``seconds``, then yield once to the event loop so other tasks run."""
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def poll(self) -> None:
        """Advance by :attr:`auto_advance` (the emulator calls this on each job read)."""
        if self.auto_advance:
            self.advance(self.auto_advance)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now()!r}, auto_advance={self.auto_advance!r})"
