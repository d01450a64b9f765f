"""The ``wait`` arguments every job family shares, resolved once."""

from __future__ import annotations

from together_integrations._jobs import PollPolicy

__all__ = ["policy"]


def policy(
    timeout: float | None, poll_interval: float | None, max_interval: float | None
) -> PollPolicy:
    defaults = PollPolicy()
    interval = defaults.interval if poll_interval is None else poll_interval
    return PollPolicy(
        interval=interval,
        max_interval=max(interval, defaults.max_interval if max_interval is None else max_interval),
        timeout=timeout,
    )
