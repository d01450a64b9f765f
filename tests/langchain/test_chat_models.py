"""ChatTogether against the in-process emulator: what reaches the wire, what comes back."""

from __future__ import annotations

import asyncio
import json
import pickle
from typing import Any

import pytest
from langchain_core.exceptions import ContextOverflowError, ModelNotFoundError, ModelRateLimitError
from langchain_core.load import dumps, loads
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from pydantic import BaseModel

from together_integrations import NotFoundError, RateLimitError
from together_integrations.langchain import ChatTogether
from together_integrations.testing import TogetherEmulator

MODEL = "openai/gpt-oss-20b"


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()


@pytest.fixture
def llm(emu: TogetherEmulator) -> ChatTogether:
    return ChatTogether(model=MODEL, transport=emu.transport(max_retries=0))


def sent(emu: TogetherEmulator) -> dict[str, Any]:
    body = emu.requests[-1].json
    assert isinstance(body, dict)
    return body


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    out = chunks[0]
    for c in chunks[1:]:
        out = out + c
    return out


def test_parameters_reach_the_wire(emu: TogetherEmulator) -> None:
    llm = ChatTogether(
        model_name=MODEL,
        temperature=0.2,
        max_tokens=50,
        top_k=5,
        min_p=0.1,
        repetition_penalty=1.1,
        stop=["END"],
        seed=3,
        logprobs=True,
        reasoning_effort="low",
        safety_model="meta-llama/Llama-Guard",
        chat_template_kwargs={"thinking": False},
        model_kwargs={"new_field": 1},
        transport=emu.transport(),
    )
    llm.invoke([SystemMessage("be brief"), HumanMessage("hi")])
    body = sent(emu)
    assert body["model"] == MODEL and body["logprobs"] == 1 and body["stop"] == ["END"]
    assert (
        body["top_k"] == 5
        and body["new_field"] == 1
        and body["chat_template_kwargs"] == {"thinking": False}
    )
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert body["stream"] is False


def test_invoke_maps_usage_metadata_and_reasoning(emu: TogetherEmulator, llm: ChatTogether) -> None:
    emu.reply(
        "Paris",
        reasoning="The user wants a capital",
        usage={"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    )
    msg = llm.invoke("Capital of France?")
    assert msg.content == "Paris"
    assert msg.additional_kwargs["reasoning_content"] == "The user wants a capital"
    assert msg.usage_metadata is not None and msg.usage_metadata["total_tokens"] == 18
    meta = msg.response_metadata
    assert (
        meta["model_provider"] == "together"
        and meta["finish_reason"] == "stop"
        and meta["model_name"] == MODEL
    )


@pytest.mark.parametrize("dialect", ["modern", "legacy"])
def test_stream_always_has_usage_and_a_last_chunk(
    emu: TogetherEmulator, llm: ChatTogether, dialect: str
) -> None:
    emu.reply(
        "The answer is four", reasoning="adding" if dialect == "modern" else None, dialect=dialect
    )  # type: ignore[arg-type]
    chunks = list(llm.stream("2+2?"))
    assert len(chunks) > 3 and chunks[-1].chunk_position == "last"
    full = merged(chunks)
    assert full.content == "The answer is four"
    assert full.usage_metadata is not None and full.usage_metadata["total_tokens"] > 0
    assert full.response_metadata["finish_reason"] == "stop"  # legacy "eos" reported as stop
    if dialect == "modern":
        assert full.additional_kwargs["reasoning_content"] == "adding"


def test_think_tags_become_reasoning(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model="Qwen/Qwen3-235B-A22B-Thinking-2507", transport=emu.transport())
    emu.reply("<think>count letters</think>\n\nThree.")
    msg = llm.invoke("How many r in strawberry?")
    assert msg.content == "Three." and msg.additional_kwargs["reasoning_content"] == "count letters"
    emu.reply("<think>count letters</think>\n\nThree.")
    full = merged(list(llm.stream("again")))
    assert (
        full.content == "Three." and full.additional_kwargs["reasoning_content"] == "count letters"
    )


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


@tool
def get_time(city: str) -> str:
    """Get the local time in a city."""
    return "noon"


@pytest.mark.parametrize("style", ["delta", "choice_level", "finish_per_call"])
def test_parallel_tool_calls_in_every_wire_form(
    emu: TogetherEmulator, llm: ChatTogether, style: str
) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        {"name": "get_time", "arguments": {"city": "Rome"}},
    ]
    bound = llm.bind_tools([get_weather, get_time])
    emu.reply(tool_calls=calls)
    msg = bound.invoke("weather and time?")
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Rome"}),
    ]
    emu.reply(tool_calls=calls, tool_call_style=style)  # type: ignore[arg-type]
    full = merged(list(bound.stream("weather and time?")))
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Rome"}),
    ]
    assert all(c["id"] for c in full.tool_calls)


