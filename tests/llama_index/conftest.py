"""LlamaIndex adapter tests run offline, against the in-process Together emulator.

Fixtures:
    ``emu``: a fresh :class:`TogetherEmulator` (script it with ``emu.reply(...)``, read
        ``emu.requests``).
    ``transport``: a :class:`TogetherTransport` answering from ``emu`` with no sockets and
        no retries (tests that count retries build their own with ``emu.transport(max_retries=...)``).
No network socket may be opened unless a test is marked ``network``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

from together_integrations import TogetherTransport
from together_integrations.testing import TogetherEmulator


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("network") is not None:
        yield
        return
    # AF_UNIX stays allowed for asyncio's self-pipe.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()


@pytest.fixture
def transport(emu: TogetherEmulator) -> TogetherTransport:
    result: Any = emu.transport(max_retries=0)
    assert isinstance(result, TogetherTransport)
    return result
