"""Timing helpers shared by the benchmark scripts: interleaved rounds, medians, a report."""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Report", "Timing", "interleaved"]


@dataclass
class Timing:
    """Per-call nanoseconds of one contender: the median of each round, and their median."""

    rounds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    @property
    def spread(self) -> float:
        """(max - min) / median over rounds: how noisy the machine was."""
        return (max(self.rounds) - min(self.rounds)) / self.median


def _batch(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    clock = time.perf_counter_ns
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def interleaved(
    contenders: dict[str, Callable[[], Any]],
    *,
    rounds: int,
    repeat: int,
    warmup: int = 20,
    seed: int = 0,
) -> dict[str, Timing]:
    """Time each contender ``repeat`` times per round, in a shuffled order every round, so
    drift (CPU frequency, other load) hits all of them alike. Returns per-call ns."""
    for fn in contenders.values():  # pools, imports, caches, lazy schema builds
        for _ in range(warmup):
            fn()
    order = list(contenders)
    rng = random.Random(seed)
    out = {name: Timing() for name in contenders}
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            gc.collect()
            out[name].rounds.append(_batch(contenders[name], repeat))
    return out


class Report:
    """Rows of (measure, result, target, ok); printed as they come, as a table at the end."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, str, str, bool | None]] = []

    def add(self, measure: str, result: str, target: str, ok: bool | None) -> None:
        self.rows.append((measure, result, target, ok))

    @property
    def failed(self) -> bool:
        return any(ok is False for *_, ok in self.rows)

    def print(self) -> None:
        header = ("measure", "result", "target", "")
        marks = {True: "ok", False: "MISSED", None: "info"}
        table = [header] + [(m, r, t, marks[ok]) for m, r, t, ok in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        print(f"\n{self.title}")
        for i, row in enumerate(table):
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
            if i == 0:
                print("  ".join("-" * width for width in widths))
