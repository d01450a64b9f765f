"""Pytest fixtures for testing apps against the Together emulator (auto-loaded via pytest11).

Imports nothing heavy at import time: installing the package must not slow down or break
anyone's pytest run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import TogetherEmulator
    from .server import EmulatorServer


@pytest.fixture
def together_emulator() -> TogetherEmulator:
    """An in-process Together emulator (no sockets). ``together_emulator.transport()`` gives a
    ``TogetherTransport`` wired to it."""
    from .emulator import TogetherEmulator

    return TogetherEmulator()


@pytest.fixture
def together_emulator_server(together_emulator: TogetherEmulator) -> Iterator[EmulatorServer]:
    """The same emulator served on a loopback port; use ``.base_url``."""
    with together_emulator.serve() as server:
        yield server


@pytest.fixture
def together_vcr_config() -> dict[str, Any]:
    """vcrpy settings for Together cassettes; use as ``vcr_config`` in your conftest."""
    from .cassettes import vcr_config

    return vcr_config()


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """pytest-recording hook: register the readable serializer and the JSON body matcher."""
    from .cassettes import register

    register(vcr)
