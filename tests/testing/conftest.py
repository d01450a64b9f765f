"""Emulator tests: in-process ones may not open sockets; loopback ones are marked ``network``."""

from __future__ import annotations

import pytest

from together_integrations.testing import TogetherEmulator


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()
