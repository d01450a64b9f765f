"""The offline test rig: a Together emulator (in-process or on loopback) and cassette helpers.

>>> from together_integrations.testing import TogetherEmulator
>>> emu = TogetherEmulator()
>>> client = emu.http_client()          # an httpx.Client answered in-process, no sockets
>>> with emu.serve() as server:         # the same emulator on http://127.0.0.1:<port>/v1
...     base_url = server.base_url
>>> clock = VirtualClock()              # jobs (batches, fine-tunes, videos, endpoints) move
>>> emu = TogetherEmulator(clock=clock) # only when told: clock.advance(86_400)

vcrpy and PyYAML are only imported when a cassette is serialized.
"""

from __future__ import annotations

from ._schema import example_for_schema
from .cassettes import (
    TogetherYamlSerializer,
    find_secrets,
    json_body_matcher,
    make_vcr,
    register,
    vcr_config,
)
from .emulator import (
    DEFAULT_MODELS,
    EmulatedRequest,
    EmulatedResponse,
    EmulatorTransport,
    SystemClock,
    TogetherEmulator,
    VirtualClock,
    embed_text,
    overlap_score,
)
from .server import EmulatorServer

__all__ = [
    "DEFAULT_MODELS",
    "EmulatedRequest",
    "EmulatedResponse",
    "EmulatorServer",
    "EmulatorTransport",
    "SystemClock",
    "TogetherEmulator",
    "TogetherYamlSerializer",
    "VirtualClock",
    "embed_text",
    "example_for_schema",
    "find_secrets",
    "json_body_matcher",
    "make_vcr",
    "overlap_score",
    "register",
    "vcr_config",
]
