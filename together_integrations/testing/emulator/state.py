"""Scripted state: queued replies and faults, and the order they are consumed in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

__all__ = ["Dialect", "LogprobsFormat", "Predicate", "Reply", "ToolCallStyle", "take"]

Dialect = Literal["modern", "legacy", "openai"]
ToolCallStyle = Literal["delta", "choice_level", "finish_per_call"]
LogprobsFormat = Literal["together", "openai"]
Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Reply:
    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    dialect: Dialect | None = None
    tool_call_style: ToolCallStyle | None = None
    logprobs_format: LogprobsFormat | None = None
    when: Predicate | None = None
    times: int | None = 1


class _Scripted(Protocol):
    when: Any
    times: int | None


T = TypeVar("T", bound=_Scripted)


def take(queue: list[T], body: dict[str, Any], lock: threading.RLock) -> T | None:
    """Consume the first item matching ``body``: predicate items first, then FIFO."""
    with lock:
        ordered = [x for x in queue if x.when is not None] + [x for x in queue if x.when is None]
        for item in ordered:
            if item.when is None or item.when(body):
                if item.times is not None:
                    item.times -= 1
                    if item.times <= 0:
                        queue.remove(item)
                return item
    return None
