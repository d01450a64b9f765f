"""Shared helpers for the emulator tests (plain httpx, no project transport)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from together_integrations.testing import TogetherEmulator

CHAT = "/chat/completions"
MODEL = "openai/gpt-oss-20b"
LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
MSGS = [{"role": "user", "content": "What is the capital of France?"}]
ID_PATTERN = r"^o[A-Za-z0-9]{6}-[A-Za-z0-9]{6}-[0-9a-f]{16}$"


def post(emu: TogetherEmulator, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    with emu.http_client() as client:
        return client.post(path, json=body, **kwargs)


def chat(emu: TogetherEmulator, **body: Any) -> httpx.Response:
    body.setdefault("model", MODEL)
    body.setdefault("messages", MSGS)
    return post(emu, CHAT, body)


def parse_sse(raw: bytes) -> list[Any]:
    """Events of an SSE body; asserts the framing (``data:`` lines, blank-line separated)."""
    text = raw.decode()
    assert text.endswith("data: [DONE]\n\n")
    blocks = text.split("\n\n")[:-1]
    assert all(b.startswith("data: ") and "\n" not in b for b in blocks)
    return [json.loads(b[len("data: ") :]) for b in blocks[:-1]]


def stream_chat(emu: TogetherEmulator, **body: Any) -> list[dict[str, Any]]:
    body.setdefault("model", MODEL)
    body.setdefault("messages", MSGS)
    r = post(emu, CHAT, {**body, "stream": True})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/event-stream;charset=utf-8"
    return parse_sse(r.content)
