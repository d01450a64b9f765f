"""Emulator tests: in-process ones may not open sockets; loopback ones are marked ``network``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket

from together_integrations.testing import TogetherEmulator


@pytest.fixture(autouse=True)
def _sockets_only_for_network_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("network"):
        yield
        return
    disable_socket(allow_unix_socket=True)  # asyncio's self-pipe is a unix socketpair
    yield
    enable_socket()


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()
