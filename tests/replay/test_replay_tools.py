"""The media tools and loaders replayed from cassettes, the LangChain and the LlamaIndex one
in each test: image generation (``TogetherImageGenerationTool`` / ``…ToolSpec``), speech
(``TogetherTextToSpeechTool`` / ``…ToolSpec``, with their ``GET /voices`` check) and
transcription (``TogetherAudioLoader`` / ``TogetherAudioReader``) and video
(``TogetherVideoGenerationTool`` / ``…ToolSpec``, on virtual time).

Audio and image bodies are stored as a hash, a length and their first bytes; the audio
uploads as multipart fields (the file part as a hash), so the same bytes must be sent.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from llama_index.core.base.llms.types import AudioBlock, ImageBlock, TextBlock, VideoBlock

from together_integrations._media import clear_voice_cache
from together_integrations.langchain import (
    TogetherAudioLoader,
    TogetherImageGenerationTool,
    TogetherTextToSpeechTool,
    TogetherVideoGenerationTool,
)
from together_integrations.llama_index import (
    TogetherAudioReader,
    TogetherImageGenerationToolSpec,
    TogetherTextToSpeechToolSpec,
    TogetherVideoGenerationToolSpec,
)
from together_integrations.testing import VirtualClock
from together_integrations.testing.emulator.content import wav

from ._replay import emulator, settings

FLUX = "black-forest-labs/FLUX.1-schnell"
JPEG_MAGIC = b"\xff\xd8\xff"
SPOKEN = "Together serves open models. Whisper writes down what was said!"


@pytest.fixture(autouse=True)
def _fresh_voices() -> None:
    # The voice list is cached per transport: fetch it in every test, so each cassette
    # holds its GET /voices whatever ran before.
    clear_voice_cache()


def tool_call(tool: Any, **args: Any) -> ToolMessage:
    """Invoke as an agent does: with a tool call, so the answer is a ToolMessage."""
    message = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage)
    return message


@pytest.mark.vcr
def test_image_tools(together_target: dict[str, Any]) -> None:
    lc = TogetherImageGenerationTool(**settings(together_target))  # base64 by default
    message = tool_call(lc, prompt="a red fox in snow", width=64, height=64)
    assert isinstance(message.content, str)
    assert message.content.startswith(f"Generated 1 image with {FLUX} for 'a red fox in snow'")
    (block,) = message.artifact
    assert block["type"] == "image" and block["mime_type"] == "image/jpeg"
    assert base64.b64decode(block["base64"]).startswith(JPEG_MAGIC)
    # LlamaIndex's spec asks for a URL by default: a link in the block, nothing fetched.
    li = TogetherImageGenerationToolSpec(**settings(together_target))
    text, image = li.generate_image("a red fox in snow", width=64, height=64, n=1)
    assert isinstance(text, TextBlock) and FLUX in text.text
    assert isinstance(image, ImageBlock) and image.url is not None
    assert str(image.url) in text.text and image.image is None  # the link, not the bytes


@pytest.mark.vcr
def test_speech_tools(together_target: dict[str, Any]) -> None:
    lc = TogetherTextToSpeechTool(**settings(together_target))  # Orpheus, voice tara, wav
    message = tool_call(lc, text="Hello from Together.")
    assert isinstance(message.content, str)
    assert "as 'tara'" in message.content and "WAV audio" in message.content
    (block,) = message.artifact
    audio = base64.b64decode(block["base64"])
    assert block["type"] == "audio" and block["mime_type"] == "audio/wav"
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert struct.unpack("<I", audio[4:8])[0] == len(audio) - 8
    li = TogetherTextToSpeechToolSpec(voice="calm man", **settings(together_target))
    text, sound = li.speak("Hello from Together.")
    assert isinstance(text, TextBlock) and "'calm man'" in text.text
    assert isinstance(sound, AudioBlock) and sound.audio is not None
    assert base64.b64decode(sound.audio)[:4] == b"RIFF"


@pytest.mark.vcr
def test_audio_loaders(together_target: dict[str, Any], tmp_path: Path) -> None:
    recording = tmp_path / "talk.wav"
    recording.write_bytes(wav(SPOKEN))
    loader = TogetherAudioLoader(str(recording), split="segment", **settings(together_target))
    docs = loader.load()
    assert [d.page_content for d in docs] == [
        "Together serves open models.",
        "Whisper writes down what was said!",
    ]
    first, second = (d.metadata for d in docs)
    assert first["source"] == str(recording) and first["task"] == "transcribe"
    assert first["start"] == 0.0 and first["end"] == second["start"] < second["end"]
    reader = TogetherAudioReader(task="translate", **settings(together_target))
    (doc,) = reader.load_data(recording)
    assert doc.text.strip() and doc.metadata["task"] == "translate"
    assert doc.metadata["source"] == str(recording)


@pytest.mark.vcr
def test_video_tools(together_target: dict[str, Any]) -> None:
    """Veo by tool call (LangChain waits on a virtual clock), then LlamaIndex's start/check
    pair: a job that is still running, then the finished video."""
    emu = emulator(together_target)
    if emu is not None:
        emu.clock = VirtualClock(auto_advance=30)
        emu.videos.script(queued=10, duration=90, times=2)
    lc = TogetherVideoGenerationTool(
        clock=VirtualClock(start=0), poll_interval=10, **settings(together_target)
    )
    message = tool_call(lc, prompt="a fox in snow", seconds=8)
    assert isinstance(message.content, str) and "is ready" in message.content
    (block,) = message.artifact
    assert block["type"] == "video" and block["url"] in message.content
    li = TogetherVideoGenerationToolSpec(**settings(together_target))
    (started,) = li.start_video("a fox in snow")
    assert isinstance(started, TextBlock)
    video_id = next(w.strip(".,'\"") for w in started.text.split() if w.startswith("video_"))
    (running,) = li.check_video(video_id)
    assert isinstance(running, TextBlock) and "in_progress" in running.text
    for _ in range(5):  # each look moves the emulator's clock 30 s on
        blocks = li.check_video(video_id)
        if len(blocks) == 2:
            break
    text, video = blocks
    assert isinstance(text, TextBlock) and video_id in text.text
    assert isinstance(video, VideoBlock) and video.url is not None
