"""The emulator speaks the real wire format, and the transport recovers from its faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from together_integrations import (
    APIConnectionError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    TogetherTransport,
)
from together_integrations.testing import TogetherEmulator

MODEL = "openai/gpt-oss-20b"
MSGS = [{"role": "user", "content": "What is the capital of France?"}]


def raw_stream(emu: TogetherEmulator, body: dict[str, Any]) -> list[Any]:
    with emu.http_client() as client:
        r = client.post(
            "https://api.together.xyz/v1/chat/completions", json={**body, "stream": True}
        )
        lines = [line for line in r.text.split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[len("data: ") :]) for line in lines[:-1]]


def test_plain_chat_has_the_real_shape() -> None:
    emu = TogetherEmulator()
    with emu.http_client() as client:
        r = client.post(
            "https://api.together.xyz/v1/chat/completions", json={"model": MODEL, "messages": MSGS}
        )
    body = r.json()
    assert r.headers["x-request-id"] == body["id"]
    assert body["prompt"] == [] and body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["message"]["tool_calls"] == []
    assert choice["seed"] >= 0 and "capital of France" in choice["message"]["content"]
    assert set(body["usage"]) >= {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
    }


def test_modern_dialect_sends_a_separate_usage_chunk_and_reasoning() -> None:
    emu = TogetherEmulator()
    emu.reply("Paris", reasoning="The user asks")
    events = raw_stream(emu, {"model": MODEL, "messages": MSGS})
    assert "usage" not in events[0]
    assert events[0]["choices"][0]["delta"]["reasoning"]
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0
    assert events[-2]["choices"][0]["finish_reason"] == "stop" and events[-2]["usage"] is None
    assert "".join(e["choices"][0]["delta"]["content"] for e in events[:-1]) == "Paris"


def test_legacy_dialect_puts_usage_in_the_eos_chunk() -> None:
    emu = TogetherEmulator(dialect="legacy")
    events = raw_stream(emu, {"model": MODEL, "messages": MSGS})
    assert events[-1]["choices"][0]["finish_reason"] == "eos"
    assert events[-1]["usage"]["total_tokens"] > 0
    assert all(e["usage"] is None for e in events[:-1])


@pytest.mark.parametrize("style", ["delta", "choice_level", "finish_per_call"])
def test_tool_call_styles(style: str) -> None:
    emu = TogetherEmulator()
    emu.reply(
        tool_calls=[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {"y": "z"}}],
        tool_call_style=style,  # type: ignore[arg-type]
    )
    events = raw_stream(emu, {"model": MODEL, "messages": MSGS})
    finishes = [c["finish_reason"] for e in events for c in e["choices"] if c["finish_reason"]]
    if style == "choice_level":
        calls = [t for e in events for c in e["choices"] for t in c.get("tool_calls") or []]
        assert [t["index"] for t in calls] == [-1, -1]
        assert json.loads(calls[0]["function"]["arguments"]) == {"x": 1}
    else:
        deltas = [
            t for e in events for c in e["choices"] for t in c["delta"].get("tool_calls") or []
        ]
        firsts = [t for t in deltas if t.get("id")]
        assert [t["function"]["name"] for t in firsts] == ["a", "b"]
        assert all(t["function"]["arguments"] == "" for t in firsts)
    assert finishes == (
        ["tool_calls", "tool_calls"] if style == "finish_per_call" else ["tool_calls"]
    )


def test_scripted_replies_match_predicates_first_then_fifo() -> None:
    emu = TogetherEmulator()
    t = emu.transport()
    emu.reply("first").reply("second")
    emu.reply("special", when=lambda body: "magic" in json.dumps(body["messages"]))

    def ask(text):
        return t.chat_completions({"model": MODEL, "messages": [{"role": "user", "content": text}]})

    assert ask("hello").choices[0].message.content == "first"
    assert ask("magic word").choices[0].message.content == "special"
    assert ask("hello").choices[0].message.content == "second"
    assert ask("hello").choices[0].message.content == "You said: hello"


def test_forced_tool_choice_and_json_schema_give_schema_valid_values() -> None:
    emu = TogetherEmulator()
    t = emu.transport()
    params = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    }
    tools = [{"type": "function", "function": {"name": "forecast", "parameters": params}}]
    r = t.chat_completions(
        {
            "model": MODEL,
            "messages": MSGS,
            "tools": tools,
            "tool_choice": {"type": "function", "function": {"name": "forecast"}},
        }
    )
    args = json.loads(r.choices[0].message.tool_calls[0].function.arguments)  # type: ignore[index, arg-type]
    assert isinstance(args["city"], str) and isinstance(args["days"], int)
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": params}}
    r = t.chat_completions({"model": MODEL, "messages": MSGS, "response_format": fmt})
    value = json.loads(r.choices[0].message.content or "")
    assert set(value) == {"city", "days"}


@pytest.mark.parametrize(
    ("body", "error", "needle"),
    [
        ({"messages": MSGS}, BadRequestError, "Invalid request"),
        (
            {"model": "bad/model", "messages": MSGS},
            NotFoundError,
            "Unable to access model bad/model",
        ),
        (
            {"model": MODEL, "messages": [{"role": "tool", "content": "x"}]},
            BadRequestError,
            "tool_call_id",
        ),
        ({"model": MODEL, "messages": MSGS, "logprobs": 1.5}, BadRequestError, "logprobs"),
        (
            {
                "model": MODEL,
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ],
            },
            BadRequestError,
            "not a multimodal model",
        ),
    ],
)
def test_validation_errors_are_real_error_bodies(
    body: dict[str, Any], error: type[Exception], needle: str
) -> None:
    emu = TogetherEmulator()
    with emu.http_client() as client:
        r = client.post("https://api.together.xyz/v1/chat/completions", json=body)
    assert r.status_code >= 400 and r.headers["x-request-id"] == r.json()["id"]
    t = emu.transport()
    with pytest.raises(error) as info:
        t.chat_completions.__wrapped__ if False else t._call(
            "/chat/completions", _Raw(body), lambda b: b, None
        )
    assert needle in str(info.value)


class _Raw:
    """A request body sent as is, to reach the server's own validation."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def to_wire_json(self) -> bytes:
        return json.dumps(self.body).encode()


