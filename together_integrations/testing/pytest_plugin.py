"""Pytest fixtures for testing apps against the Together emulator (auto-loaded via pytest11).

Imports nothing heavy at import time: installing the package must not slow down or break
anyone's pytest run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

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
