"""LlamaIndex adapter tests run offline, against the in-process Together emulator.

Fixtures:
    ``emu``: a fresh :class:`TogetherEmulator` (script it with ``emu.reply(...)``, read
        ``emu.requests``) that also serves TogetherEmbedding's default model.
    ``transport``: a :class:`TogetherTransport` answering from ``emu`` with no sockets and
        no retries (tests that count retries build their own with ``emu.transport(max_retries=...)``).
No network socket may be opened unless a test is marked ``network``.
"""

from __future__ import annotations

from typing import Any

import pytest

from together_integrations import TogetherTransport
from together_integrations.llama_index.embeddings import DEFAULT_EMBEDDING_MODEL
from together_integrations.testing import TogetherEmulator


@pytest.fixture
def emu() -> TogetherEmulator:
    emulator = TogetherEmulator()
    # Not in the emulator's own catalogue (yet); the size matches the real model.
    emulator.models.setdefault(
        DEFAULT_EMBEDDING_MODEL, {"type": "embedding", "context_length": 8192, "dims": 768}
    )
    return emulator


@pytest.fixture
def transport(emu: TogetherEmulator) -> TogetherTransport:
    result: Any = emu.transport(max_retries=0)
    assert isinstance(result, TogetherTransport)
    return result