def test_invalid_tool_json_becomes_invalid_tool_calls(
    emu: TogetherEmulator, llm: ChatTogether
) -> None:
    emu.reply(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Par'}])
    msg = llm.bind_tools([get_weather]).invoke("weather?")
    assert msg.tool_calls == [] and msg.invalid_tool_calls[0]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (True, {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice_forms(
    emu: TogetherEmulator, llm: ChatTogether, choice: Any, wire: Any
) -> None:
    llm.bind_tools([get_weather], tool_choice=choice, parallel_tool_calls=False).invoke("hi")
    body = sent(emu)
    assert body["tool_choice"] == wire and body["parallel_tool_calls"] is False
    assert body["tools"][0]["function"]["name"] == "get_weather"


def test_tool_round_trip_messages(emu: TogetherEmulator, llm: ChatTogether) -> None:
    ai = AIMessage(
        "",
        tool_calls=[
            {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
        ],
    )
    llm.invoke([HumanMessage("weather?"), ai, ToolMessage("sunny", tool_call_id="call_1")])
    messages = sent(emu)["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert messages[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}


class Forecast(BaseModel):
    city: str
    days: int


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_methods(emu: TogetherEmulator, llm: ChatTogether, method: str) -> None:
    if method == "json_mode":
        emu.reply_json({"city": "Oslo", "days": 3})
    result = llm.with_structured_output(Forecast, method=method).invoke("forecast?")  # type: ignore[arg-type]
    assert isinstance(result, Forecast)
    body = sent(emu)
    if method == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["required"] == ["city", "days"]
    elif method == "function_calling":
        assert (
            body["tool_choice"] == {"type": "function", "function": {"name": "Forecast"}}
            and body["tools"]
        )
    else:
        assert body["response_format"] == {"type": "json_object"} and result.city == "Oslo"


def test_structured_output_include_raw_reports_parsing_errors(
    emu: TogetherEmulator, llm: ChatTogether
) -> None:
    emu.reply("not json at all")
    out = llm.with_structured_output(Forecast, include_raw=True).invoke("forecast?")
    assert isinstance(out, dict) and out["parsed"] is None and out["parsing_error"] is not None
    assert isinstance(out["raw"], AIMessage)


def test_images_by_url_and_base64_in_both_block_forms(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model="Qwen/Qwen2.5-VL-72B-Instruct", transport=emu.transport())
    content: list[Any] = [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
        {"type": "image", "url": "https://x/dog.png"},
        {"type": "image", "base64": "AAAA", "mime_type": "image/png"},
    ]
    llm.invoke(
        [
            HumanMessage(content=content),
        ]
    )
    parts = sent(emu)["messages"][0]["content"]
    assert [p.get("image_url", {}).get("url") for p in parts[1:]] == [
        "https://x/cat.png",
        "https://x/dog.png",
        "data:image/png;base64,AAAA",
    ]
    with pytest.raises(TypeError, match="Unsupported content block"):
        llm.invoke([HumanMessage(content=[{"type": "hologram"}])])


def test_errors_are_ours_and_langchains(emu: TogetherEmulator, llm: ChatTogether) -> None:
    bad = ChatTogether(model="no/such-model", transport=emu.transport(max_retries=0))
    with pytest.raises(NotFoundError) as info:
        bad.invoke("hi")
    assert isinstance(info.value, ModelNotFoundError) and info.value.status_code == 404
    emu.fail("status", status=429, retry_after=0)
    with pytest.raises(ModelRateLimitError) as rate:
        llm.invoke("hi")
    assert isinstance(rate.value, RateLimitError)
    with pytest.raises(ContextOverflowError):
        ChatTogether(model="google/gemma-3n-E4B-it", transport=emu.transport(max_retries=0)).invoke(
            "word " * 40_000
        )


def test_async_invoke_and_stream(emu: TogetherEmulator, llm: ChatTogether) -> None:
    async def run() -> tuple[AIMessage, list[AIMessageChunk]]:
        emu.reply("one")
        msg = await llm.ainvoke("hi")
        emu.reply("two words")
        chunks = [c async for c in llm.astream("hi")]
        return msg, chunks

    msg, chunks = asyncio.run(run())
    assert msg.content == "one" and merged(chunks).content == "two words"
    assert merged(chunks).usage_metadata is not None


def test_ls_params_profile_and_tokens(llm: ChatTogether) -> None:
    params = llm._get_ls_params(model="other/model")
    assert params["ls_provider"] == "together" and params["ls_model_name"] == "other/model"
    assert llm.profile is not None and llm.profile["max_input_tokens"] == 131_072
    unknown = ChatTogether(model="acme/unknown-vl-7b", api_key="k")
    assert unknown.profile is not None and unknown.profile["image_inputs"] is True
    assert llm.get_num_tokens_from_messages([HumanMessage("hello world " * 10)]) > 20


def test_key_is_secret_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "tgp_v1_VerySecretKeyValue"
    llm = ChatTogether(model=MODEL, api_key=key)
    assert key not in repr(llm) and key not in str(llm)
    text = dumps(llm)
    assert key not in text and "TOGETHER_API_KEY" in text
    restored = loads(
        text,
        secrets_map={"TOGETHER_API_KEY": key},
        valid_namespaces=["together_integrations"],
        allowed_objects=[ChatTogether],
    )
    assert isinstance(restored, ChatTogether) and restored.model == MODEL
    assert restored.api_key is not None and restored.api_key.get_secret_value() == key
    assert key.encode() not in pickle.dumps(llm)
    assert json.loads(text)["kwargs"]["model"] == MODEL


def test_reasoning_as_v1_content_blocks(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model=MODEL, transport=emu.transport(), output_version="v1")
    emu.reply("Paris", reasoning="think")
    blocks = llm.invoke("capital?").content
    assert isinstance(blocks, list)
    assert [(b["type"], b.get("reasoning") or b.get("text")) for b in blocks] == [
        ("reasoning", "think"),
        ("text", "Paris"),
    ]  # type: ignore[index, union-attr]
    emu.reply("Paris", reasoning="think")
    streamed = merged(list(llm.stream("capital?"))).content_blocks
    assert [b["type"] for b in streamed] == ["reasoning", "text"]
