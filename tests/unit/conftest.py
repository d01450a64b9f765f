"""Helpers for the transport tests (the no-socket guard is in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

# ---------------------------------------------------------------- transport test helpers


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Any:
    """One test body for both twins: ``api.call(t, "chat.create", body)`` runs
    ``t.chat.create`` or ``asyncio.run(t.chat.acreate(...))``."""
    from .fixtures.mock import Api

    return Api(is_async=bool(request.param))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the transport's retry waits instead of sleeping."""
    delays: list[float] = []

    async def fake_async_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr("together_integrations._transport.time.sleep", delays.append)
    monkeypatch.setattr("together_integrations._transport.asyncio.sleep", fake_async_sleep)
    return delays
