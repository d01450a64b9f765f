"""Timelines for the job families: a job's state is a pure function of the clock.

A :class:`Timeline` is a list of ``(start time, state)`` steps; the state at ``now`` is the
last step that has started. Families append steps when a client acts (cancel, stop, start),
cutting off the future they had planned, so nothing runs in the background.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Timeline"]


@dataclass
class Timeline:
    """``(start, state)`` steps in time order."""

    steps: list[tuple[float, str]] = field(default_factory=list)

    @classmethod
    def plan(cls, start: float, phases: Iterable[tuple[str, float]], final: str) -> Timeline:
        """``phases`` of ``(state, seconds)`` from ``start``, then ``final`` for good."""
        steps: list[tuple[float, str]] = []
        at = start
        for state, seconds in phases:
            steps.append((at, state))
            at += max(0.0, seconds)
        steps.append((at, final))
        return cls(steps)

    def state(self, now: float) -> str:
        """The state at ``now`` (the first one before the timeline starts)."""
        current = self.steps[0][1]
        for at, state in self.steps:
            if at > now:
                break
            current = state
        return current

    def entered(self, state: str, now: float) -> float | None:
        """When ``state`` was (last) entered at or before ``now``; None if not yet."""
        found: float | None = None
        for at, name in self.steps:
            if at > now:
                break
            if name == state:
                found = at
        return found

    def when(self, state: str) -> float | None:
        """When ``state`` is (first) planned or was entered; None if it is not planned."""
        return next((at for at, name in self.steps if name == state), None)

    def redirect(self, now: float, phases: Iterable[tuple[str, float]], final: str) -> None:
        """Forget the planned future after ``now`` and follow ``phases`` then ``final``."""
        self.steps = [step for step in self.steps if step[0] <= now]
        self.steps.extend(Timeline.plan(now, phases, final).steps)
