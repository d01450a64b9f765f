"""Shared by the batch tests: requests, an emulator on virtual time, and one driver for the
sync and async twins of every run operation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from together_integrations.batch import BatchRun, DirectoryStore
from together_integrations.testing import TogetherEmulator, VirtualClock

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def chat_requests(n: int, model: str = MODEL, prefix: str = "row") -> list[dict[str, Any]]:
    return [
        {"model": model, "messages": [{"role": "user", "content": f"{prefix} {i}"}]}
        for i in range(n)
    ]


def answer(result: Any) -> str:
    return str(result["choices"][0]["message"]["content"])


def count(emu: TogetherEmulator, method: str, path: str) -> int:
    return sum(1 for r in emu.requests if r.method == method and r.path == path)


def drive(run: BatchRun, mode: str, operation: str, **kwargs: Any) -> Any:
    """Call ``operation`` (``submit``, ``status``, ``wait``, ``results``, ``cancel``) through
    the sync method or its async twin."""
    if mode == "sync":
        return getattr(run, operation)(**kwargs)
    twin = {"wait": "await_until_done"}.get(operation, "a" + operation)
    method: Callable[..., Any] = getattr(run, twin)
    return asyncio.run(method(**kwargs))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


@pytest.fixture
def store(tmp_path: Path) -> DirectoryStore:
    return DirectoryStore(tmp_path / "runs")
