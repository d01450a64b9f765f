"""LlamaIndex media tool specs on the emulator: content blocks from direct calls; as agent
tools the model gets only the short text (never inline media), FunctionAgent and ReActAgent
both work, and bad arguments are refused before any request."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.base.llms.types import AudioBlock, ImageBlock, TextBlock, VideoBlock

from together_integrations import JobFailedError, TogetherTransport
from together_integrations._media import clear_voice_cache
from together_integrations._media_catalog import MediaInputError
from together_integrations.llama_index import (
    TogetherImageGenerationToolSpec,
    TogetherLLM,
    TogetherTextToSpeechToolSpec,
    TogetherVideoGenerationToolSpec,
)
from together_integrations.testing import TogetherEmulator

T = TypeVar("T")
CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{1024,}")


@pytest.fixture(autouse=True)
def _fresh_voices() -> None:
    clear_voice_cache()


def run(mode: str, sync: Callable[[], T], async_: Callable[[], Awaitable[T]]) -> T:
    return sync() if mode == "sync" else asyncio.run(async_())  # type: ignore[arg-type]


def posts(emu: TogetherEmulator, path: str) -> list[Any]:
    return [r for r in emu.requests if r.path == path]


# ------------------------------------------------------------------ images


def test_generate_image_returns_text_and_an_image_block(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    spec = TogetherImageGenerationToolSpec(transport=transport)
    text, image = run(
        mode,
        lambda: spec.generate_image("a red fox", width=64, height=64),
        lambda: spec.agenerate_image("a red fox", width=64, height=64),
    )
    assert isinstance(text, TextBlock) and isinstance(image, ImageBlock)
    assert image.url is not None and str(image.url) in text.text
    assert image.image_mimetype == "image/jpeg" and image.image is None
    (sent,) = posts(emu, "/v1/images/generations")
    assert sent.json["response_format"] == "url" and sent.json["steps"] == 4


def test_base64_images_are_inline_bytes(transport: TogetherTransport) -> None:
    spec = TogetherImageGenerationToolSpec(transport=transport, image_response_format="base64")
    _, image = spec.generate_image("a fox", width=64, height=64)
    assert isinstance(image, ImageBlock) and image.resolve_image().read()[:3] == b"\xff\xd8\xff"


def test_saved_images_are_paths_with_content_hashed_names(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, tmp_path: Path
) -> None:
    spec = TogetherImageGenerationToolSpec(transport=transport, output_dir=tmp_path)
    text, *images = run(
        mode,
        lambda: spec.generate_image("two foxes", n=2, width=64, height=64),
        lambda: spec.agenerate_image("two foxes", n=2, width=64, height=64),
    )
    assert len(images) == 2 and sorted(tmp_path.iterdir()) == sorted(
        Path(str(b.path)) for b in images if isinstance(b, ImageBlock)
    )
    for block in images:
        assert isinstance(block, ImageBlock) and block.path is not None
        data = Path(block.path).read_bytes()
        assert Path(block.path).name == f"image-{hashlib.sha256(data).hexdigest()[:16]}.jpg"
        assert str(block.path) in text.text  # type: ignore[union-attr]
    assert not any(r.authorized for r in emu.requests if r.path.startswith("/shrt/"))


def test_bad_image_arguments_are_refused_before_any_request(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    spec = TogetherImageGenerationToolSpec(transport=transport)
    with pytest.raises(MediaInputError, match="1 to 50"):
        spec.generate_image("a fox", steps=60)
    with pytest.raises(MediaInputError, match="non-empty"):
        asyncio.run(spec.agenerate_image(""))
    assert emu.requests == []


def test_as_tools_the_model_gets_the_text_and_the_blocks_stay_in_raw_output(
    mode: str, transport: TogetherTransport
) -> None:
    spec = TogetherImageGenerationToolSpec(transport=transport, image_response_format="base64")
    (tool,) = spec.to_tool_list()
    assert tool.metadata.name == "generate_image" and "prompt" in tool.metadata.fn_schema_str
    args = {"prompt": "a fox", "width": 64, "height": 64}
    output = run(mode, lambda: tool.call(**args), lambda: tool.acall(**args))
    assert [type(b) for b in output.blocks] == [TextBlock]
    assert output.tool_name == "generate_image" and "Generated 1 image" in output.content
    assert isinstance(output.raw_output[1], ImageBlock) and output.raw_output[1].image


def test_send_media_to_model_sends_urls_never_bytes(transport: TogetherTransport) -> None:
    by_url = TogetherImageGenerationToolSpec(transport=transport, send_media_to_model=True)
    (tool,) = by_url.to_tool_list()
    output = tool.call(prompt="a fox", width=64, height=64)
    assert [type(b) for b in output.blocks] == [TextBlock, ImageBlock]
    inline = TogetherImageGenerationToolSpec(
        transport=transport, send_media_to_model=True, image_response_format="base64"
    )
    (tool,) = inline.to_tool_list()
    assert [type(b) for b in tool.call(prompt="a fox", width=64, height=64).blocks] == [TextBlock]


# ------------------------------------------------------------------ speech


def test_speak_returns_text_and_an_audio_block(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    spec = TogetherTextToSpeechToolSpec(transport=transport)
    text, audio = run(mode, lambda: spec.speak("Hello there."), lambda: spec.aspeak("Hello there."))
    assert isinstance(audio, AudioBlock) and audio.format == "wav"
    assert audio.resolve_audio().read()[:4] == b"RIFF"
    assert isinstance(text, TextBlock) and "as 'tara'" in text.text
    assert posts(emu, "/v1/audio/speech")[0].json["voice"] == "tara"


def test_an_unknown_voice_is_refused_before_the_speech_request(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    spec = TogetherTextToSpeechToolSpec(transport=transport)
    with pytest.raises(MediaInputError, match="british narrator"):
        spec.speak("Hi", voice="nobody")
    assert posts(emu, "/v1/audio/speech") == []
    with pytest.raises(MediaInputError, match="wav, mp3"):
        TogetherTextToSpeechToolSpec(transport=transport, audio_format="ogg").speak("Hi")  # type: ignore[arg-type]


def test_saved_speech_is_a_path(transport: TogetherTransport, tmp_path: Path) -> None:
    spec = TogetherTextToSpeechToolSpec(transport=transport, output_dir=tmp_path)
    _, audio = spec.speak("Saved.")
    (saved,) = tmp_path.iterdir()
    assert isinstance(audio, AudioBlock) and Path(str(audio.path)) == saved
    assert saved.name.startswith("speech-") and saved.suffix == ".wav"


# ------------------------------------------------------------------ video


def test_generate_video_waits_on_virtual_time(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    seen: list[str] = []
    spec = TogetherVideoGenerationToolSpec(
        transport=transport, clock=emu.clock, on_progress=lambda j: seen.append(j.status_text)
    )
    text, video = run(
        mode,
        lambda: spec.generate_video("a fox in snow", seconds=8),
        lambda: spec.agenerate_video("a fox in snow", seconds=8),
    )
    assert isinstance(video, VideoBlock) and video.video_mimetype == "video/mp4"
    assert str(video.url) in text.text and "$0.28" in text.text  # type: ignore[union-attr]
    assert seen[0] == "queued" and seen[-1] == "completed"
    (create,) = posts(emu, "/v2/videos")
    assert create.json["seconds"] == "8"


def test_start_and_check_video_do_not_block(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    spec = TogetherVideoGenerationToolSpec(transport=transport)
    (started,) = run(mode, lambda: spec.start_video("a fox"), lambda: spec.astart_video("a fox"))
    assert isinstance(started, TextBlock)
    match = re.search(r"video_\w+", started.text)
    assert match is not None
    video_id = match.group(0)
    (running,) = run(mode, lambda: spec.check_video(video_id), lambda: spec.acheck_video(video_id))
    assert isinstance(running, TextBlock) and "still queued" in running.text
    emu.clock.advance(3600)  # type: ignore[attr-defined]
    _, video = run(mode, lambda: spec.check_video(video_id), lambda: spec.acheck_video(video_id))
    assert isinstance(video, VideoBlock) and str(video.url).endswith(".mp4")


def test_a_failed_video_raises_the_servers_reason(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    emu.videos.script(outcome="failed", error_message="Prompt refused")
    spec = TogetherVideoGenerationToolSpec(transport=transport, clock=emu.clock)
    with pytest.raises(JobFailedError) as info:
        spec.generate_video("a fox")
    assert info.value.reason == "Prompt refused"
    with pytest.raises(MediaInputError, match="allowed: 8"):
        spec.start_video("a fox", seconds=30)
    assert len(posts(emu, "/v2/videos")) == 1


# ------------------------------------------------------------------ agents


def test_function_agent_makes_an_image_and_speaks(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    image_spec = TogetherImageGenerationToolSpec(
        transport=transport, image_response_format="base64"
    )
    speech_spec = TogetherTextToSpeechToolSpec(transport=transport)
    emu.reply(
        tool_calls=[
            {"name": "generate_image", "arguments": {"prompt": "a fox", "width": 64, "height": 64}}
        ]
    )
    emu.reply(tool_calls=[{"name": "speak", "arguments": {"text": "A fox."}}])
    emu.reply("Here is your fox, and I said it out loud.")
    agent = FunctionAgent(
        tools=[*image_spec.to_tool_list(), *speech_spec.to_tool_list()],
        llm=TogetherLLM(model=CHAT, transport=transport),
    )

    async def go() -> tuple[str, list[ToolCallResult]]:
        handler = agent.run("Draw a fox and say what it is.")
        results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
        return str(await handler), results

    answer, results = asyncio.run(go())
    assert answer == "Here is your fox, and I said it out loud."
    media = [type(r.tool_output.raw_output[1]) for r in results]
    assert media == [ImageBlock, AudioBlock]
    chats = posts(emu, "/v1/chat/completions")
    sent = [m for m in chats[-1].json["messages"] if m["role"] == "tool"]
    assert len(sent) == 2
    for message in sent:
        text = json.dumps(message["content"])
        assert len(text) < 1024 and BASE64_RUN.search(text) is None


def test_react_agent_reads_the_tool_text(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    spec = TogetherImageGenerationToolSpec(transport=transport)
    emu.reply(
        "Thought: I need an image.\nAction: generate_image\n"
        'Action Input: {"prompt": "a fox", "width": 64, "height": 64}'
    )
    emu.reply("Thought: I can answer without using any more tools.\nAnswer: Done.")
    agent = ReActAgent(tools=spec.to_tool_list(), llm=TogetherLLM(model=CHAT, transport=transport))

    async def go() -> str:
        handler = agent.run("Draw a fox.")
        async for _ in handler.stream_events():
            pass
        return str(await handler)

    assert "Done." in asyncio.run(go())
    last = json.dumps(posts(emu, "/v1/chat/completions")[-1].json["messages"])
    assert "Observation: Generated 1 image" in last and BASE64_RUN.search(last) is None
