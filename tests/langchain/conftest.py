"""LangChain adapter tests run offline: no network socket unless marked ``network``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("network") is not None:
        yield
        return
    # AF_UNIX stays allowed for asyncio's self-pipe.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
