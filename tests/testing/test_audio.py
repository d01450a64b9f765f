"""Audio: voices, valid WAV speech and its SSE form, transcription and translation in the
``json``, ``text`` and ``verbose_json`` formats, and the speech → transcription round trip."""

from __future__ import annotations

import base64
import io
import json
import wave
from typing import Any

import httpx
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


def test_voices_of_one_model(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        every = client.get("/voices").json()["data"]
        (only,) = client.get("/voices", params={"model": "cartesia/sonic"}).json()["data"]
        unknown = client.get("/voices", params={"model": "nobody/none"}).json()["data"]
    assert len(every) > 1 and only == next(e for e in every if e["model"] == "cartesia/sonic")
    assert unknown == []


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


SONIC = "cartesia/sonic"
WHISPER = "openai/whisper-large-v3"


def speak(emu: TogetherEmulator, **body: Any) -> httpx.Response:
    with emu.http_client() as client:
        return client.post(
            "/audio/speech",
            json={"model": SONIC, "input": "Hello there. How are you?", "voice": "tara", **body},
        )


def test_speech_is_a_wav_the_stdlib_reads(emu: TogetherEmulator) -> None:
    r = speak(emu, sample_rate=22050)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (
            1,
            2,
            22050,
        )
        frames = reader.readframes(reader.getnframes())
    assert reader.getnframes() == len("Hello there. How are you?") * 22050 // 20
    assert any(frames)  # a tone, not silence


def test_the_stream_form_joins_into_the_same_wav(emu: TogetherEmulator) -> None:
    whole = speak(emu).content
    r = speak(emu, stream=True)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in r.text.split("\n\n") if line.startswith("data: {")]
    assert r.text.endswith("data: [DONE]\n\n") and len(events) > 1
    assert b"".join(base64.b64decode(e["b64"]) for e in events) == whole


def test_raw_pcm_only_when_streaming(emu: TogetherEmulator) -> None:
    assert speak(emu, response_format="raw").status_code == 400
    r = speak(emu, response_format="raw", stream=True)
    events = [json.loads(line[6:]) for line in r.text.split("\n\n") if line.startswith("data: {")]
    pcm = b"".join(base64.b64decode(e["b64"]) for e in events)
    assert (
        not pcm.startswith(b"RIFF")
        and len(pcm) == 2 * len("Hello there. How are you?") * 44100 // 20
    )


def test_speech_round_trips_through_transcription(emu: TogetherEmulator) -> None:
    audio = speak(emu).content
    with emu.http_client() as client:
        r = client.post(
            "/audio/transcriptions", data={"model": WHISPER}, files={"file": ("s.wav", audio)}
        )
    assert r.json() == {"text": "Hello there. How are you?"}


def test_transcription_as_text(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        r = client.post(
            "/audio/transcriptions",
            data={"model": WHISPER, "prompt": "plain words", "response_format": "text"},
            files={"file": WAV},
        )
    assert r.headers["content-type"].startswith("text/plain") and r.text == "plain words\n"


@pytest.mark.parametrize("path", ["/audio/transcriptions", "/audio/translations"])
def test_verbose_json_segments_and_words(emu: TogetherEmulator, path: str) -> None:
    with emu.http_client() as client:
        r = client.post(
            path,
            data={
                "model": WHISPER,
                "prompt": "One two three. Four five!",
                "response_format": "verbose_json",
                "timestamp_granularities[]": ["segment", "word"],
            },
            files={"file": WAV},
        )
    body = r.json()
    assert [s["text"] for s in body["segments"]] == ["One two three.", "Four five!"]
    assert [(s["start"], s["end"]) for s in body["segments"]] == [(0.0, 1.2), (1.2, 2.0)]
    assert [w["word"] for w in body["words"]] == ["One", "two", "three.", "Four", "five!"]
    assert body["duration"] == 2.0 and body["words"][-1]["end"] == 2.0
    assert body["task"] == ("translate" if "translations" in path else "transcribe")


def test_diarization(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        r = client.post(
            "/audio/transcriptions",
            data={
                "model": WHISPER,
                "prompt": "Hi. Hello.",
                "response_format": "verbose_json",
                "diarize": "true",
            },
            files={"file": WAV},
        )
    body = r.json()
    assert [s["speaker_id"] for s in body["speaker_segments"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert [w["speaker_id"] for w in body["words"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert body["speaker_segments"][1]["words"][0]["word"] == "Hello."


@pytest.mark.network
def test_speech_and_transcription_over_loopback(emu: TogetherEmulator) -> None:
    with emu.serve() as server, httpx.Client(base_url=server.base_url) as client:
        audio = client.post(
            "/audio/speech", json={"model": SONIC, "input": "loop back", "voice": "tara"}
        ).content
        r = client.post(
            "/audio/translations", data={"model": WHISPER}, files={"file": ("a.wav", audio)}
        )
    assert r.json() == {"text": "loop back"}
