"""Virtual time: the clock moves only when told to, and every timestamp comes from it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from together_integrations.testing import SystemClock, TogetherEmulator, VirtualClock
from together_integrations.testing.emulator import DEFAULT_CREATED, Clock

from ._helpers import chat


def test_advance_sleep_and_set() -> None:
    clock = VirtualClock(start=100)
    assert clock.now() == 100.0
    assert clock.advance(5) == 105.0
    real_sleeps: list[float] = []
    original, time.sleep = time.sleep, real_sleeps.append  # type: ignore[assignment]
    try:
        clock.sleep(86_400)
    finally:
        time.sleep = original
    assert real_sleeps == [] and clock.now() == 86_505.0
    clock.sleep(-3)  # a poller computing a negative remainder does not move time back
    assert clock.now() == 86_505.0
    clock.set(90_000)
    assert clock.now() == 90_000.0
    with pytest.raises(ValueError, match="back"):
        clock.set(1)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_advance_refuses_negative_and_non_finite(bad: float) -> None:
    with pytest.raises(ValueError):
        VirtualClock().advance(bad)


def test_asleep_advances_and_yields_to_other_tasks() -> None:
    clock = VirtualClock(start=0)
    order: list[str] = []

    async def sleeper() -> None:
        await clock.asleep(60)
        order.append(f"sleeper@{clock.now():.0f}")

    async def other() -> None:
        order.append("other")

    async def main() -> None:
        await asyncio.gather(sleeper(), other())

    asyncio.run(main())
    assert order == ["other", "sleeper@60"] or order == ["sleeper@60", "other"]
    assert clock.now() == 60


def test_poll_auto_advances_by_the_step() -> None:
    clock = VirtualClock(start=0, auto_advance=30)
    clock.poll()
    clock.poll()
    assert clock.now() == 60
    still = VirtualClock(start=0)
    still.poll()
    assert still.now() == 0


def test_the_default_clock_is_virtual_at_the_fixed_stamp() -> None:
    emu = TogetherEmulator()
    assert isinstance(emu.clock, VirtualClock) and emu.clock.now() == DEFAULT_CREATED
    assert isinstance(TogetherEmulator(created=None).clock, SystemClock)
    assert isinstance(emu.clock, Clock) and isinstance(SystemClock(), Clock)


def test_response_timestamps_follow_the_clock() -> None:
    clock = VirtualClock(start=1_800_000_000)
    emu = TogetherEmulator(clock=clock)
    first = chat(emu)
    clock.advance(3600.25)
    second = chat(emu)
    assert first.json()["created"] == 1_800_000_000
    assert second.json()["created"] == 1_800_003_600
    assert first.headers["x-api-received"] == "2027-01-15T08:00:00.000Z"
    assert second.headers["x-api-call-end"] == "2027-01-15T09:00:00.250Z"


def test_same_clock_and_seed_give_identical_bytes() -> None:
    a = TogetherEmulator(clock=VirtualClock(start=5))
    b = TogetherEmulator(clock=VirtualClock(start=5))
    assert chat(a).content == chat(b).content
    assert chat(a).headers["x-api-received"] == chat(b).headers["x-api-received"]


@pytest.mark.network
def test_the_loopback_server_reads_the_same_clock() -> None:
    clock = VirtualClock(start=2_000_000_000)
    emu = TogetherEmulator(clock=clock)
    body = {"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}]}
    with emu.serve() as server, httpx.Client(base_url=server.base_url) as client:
        before = client.post("/chat/completions", json=body).json()["created"]
        clock.advance(10)
        after = client.post("/chat/completions", json=body).json()["created"]
    assert (before, after) == (2_000_000_000, 2_000_000_010)
