"""LangChain media tools on the emulator: short text for the model, media in the artifact (never
base64 in the message content), arguments refused before any request, errors that are both
ours and LangChain's, nothing on disk unless asked, and an agent that calls the tools."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.exceptions import ModelNotFoundError
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import ToolException

from together_integrations import JobFailedError, JobTimeoutError, NotFoundError, TogetherTransport
from together_integrations._media import clear_voice_cache
from together_integrations._media_catalog import MediaInputError
from together_integrations.langchain import (
    ChatTogether,
    TogetherImageGenerationTool,
    TogetherTextToSpeechTool,
    TogetherVideoGenerationTool,
    TogetherVideoToolkit,
)
from together_integrations.langchain.tools import LCJobFailedError, LCMediaInputError
from together_integrations.testing import TogetherEmulator

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
FLUX = "black-forest-labs/FLUX.1-schnell"
ORPHEUS = "canopylabs/orpheus-3b-0.1-ft"
BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{1024,}")


@pytest.fixture(autouse=True)
def _fresh_voices() -> None:
    clear_voice_cache()


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()


@pytest.fixture
def transport(emu: TogetherEmulator) -> TogetherTransport:
    result: TogetherTransport = emu.transport(max_retries=0)
    return result


def call(tool: Any, mode: str, **args: Any) -> ToolMessage:
    """Invoke as an agent does: with a tool call, so the answer is a ToolMessage."""
    payload = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}
    message = tool.invoke(payload) if mode == "sync" else asyncio.run(tool.ainvoke(payload))
    assert isinstance(message, ToolMessage)
    return message


def assert_small_text(message: ToolMessage) -> None:
    assert isinstance(message.content, str) and len(message.content) < 1024
    assert BASE64_RUN.search(message.content) is None


def media_requests(emu: TogetherEmulator, path: str) -> list[Any]:
    return [r for r in emu.requests if r.path == path]


# ------------------------------------------------------------------ images


def test_image_tool_answers_text_and_an_image_block(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    tool = TogetherImageGenerationTool(transport=transport)
    message = call(tool, mode, prompt="a red fox in snow", width=64, height=64)
    assert_small_text(message)
    assert message.content.startswith(f"Generated 1 image with {FLUX} for 'a red fox in snow'")
    (block,) = message.artifact
    assert block["type"] == "image" and block["mime_type"] == "image/jpeg"
    assert base64.b64decode(block["base64"])[:3] == b"\xff\xd8\xff"
    (sent,) = media_requests(emu, "/v1/images/generations")
    # FLUX.1-schnell's catalogued step count is sent when the model names none.
    assert sent.json["steps"] == 4 and sent.json["response_format"] == "base64"
    assert sent.json["width"] == 64 and "negative_prompt" not in sent.json


def test_url_images_saved_under_content_hashed_names(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, tmp_path: Path
) -> None:
    tool = TogetherImageGenerationTool(
        transport=transport, image_response_format="url", output_dir=tmp_path, output_format="png"
    )
    message = call(tool, mode, prompt="two foxes", n=2, width=64, height=64, seed=3)
    assert_small_text(message)
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2 and all(str(f) in message.content for f in files)
    for block in message.artifact:
        path = Path(block["extras"]["path"])
        data = path.read_bytes()
        assert path.name == f"image-{hashlib.sha256(data).hexdigest()[:16]}.png"
        assert block["url"].startswith("https://") and "base64" not in block
    fetches = [r for r in emu.requests if r.path.startswith("/shrt/")]
    assert len(fetches) == 2 and not any(r.authorized for r in fetches)


def test_url_images_without_output_dir_give_the_url(transport: TogetherTransport) -> None:
    tool = TogetherImageGenerationTool(transport=transport, image_response_format="url")
    message = call(tool, "sync", prompt="a fox", width=64, height=64)
    (block,) = message.artifact
    assert block["url"] in message.content and block["type"] == "image"


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        ({"prompt": "", "width": 64}, "a non-empty text"),
        ({"prompt": "a fox", "width": 1001}, "multiples of 8"),
        ({"prompt": "a fox", "steps": 60}, "1 to 50"),
        ({"prompt": "a fox", "n": 9}, "1 to 4"),
    ],
)
def test_bad_image_arguments_are_refused_before_any_request(
    mode: str,
    emu: TogetherEmulator,
    transport: TogetherTransport,
    args: dict[str, Any],
    allowed: str,
) -> None:
    tool = TogetherImageGenerationTool(transport=transport)
    with pytest.raises(LCMediaInputError) as info:
        call(tool, mode, **args)
    assert isinstance(info.value, MediaInputError) and isinstance(info.value, ToolException)
    assert isinstance(info.value, ValueError) and allowed in str(info.value)
    assert emu.requests == []


def test_handle_tool_error_tells_the_model_what_is_allowed(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    tool = TogetherImageGenerationTool(transport=transport, handle_tool_error=True)
    message = call(tool, "sync", prompt="a fox", width=1001)
    assert message.status == "error" and "such as 1000 or 1008" in str(message.content)
    assert emu.requests == []


def test_api_errors_are_ours_and_langchains(mode: str, transport: TogetherTransport) -> None:
    tool = TogetherImageGenerationTool(transport=transport, model="nobody/no-such-model")
    with pytest.raises(NotFoundError) as info:
        call(tool, mode, prompt="a fox")
    assert isinstance(info.value, ModelNotFoundError)


def test_a_missing_output_dir_is_refused_before_the_request(
    emu: TogetherEmulator, transport: TogetherTransport, tmp_path: Path
) -> None:
    tool = TogetherImageGenerationTool(transport=transport, output_dir=tmp_path / "missing")
    with pytest.raises(LCMediaInputError, match="not an existing directory"):
        call(tool, "sync", prompt="a fox")
    assert emu.requests == []


def test_direct_generation_returns_media_results(transport: TogetherTransport) -> None:
    tool = TogetherImageGenerationTool(transport=transport, model_kwargs={"guidance_scale": 2.0})
    images = tool.generate("a fox", width=64, height=64, n=2)
    assert [i.index for i in images] == [0, 1] and images[0].bytes() != images[1].bytes()
    assert asyncio.run(tool.agenerate("a fox", width=64, height=64))[0].mime_type == "image/jpeg"


def test_the_key_stays_out_of_the_tool(emu: TogetherEmulator) -> None:
    tool = TogetherImageGenerationTool(api_key="sk-very-secret", transport=emu.transport())
    assert "sk-very-secret" not in repr(tool) and "sk-very-secret" not in str(tool.model_dump())


# ------------------------------------------------------------------ speech


def test_speech_tool_answers_text_and_an_audio_block(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    tool = TogetherTextToSpeechTool(transport=transport)
    message = call(tool, mode, text="Hello from Together.")
    assert_small_text(message)
    assert "as 'tara'" in message.content and "WAV audio" in message.content
    (block,) = message.artifact
    audio = base64.b64decode(block["base64"])
    assert block["type"] == "audio" and block["mime_type"] == "audio/wav"
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    (sent,) = media_requests(emu, "/v1/audio/speech")
    assert sent.json == {
        "model": ORPHEUS,
        "input": "Hello from Together.",
        "voice": "tara",
        "response_format": "wav",
        "stream": False,
    }


def test_an_unknown_voice_is_refused_with_the_servers_voices(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    tool = TogetherTextToSpeechTool(transport=transport)
    with pytest.raises(LCMediaInputError) as info:
        call(tool, mode, text="Hi", voice="nobody")
    assert "calm man" in str(info.value) and info.value.argument == "voice"
    assert media_requests(emu, "/v1/audio/speech") == []
    # The list is fetched once per connection, then reused.
    call(tool, mode, text="Hi", voice="calm man")
    call(tool, mode, text="Hi again", voice="british narrator")
    assert len(media_requests(emu, "/v1/voices")) == 1


def test_speech_format_checks_come_before_any_request(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    tool = TogetherTextToSpeechTool(transport=transport, language="xx")
    with pytest.raises(LCMediaInputError, match="language"):
        call(tool, "sync", text="Hi")
    with pytest.raises(LCMediaInputError, match="non-empty"):
        call(TogetherTextToSpeechTool(transport=transport), "sync", text="  ")
    assert emu.requests == []


def test_raw_speech_is_streamed_and_joined(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    tool = TogetherTextToSpeechTool(transport=transport, audio_format="raw")
    message = call(tool, mode, text="Raw audio please.")
    (block,) = message.artifact
    assert block["mime_type"] == "audio/pcm"
    pcm = base64.b64decode(block["base64"])
    assert len(pcm) > 0 and b"RIFF" not in pcm[:4]
    (sent,) = media_requests(emu, "/v1/audio/speech")
    assert sent.json["stream"] is True and sent.json["response_format"] == "raw"


def test_speech_is_saved_only_when_asked_and_no_temporary_file_remains(
    mode: str, transport: TogetherTransport, tmp_path: Path
) -> None:
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob(".together-*"))
    message = call(TogetherTextToSpeechTool(transport=transport), mode, text="In memory.")
    assert "extras" not in message.artifact[0]
    saved_tool = TogetherTextToSpeechTool(transport=transport, output_dir=tmp_path)
    message = call(saved_tool, mode, text="On disk.")
    (saved,) = tmp_path.iterdir()
    assert saved.suffix == ".wav" and str(saved) in message.content
    assert message.artifact[0]["extras"]["path"] == str(saved)
    assert set(temp.glob(".together-*")) == before


def test_direct_speech_returns_speech_audio(transport: TogetherTransport) -> None:
    tool = TogetherTextToSpeechTool(transport=transport, audio_format="mp3")
    audio = tool.speak("Short.", voice="calm man")
    assert audio.voice == "calm man" and audio.format == "mp3" and audio.mime_type == "audio/mpeg"
    assert asyncio.run(tool.aspeak("Short.")).voice == "tara"


# ------------------------------------------------------------------ agent


def test_an_agent_makes_an_image_and_speaks_the_answer(emu: TogetherEmulator) -> None:
    emu.reply(
        tool_calls=[
            {
                "name": "together_image_generation",
                "arguments": {"prompt": "a red fox", "width": 64, "height": 64},
            }
        ]
    )
    emu.reply(tool_calls=[{"name": "together_text_to_speech", "arguments": {"text": "A fox."}}])
    emu.reply("Here is your fox, and I said it out loud.")
    transport = emu.transport()
    tools = [
        TogetherImageGenerationTool(transport=transport),
        TogetherTextToSpeechTool(transport=transport),
    ]
    agent = create_agent(ChatTogether(model=CHAT, transport=transport), tools=tools)
    result = agent.invoke({"messages": [("user", "Draw a fox and say what it is.")]})
    messages = result["messages"]
    tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
    assert [m.artifact[0]["type"] for m in tool_messages] == ["image", "audio"]
    assert isinstance(messages[-1], AIMessage) and messages[-1].content.startswith("Here is")
    # What the model was sent back: the short texts, no base64.
    chats = [r for r in emu.requests if r.path == "/v1/chat/completions"]
    sent_tools = [m for m in chats[-1].json["messages"] if m["role"] == "tool"]
    assert len(sent_tools) == 2
    for sent in sent_tools:
        text = json.dumps(sent["content"])
        assert len(text) < 1024 and BASE64_RUN.search(text) is None


# ------------------------------------------------------------------ video

VEO = "google/veo-3.0"


def video_tool(
    emu: TogetherEmulator, transport: TogetherTransport, **kw: Any
) -> TogetherVideoGenerationTool:
    return TogetherVideoGenerationTool(transport=transport, clock=emu.clock, **kw)


def test_video_tool_waits_on_virtual_time_and_answers_a_video_block(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    seen: list[str] = []
    tool = video_tool(emu, transport, on_progress=lambda job: seen.append(job.status_text))
    message = call(tool, mode, prompt="a fox in snow", seconds=8, width=1280, height=720)
    assert_small_text(message)
    (block,) = message.artifact
    assert block["type"] == "video" and block["mime_type"] == "video/mp4"
    assert block["url"] in message.content and "(8 s, 1280x720, $0.28)" in message.content
    assert seen[0] == "queued" and seen[-1] == "completed" and "in_progress" in seen
    (create,) = [r for r in emu.requests if r.method == "POST"]
    assert create.path == "/v2/videos" and create.json["seconds"] == "8"


def test_video_saved_to_output_dir(
    emu: TogetherEmulator, transport: TogetherTransport, tmp_path: Path
) -> None:
    message = call(video_tool(emu, transport, output_dir=tmp_path), "sync", prompt="a fox")
    (saved,) = tmp_path.iterdir()
    assert saved.read_bytes()[4:8] == b"ftyp" and str(saved) in message.content
    assert message.artifact[0]["extras"]["path"] == str(saved)


def test_a_failed_video_raises_the_servers_reason(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    emu.videos.script(outcome="failed", error_code="policy", error_message="Prompt refused")
    with pytest.raises(LCJobFailedError) as info:
        call(video_tool(emu, transport), mode, prompt="a fox")
    assert isinstance(info.value, JobFailedError) and isinstance(info.value, ToolException)
    assert info.value.reason == "Prompt refused" and info.value.job_id is not None


def test_a_video_wait_that_runs_out_names_the_job(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    emu.videos.script(queued=10, duration=10_000)
    with pytest.raises(JobTimeoutError) as info:
        call(video_tool(emu, transport, wait_timeout=60), "sync", prompt="a fox")
    assert isinstance(info.value, ToolException) and info.value.job_id in str(info.value)


def test_bad_video_arguments_are_refused_before_the_paid_request(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    tool = video_tool(emu, transport)
    with pytest.raises(LCMediaInputError, match="1280x720"):
        call(tool, "sync", prompt="a fox", width=640, height=480)
    with pytest.raises(LCMediaInputError, match="allowed: 8"):
        call(tool, "sync", prompt="a fox", seconds=30)
    assert emu.requests == []


def test_toolkit_starts_then_checks_without_blocking(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    start, status = TogetherVideoToolkit(transport=transport, model=VEO).get_tools()
    assert (start.name, status.name) == ("together_video_start", "together_video_status")
    started = call(start, mode, prompt="a fox")
    video_id = started.artifact["video_id"]
    assert video_id in started.content and started.artifact["status"] == "queued"
    running = call(status, mode, video_id=video_id)
    assert "still queued" in running.content and running.artifact == []
    emu.clock.advance(3600)  # type: ignore[attr-defined]
    ready = call(status, mode, video_id=video_id)
    assert ready.artifact[0]["type"] == "video" and "is ready" in ready.content


def test_toolkit_status_of_a_failed_job_raises(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    emu.videos.script(outcome="failed", error_message="Out of capacity")
    start, status = TogetherVideoToolkit(transport=transport).get_tools()
    video_id = call(start, "sync", prompt="a fox").artifact["video_id"]
    emu.clock.advance(3600)  # type: ignore[attr-defined]
    with pytest.raises(LCJobFailedError, match="Out of capacity"):
        call(status, "sync", video_id=video_id)


def test_an_agent_starts_a_video_and_checks_it_later(emu: TogetherEmulator) -> None:
    transport = emu.transport()
    tools = TogetherVideoToolkit(transport=transport).get_tools()
    emu.reply(tool_calls=[{"name": "together_video_start", "arguments": {"prompt": "a fox"}}])
    emu.reply("I started your video.")
    agent = create_agent(ChatTogether(model=CHAT, transport=transport), tools=tools)
    first = agent.invoke({"messages": [("user", "Make a fox video.")]})
    video_id = next(m for m in first["messages"] if isinstance(m, ToolMessage)).artifact["video_id"]
    emu.clock.advance(3600)  # type: ignore[attr-defined]
    emu.reply(tool_calls=[{"name": "together_video_status", "arguments": {"video_id": video_id}}])
    emu.reply("Your video is ready.")
    second = agent.invoke({"messages": [*first["messages"], ("user", "Is it done?")]})
    last_tool = [m for m in second["messages"] if isinstance(m, ToolMessage)][-1]
    assert last_tool.artifact[0]["type"] == "video" and video_id in last_tool.content
