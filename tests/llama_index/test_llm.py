"""LlamaIndex TogetherLLM on the in-process emulator: usage and reasoning, streams, images and
tool messages, agents, structured output, strict tool-call arguments. Every endpoint path is
in test_llm_routes.py."""

from __future__ import annotations

import asyncio
import json
import pickle
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ImageBlock, TextBlock, ThinkingBlock, ToolCallBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from together_integrations.llama_index import TogetherLLM
from together_integrations.testing import TogetherEmulator

MODEL = "openai/gpt-oss-20b"


@pytest.fixture
def llm(emu: TogetherEmulator) -> TogetherLLM:
    return TogetherLLM(model=MODEL, transport=emu.transport(max_retries=0))


def test_base_classes_and_metadata() -> None:
    assert FunctionCallingLLM in TogetherLLM.__mro__
    meta = TogetherLLM(model="meta-llama/Llama-3.3-70B-Instruct-Turbo", api_key="k").metadata
    assert meta.context_window == 131_072 and meta.is_function_calling_model and meta.is_chat_model
    assert (
        TogetherLLM(model=MODEL, api_key="k", context_window=4096).metadata.context_window == 4096
    )
    assert TogetherLLM(model="acme/new-model", api_key="k").metadata.context_window == 32_768


def test_chat_usage_reasoning_and_token_counting(emu: TogetherEmulator) -> None:
    counter = TokenCountingHandler()
    llm = TogetherLLM(
        model=MODEL, transport=emu.transport(), callback_manager=CallbackManager([counter])
    )
    emu.reply(
        "Paris",
        reasoning="capital question",
        usage={"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25},
    )
    response = llm.chat([ChatMessage(role="user", content="Capital of France?")])
    assert response.message.content == "Paris"
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking and thinking[0].content == "capital question"
    # raw reads like upstream's OpenAI object and is still the dict TokenCountingHandler reads.
    assert response.raw.usage.total_tokens == 25 == response.raw["usage"]["total_tokens"]
    assert response.raw.choices[0].message.content == "Paris"
    assert isinstance(response.raw, dict) and json.loads(json.dumps(response.raw)) == response.raw
    assert pickle.loads(pickle.dumps(response.raw)).usage.prompt_tokens == 21
    assert type(response.raw.model_dump()["usage"]) is dict
    with pytest.raises(AttributeError, match="no field 'nonexistent'"):
        _ = response.raw.nonexistent
    assert (counter.prompt_llm_token_count, counter.completion_llm_token_count) == (21, 4)
    sent = emu.requests[-1].json
    assert (
        sent["messages"] == [{"role": "user", "content": "Capital of France?"}]
        and sent["model"] == MODEL
    )


def test_stream_chat_deltas_thinking_and_usage(emu: TogetherEmulator, llm: TogetherLLM) -> None:
    emu.reply("streamed answer here", reasoning="think first")
    chunks = list(llm.stream_chat([ChatMessage(role="user", content="hi")]))
    assert "".join(c.delta or "" for c in chunks) == "streamed answer here"
    assert "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks) == "think first"
    assert chunks[-1].message.content == "streamed answer here"
    assert chunks[-1].additional_kwargs["total_tokens"] > 0
    assert chunks[-1].raw.usage.total_tokens == chunks[-1].additional_kwargs["total_tokens"]


def test_images_and_tool_messages_on_the_wire(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(model="Qwen/Qwen2.5-VL-72B-Instruct", transport=emu.transport())
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="what is this?"),
            ImageBlock(url="https://x/cat.png"),
            ImageBlock(image=b"\x89PNG\r\n", image_mimetype="image/png"),
        ],
    )
    call = ChatMessage(
        role="assistant",
        blocks=[ToolCallBlock(tool_call_id="call_1", tool_name="look", tool_kwargs={"q": 1})],
    )
    result = ChatMessage(role="tool", content="a cat", additional_kwargs={"tool_call_id": "call_1"})
    llm.chat([message, call, result])
    sent = emu.requests[-1].json["messages"]
    assert sent[0]["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}
    assert sent[0]["content"][2]["image_url"]["url"].startswith("data:image/png;base64,")
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "look",
        "arguments": json.dumps({"q": 1}),
    }
    assert sent[2] == {"role": "tool", "content": "a cat", "tool_call_id": "call_1"}
    with pytest.raises(ValueError, match="tool_call_id"):
        llm.chat([ChatMessage(role="tool", content="x")])


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@pytest.mark.parametrize("style", ["delta", "choice_level", "finish_per_call"])
def test_function_agent_streams_over_several_steps(
    emu: TogetherEmulator, llm: TogetherLLM, style: str
) -> None:
    emu.reply(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}}], tool_call_style=style)  # type: ignore[arg-type]
    emu.reply(
        tool_calls=[{"name": "multiply", "arguments": {"a": 5, "b": 4}}], tool_call_style=style
    )  # type: ignore[arg-type]
    emu.reply("(2 + 3) * 4 = 20")
    agent = FunctionAgent(tools=[add, multiply], llm=llm)

    async def run() -> str:
        handler = agent.run("What is (2 + 3) * 4?")
        async for _ in handler.stream_events():
            pass
        return str(await handler)

    assert "20" in asyncio.run(run())
    tool_results = [m for r in emu.requests for m in r.json["messages"] if m["role"] == "tool"]
    assert {m["content"] for m in tool_results} >= {"5", "20"}
    assert all(r.json["tools"] for r in emu.requests)


