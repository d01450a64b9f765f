"""Replay tests: vcrpy cassettes under top-level ``cassettes/``, one file per test.

CI replays with record mode ``none``. To re-record: with ``TOGETHER_API_KEY`` set the tests
talk to the live API; without it, to a loopback emulator started here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from together_integrations.testing import TogetherEmulator

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"


@pytest.fixture
def vcr_config(together_vcr_config: dict[str, Any]) -> dict[str, Any]:
    return together_vcr_config


def cassette_dir(request: pytest.FixtureRequest) -> Path:
    return CASSETTES / request.module.__name__.rsplit(".", 1)[-1]


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(cassette_dir(request))


@pytest.fixture
def together_target(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Where requests go: the live API, a loopback emulator (recording), or nowhere (replay)."""
    mode = request.config.getoption("--record-mode")
    if mode in (None, "none"):
        yield {"api_key": "replay-key", "base_url": "https://api.together.xyz/v1"}
    elif os.environ.get("TOGETHER_API_KEY"):
        yield {}
    else:
        emu = TogetherEmulator()
        request.node.together_emulator = emu
        with emu.serve() as server:
            yield {"api_key": "emulator-key", "base_url": server.base_url, "emulator": emu}
