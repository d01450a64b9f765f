"""Waiting for server-side jobs (batches, fine-tunes, videos, endpoints): one poller.

The decisions (when to look again, when to give up, what a terminal state means) are made
by :class:`Poller` without I/O; :func:`wait_for` and :func:`await_for` are the two loops,
which differ only in how they sleep. The clock is injectable, so a test can run a 24-hour
job in milliseconds with a virtual clock whose ``sleep`` advances time instead of waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from ._exceptions import JobFailedError, JobTimeoutError, RateLimitError, TogetherConfigError

__all__ = [
    "Clock",
    "JobLike",
    "PollPolicy",
    "Poller",
    "SystemClock",
    "await_for",
    "wait_for",
]


@runtime_checkable
class Clock(Protocol):
    """Where the poller reads the time and how it sleeps."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    async def asleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock (monotonic time)."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class JobLike(Protocol):
    """What the poller reads of a job (every job schema implements it)."""

    @property
    def is_terminal(self) -> bool: ...

    @property
    def is_failed(self) -> bool: ...

    @property
    def failure_message(self) -> str | None: ...

    @property
    def progress_fraction(self) -> float | None: ...

    @property
    def status_text(self) -> str: ...


J = TypeVar("J", bound=JobLike)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often to look and for how long.

    Attributes:
        interval: Seconds before the second look (the first is at once).
        max_interval: The longest pause between looks.
        multiplier: Growth of the pause after each look.
        jitter: Fraction of random spread, so many waiters do not poll in step.
        timeout: Give up (``JobTimeoutError``, the job goes on) after this many seconds;
            ``None`` waits as long as the job runs.
    """

    interval: float = 2.0
    max_interval: float = 60.0
    multiplier: float = 1.5
    jitter: float = 0.1
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not (self.interval > 0 and self.max_interval >= self.interval):
            raise TogetherConfigError(
                "poll interval must be > 0 and max_interval >= interval, got "
                f"{self.interval} and {self.max_interval}."
            )
        if self.timeout is not None and not self.timeout > 0:
            raise TogetherConfigError(f"timeout must be > 0 seconds or None, got {self.timeout}.")


def _job_id(job: object) -> str | None:
    value = getattr(job, "id", None)
    return value if isinstance(value, str) else None


class Poller:
    """The waiting decisions for one job, without I/O."""

    def __init__(
        self,
        policy: PollPolicy,
        clock: Clock,
        *,
        kind: str = "job",
        on_progress: Callable[[JobLike], None] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.kind = kind
        self.on_progress = on_progress
        self.rand = rand
        self.started = clock.now()
        self.looks = 0
        self.last: JobLike | None = None

    def _pause(self) -> float:
        policy = self.policy
        base = min(
            policy.interval * policy.multiplier ** min(self.looks - 1, 64), policy.max_interval
        )
        return base * (1.0 + policy.jitter * (2.0 * self.rand() - 1.0))

    def _remaining(self) -> float | None:
        if self.policy.timeout is None:
            return None
        return self.policy.timeout - (self.clock.now() - self.started)

    def _timed_out(self) -> JobTimeoutError:
        job = self.last
        waited = self.clock.now() - self.started
        status = job.status_text if job is not None else None
        return JobTimeoutError(
            f"The {self.kind} {_job_id(job) or ''} is still {status or 'unknown'} after "
            f"{waited:.0f} s of waiting. It goes on running on the server: wait again with its "
            "id to resume, or cancel it.".replace("  ", " "),
            job=job,
            job_id=_job_id(job),
            status=status,
            waited=waited,
        )

    def seen(self, job: JobLike) -> float | None:
        """Read a fresh job state: ``None`` when it is done, else the seconds to sleep.

        Raises:
            JobFailedError: the job ended without success (with the server's reason).
            JobTimeoutError: the wait ran out (carrying the last state, to resume).
        """
        self.last = job
        self.looks += 1
        if self.on_progress is not None:
            self.on_progress(job)
        if job.is_terminal:
            if job.is_failed:
                reason = job.failure_message
                raise JobFailedError(
                    f"The {self.kind} {_job_id(job) or ''} ended {job.status_text}"
                    + (f": {reason}" if reason else " (the server gave no reason).").replace(
                        "  ", " "
                    ),
                    job=job,
                    job_id=_job_id(job),
                    status=job.status_text,
                    reason=reason,
                )
            return None
        return self._next(self._pause())

    def rate_limited(self, error: RateLimitError) -> float:
        """A look was refused with 429: wait what the server asks (or the next pause)."""
        return self._next(error.retry_after or self._pause())

    def _next(self, pause: float) -> float:
        remaining = self._remaining()
        if remaining is not None:
            if remaining <= 0:
                raise self._timed_out()
            pause = min(pause, remaining)
        return max(pause, 0.0)


def wait_for(
    retrieve: Callable[[], J],
    *,
    policy: PollPolicy | None = None,
    clock: Clock | None = None,
    kind: str = "job",
    on_progress: Callable[[JobLike], None] | None = None,
) -> J:
    """Look at a job until it is terminal; return its final state."""
    clock = clock or SystemClock()
    poller = Poller(policy or PollPolicy(), clock, kind=kind, on_progress=on_progress)
    while True:
        try:
            job = retrieve()
        except RateLimitError as error:
            clock.sleep(poller.rate_limited(error))
            continue
        pause = poller.seen(job)
        if pause is None:
            return job
        clock.sleep(pause)


async def await_for(
    retrieve: Callable[[], Awaitable[J]],
    *,
    policy: PollPolicy | None = None,
    clock: Clock | None = None,
    kind: str = "job",
    on_progress: Callable[[JobLike], None] | None = None,
) -> J:
    """Async :func:`wait_for`."""
    clock = clock or SystemClock()
    poller = Poller(policy or PollPolicy(), clock, kind=kind, on_progress=on_progress)
    while True:
        try:
            job = await retrieve()
        except RateLimitError as error:
            await clock.asleep(poller.rate_limited(error))
            continue
        pause = poller.seen(job)
        if pause is None:
            return job
        await clock.asleep(pause)
