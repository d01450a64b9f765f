"""Images, speech and transcription replayed from cassettes through the transport (no
adapter wraps them). Binary bodies are stored as a sha256 hash, a length and their first
bytes; multipart uploads as their fields (the audio part as a hash)."""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import pytest

from together_integrations.testing.emulator.content import wav

from ._replay import transport

IMAGE_MODEL = "black-forest-labs/FLUX.1-schnell"
JPEG_MAGIC = b"\xff\xd8\xff"  # FLUX answers JPEG unless asked for another output_format
SPOKEN = "Hello from the cassette library."


def is_jpeg(data: bytes) -> bool:
    return data.startswith(JPEG_MAGIC) and data.endswith(b"\xff\xd9")


@pytest.mark.vcr
def test_image_url(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        result = t.images.generate(
            {"model": IMAGE_MODEL, "prompt": "a red cube", "width": 64, "height": 64, "n": 1}
        )
    (image,) = result.data
    assert image.url is not None and image.b64_json is None
    # The URL the server handed out serves the image (recorded too; its body as a hash
    # and its first bytes, so it replays with the right magic number and length).
    fetched = httpx.get(image.url, follow_redirects=True)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    assert fetched.content.startswith(JPEG_MAGIC)
    assert len(fetched.content) == int(fetched.headers["content-length"])
    assert result.model == IMAGE_MODEL


@pytest.mark.vcr
def test_image_base64(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        result = t.images.generate(
            {
                "model": IMAGE_MODEL,
                "prompt": "a red cube",
                "width": 64,
                "height": 64,
                "n": 2,
                "response_format": "base64",
            }
        )
    assert [d.index for d in result.data] == [0, 1]
    for item in result.data:
        assert item.url is None and item.b64_json is not None
        assert is_jpeg(base64.b64decode(item.b64_json))  # base64 in JSON: stored whole


@pytest.mark.vcr
def test_speech_binary(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        speech = t.audio.speech(
            {"model": "cartesia/sonic", "input": SPOKEN, "voice": "helpful woman"}
        )
    data = speech.content
    assert speech.content_type.startswith("audio/wav")
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8  # the RIFF size: all of it
    sample_rate = struct.unpack("<I", data[24:28])[0]
    assert sample_rate == 44100 and len(data) > sample_rate // 10


@pytest.mark.vcr
def test_transcription_json(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        result = t.audio.transcribe(
            ("hello.wav", wav(SPOKEN)), {"model": "openai/whisper-large-v3"}
        )
    assert result.text == SPOKEN
    assert result.segments is None and result.words is None


@pytest.mark.vcr
def test_transcription_verbose_json(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        result = t.audio.transcribe(
            ("hello.wav", wav(SPOKEN)),
            {
                "model": "openai/whisper-large-v3",
                "response_format": "verbose_json",
                "timestamp_granularities": ["segment", "word"],
                "language": "en",
            },
        )
    assert result.text == SPOKEN and result.language == "en"
    assert result.duration is not None and result.duration > 0
    assert result.segments and result.segments[0].text.strip()
    assert result.words and [w.word for w in result.words][:2] == ["Hello", "from"]
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)


@pytest.mark.vcr
def test_speech_stream(together_target: dict[str, Any]) -> None:
    """``stream: true``: SSE ``audio.tts.chunk`` events, base64 PCM, then ``[DONE]``."""
    with transport(together_target) as t:
        stream = t.audio.speech_stream(
            {"model": "cartesia/sonic", "input": SPOKEN, "voice": "helpful woman",
             "response_format": "raw", "response_encoding": "pcm_s16le"}
        )  # fmt: skip
        with stream:
            chunks = list(stream)
    assert len(chunks) > 1 and all(c.object == "audio.tts.chunk" for c in chunks)
    assert {c.model for c in chunks} == {"cartesia/sonic"}
    audio = b"".join(c.audio for c in chunks)
    assert len(audio) > 4410 and len(audio) % 2 == 0  # 16-bit samples, over 50 ms of them


@pytest.mark.vcr
def test_translation(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        result = t.audio.translate(
            ("bonjour.wav", wav("Bonjour tout le monde.")),
            {"model": "openai/whisper-large-v3", "response_format": "verbose_json"},
        )
    assert result.task == "translate" and result.language == "en"
    assert result.text.strip() and result.segments


@pytest.mark.vcr
def test_voices_list(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        listing = t.audio.voices()
    by_model = {entry.model: [v.name for v in entry.voices] for entry in listing.data}
    assert "helpful woman" in by_model["cartesia/sonic"]
    assert "tara" in by_model["canopylabs/orpheus-3b-0.1-ft"]
    assert all(v.id for entry in listing.data for v in entry.voices)
