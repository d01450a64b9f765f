"""Unit tests never open a network socket (AF_UNIX stays allowed for asyncio's self-pipe)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


# ---------------------------------------------------------------- transport test helpers


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Any:
    """One test body for both twins: ``api.call(t, "chat.create", body)`` runs
    ``t.chat_completions`` or ``asyncio.run(t.chat.acreate(...))``."""
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
