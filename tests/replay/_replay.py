"""Helpers shared by the replay tests: client settings and the emulator (recording only)."""

from __future__ import annotations

from typing import Any

from together_integrations import TogetherTransport
from together_integrations.testing import TogetherEmulator

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
LANGUAGE_MODEL = "mistralai/Mixtral-8x7B-v0.1"
REASONING_MODEL = "openai/gpt-oss-120b"
EMBED_MODEL = "intfloat/multilingual-e5-large-instruct"
RERANK_MODEL = "mixedbread-ai/Mxbai-Rerank-Large-V2"


def settings(target: dict[str, Any]) -> dict[str, Any]:
    """Client settings for the target (``api_key`` and ``base_url``; empty when live)."""
    return {k: v for k, v in target.items() if k != "emulator"} | {"max_retries": 0}


def emulator(target: dict[str, Any]) -> TogetherEmulator | None:
    """The emulator to script while recording against it; None on replay or live."""
    emu = target.get("emulator")
    return emu if isinstance(emu, TogetherEmulator) else None


def transport(target: dict[str, Any]) -> TogetherTransport:
    """A transport of our own (not the shared one), closed by the caller."""
    return TogetherTransport(**settings(target))
