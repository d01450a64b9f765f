"""Chat completions replayed from cassettes through both adapters: LangChain's
``ChatTogether`` and LlamaIndex's ``TogetherLLM``, one cassette per wire shape.

Recorded against the emulator (``--record-mode=rewrite`` without a key); maintainers with a
key re-record live. On replay (record mode ``none``) the emulator is absent: the scripting
below only runs while recording, and the facts the parsers must get right are asserted here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import AIMessageChunk, BaseMessageChunk
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ThinkingBlock
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from together_integrations.langchain import ChatTogether
from together_integrations.llama_index import TogetherLLM

from ._replay import CHAT_MODEL, REASONING_MODEL, emulator, settings

MODEL = CHAT_MODEL
USER = [ChatMessage(role="user", content="Say hello in French.")]


def chat(target: dict[str, Any], model: str = MODEL, **kwargs: Any) -> ChatTogether:
    return ChatTogether(model=model, temperature=0, **settings(target), **kwargs)


def llm(target: dict[str, Any], model: str = MODEL, **kwargs: Any) -> TogetherLLM:
    return TogetherLLM(model=model, temperature=0, **settings(target), **kwargs)


def merged(chunks: list[BaseMessageChunk]) -> BaseMessageChunk:
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    return full


def last(responses: Any) -> tuple[ChatResponse, int]:
    items = list(responses)
    return items[-1], len(items)


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def thinking(response: ChatResponse) -> str:
    """The reasoning LlamaIndex carries as the message's ``ThinkingBlock``."""
    return "".join(str(b.content) for b in response.message.blocks if isinstance(b, ThinkingBlock))


WEATHER_CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    {"name": "get_weather", "arguments": {"city": "Lyon"}},
]


# ----------------------------------------------------------------- plain and streams


@pytest.mark.vcr
def test_invoke_replays(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply("Bonjour !", times=2)
    message = chat(together_target).invoke("Say hello in French.")
    assert message.content == "Bonjour !"
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] > 0
    assert message.response_metadata["finish_reason"] == "stop"
    response = llm(together_target).chat(USER)
    assert response.message.content == "Bonjour !"
    assert response.additional_kwargs["finish_reason"] == "stop"
    assert response.additional_kwargs["total_tokens"] == message.usage_metadata["total_tokens"]


@pytest.mark.parametrize("dialect", ["modern", "legacy", "openai"])
@pytest.mark.vcr
def test_stream_dialect(together_target: dict[str, Any], dialect: str) -> None:
    """modern: a separate usage chunk; legacy: usage in the finish chunk and
    ``finish_reason: "eos"``; openai (vLLM passthrough): ``chatcmpl-`` ids and no usage."""
    emu = emulator(together_target)
    if emu is not None:
        emu.reply("One, two, three, four, five.", dialect=dialect, times=2)  # type: ignore[arg-type]
    chunks = list(chat(together_target).stream("Count to five."))
    full = merged(chunks)
    assert len(chunks) > 2 and full.content == "One, two, three, four, five."
    assert isinstance(full, AIMessageChunk)
    assert full.usage_metadata is not None and full.usage_metadata["output_tokens"] > 0
    # No usage on an openai-dialect stream: the count is an offline estimate, flagged.
    assert bool(full.response_metadata.get("usage_estimated")) is (dialect == "openai")
    assert full.response_metadata["finish_reason"] in ("stop", "eos")
    final, count = last(
        llm(together_target).stream_chat([ChatMessage(role="user", content="Count to five.")])
    )
    assert count > 2 and final.message.content == "One, two, three, four, five."


# ------------------------------------------------------------------------ tool calls


@pytest.mark.parametrize("style", ["delta", "choice_level", "finish_per_call"])
@pytest.mark.vcr
def test_stream_tool_calls(together_target: dict[str, Any], style: str) -> None:
    """delta: OpenAI fragments; choice_level (Qwen3-Coder): complete calls at choice level
    with ``index: -1``; finish_per_call (Llama-3.1): ``finish_reason`` on each call's end."""
    emu = emulator(together_target)
    if emu is not None:
        emu.reply(tool_calls=WEATHER_CALLS, tool_call_style=style, times=2)  # type: ignore[arg-type]
    model = chat(together_target).bind_tools([get_weather])
    full = merged(list(model.stream("Weather in Paris and Lyon?")))
    assert isinstance(full, AIMessageChunk)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Lyon"}),
    ]
    assert len({c["id"] for c in full.tool_calls}) == 2
    index = llm(together_target)
    tool = FunctionTool.from_defaults(fn=get_weather)
    final, _ = last(index.stream_chat_with_tools([tool], user_msg="Weather in Paris and Lyon?"))
    calls = index.get_tool_calls_from_response(final, error_on_no_tool_call=True)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Lyon"}),
    ]