def test_tool_choice_and_parallel_flags(emu: TogetherEmulator, llm: TogetherLLM) -> None:
    from llama_index.core.tools import FunctionTool

    tool = FunctionTool.from_defaults(fn=add)
    emu.reply(
        tool_calls=[
            {"name": "add", "arguments": {"a": 1, "b": 2}},
            {"name": "add", "arguments": {"a": 3, "b": 4}},
        ]
    )
    response = llm.chat_with_tools(
        [tool], user_msg="add", tool_required=True, allow_parallel_tool_calls=False
    )
    sent = emu.requests[-1].json
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("add", {"a": 1, "b": 2})]
    with pytest.raises(ValueError, match="tool call"):
        emu.reply("no tools")
        llm.get_tool_calls_from_response(llm.chat([ChatMessage(role="user", content="x")]))


class City(BaseModel):
    name: str
    population: int


def test_structured_predict_uses_json_schema_where_supported(
    emu: TogetherEmulator, llm: TogetherLLM
) -> None:
    result = llm.structured_predict(City, PromptTemplate("Describe {place}"), place="Paris")
    assert isinstance(result, City)
    sent = emu.requests[-1].json
    assert (
        sent["response_format"]["type"] == "json_schema"
        and "tools" not in sent
        and "tool_choice" not in sent
    )
    assert sent["response_format"]["json_schema"]["schema"]["required"] == ["name", "population"]
    assert isinstance(
        asyncio.run(
            llm.astructured_predict(City, PromptTemplate("Describe {place}"), place="Rome")
        ),
        City,
    )


def test_structured_predict_falls_back_to_forced_tool_calls(emu: TogetherEmulator) -> None:
    from together_integrations._catalog import DEFAULT_CATALOG, ModelCapabilities

    DEFAULT_CATALOG._models["acme/tools-only"] = ModelCapabilities(
        id="acme/tools-only", structured_output=False
    )
    emu.models["acme/tools-only"] = {"type": "chat", "context_length": 8192}
    try:
        llm = TogetherLLM(model="acme/tools-only", transport=emu.transport())
        assert isinstance(
            llm.structured_predict(City, PromptTemplate("Describe {place}"), place="Paris"), City
        )
    finally:
        del DEFAULT_CATALOG._models["acme/tools-only"]
    sent = emu.requests[-1].json
    assert sent["tools"] and sent["tool_choice"] and "response_format" not in sent


def test_react_agent_reaches_an_answer(emu: TogetherEmulator, llm: TogetherLLM) -> None:
    from llama_index.core.agent.workflow import ReActAgent

    emu.reply('Thought: I need to add.\nAction: add\nAction Input: {"a": 2, "b": 3}')
    emu.reply("Thought: I can answer without using any more tools.\nAnswer: 2 + 3 = 5")
    agent = ReActAgent(tools=[add], llm=llm)

    async def run() -> str:
        handler = agent.run("What is 2 + 3?")
        async for _ in handler.stream_events():
            pass
        return str(await handler)

    assert "5" in asyncio.run(run())
    observation = json.dumps(emu.requests[-1].json["messages"])
    assert "Observation: 5" in observation


def test_reasoning_content_is_read_like_reasoning() -> None:
    from together_integrations.llama_index._convert import (
        ChatStreamConverter,
        chat_response_from_wire,
    )
    from together_integrations.schemas import ChatCompletion, ChatCompletionChunk

    whole = ChatCompletion.model_validate(
        {
            "id": "c1",
            "choices": [
                {"message": {"role": "assistant", "content": "4", "reasoning_content": "2+2"}}
            ],
        }
    )
    response = chat_response_from_wire(whole, think_tags=False)
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert [b.content for b in thinking] == ["2+2"] and response.message.content == "4"
    converter = ChatStreamConverter(think_tags=False)
    deltas = []
    for delta in ({"reasoning_content": "2+"}, {"reasoning_content": "2"}, {"content": "4"}):
        chunk = ChatCompletionChunk.model_validate({"id": "c1", "choices": [{"delta": delta}]})
        out = converter.feed(chunk)
        assert out is not None
        deltas.append(out.additional_kwargs.get("thinking_delta", ""))
    assert deltas == ["2+", "2", ""]
    assert [b.content for b in out.message.blocks if isinstance(b, ThinkingBlock)] == ["2+2"]


