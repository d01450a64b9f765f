"""What the whole suite shares: one no-socket guard and one sync/async parametrization.

Tests never reach the network. A test that needs loopback sockets (a real emulator server)
is marked ``network``; re-recording cassettes (``--record-mode`` other than ``none``) may
talk to the live API or a loopback emulator. AF_UNIX stays allowed for asyncio's self-pipe.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    recording = request.config.getoption("--record-mode", default="none") not in (None, "none")
    if recording or request.node.get_closest_marker("network") is not None:
        yield
        return
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """``"sync"`` or ``"async"``: one test body for both twins of a method."""
    return str(request.param)
