"""ChatTogether against the in-process emulator: what reaches the wire, what comes back.

Every call-shaped test runs once sync and once async (``mode``), through the same body.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from pydantic import BaseModel
from typing_extensions import TypedDict

from together_integrations._catalog import DEFAULT_CATALOG
from together_integrations.langchain import ChatTogether
from together_integrations.testing import TogetherEmulator

MODEL = "openai/gpt-oss-20b"
THINK_TAG_MODEL = "Qwen/Qwen3-235B-A22B-Thinking-2507"


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()


@pytest.fixture
def llm(emu: TogetherEmulator) -> ChatTogether:
    return ChatTogether(model=MODEL, transport=emu.transport(max_retries=0))


def invoke(runnable: Any, value: Any, mode: str, **kwargs: Any) -> Any:
    if mode == "sync":
        return runnable.invoke(value, **kwargs)
    return asyncio.run(runnable.ainvoke(value, **kwargs))


def stream(runnable: Any, value: Any, mode: str, **kwargs: Any) -> list[Any]:
    if mode == "sync":
        return list(runnable.stream(value, **kwargs))

    async def collect() -> list[Any]:
        return [chunk async for chunk in runnable.astream(value, **kwargs)]

    return asyncio.run(collect())


def sent(emu: TogetherEmulator) -> dict[str, Any]:
    body = emu.requests[-1].json
    assert isinstance(body, dict)
    return body


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    out = chunks[0]
    for chunk in chunks[1:]:
        out = out + chunk
    return out


# ------------------------------------------------------------------ request side


def test_every_parameter_reaches_the_wire_as_json(emu: TogetherEmulator, mode: str) -> None:
    llm = ChatTogether(
        model_name=MODEL,
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        top_k=5,
        min_p=0.1,
        repetition_penalty=1.1,
        presence_penalty=0.3,
        frequency_penalty=0.4,
        logit_bias={"1234": -5.0},
        stop=["END"],
        seed=3,
        n=2,
        logprobs=True,
        response_format={"type": "json_object"},
        reasoning_effort="low",
        reasoning={"enabled": True},
        safety_model="meta-llama/Llama-Guard-4-12B",
        chat_template_kwargs={"thinking": False},
        model_kwargs={"context_length_exceeded_behavior": "error"},
        extra_body={"compliance": "hipaa"},
        timeout=30,
        max_retries=1,
        transport=emu.transport(),
    )
    invoke(llm, [SystemMessage("be brief"), HumanMessage("hi")], mode)
    body = sent(emu)
    assert body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "temperature": 0.2,
        "max_tokens": 50,
        "top_p": 0.9,
        "top_k": 5,
        "min_p": 0.1,
        "repetition_penalty": 1.1,
        "presence_penalty": 0.3,
        "frequency_penalty": 0.4,
        "logit_bias": {"1234": -5.0},
        "stop": ["END"],
        "seed": 3,
        "n": 2,
        "logprobs": 1,
        "response_format": {"type": "json_object"},
        "reasoning_effort": "low",
        "reasoning": {"enabled": True},
        "safety_model": "meta-llama/Llama-Guard-4-12B",
        "chat_template_kwargs": {"thinking": False},
        "context_length_exceeded_behavior": "error",
        "compliance": "hipaa",
        "stream": False,
    }


def test_per_call_arguments_override_and_extend(
    emu: TogetherEmulator, llm: ChatTogether, mode: str
) -> None:
    tuned = ChatTogether(model=MODEL, temperature=0.5, transport=emu.transport())
    invoke(
        tuned,
        "hi",
        mode,
        temperature=0.0,
        stop=["\n"],
        extra_body={"new_field": [1, 2]},
        model="openai/gpt-oss-120b",
    )
    body = sent(emu)
    assert body["temperature"] == 0.0 and body["stop"] == ["\n"]
    assert body["new_field"] == [1, 2] and body["model"] == "openai/gpt-oss-120b"
    params = tuned._get_ls_params(model="openai/gpt-oss-120b", temperature=0.0)
    assert params["ls_model_name"] == "openai/gpt-oss-120b" and params["ls_temperature"] == 0.0


def test_unknown_constructor_arguments_are_sent_with_a_warning(emu: TogetherEmulator) -> None:
    with pytest.warns(UserWarning, match="brand_new_knob"):
        llm = ChatTogether(model=MODEL, brand_new_knob=7, transport=emu.transport())
    assert llm.model_kwargs == {"brand_new_knob": 7}
    llm.invoke("hi")
    assert sent(emu)["brand_new_knob"] == 7
    with pytest.raises(ValueError, match="temperature"):
        ChatTogether(model=MODEL, model_kwargs={"temperature": 1})


@pytest.mark.parametrize(
    ("settings", "per_call", "wire"),
    [
        ({"logprobs": True}, {}, 1),
        ({"logprobs": True, "top_logprobs": 3}, {}, 3),
        ({"top_logprobs": 2}, {}, 2),
        ({"logprobs": 4}, {}, 4),
        ({}, {"logprobs": True}, 1),
        ({"logprobs": True}, {"logprobs": False}, None),
    ],
)
def test_logprobs_are_an_integer_on_the_wire(
    emu: TogetherEmulator, settings: dict[str, Any], per_call: dict[str, Any], wire: int | None
) -> None:
    llm = ChatTogether(model=MODEL, transport=emu.transport(), **settings)
    llm.invoke("hi", **per_call)
    assert sent(emu).get("logprobs") == wire


# ---------------------------------------------------------------- response side


def test_invoke_maps_usage_metadata_and_response_metadata(
    emu: TogetherEmulator, llm: ChatTogether, mode: str
) -> None:
    emu.reply(
        "Paris",
        reasoning="The user wants a capital",
        usage={"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    )
    msg = invoke(llm, "Capital of France?", mode)
    assert msg.content == "Paris"
    assert msg.additional_kwargs["reasoning_content"] == "The user wants a capital"
    assert msg.usage_metadata == {
        "input_tokens": 11,
        "output_tokens": 7,
        "total_tokens": 18,
        "input_token_details": {"cache_read": 0},
    }
    meta = msg.response_metadata
    assert meta["model_provider"] == "together" and meta["finish_reason"] == "stop"
    assert meta["model_name"] == MODEL and meta["id"] == msg.id and msg.id


def test_legacy_eos_is_reported_as_stop(mode: str) -> None:
    emu = TogetherEmulator(dialect="legacy")
    llm = ChatTogether(model=MODEL, transport=emu.transport())
    assert invoke(llm, "hi", mode).response_metadata["finish_reason"] == "stop"
    full = merged(stream(llm, "hi", mode))
    assert full.response_metadata["finish_reason"] == "stop"


@pytest.mark.parametrize("dialect", ["modern", "legacy", "openai"])
def test_stream_shapes_usage_and_the_last_chunk(
    emu: TogetherEmulator, llm: ChatTogether, mode: str, dialect: str
) -> None:
    emu.reply("The answer is four", dialect=dialect)  # type: ignore[arg-type]
    chunks = stream(llm, "2+2?", mode)
    assert len(chunks) > 3 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert chunks[-1].chunk_position == "last"
    assert [c.chunk_position for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    full = merged(chunks)
    assert full.content == "The answer is four"
    meta = full.response_metadata
    assert meta["finish_reason"] == "stop" and meta["model_name"] == MODEL
    assert meta["model_provider"] == "together" and meta["id"] == full.id
    assert full.id and not full.id.startswith("lc_run")  # the server's response id
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] > 0 and full.usage_metadata["output_tokens"] > 0
    assert sum(c.usage_metadata is not None for c in chunks) == 1
    # vLLM passthrough models (Gemma) send no usage at all: an offline estimate, flagged.
    assert meta.get("usage_estimated", False) is (dialect == "openai")


def test_stream_reports_reasoning_tokens(emu: TogetherEmulator, llm: ChatTogether) -> None:
    thought = "two plus two makes four, clearly"
    emu.reply("Four.", reasoning=thought)
    full = merged(list(llm.stream("2+2?")))
    assert full.usage_metadata is not None
    # The emulator counts ~4 characters per reasoning token, as it reports in the usage chunk.
    assert full.usage_metadata["output_token_details"] == {"reasoning": len(thought) // 4}
    assert full.additional_kwargs["reasoning_content"] == thought


def test_streaming_flag_makes_invoke_stream(emu: TogetherEmulator, mode: str) -> None:
    llm = ChatTogether(model=MODEL, streaming=True, transport=emu.transport())
    emu.reply("streamed reply")
    msg = invoke(llm, "hi", mode)
    assert sent(emu)["stream"] is True
    assert msg.content == "streamed reply" and msg.usage_metadata is not None


def test_streaming_several_choices_is_refused(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model=MODEL, n=2, transport=emu.transport())
    with pytest.raises(ValueError, match="n must be 1"):
        list(llm.stream("hi"))
    assert emu.requests == []


# -------------------------------------------------------------------- reasoning


def test_think_tags_become_reasoning(emu: TogetherEmulator, mode: str) -> None:
    llm = ChatTogether(model=THINK_TAG_MODEL, transport=emu.transport())
    emu.reply("<think>count letters</think>\n\nThree.")
    msg = invoke(llm, "How many r in strawberry?", mode)
    assert msg.content == "Three." and msg.additional_kwargs["reasoning_content"] == "count letters"
    emu.reply("<think>count letters</think>\n\nThree.")
    full = merged(stream(llm, "again", mode))
    assert full.content == "Three."
    assert full.additional_kwargs["reasoning_content"] == "count letters"


def test_think_tags_follow_the_per_call_model(emu: TogetherEmulator, llm: ChatTogether) -> None:
    emu.reply("<think>hmm</think>Yes.")
    msg = llm.invoke("?", model=THINK_TAG_MODEL)
    assert msg.content == "Yes." and msg.additional_kwargs["reasoning_content"] == "hmm"
    emu.reply("<think>hmm</think>Yes.")
    assert llm.invoke("?").content == "<think>hmm</think>Yes."  # gpt-oss: no tags expected


@pytest.mark.parametrize("model", [MODEL, THINK_TAG_MODEL])
def test_reasoning_as_standard_content_blocks(emu: TogetherEmulator, model: str) -> None:
    text = "<think>think</think>Paris" if model == THINK_TAG_MODEL else "Paris"
    reasoning = None if model == THINK_TAG_MODEL else "think"
    v0 = ChatTogether(model=model, transport=emu.transport())
    emu.reply(text, reasoning=reasoning)
    blocks = v0.invoke("capital?").content_blocks
    assert [(b["type"], b.get("reasoning") or b.get("text")) for b in blocks] == [
        ("reasoning", "think"),
        ("text", "Paris"),
    ]
    v1 = ChatTogether(model=model, transport=emu.transport(), output_version="v1")
    emu.reply(text, reasoning=reasoning)
    content = v1.invoke("capital?").content
    assert isinstance(content, list)
    assert [b["type"] for b in content if isinstance(b, dict)] == ["reasoning", "text"]
    emu.reply(text, reasoning=reasoning)
    streamed = merged(list(v1.stream("capital?"))).content_blocks
    assert [(b["type"], b.get("reasoning") or b.get("text")) for b in streamed] == [
        ("reasoning", "think"),
        ("text", "Paris"),
    ]


# ------------------------------------------------------------------------ tools


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


@tool
def get_time(city: str) -> str:
    """Get the local time in a city."""
    return "noon"


CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_time", "arguments": {"city": "Rome"}},
]


def test_parallel_tool_calls_on_invoke(emu: TogetherEmulator, llm: ChatTogether, mode: str) -> None:
    emu.reply(tool_calls=CALLS)
    msg = invoke(llm.bind_tools([get_weather, get_time]), "weather and time?", mode)
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Rome"}),
    ]
    assert all(c["id"] and c["id"].startswith("call_") for c in msg.tool_calls)
    assert msg.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("style", ["delta", "choice_level", "finish_per_call"])
def test_parallel_tool_calls_in_every_stream_form(
    emu: TogetherEmulator, llm: ChatTogether, mode: str, style: str
) -> None:
    emu.reply(tool_calls=CALLS, tool_call_style=style)  # type: ignore[arg-type]
    chunks = stream(llm.bind_tools([get_weather, get_time]), "weather and time?", mode)
    pieces = [tc for c in chunks for tc in c.tool_call_chunks]
    assert {tc["index"] for tc in pieces} == {0, 1}  # choice-level index -1 gets real indexes
    assert sum(1 for tc in pieces if tc["name"]) == 2  # names only on each call's first piece
    full = merged(chunks)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Rome"}),
    ]
    assert all(c["id"] for c in full.tool_calls) and full.invalid_tool_calls == []
    # Llama-3.1 repeats finish_reason once per call; it is reported once.
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_invalid_tool_json_becomes_invalid_tool_calls(
    emu: TogetherEmulator, llm: ChatTogether, mode: str
) -> None:
    bound = llm.bind_tools([get_weather])
    bad = [{"name": "get_weather", "arguments": '{"city": Paris}'}]
    emu.reply(tool_calls=bad)
    msg = invoke(bound, "weather?", mode)
    assert msg.tool_calls == []
    assert msg.invalid_tool_calls[0]["name"] == "get_weather"
    assert msg.invalid_tool_calls[0]["args"] == '{"city": Paris}'
    assert msg.invalid_tool_calls[0]["error"]
    # Streams: langchain-core parses the joined tool_call_chunks when merging (it repairs
    # merely truncated JSON); arguments that are not JSON at all stay invalid there too.
    emu.reply(tool_calls=bad)
    full = merged(stream(bound, "weather?", mode))
    assert full.tool_calls == [] and full.invalid_tool_calls[0]["args"] == '{"city": Paris}'


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (True, {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_forms(
    emu: TogetherEmulator, llm: ChatTogether, choice: Any, wire: Any
) -> None:
    llm.bind_tools([get_weather], tool_choice=choice, parallel_tool_calls=False).invoke("hi")
    body = sent(emu)
    assert body["tool_choice"] == wire and body["parallel_tool_calls"] is False
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather in a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]


def test_tool_choice_errors_and_strict(emu: TogetherEmulator, llm: ChatTogether) -> None:
    with pytest.raises(ValueError, match="exactly one tool"):
        llm.bind_tools([get_weather, get_time], tool_choice=True)
    with pytest.raises(ValueError, match="not one of the bound tools"):
        llm.bind_tools([get_weather], tool_choice="get_time")
    llm.bind_tools([get_weather], strict=True, tool_choice=False).invoke("hi")
    body = sent(emu)
    assert body["tools"][0]["function"]["strict"] is True and "tool_choice" not in body


def test_tool_round_trip_messages(emu: TogetherEmulator, llm: ChatTogether) -> None:
    ai = AIMessage(
        "",
        tool_calls=[
            {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"},
            {"name": "get_time", "args": {"city": "Rome"}, "id": "call_2", "type": "tool_call"},
        ],
    )
    history: list[BaseMessage] = [
        HumanMessage("weather?"),
        ai,
        ToolMessage("sunny", tool_call_id="call_1"),
        ToolMessage([{"type": "text", "text": "noon"}], tool_call_id="call_2"),
    ]
    llm.invoke(history)
    messages = sent(emu)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"city": "Rome"}'},
            },
        ],
    }
    assert messages[2] == {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
    assert messages[3] == {"role": "tool", "content": "noon", "tool_call_id": "call_2"}


def test_assistant_history_keeps_text_and_drops_only_reasoning(
    emu: TogetherEmulator, llm: ChatTogether
) -> None:
    ai = AIMessage(
        [
            {"type": "reasoning", "reasoning": "private"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "X"}},
        ],
        tool_calls=[{"name": "get_weather", "args": {"city": "X"}, "id": "call_1"}],
    )
    llm.invoke([HumanMessage("?"), ai, ToolMessage("ok", tool_call_id="call_1")])
    assistant = sent(emu)["messages"][1]
    assert assistant["content"] == "Let me check." and len(assistant["tool_calls"]) == 1
    with pytest.raises(ValueError, match="no id"):
        llm.invoke([AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": None}])])


# ------------------------------------------------------------- structured output


class Forecast(BaseModel):
    """A weather forecast."""

    city: str
    days: int


class ForecastDict(TypedDict):
    """A weather forecast."""

    city: str
    days: int


FORECAST_SCHEMA = {
    "title": "Forecast",
    "description": "A weather forecast.",
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}


@pytest.mark.parametrize("schema", [Forecast, ForecastDict, FORECAST_SCHEMA], ids=str)
@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_methods_and_schema_kinds(
    emu: TogetherEmulator, llm: ChatTogether, method: str, schema: Any, mode: str
) -> None:
    if method == "json_mode":
        emu.reply_json({"city": "Oslo", "days": 3})
    runnable = llm.with_structured_output(schema, method=method)  # type: ignore[arg-type]
    result = invoke(runnable, "forecast?", mode)
    if schema is Forecast:
        assert isinstance(result, Forecast)
        result = result.model_dump()
    assert isinstance(result, dict) and set(result) == {"city", "days"}
    assert isinstance(result["city"], str) and isinstance(result["days"], int)
    body = sent(emu)
    name = "ForecastDict" if schema is ForecastDict else "Forecast"
    if method == "json_schema":
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == name
        assert fmt["json_schema"]["schema"]["required"] == ["city", "days"]
        assert "tools" not in body
    elif method == "function_calling":
        assert body["tool_choice"] == {"type": "function", "function": {"name": name}}
        assert body["tools"][0]["function"]["parameters"]["required"] == ["city", "days"]
    else:
        assert body["response_format"] == {"type": "json_object"}
        assert result == {"city": "Oslo", "days": 3}


def test_structured_output_default_method_follows_the_catalog(
    emu: TogetherEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ChatTogether(model=MODEL, transport=emu.transport()).with_structured_output(Forecast).invoke(
        "?"
    )
    assert sent(emu)["response_format"]["type"] == "json_schema"
    tools_only = ChatTogether(
        model="meta-llama/Llama-3.3-70B-Instruct-Turbo", transport=emu.transport()
    )
    caps = DEFAULT_CATALOG.get(tools_only.model)
    monkeypatch.setitem(
        DEFAULT_CATALOG._models,
        tools_only.model.lower(),
        dataclasses.replace(caps, structured_output=False),
    )
    tools_only.with_structured_output(Forecast).invoke("?")
    assert "response_format" not in sent(emu) and sent(emu)["tools"]
    # Neither json_schema nor tools in the catalog (Gemma-3n): no forced tool call.
    neither = ChatTogether(model="google/gemma-3n-E4B-it", transport=emu.transport())
    emu.reply_json({"city": "Oslo", "days": 3})
    assert isinstance(neither.with_structured_output(Forecast).invoke("?"), Forecast)
    assert sent(emu)["response_format"] == {"type": "json_object"} and "tools" not in sent(emu)


def test_structured_output_strict_and_untitled_schema(
    emu: TogetherEmulator, llm: ChatTogether
) -> None:
    untitled = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    out = llm.with_structured_output(untitled, method="json_schema", strict=True).invoke("?")
    assert isinstance(out, dict) and isinstance(out["x"], int)
    fmt = sent(emu)["response_format"]["json_schema"]
    assert fmt["strict"] is True and fmt["name"] == "response"
    assert fmt["schema"] == {**untitled, "additionalProperties": False}


def test_structured_output_include_raw(emu: TogetherEmulator, llm: ChatTogether, mode: str) -> None:
    runnable = llm.with_structured_output(Forecast, include_raw=True)
    emu.reply_json({"city": "Oslo", "days": 3})
    good = invoke(runnable, "forecast?", mode)
    assert good["parsed"] == Forecast(city="Oslo", days=3) and good["parsing_error"] is None
    assert isinstance(good["raw"], AIMessage)
    emu.reply("not json at all")
    bad = invoke(runnable, "forecast?", mode)
    assert bad["parsed"] is None and bad["parsing_error"] is not None
    assert bad["raw"].content == "not json at all"
    emu.reply("not json at all")
    with pytest.raises(Exception, match=r"(?i)json"):
        invoke(llm.with_structured_output(Forecast), "forecast?", mode)


def test_structured_output_rejects_bad_arguments(llm: ChatTogether) -> None:
    with pytest.raises(ValueError, match="needs a schema"):
        llm.with_structured_output(None, method="json_schema")
    with pytest.raises(ValueError, match="Unknown method"):
        llm.with_structured_output(Forecast, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unexpected"):
        llm.with_structured_output(Forecast, bogus=1)


def test_request_json_is_the_same_for_sync_and_async(
    emu: TogetherEmulator, llm: ChatTogether
) -> None:
    llm.invoke("same", temperature=0.1)
    sync_body = json.dumps(sent(emu), sort_keys=True)
    asyncio.run(llm.ainvoke("same", temperature=0.1))
    assert json.dumps(sent(emu), sort_keys=True) == sync_body


def test_v1_stream_keeps_reasoning_text_and_each_tool_call_apart(
    emu: TogetherEmulator, mode: str
) -> None:
    # LangChain numbers v1 stream blocks 0, 1, ... and merges equal indexes; tool-call pieces
    # must not share index 0 with the reasoning block.
    v1 = ChatTogether(model=MODEL, transport=emu.transport(), output_version="v1")
    bound = v1.bind_tools([get_weather, get_time])
    emu.reply("Checking.", reasoning="need both", tool_calls=CALLS)
    full = merged(stream(bound, "weather and time?", mode))
    content: list[Any] = full.content  # type: ignore[assignment]
    assert isinstance(content, list)
    assert [(b["type"], b.get("reasoning") or b.get("text") or b.get("args")) for b in content] == [
        ("reasoning", "need both"),
        ("text", "Checking."),
        ("tool_call", {"city": "Paris"}),
        ("tool_call", {"city": "Rome"}),
    ]
    # Sent back as history: text kept, reasoning and tool-call blocks carried by tool_calls.
    bound.invoke(
        [
            HumanMessage("weather?"),
            full,
            ToolMessage("ok", tool_call_id=full.tool_calls[0]["id"] or ""),
        ]
    )
    assistant = sent(emu)["messages"][1]
    assert assistant["content"] == "Checking." and len(assistant["tool_calls"]) == 2


def test_invalid_tool_calls_appear_in_content_blocks(
    emu: TogetherEmulator, llm: ChatTogether
) -> None:
    emu.reply(tool_calls=[{"name": "get_weather", "arguments": "{oops"}])
    blocks = llm.bind_tools([get_weather]).invoke("weather?").content_blocks
    assert [b["type"] for b in blocks] == ["invalid_tool_call"]
    assert blocks[0]["args"] == "{oops" and blocks[0]["error"]  # type: ignore[typeddict-item]
