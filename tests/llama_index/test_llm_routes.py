"""Every TogetherLLM path on the in-process emulator: the eight operations (chat, complete,
their streams, their async twins) on both endpoints, logprobs, audio and video parts,
structured output (whole and streamed), tool choice, and the request checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from together_integrations.llama_index import TogetherLLM
from together_integrations.llama_index._convert import (
    RawResponse,
    chat_response_from_wire,
    completion_response_from_wire,
    to_wire_message,
)
from together_integrations.schemas import ChatCompletion, Completion
from together_integrations.testing import TogetherEmulator

CHAT_MODEL = "openai/gpt-oss-20b"
LANGUAGE_MODEL = "mistralai/Mixtral-8x7B-v0.1"
MESSAGES = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="hi")]

Response = ChatResponse | CompletionResponse


def run_all(llm: TogetherLLM, operation: str, **kwargs: Any) -> list[Response]:
    """One of the eight operations (``chat``, ``astream_complete``...) run to its end: every
    response of a stream, or the one response."""
    method = getattr(llm, operation)
    arg: Any = MESSAGES if "chat" in operation else "Paris is"

    async def call() -> list[Response]:
        result = await method(arg, **kwargs)
        if isinstance(result, AsyncIterator):
            return [r async for r in result]
        return [result]

    if operation.startswith("a"):
        return asyncio.run(call())
    result = method(arg, **kwargs)
    return list(result) if isinstance(result, Iterator) else [result]


def run(llm: TogetherLLM, operation: str, **kwargs: Any) -> Response:
    return run_all(llm, operation, **kwargs)[-1]


OPERATIONS = [
    "chat",
    "achat",
    "stream_chat",
    "astream_chat",
    "complete",
    "acomplete",
    "stream_complete",
    "astream_complete",
]


def text_of(response: Response) -> str:
    return response.message.content or "" if isinstance(response, ChatResponse) else response.text


@pytest.mark.parametrize("operation", OPERATIONS)
def test_language_models_are_served_on_completions(emu: TogetherEmulator, operation: str) -> None:
    llm = TogetherLLM(LANGUAGE_MODEL, transport=emu.transport())
    assert not llm.metadata.is_chat_model and not llm.metadata.is_function_calling_model
    emu.reply(" the capital of France.", finish_reason="length")
    response = run(llm, operation)
    (request,) = emu.requests
    assert request.path == "/v1/completions"
    assert text_of(response) == " the capital of France."
    assert response.additional_kwargs["total_tokens"] > 0
    assert response.additional_kwargs["finish_reason"] == "length"
    prompt = request.json["prompt"]
    if "chat" in operation:  # messages rendered as one prompt
        assert "Be brief." in prompt and "hi" in prompt
    else:
        assert prompt == "Paris is"
    assert request.json["stream"] is ("stream" in operation)
    assert response.raw.usage.total_tokens == response.additional_kwargs["total_tokens"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_chat_models_are_served_on_chat_completions(emu: TogetherEmulator, operation: str) -> None:
    llm = TogetherLLM(
        CHAT_MODEL, transport=emu.transport(), completion_to_prompt=lambda p: f"Complete: {p}"
    )
    emu.reply("Paris.")
    response = run(llm, operation)
    (request,) = emu.requests
    assert request.path == "/v1/chat/completions" and text_of(response) == "Paris."
    messages = request.json["messages"]
    if "chat" in operation:
        assert messages == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ]
    else:  # a prompt is one user message, through completion_to_prompt as upstream does
        assert messages == [{"role": "user", "content": "Complete: Paris is"}]
    assert response.additional_kwargs["total_tokens"] > 0


def test_is_chat_model_overrides_the_catalog_both_ways(emu: TogetherEmulator) -> None:
    as_chat = TogetherLLM(LANGUAGE_MODEL, is_chat_model=True, transport=emu.transport())
    as_chat.complete("x")
    as_language = TogetherLLM(CHAT_MODEL, is_chat_model=False, transport=emu.transport())
    as_language.chat(MESSAGES)
    assert [r.path for r in emu.requests] == ["/v1/chat/completions", "/v1/completions"]
    assert as_language.metadata.is_function_calling_model is False


def test_a_formatted_prompt_skips_completion_to_prompt(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(LANGUAGE_MODEL, transport=emu.transport(), completion_to_prompt=str.upper)
    llm.complete("abc")
    llm.complete("abc", formatted=True)
    assert [r.json["prompt"] for r in emu.requests] == ["ABC", "abc"]


# ------------------------------------------------------------------- request checks


def test_language_models_refuse_tools_and_response_formats(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(LANGUAGE_MODEL, transport=emu.transport())
    tool = FunctionTool.from_defaults(fn=lambda a: a, name="echo", description="Echo.")
    with pytest.raises(ValueError, match="language model served on /completions"):
        llm.chat_with_tools([tool], user_msg="hi")
    with pytest.raises(ValueError, match="language model"):
        llm.complete("x", response_format={"type": "json_object"})
    assert emu.requests == []


def test_tool_choice_without_tools_is_refused_before_the_request(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(CHAT_MODEL, transport=emu.transport())
    with pytest.raises(ValueError, match="tool_choice without tools"):
        llm.chat(MESSAGES, tool_choice="auto")
    with pytest.raises(ValueError, match="tool_choice without tools"):
        llm.stream_chat(MESSAGES, tool_choice="auto")
    assert emu.requests == []


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "auto"),
        ({"tool_required": True}, "required"),
        ({"tool_choice": "none"}, "none"),
        ({"tool_choice": "add"}, {"type": "function", "function": {"name": "add"}}),
    ],
)
def test_tool_choice_forms(
    emu: TogetherEmulator, kwargs: dict[str, Any], expected: str | dict[str, Any]
) -> None:
    llm = TogetherLLM(CHAT_MODEL, transport=emu.transport(), strict=True)
    llm.chat_with_tools([FunctionTool.from_defaults(fn=add)], user_msg="1+2", **kwargs)
    sent = emu.requests[-1].json
    assert sent["tool_choice"] == expected and sent["tools"][0]["function"]["strict"] is True


def test_parallel_tool_calls_are_kept_when_allowed(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(CHAT_MODEL, transport=emu.transport())
    emu.reply(
        tool_calls=[
            {"name": "add", "arguments": {"a": 1, "b": 2}},
            {"name": "add", "arguments": {"a": 3, "b": 4}},
        ]
    )
    response = llm.chat_with_tools(
        [FunctionTool.from_defaults(fn=add)], user_msg="two sums", allow_parallel_tool_calls=True
    )
    assert emu.requests[-1].json["parallel_tool_calls"] is True
    assert [c.tool_kwargs for c in llm.get_tool_calls_from_response(response)] == [
        {"a": 1, "b": 2},
        {"a": 3, "b": 4},
    ]


# ------------------------------------------------------------------------ logprobs


@pytest.mark.parametrize("operation", ["chat", "astream_chat", "complete", "astream_complete"])
def test_logprobs_on_every_endpoint(emu: TogetherEmulator, operation: str) -> None:
    llm = TogetherLLM(CHAT_MODEL, logprobs=True, top_logprobs=2, transport=emu.transport())
    emu.reply("Paris is nice", logprobs_format="openai")
    # A stream's responses each carry their own chunk's tokens, as upstream's do.
    tokens = [alts for r in run_all(llm, operation) for alts in r.logprobs or []]
    assert emu.requests[-1].json["logprobs"] == 2  # Together's count, not OpenAI's bool
    assert tokens and all(len(alts) == 2 for alts in tokens)
    assert all(alt.logprob <= 0 for alts in tokens for alt in alts)


@pytest.mark.parametrize("operation", ["complete", "stream_complete"])
def test_logprobs_on_completions(emu: TogetherEmulator, operation: str) -> None:
    llm = TogetherLLM(LANGUAGE_MODEL, logprobs=True, transport=emu.transport())
    tokens = [alts for r in run_all(llm, operation) for alts in r.logprobs or []]
    assert emu.requests[-1].json["logprobs"] == 1
    assert tokens and all(alts[0].token for alts in tokens)


def test_logprobs_false_or_unset_sends_nothing(emu: TogetherEmulator) -> None:
    TogetherLLM(CHAT_MODEL, logprobs=False, transport=emu.transport()).chat(MESSAGES)
    TogetherLLM(CHAT_MODEL, transport=emu.transport()).chat(MESSAGES, logprobs=None)
    assert all("logprobs" not in r.json for r in emu.requests)


# ------------------------------------------------------------------- media parts


def test_audio_and_video_parts_on_the_wire(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(CHAT_MODEL, transport=emu.transport())
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="describe"),
            AudioBlock(url="https://x/a.mp3"),
            AudioBlock(audio=b"RIFF....", format="mp3"),
            VideoBlock(url="https://x/v.mp4"),
            VideoBlock(video=b"\x00\x00\x00\x18ftyp", video_mimetype="video/mp4"),
        ],
    )
    llm.chat([message])
    parts = emu.requests[-1].json["messages"][0]["content"]
    assert parts[1] == {"type": "audio_url", "audio_url": {"url": "https://x/a.mp3"}}
    assert parts[2]["type"] == "input_audio" and parts[2]["input_audio"]["format"] == "mp3"
    assert parts[2]["input_audio"]["data"] == "UklGRi4uLi4="
    assert parts[3] == {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}
    assert parts[4]["video_url"]["url"].startswith("data:video/mp4;base64,")


def test_media_parts_that_cannot_be_sent_are_refused() -> None:
    with pytest.raises(ValueError, match="mimetype"):
        to_wire_message(ChatMessage(role="user", blocks=[VideoBlock(video=b"\x00\x01")]))
    with pytest.raises(ValueError, match="only in user and tool messages"):
        to_wire_message(ChatMessage(role="assistant", blocks=[ImageBlock(url="https://x/i.png")]))
    with pytest.raises(ValueError, match="only assistant messages call tools"):
        to_wire_message(
            ChatMessage(role="user", blocks=[ToolCallBlock(tool_name="t", tool_kwargs={})])
        )
    with pytest.raises(TypeError, match="Unsupported content block DocumentBlock"):
        to_wire_message(ChatMessage(role="user", blocks=[DocumentBlock(data=b"%PDF-1.4")]))


def test_thinking_blocks_are_not_sent_back_and_legacy_tool_calls_are_read() -> None:
    class Fn(BaseModel):
        name: str
        arguments: str

    class Call(BaseModel):
        id: str
        function: Fn

    message = ChatMessage(
        role="assistant",
        blocks=[ThinkingBlock(content="secret plan")],
        additional_kwargs={
            "tool_calls": [
                {"id": "c1", "function": {"name": "add", "arguments": {"a": 1}}},
                Call(id="c2", function=Fn(name="add", arguments='{"a": 2}')),
            ]
        },
    )
    wire = to_wire_message(message).model_dump(exclude_none=True)
    assert "secret" not in str(wire.get("content"))
    assert [c["function"]["arguments"] for c in wire["tool_calls"]] == ['{"a": 1}', '{"a": 2}']
    with pytest.raises(TypeError, match="Cannot read tool call"):
        to_wire_message(ChatMessage(role="assistant", additional_kwargs={"tool_calls": ["x"]}))


# ------------------------------------------------------------- structured output


class City(BaseModel):
    name: str
    population: int


PROMPT = PromptTemplate("Describe {place}")


def test_stream_structured_predict_with_json_schema(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(CHAT_MODEL, strict=True, transport=emu.transport())
    emu.reply_json({"name": "Paris", "population": 2102650})
    partial = list(llm.stream_structured_predict(City, PROMPT, place="Paris"))
    assert len(partial) > 1 and partial[-1] == City(name="Paris", population=2102650)
    sent = emu.requests[-1].json
    assert sent["stream"] is True and sent["response_format"]["json_schema"]["strict"] is True

    async def astream() -> list[Any]:
        emu.reply_json({"name": "Rome", "population": 2748109})
        return [c async for c in await llm.astream_structured_predict(City, PROMPT, place="R")]

    assert asyncio.run(astream())[-1] == City(name="Rome", population=2748109)


def test_streamed_structured_output_falls_back_to_tool_calls(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(CHAT_MODEL, should_use_structured_outputs=False, transport=emu.transport())
    emu.reply(tool_calls=[{"name": "City", "arguments": {"name": "Oslo", "population": 709037}}])
    assert list(llm.stream_structured_predict(City, PROMPT, place="Oslo"))[-1] == City(
        name="Oslo", population=709037
    )

    async def astream() -> list[Any]:
        emu.reply(tool_calls=[{"name": "City", "arguments": {"name": "Bern", "population": 1}}])
        return [c async for c in await llm.astream_structured_predict(City, PROMPT, place="B")]

    assert asyncio.run(astream())[-1] == City(name="Bern", population=1)
    assert all("response_format" not in r.json and r.json["tools"] for r in emu.requests)


def test_a_reply_that_is_not_the_schema_names_the_class(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(CHAT_MODEL, transport=emu.transport())
    emu.reply("not json at all")
    with pytest.raises(ValueError, match="not a valid City"):
        llm.structured_predict(City, PROMPT, place="nowhere")


# ------------------------------------------------------------- response shapes


def test_whole_responses_without_choices_are_refused() -> None:
    # The transport already refuses such bodies (APIResponseValidationError); objects built
    # by hand skip that check, and the converters still refuse them.
    with pytest.raises(ValueError, match="no choices"):
        chat_response_from_wire(
            ChatCompletion.model_construct(id="c1", choices=[]), think_tags=False
        )
    with pytest.raises(ValueError, match="no choices"):
        completion_response_from_wire(Completion.model_construct(id="c1", choices=[]))


def test_server_warnings_reach_additional_kwargs() -> None:
    wire = ChatCompletion.model_validate(
        {
            "id": "c1",
            "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
            "warnings": [{"message": "Model supports only tool_choice auto"}],
        }
    )
    response = chat_response_from_wire(wire, think_tags=False)
    assert response.additional_kwargs["warnings"] == ["Model supports only tool_choice auto"]
    assert isinstance(response.raw, RawResponse)
    with pytest.raises(AttributeError):
        _ = response.raw.__wrapped__


@pytest.mark.parametrize("stream", [False, True])
def test_think_tags_in_content_become_thinking(emu: TogetherEmulator, stream: bool) -> None:
    llm = TogetherLLM("deepseek-ai/DeepSeek-R1", transport=emu.transport())
    emu.models["deepseek-ai/DeepSeek-R1"] = {"type": "chat", "context_length": 163840}
    emu.reply("<think>count the letters</think>Three.")
    response: ChatResponse = list(llm.stream_chat(MESSAGES))[-1] if stream else llm.chat(MESSAGES)
    assert response.message.content == "Three."
    thinking = [b.content for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking == ["count the letters"]