def test_bad_key_gives_401_and_models_401_has_its_own_shape() -> None:
    emu = TogetherEmulator(api_key="right")
    with emu.http_client() as client:
        r = client.get(
            "https://api.together.xyz/v1/models", headers={"Authorization": "Bearer wrong"}
        )
        assert r.status_code == 401 and r.json() == {"error": {"message": "Unauthorized"}}
        r = client.post(
            "https://api.together.xyz/v1/chat/completions",
            json={"model": MODEL, "messages": MSGS},
            headers={"Authorization": "Bearer wrong"},
        )
        assert r.json()["error"]["code"] == "invalid_api_key"
    assert all(req.headers.get("authorization") == "<redacted>" for req in emu.requests)


def test_embeddings_are_deterministic_and_similarity_follows_shared_words() -> None:
    emu = TogetherEmulator()
    t = emu.transport()
    texts = ["the cat sat on the mat", "a cat on a mat", "stock markets fell sharply"]
    vectors = [
        d.embedding for d in t.embeddings({"model": "BAAI/bge-base-en-v1.5", "input": texts}).data
    ]
    again = t.embeddings({"model": "BAAI/bge-base-en-v1.5", "input": texts[0]}).data[0].embedding
    assert again == vectors[0] and len(again) == 768
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2])


def test_rerank_orders_by_relevance_and_honours_top_n() -> None:
    t = TogetherEmulator().transport()
    docs = ["bananas are yellow", "the rerank endpoint orders documents", "documents about rerank"]
    r = t.rerank(
        {
            "model": "Salesforce/Llama-Rank-V1",
            "query": "rerank documents",
            "documents": docs,
            "top_n": 2,
        }
    )
    assert [x.index for x in r.results] == [1, 2] or [x.index for x in r.results] == [2, 1]
    assert (
        r.results[0].relevance_score >= r.results[1].relevance_score and r.results[0].document == {}
    )


Call = Callable[[TogetherTransport], Any]


