"""Voices and translations (transcription and speech shapes are in test_endpoints)."""

from __future__ import annotations

import pytest

from together_integrations.testing import TogetherEmulator

WAV = ("a.wav", b"RIFF....", "audio/wav")


def test_voices_per_speech_model(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        data = client.get("/voices").json()["data"]
    models = [entry["model"] for entry in data]
    assert "cartesia/sonic" in models and "openai/whisper-large-v3" not in models
    for entry in data:
        assert entry["voices"] and all(set(v) == {"id", "name"} for v in entry["voices"])


@pytest.mark.parametrize("fmt", ["json", "verbose_json"])
def test_translation(emu: TogetherEmulator, fmt: str) -> None:
    with emu.http_client() as client:
        r = client.post(
            "/audio/translations",
            data={
                "model": "openai/whisper-large-v3",
                "prompt": "good morning",
                "language": "fr",
                "response_format": fmt,
            },
            files={"file": WAV},
        )
    body = r.json()
    assert r.status_code == 200 and body["text"] == "good morning"
    if fmt == "verbose_json":
        assert body["task"] == "translate" and body["language"] == "en"
    else:
        assert body == {"text": "good morning"}


def test_translation_needs_a_file(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        r = client.post(
            "/audio/translations", data={"model": "openai/whisper-large-v3"}, files={"x": WAV}
        )
    assert r.status_code == 400 and r.json()["error"]["param"] == "file"
