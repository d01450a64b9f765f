"""ChatTogether and the transport replayed from cassettes (recorded against the emulator;
maintainers with a key re-record live)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from together_integrations.langchain import ChatTogether

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def chat(target: dict[str, Any]) -> ChatTogether:
    settings = {k: v for k, v in target.items() if k != "emulator"}
    return ChatTogether(model=MODEL, temperature=0, max_retries=0, **settings)


@pytest.mark.vcr
def test_invoke_replays(together_target: dict[str, Any]) -> None:
    message = chat(together_target).invoke("Say hello in French.")
    assert isinstance(message.content, str) and message.content
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] > 0
    assert message.response_metadata["finish_reason"] == "stop"


@pytest.mark.vcr
def test_stream_replays_with_usage(together_target: dict[str, Any]) -> None:
    chunks = list(chat(together_target).stream("Count to five."))
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert len(chunks) > 2 and full.content
    assert full.usage_metadata is not None and full.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("name", ["test_invoke_replays", "test_stream_replays_with_usage"])
def test_cassettes_are_readable_and_scrubbed(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "cassettes" / "test_replay_chat" / f"{name}.yaml"
    text = path.read_text()
    doc = yaml.safe_load(text)
    assert doc["recorded_against"] in ("live", "emulator")
    request = doc["interactions"][0]["request"]
    assert request["body_json"]["model"] == MODEL  # JSON bodies are YAML structures
    assert "authorization" not in {k.lower() for k in request["headers"]}
    body = doc["interactions"][0]["response"]["body"]
    assert "json" in body or ("sse" in body and "data: [DONE]" in body["sse"])