def run_both(
    transport: TogetherTransport,
    is_async: bool,
    sync: Call,
    asynchronous: Callable[[TogetherTransport], Any],
) -> Any:
    return asyncio.run(asynchronous(transport)) if is_async else sync(transport)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    "fault", [{"status": 429, "retry_after": 0}, {"status": 500}, {"status": 502, "html": True}]
)
def test_transport_recovers_from_one_fault(
    is_async: bool, fault: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import together_integrations._transport as tr

    delays: list[float] = []
    monkeypatch.setattr(tr.time, "sleep", delays.append)

    async def fake_sleep(d: float) -> None:
        delays.append(d)

    monkeypatch.setattr(tr.asyncio, "sleep", fake_sleep)
    emu = TogetherEmulator()
    emu.fail("status", **fault)
    body = {"model": MODEL, "messages": MSGS}

    async def call_async(t: TogetherTransport) -> Any:
        return await t.achat_completions(body)

    r = run_both(emu.transport(), is_async, lambda t: t.chat_completions(body), call_async)
    assert r.choices[0].message.content and len(emu.requests) == 2 and len(delays) == 1
    if "retry_after" in fault:
        assert delays == [0.0]


def test_retries_stop_after_max_retries_plus_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import together_integrations._transport as tr

    monkeypatch.setattr(tr.time, "sleep", lambda d: None)
    emu = TogetherEmulator()
    emu.fail("status", status=429, retry_after=1, times=None)
    with pytest.raises(RateLimitError) as info:
        emu.transport(max_retries=3).chat_completions({"model": MODEL, "messages": MSGS})
    assert len(emu.requests) == 4 and info.value.retry_after == 1.0
    assert info.value.rate_limits["remaining"] == 0.0


@pytest.mark.parametrize("is_async", [False, True])
def test_cut_stream_raises_connection_error_and_is_not_retried(is_async: bool) -> None:
    emu = TogetherEmulator()
    emu.fail("cut_stream", after=2)
    body = {"model": MODEL, "messages": MSGS}

    def sync(t: TogetherTransport) -> list[Any]:
        return list(t.chat_completions_stream(body))

    async def asynchronous(t: TogetherTransport) -> list[Any]:
        return [c async for c in await t.achat_completions_stream(body)]

    with pytest.raises(APIConnectionError):
        run_both(emu.transport(), is_async, sync, asynchronous)
    assert len(emu.requests) == 1


@pytest.mark.network
def test_loopback_server_speaks_http_and_resets_connections() -> None:
    emu = TogetherEmulator()
    with emu.serve() as server:
        t = TogetherTransport(api_key="k", base_url=server.base_url, max_retries=0)
        assert "capital" in (
            t.chat_completions({"model": MODEL, "messages": MSGS}).choices[0].message.content or ""
        )
        emu.fail("connection_reset")
        with pytest.raises(APIConnectionError):
            t.chat_completions({"model": MODEL, "messages": MSGS})
        emu.fail("cut_stream", after=2)
        with pytest.raises(APIConnectionError):
            list(t.chat_completions_stream({"model": MODEL, "messages": MSGS}))
        assert len(t.list_models()) == len(emu.models)
        t.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/models", timeout=1)


@pytest.mark.parametrize("is_async", [False, True])
def test_other_endpoints_through_the_transport(is_async: bool, tmp_path: Any) -> None:
    t = TogetherEmulator().transport()
    audio = tmp_path / "hello.wav"
    audio.write_bytes(b"RIFF0000WAVEfmt ")

    async def calls_async() -> tuple[Any, ...]:
        images = await t.aimages_generate(
            {
                "model": "black-forest-labs/FLUX.1-schnell",
                "prompt": "a cat",
                "response_format": "base64",
                "n": 2,
            }
        )
        speech = await t.aaudio_speech(
            {"model": "cartesia/sonic", "input": "hi", "voice": "helpful woman"}
        )
        chunks = [
            c
            async for c in await t.aaudio_speech_stream(
                {"model": "cartesia/sonic", "input": "hi", "voice": "v"}
            )
        ]
        text = await t.aaudio_transcriptions(
            audio,
            {
                "model": "openai/whisper-large-v3",
                "response_format": "verbose_json",
                "timestamp_granularities": ["segment"],
            },
        )
        models = await t.alist_models()
        return images, speech, chunks, text, models

    def calls_sync() -> tuple[Any, ...]:
        images = t.images_generate(
            {
                "model": "black-forest-labs/FLUX.1-schnell",
                "prompt": "a cat",
                "response_format": "base64",
                "n": 2,
            }
        )
        speech = t.audio_speech(
            {"model": "cartesia/sonic", "input": "hi", "voice": "helpful woman"}
        )
        chunks = list(
            t.audio_speech_stream({"model": "cartesia/sonic", "input": "hi", "voice": "v"})
        )
        text = t.audio_transcriptions(
            audio,
            {
                "model": "openai/whisper-large-v3",
                "response_format": "verbose_json",
                "timestamp_granularities": ["segment"],
            },
        )
        models = t.list_models()
        return images, speech, chunks, text, models

    images, speech, chunks, text, models = asyncio.run(calls_async()) if is_async else calls_sync()
    assert len(images.data) == 2 and images.data[0].b64_json and images.data[0].type is None
    assert speech.content.startswith(b"RIFF") and speech.content_type == "audio/wav"
    assert b"".join(c.audio for c in chunks) == speech.content
    assert text.text and text.segments and text.segments[0].end > 0
    assert {m.type for m in models} >= {"chat", "embedding", "rerank"}


@pytest.mark.network
def test_a_slow_first_byte_times_out_as_a_typed_error() -> None:
    from together_integrations import APITimeoutError

    emu = TogetherEmulator()
    emu.fail("slow_first_byte", delay=0.5)
    with emu.serve() as server:
        t = TogetherTransport(api_key="k", base_url=server.base_url, timeout=0.1, max_retries=0)
        with pytest.raises(APITimeoutError, match="timed out"):
            t.chat_completions({"model": MODEL, "messages": MSGS})
        t.close()