@pytest.mark.vcr
def test_invoke_tool_call(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply(tool_calls=WEATHER_CALLS[:1], times=2)
    message = chat(together_target).bind_tools([get_weather]).invoke("Weather in Paris?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"
    index = llm(together_target)
    tool = FunctionTool.from_defaults(fn=get_weather)
    response = index.chat_with_tools([tool], user_msg="Weather in Paris?")
    (call,) = index.get_tool_calls_from_response(response)
    assert (call.tool_name, call.tool_kwargs) == ("get_weather", {"city": "Paris"})


# ------------------------------------------------------------------------- reasoning


@pytest.mark.vcr
def test_reasoning(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply("42", reasoning="Six times seven.", times=2)
    message = chat(together_target, REASONING_MODEL).invoke("What is 6 x 7?")
    assert message.content == "42"
    assert message.additional_kwargs["reasoning_content"] == "Six times seven."
    response = llm(together_target, REASONING_MODEL).chat(
        [ChatMessage(role="user", content="What is 6 x 7?")]
    )
    assert response.message.content == "42"
    assert thinking(response) == "Six times seven."


@pytest.mark.vcr
def test_stream_reasoning(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply("42", reasoning="Six times seven.", times=2)
    full = merged(list(chat(together_target, REASONING_MODEL).stream("What is 6 x 7?")))
    assert full.content == "42"
    assert full.additional_kwargs["reasoning_content"] == "Six times seven."
    final, _ = last(
        llm(together_target, REASONING_MODEL).stream_chat(
            [ChatMessage(role="user", content="What is 6 x 7?")]
        )
    )
    assert final.message.content == "42"
    assert thinking(final) == "Six times seven."


# -------------------------------------------------------------------------- logprobs


@pytest.mark.parametrize("shape", ["together", "openai"])
@pytest.mark.vcr
def test_logprobs(together_target: dict[str, Any], shape: str) -> None:
    """together: ``tokens`` / ``token_logprobs``; openai: ``content: [{token, logprob}]``."""
    emu = emulator(together_target)
    if emu is not None:
        emu.reply("Hi there", logprobs_format=shape, times=2)  # type: ignore[arg-type]
    message = chat(together_target, logprobs=True).invoke("Greet me.")
    content = message.response_metadata["logprobs"]["content"]
    assert "".join(t["token"] for t in content) == "Hi there"
    assert all(t["logprob"] <= 0 for t in content)
    response = llm(together_target, logprobs=True).chat(
        [ChatMessage(role="user", content="Greet me.")]
    )
    assert response.logprobs is not None
    assert "".join(row[0].token for row in response.logprobs) == "Hi there"


# ----------------------------------------------------------------------- json_schema


class City(BaseModel):
    name: str
    population: int


@pytest.mark.vcr
def test_json_schema(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply_json({"name": "Paris", "population": 2102650}, times=2)
    city = (
        chat(together_target).with_structured_output(City, method="json_schema").invoke("A city?")
    )
    assert city == City(name="Paris", population=2102650)
    index = llm(together_target, should_use_structured_outputs=True)
    result = index.structured_predict(City, PromptTemplate("A city?"))
    assert result == City(name="Paris", population=2102650)


# ------------------------------------------------------------------------ the format


@pytest.mark.parametrize("name", ["test_invoke_replays", "test_stream_dialect[modern]"])
def test_cassettes_are_readable_and_scrubbed(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "cassettes" / "test_replay_chat" / f"{name}.yaml"
    text = path.read_text()
    doc = yaml.safe_load(text)
    assert doc["recorded_against"] in ("live", "emulator")
    request = doc["interactions"][0]["request"]
    assert request["body_json"]["json"]["model"] == MODEL  # JSON bodies are YAML structures
    assert "authorization" not in {k.lower() for k in request["headers"]}
    body = doc["interactions"][0]["response"]["body"]
    assert "json" in body or ("sse" in body and "data: [DONE]" in body["sse"])