# ----------------------------------------------------- strict tool-call arguments


def square_root(number: int) -> float:
    """Square root of a number."""
    return float(number) ** 0.5


def _streamed_selections(llm: TogetherLLM, tool: Any) -> tuple[list[Any], Any]:
    """Every chunk's tool calls, read as FunctionAgent reads them, and the last response."""
    seen: list[Any] = []
    last = None
    for last in llm.stream_chat_with_tools([tool], user_msg="root of 132413?"):
        seen.append(llm.get_tool_calls_from_response(last, error_on_no_tool_call=False))
    return seen, last


@pytest.mark.parametrize("style", ["delta", "finish_per_call"])
def test_a_finished_streamed_call_is_parsed_strictly(
    emu: TogetherEmulator, llm: TogetherLLM, style: str
) -> None:
    from llama_index.core.tools import FunctionTool

    tool = FunctionTool.from_defaults(fn=square_root)
    emu.stream_chunk_chars = 4  # the arguments arrive in several fragments
    emu.reply(
        tool_calls=[
            {"name": "square_root", "arguments": '{"number": 132413}'},
            {"name": "square_root", "arguments": '{"number": 4}'},
        ],
        tool_call_style=style,  # type: ignore[arg-type]
    )
    seen, last = _streamed_selections(llm, tool)
    partial = [s[0].tool_kwargs for s in seen if s and s[0].tool_kwargs != {"number": 132413}]
    assert any(0 < p.get("number", 0) < 132413 for p in partial)  # prefixes, while streaming
    assert [c.tool_kwargs for c in llm.get_tool_calls_from_response(last)] == [
        {"number": 132413},
        {"number": 4},
    ]
    assert "invalid_tool_calls" not in last.message.additional_kwargs


def test_invalid_streamed_arguments_surface_instead_of_a_guess(
    emu: TogetherEmulator, llm: TogetherLLM
) -> None:
    from llama_index.core.tools import FunctionTool

    from together_integrations.llama_index import InvalidToolCallError

    tool = FunctionTool.from_defaults(fn=square_root)
    emu.stream_chunk_chars = 4
    emu.reply(tool_calls=[{"name": "square_root", "arguments": '{"number": 132'}], times=2)
    with pytest.raises(InvalidToolCallError) as info:
        _streamed_selections(llm, tool)
    (call,) = info.value.calls
    assert call["name"] == "square_root" and call["arguments"] == '{"number": 132'
    assert "not valid JSON" in call["error"] and "'{\"number\": 132'" in str(info.value)
    assert pickle.loads(pickle.dumps(info.value)).calls == info.value.calls
    # Until the stream ended, the prefix was shown for display, and nothing was raised.
    responses = list(llm.stream_chat_with_tools([tool], user_msg="again"))
    last = responses[-1]
    (block,) = [b for b in last.message.blocks if isinstance(b, ToolCallBlock)]
    assert block.tool_kwargs == '{"number": 132'  # kept as sent, never {"number": 132}
    assert last.message.additional_kwargs["invalid_tool_calls"][0]["id"] == block.tool_call_id
    assert isinstance(responses[-2].message.blocks[-1].tool_kwargs, dict)


def test_invalid_arguments_in_a_whole_response_and_an_agent_runs_no_tool(
    emu: TogetherEmulator, llm: TogetherLLM
) -> None:
    from llama_index.core.tools import FunctionTool

    from together_integrations.llama_index import InvalidToolCallError

    ran: list[int] = []

    def record(number: int) -> int:
        """Record a number."""
        ran.append(number)
        return number

    tool = FunctionTool.from_defaults(fn=record)
    emu.reply(tool_calls=[{"name": "record", "arguments": '{"number": 13'}], times=2)
    response = llm.chat_with_tools([tool], user_msg="record 1324")
    with pytest.raises(InvalidToolCallError, match="record"):
        llm.get_tool_calls_from_response(response)
    agent = FunctionAgent(tools=[tool], llm=llm)

    async def run() -> None:
        await agent.run("record 1324")

    with pytest.raises(Exception, match="not valid JSON"):
        asyncio.run(run())
    assert ran == []
