"""Pytest fixtures for testing apps against the Together emulator (auto-loaded via pytest11).

Imports nothing heavy at import time (no httpx, vcrpy or PyYAML until a fixture is used):
installing the package must not slow down or break anyone's pytest run.

Fixtures:
    together_emulator: an in-process :class:`~together_integrations.testing.TogetherEmulator`.
    together_emulator_server: the same emulator on a loopback port (``.base_url``).
    together_vcr_config: vcrpy settings for Together cassettes. This plugin does not override
        pytest-recording's own ``vcr_config`` (that would change every installer's cassettes);
        opt in from a conftest with ``vcr_config = together_vcr_config`` style fixture.
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
    """An in-process Together emulator (no sockets).

    ``together_emulator.http_client()`` gives an ``httpx.Client`` on it, and
    ``together_emulator.transport()`` a ``TogetherTransport``.
    """
    from .emulator import TogetherEmulator

    return TogetherEmulator()


@pytest.fixture
def together_emulator_server(together_emulator: TogetherEmulator) -> Iterator[EmulatorServer]:
    """The ``together_emulator`` served on a loopback port; use ``.base_url``."""
    with together_emulator.serve() as server:
        yield server


@pytest.fixture
def together_vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """vcrpy settings for Together cassettes; return it from your ``vcr_config`` fixture.

    With ``--record-mode=rewrite`` the test's ``<name>.yaml`` cassette is removed first:
    pytest-recording deletes only ``<name>.<serializer name>``, so without this a rewrite
    would replay the stale cassette and append to it. Recording against
    ``together_emulator_server`` stores its loopback host as ``together-emulator.invalid``
    (see :mod:`together_integrations.testing.cassettes`), so a re-recording is byte-identical
    and the cassette replays whatever host the client is configured with.
    """
    from pathlib import Path

    from .cassettes import vcr_config

    if request.config.getoption("--record-mode", default="none") == "rewrite":
        directory = request.getfixturevalue("vcr_cassette_dir")
        name = request.getfixturevalue("default_cassette_name")
        Path(directory, f"{name}.yaml").unlink(missing_ok=True)
    return vcr_config()


@pytest.hookimpl(optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """pytest-recording hook: register the readable serializer and the JSON body matcher."""
    from .cassettes import register

    register(vcr)
