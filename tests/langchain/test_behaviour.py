"""Behaviour LangChain users rely on across the four classes: LangChain error types, stream
usage in every dialect, strict schemas, structured output without tools, response headers,
several choices, LangSmith parameters."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
)
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from together_integrations import (
    APIConnectionError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
)
from together_integrations.langchain import (
    ChatTogether,
    TogetherEmbeddings,
    TogetherLLM,
    TogetherRerank,
)
from together_integrations.testing import TogetherEmulator

CHAT_MODEL = "openai/gpt-oss-20b"
KEY = "tk-behaviour-0123456789"


def sent(emu: TogetherEmulator) -> dict[str, Any]:
    body = emu.requests[-1].json
    assert isinstance(body, dict)
    return body


def stream(runnable: Any, value: Any, mode: str, **kwargs: Any) -> list[Any]:
    if mode == "sync":
        return list(runnable.stream(value, **kwargs))

    async def collect() -> list[Any]:
        return [c async for c in runnable.astream(value, **kwargs)]

    return asyncio.run(collect())


def invoke(runnable: Any, value: Any, mode: str) -> Any:
    return runnable.invoke(value) if mode == "sync" else asyncio.run(runnable.ainvoke(value))


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    out = chunks[0]
    for chunk in chunks[1:]:
        out = out + chunk
    return out


# ------------------------------------------------------------------ errors


def _embed(obj: Any, mode: str) -> Any:
    if mode == "sync":
        return obj.embed_documents(["a"])
    return asyncio.run(obj.aembed_documents(["a"]))


def _rerank(obj: Any, mode: str) -> Any:
    if mode == "sync":
        return obj.compress_documents([], "q") or obj.rerank("q", ["a"])
    return asyncio.run(obj.arerank("q", ["a"]))


def _complete(obj: Any, mode: str) -> Any:
    return obj.invoke("hi") if mode == "sync" else asyncio.run(obj.ainvoke("hi"))


def _complete_stream(obj: Any, mode: str) -> Any:
    return stream(obj, "hi", mode)


CALLS = {
    "llm": (TogetherLLM, "mistralai/Mixtral-8x7B-v0.1", _complete),
    "llm-stream": (TogetherLLM, "mistralai/Mixtral-8x7B-v0.1", _complete_stream),
    "embeddings": (TogetherEmbeddings, "BAAI/bge-base-en-v1.5", _embed),
    "rerank": (TogetherRerank, "Salesforce/Llama-Rank-V1", _rerank),
}

FAULTS: list[tuple[dict[str, Any], type[Exception], type[ModelError]]] = [
    ({"kind": "status", "status": 429}, RateLimitError, ModelRateLimitError),
    ({"kind": "status", "status": 401}, AuthenticationError, ModelAuthenticationError),
    ({"kind": "connection_reset"}, APIConnectionError, ModelConnectionError),
]


@pytest.mark.parametrize("where", sorted(CALLS))
@pytest.mark.parametrize(("fault", "ours", "theirs"), FAULTS, ids=["429", "401", "reset"])
def test_errors_of_every_class_are_ours_and_langchains(
    where: str,
    fault: dict[str, Any],
    ours: type[Exception],
    theirs: type[ModelError],
    mode: str,
) -> None:
    cls, model, run = CALLS[where]
    emu = TogetherEmulator()
    emu.fail(**fault)
    obj = cls(model=model, transport=emu.transport(max_retries=0))
    with pytest.raises(ours) as caught:
        run(obj, mode)
    assert isinstance(caught.value, theirs)
    assert isinstance(caught.value.__cause__, ours)  # raised from the original


@pytest.mark.parametrize("where", ["llm", "embeddings", "rerank"])
def test_an_unknown_model_is_a_model_not_found_error(where: str) -> None:
    cls, _, run = CALLS[where]
    obj = cls(model="acme/not-served", transport=TogetherEmulator().transport(max_retries=0))
    with pytest.raises(NotFoundError) as caught:
        run(obj, "sync")
    assert isinstance(caught.value, ModelNotFoundError)


# -------------------------------------------------------------- stream usage


@pytest.mark.parametrize(("setting", "asked"), [(True, True), (None, False), (False, False)])
def test_stream_usage_asks_the_server_only_when_enabled(
    setting: bool | None, asked: bool, mode: str
) -> None:
    emu = TogetherEmulator()
    llm = ChatTogether(model=CHAT_MODEL, transport=emu.transport(), stream_usage=setting)
    stream(llm, "hi", mode)
    assert ("stream_options" in sent(emu)) is asked
    if asked:
        assert sent(emu)["stream_options"] == {"include_usage": True}
    llm.invoke("hi")
    assert "stream_options" not in sent(emu)  # a non-streamed call has no stream options


@pytest.mark.parametrize("setting", [True, None])
@pytest.mark.parametrize(
    ("dialect", "style"),
    [("openai", None), ("modern", "finish_per_call")],
    ids=["vllm-no-usage", "llama-3.1-tool-stream"],
)
def test_streams_without_server_usage_end_with_a_flagged_estimate(
    setting: bool | None, dialect: Any, style: Any, mode: str
) -> None:
    emu = TogetherEmulator()
    tools = None
    if style:
        tools = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    emu.reply(
        "Four, said the model." if not tools else None,
        dialect=dialect,
        tool_calls=tools,
        tool_call_style=style,
    )

    @tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        return city

    llm = ChatTogether(model=CHAT_MODEL, transport=emu.transport(), stream_usage=setting)
    runnable = llm.bind_tools([get_weather]) if tools else llm
    prompt = [HumanMessage("What is 2+2? " * 10)]
    full = merged(stream(runnable, prompt, mode))
    usage = full.usage_metadata
    assert usage is not None and full.response_metadata["usage_estimated"] is True
    expected_input = llm.get_num_tokens_from_messages(prompt)
    assert usage["input_tokens"] >= expected_input  # tools add their schema
    assert usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_server_usage_is_never_replaced_by_an_estimate(mode: str) -> None:
    emu = TogetherEmulator(dialect="legacy")
    emu.reply("ok", usage={"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13})
    full = merged(stream(ChatTogether(model=CHAT_MODEL, transport=emu.transport()), "hi", mode))
    assert full.usage_metadata is not None and full.usage_metadata["input_tokens"] == 11
    assert "usage_estimated" not in full.response_metadata


def test_stream_usage_false_gives_no_estimate(mode: str) -> None:
    emu = TogetherEmulator(dialect="openai")
    llm = ChatTogether(model=CHAT_MODEL, transport=emu.transport(), stream_usage=False)
    full = merged(stream(llm, "hi", mode))
    assert full.usage_metadata is None and "usage_estimated" not in full.response_metadata


# ------------------------------------------------------------ strict schemas


class Address(BaseModel):
    street: str
    zip: str | None = None


class Person(BaseModel):
    name: str
    nickname: str | None = None
    addresses: list[Address]


def _closed_everywhere(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            assert schema["additionalProperties"] is False
            assert schema["required"] == list(schema["properties"])
        for value in schema.values():
            _closed_everywhere(value)
    elif isinstance(schema, list):
        for value in schema:
            _closed_everywhere(value)


@pytest.mark.parametrize("schema", [Person, Person.model_json_schema()], ids=["class", "dict"])
def test_json_schema_strict_makes_every_object_strict(schema: Any) -> None:
    emu = TogetherEmulator()
    llm = ChatTogether(model=CHAT_MODEL, transport=emu.transport())
    out = llm.with_structured_output(schema, method="json_schema", strict=True).invoke("Who?")
    spec = sent(emu)["response_format"]["json_schema"]
    assert spec["strict"] is True
    _closed_everywhere(spec["schema"])
    # A class's schema arrives with $defs inlined, a dict's keeps them: strict either way.
    nested = (
        spec["schema"].get("$defs", {}).get("Address")
        or (spec["schema"]["properties"]["addresses"]["items"])
    )
    assert nested["required"] == ["street", "zip"] and nested["additionalProperties"] is False
    assert out is not None
    loose = llm.with_structured_output(schema, method="json_schema").invoke("Who?")
    assert loose is not None
    assert "additionalProperties" not in sent(emu)["response_format"]["json_schema"]["schema"]


# ---------------------------------------------------------- response headers


def test_stream_responses_carry_rate_limit_headers(mode: str) -> None:
    emu = TogetherEmulator()
    llm = ChatTogether(model=CHAT_MODEL, transport=emu.transport(), include_response_headers=True)
    full = merged(stream(llm, "hi", mode))
    headers = full.response_metadata["headers"]
    assert headers["x-ratelimit-remaining"] == "19" and "x-ratelimit-limit-tokens" in headers
    plain = ChatTogether(model=CHAT_MODEL, transport=emu.transport())
    assert "headers" not in merged(stream(plain, "hi", mode)).response_metadata


def test_non_streamed_calls_carry_rate_limit_headers(mode: str) -> None:
    emu = TogetherEmulator()
    llm = ChatTogether(model=CHAT_MODEL, transport=emu.transport(), include_response_headers=True)
    msg = invoke(llm, "hi", mode)
    assert msg.response_metadata["headers"]["x-ratelimit-remaining"] == "19"
    plain = ChatTogether(model=CHAT_MODEL, transport=emu.transport())
    assert "headers" not in invoke(plain, "hi", mode).response_metadata


# ---------------------------------------------------------------- n > 1


def _two_choices(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "o-n2",
            "object": "chat.completion",
            "created": 1,
            "model": CHAT_MODEL,
            "choices": [
                {
                    "index": 1,
                    "finish_reason": "length",
                    "message": {"role": "assistant", "content": "B"},
                },
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "A"},
                },
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        },
    )


def test_several_choices_in_order_with_usage_counted_once(mode: str) -> None:
    llm = ChatTogether(
        model=CHAT_MODEL,
        api_key=KEY,
        n=2,
        http_client=httpx.Client(transport=httpx.MockTransport(_two_choices)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(_two_choices)),
    )
    prompts = [[HumanMessage("hi")], [HumanMessage("yo")]]
    result = llm.generate(prompts) if mode == "sync" else asyncio.run(llm.agenerate(prompts))
    for generations in result.generations:
        assert [g.text for g in generations] == ["A", "B"]
        assert [g.generation_info["finish_reason"] for g in generations] == ["stop", "length"]
        assert generations[0].message.usage_metadata["total_tokens"] == 9
        assert generations[1].message.usage_metadata is None
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["total_tokens"] == 18
    assert result.llm_output["model_name"] == CHAT_MODEL
    assert llm.invoke("hi").content == "A"
    assert json.loads(json.dumps(result.llm_output))  # plain data


# ---------------------------------------------------------- LangSmith params


@pytest.mark.parametrize(
    ("cls", "model", "kind"),
    [
        (ChatTogether, CHAT_MODEL, "chat"),
        (TogetherLLM, "mistralai/Mixtral-8x7B-v0.1", "llm"),
        (TogetherEmbeddings, "BAAI/bge-base-en-v1.5", "embedding"),
        (TogetherRerank, "Salesforce/Llama-Rank-V1", "rerank"),
    ],
)
def test_langsmith_params_for_every_class(cls: type[Any], model: str, kind: str) -> None:
    params = cls(model=model, api_key=KEY)._get_ls_params()
    assert params["ls_provider"] == "together"
    assert params["ls_model_name"] == model and params["ls_model_type"] == kind
    assert KEY not in json.dumps(params)
