"""Streams end to end on httpx.MockTransport: every chunk shape of NOTES §4 parsed into schema
objects, SSE framing (keep-alives, CRLF, CR, multi-line data, any split), completeness checks,
retries before the first byte only, and closing. Bodies run sync and async (``api``)."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import httpx
import pytest

from together_integrations import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    RateLimitError,
    Stream,
    TogetherTransport,
)
from together_integrations.schemas import (
    ChatCompletionChunk,
    CompletionChunk,
    LegacyLogprobs,
    normalize_logprobs,
)

from .fixtures import wire
from .fixtures.mock import SSE, Api, Body, Script, json_response
from .fixtures.wire import sse

BODY = wire.CHAT_BODY


def content(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("piece", [0, 1, 7, 64], ids=lambda n: f"piece{n}")
def test_legacy_stream_usage_in_the_finish_chunk(api: Api, newline: str, piece: int) -> None:
    answer = SSE(wire.legacy_stream(), newline=newline, piece=piece)
    chunks = api.stream(Script(answer).transport(), "chat.stream", BODY)
    assert len(chunks) == 3 and all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert content(chunks) == "2 +"
    assert [c.usage for c in chunks[:2]] == [None, None]
    last = chunks[-1].choices[0]
    assert last.finish_reason == "eos" and last.seed == 9313781139405380000
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 50
    assert chunks[0].choices[0].text == "2" and chunks[0].choices[0].delta.role == "assistant"
    assert answer.bodies[0].closed


def test_modern_stream_reasoning_then_a_separate_usage_chunk(api: Api) -> None:
    chunks = api.stream(Script(SSE(wire.modern_stream(), piece=5)).transport(), "chat.stream", BODY)
    assert len(chunks) == 6
    reasoning = "".join(c.choices[0].delta.reasoning or "" for c in chunks if c.choices)
    assert reasoning == " user says hi" and content(chunks) == "Hello there"
    assert chunks[4].choices[0].finish_reason == "stop" and chunks[4].usage is None
    usage_chunk = chunks[5]
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == 77 and usage_chunk.usage.reasoning == 0
    assert usage_chunk.warnings is not None
    assert usage_chunk.warnings[0].message == "Model supports only tool_choice auto"
    assert "usage" not in chunks[0].model_fields_set  # the first chunk has no usage key


def test_gemma_stream_without_usage_keeps_extras(api: Api) -> None:
    chunks = api.stream(Script(SSE(wire.gemma_stream())).transport(), "chat.stream", BODY)
    assert [c.id for c in chunks] == ["chatcmpl-9a8b7c6d5e4f"] * 3
    assert all(c.usage is None for c in chunks) and content(chunks) == "Hi you"
    final = chunks[-1].choices[0]
    assert final.finish_reason == "stop" and final.model_extra == {"stop_reason": 106}
    assert final.text is None


def test_tool_call_deltas_ids_only_on_the_first(api: Api) -> None:
    chunks = api.stream(
        Script(SSE(wire.tool_delta_stream(), piece=3)).transport(), "chat.stream", BODY
    )
    calls = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert len(calls) == 3
    first, *rest = (call[0] for call in calls)
    assert first.id == "call_499bc3d9b4f042c08620b909" and first.function.name == "square_root"
    assert all(r.id is None and r.function.name is None and r.index == 0 for r in rest)
    assert "".join(c.function.arguments or "" for c in (first, *rest)) == '{"number": 132413}'
    assert chunks[3].choices[0].finish_reason == "tool_calls"
    assert chunks[4].usage is not None and chunks[4].usage.total_tokens == 193


def test_parallel_tool_calls_with_finish_reason_repeated(api: Api) -> None:
    chunks = api.stream(
        Script(SSE(wire.multi_tool_openai_stream())).transport(), "chat.stream", BODY
    )
    finishes = [c.choices[0].finish_reason for c in chunks]
    assert finishes == [None, "tool_calls", None, "tool_calls"]
    by_index: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in chunk.choices[0].delta.tool_calls or []:
            assert call.index is not None
            slot = by_index.setdefault(call.index, {"id": "", "name": "", "args": ""})
            slot["id"] += call.id or ""
            slot["name"] += call.function.name or ""
            slot["args"] += call.function.arguments or ""
    assert by_index == {
        0: {
            "id": "call_aaaaaaaaaaaaaaaaaaaaaaaa",
            "name": "get_weather",
            "args": '{"city": "Paris"}',
        },
        1: {"id": "call_bbbbbbbbbbbbbbbbbbbbbbbb", "name": "get_time", "args": '{"tz": "CET"}'},
    }
    assert all(c.usage is None for c in chunks)


def test_choice_level_tool_calls_with_index_minus_one(api: Api) -> None:
    chunks = api.stream(
        Script(SSE(wire.qwen_choice_level_tool_stream())).transport(),
        "chat.stream",
        BODY,
    )
    choice = chunks[0].choices[0]
    assert choice.delta.tool_calls is None and choice.tool_calls is not None
    call = choice.tool_calls[0]
    assert call.index == -1 and call.id == "call_cda104f2b1e44a57a40f54ff"
    assert json.loads(call.function.arguments or "") == {"number": 132413}
    assert chunks[1].choices[0].finish_reason == "tool_calls"


def test_logprobs_as_a_bare_number_and_as_the_stream_object(api: Api) -> None:
    chunks = api.stream(Script(SSE(wire.logprob_streams())).transport(), "chat.stream", BODY)
    bare, obj, none = (c.choices[0].logprobs for c in chunks)
    assert bare == -0.25 and normalize_logprobs(bare) is None
    assert isinstance(obj, LegacyLogprobs)
    tokens = normalize_logprobs(obj)
    assert tokens is not None and [t.token for t in tokens] == ["Hello"]
    assert [t.token for t in tokens[0].top_logprobs] == ["Hello", " Hello"]
    assert tokens[0].top_logprobs[1].logprob == -14.75
    assert none is None


def test_completion_stream(api: Api) -> None:
    chunks = api.stream(
        Script(SSE(wire.completion_stream())).transport(),
        "completions.stream",
        {"model": "mistralai/Mixtral-8x7B-v0.1", "prompt": "Paris is"},
    )
    assert all(isinstance(c, CompletionChunk) for c in chunks)
    assert "".join(c.choices[0].text or "" for c in chunks) == " and so"
    assert chunks[-1].choices[0].finish_reason == "eos" and chunks[-1].usage is not None


def test_stream_requests_say_stream_true(api: Api) -> None:
    script = Script(SSE(wire.legacy_stream()))
    api.stream(script.transport(), "chat.stream", {**BODY, "stream": False})
    assert json.loads(script.requests[0].content)["stream"] is True


# --------------------------------------------------------------------------- framing


def test_keep_alives_blank_events_and_multi_line_data(api: Api) -> None:
    first, second, third, _ = wire.legacy_stream()
    text = json.dumps(first)
    cut = text.index('"choices"')
    raw = (
        ": keep-alive\n\n"
        ":\n"
        f"data: {text[:cut]}\ndata: {text[cut:]}\n\n"  # one event over two data lines
        "data:\n\n"  # an empty event is skipped
        f": ping\r\ndata: {json.dumps(second)}\r\n\r\n"
        f"data:{json.dumps(third)}\r\r"  # no space after the colon, CR line ends
        "data: [DONE]\n\n"
    ).encode()
    chunks = api.stream(Script(SSE(raw, piece=2)).transport(), "chat.stream", BODY)
    assert content(chunks) == "2 +" and len(chunks) == 3


def test_events_after_done_are_ignored(api: Api) -> None:
    events = [*wire.legacy_stream(), wire.legacy_stream()[0]]
    chunks = api.stream(Script(SSE(events)).transport(), "chat.stream", BODY)
    assert len(chunks) == 3


def test_a_finish_reason_without_done_is_complete(api: Api) -> None:
    events = wire.gemma_stream()[:-1]
    chunks = api.stream(Script(SSE(events)).transport(), "chat.stream", BODY)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_last_event_without_its_blank_line_is_still_read(api: Api) -> None:
    raw = wire.sse(wire.legacy_stream()[:-1]) + b"data: [DONE]"
    chunks = api.stream(Script(SSE(raw)).transport(), "chat.stream", BODY)
    assert len(chunks) == 3


@pytest.mark.parametrize("cut", [1, 2, 3], ids=["after-1", "after-2", "after-3"])
def test_a_stream_ending_without_done_or_finish_is_an_error(api: Api, cut: int) -> None:
    events = wire.modern_stream()[:cut]
    answer = SSE(events)
    with pytest.raises(APIConnectionError, match="incomplete"):
        api.stream(Script(answer).transport(), "chat.stream", BODY)
    assert answer.bodies[0].closed


def test_an_empty_stream_is_an_error(api: Api) -> None:
    with pytest.raises(APIConnectionError):
        api.stream(Script(SSE(b"")).transport(), "chat.stream", BODY)


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [
        (httpx.ReadError("connection reset"), APIConnectionError),
        (httpx.ReadTimeout("idle"), APITimeoutError),
    ],
    ids=["read-error", "read-timeout"],
)
def test_a_stream_cut_midway_is_an_error_and_never_retried(
    api: Api, sleeps: list[float], failure: Exception, error_type: type[Exception]
) -> None:
    raw = wire.sse(wire.modern_stream())
    answer = SSE(raw[: len(raw) // 2], piece=50, fail_with=failure)
    script = Script(answer, SSE(wire.modern_stream()))
    received: list[Any] = []
    with pytest.raises(error_type) as info:
        api.stream(
            script.transport(max_retries=3),
            "chat.stream",
            BODY,
            on_item=received.append,
        )
    assert type(info.value) is error_type and info.value.__cause__ is failure
    assert len(received) >= 1  # data had arrived before the cut
    assert script.calls == 1 and sleeps == []
    assert answer.bodies[0].closed


@pytest.mark.parametrize(
    "first",
    [
        json_response(429, wire.ERROR_429, **{"retry-after": "1"}),
        json_response(500, wire.ERROR_500),
        httpx.ConnectError("refused"),
    ],
    ids=["429", "500", "connect"],
)
def test_a_failure_before_any_data_is_retried(api: Api, sleeps: list[float], first: Any) -> None:
    script = Script(first, SSE(wire.legacy_stream()))
    chunks = api.stream(script.transport(), "chat.stream", BODY)
    assert len(chunks) == 3 and script.calls == 2 and len(sleeps) == 1


def test_stream_status_errors_are_typed(api: Api, sleeps: list[float]) -> None:
    script = Script(json_response(429, wire.ERROR_429, **{"retry-after": "0"}))
    with pytest.raises(RateLimitError):
        api.stream(script.transport(max_retries=1), "chat.stream", BODY)
    assert script.calls == 2
    script = Script(json_response(401, wire.ERROR_401))
    with pytest.raises(AuthenticationError) as info:
        api.stream(script.transport(), "chat.stream", BODY)
    assert script.calls == 1 and info.value.code == "invalid_api_key"


def test_an_event_that_is_not_json_is_a_validation_error(api: Api) -> None:
    raw = wire.sse(wire.legacy_stream()[:1]) + b"data: {not json\n\n"
    answer = SSE(raw)
    with pytest.raises(APIResponseValidationError) as info:
        api.stream(Script(answer).transport(), "chat.stream", BODY)
    assert info.value.body == "{not json" and info.value.status_code == 200
    assert answer.bodies[0].closed


def test_invalid_utf8_in_an_event_is_not_a_bare_unicode_error(api: Api) -> None:
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"\xff"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    try:
        chunks = api.stream(Script(SSE(raw)).transport(), "chat.stream", BODY)
    except UnicodeDecodeError:
        pytest.fail("a bare UnicodeDecodeError escaped")
    except APIResponseValidationError:
        return
    assert chunks[0].choices[0].delta.content == "\ufffd"


# --------------------------------------------------------------------------- closing


def _transport_and_answer() -> tuple[Any, SSE]:
    answer = SSE(wire.modern_stream(), piece=40)
    return Script(answer).transport(), answer


def test_break_then_close_releases_the_response() -> None:
    transport, answer = _transport_and_answer()
    stream = transport.chat.stream(BODY)
    assert isinstance(stream, Stream)
    for _ in stream:
        break
    stream.close()
    assert stream.response.is_closed and answer.bodies[0].closed
    assert answer.bodies[0].sent < len(answer.bodies[0].pieces)  # did not read to the end
    stream.close()  # idempotent
    assert list(stream) == []


def test_context_manager_closes_on_break_and_on_error() -> None:
    transport, answer = _transport_and_answer()
    with transport.chat.stream(BODY) as stream:
        for _ in stream:
            break
    assert stream.response.is_closed and answer.bodies[0].closed

    transport, answer = _transport_and_answer()
    with pytest.raises(KeyError), transport.chat.stream(BODY) as stream:
        for _ in stream:
            raise KeyError("user code failed")
    assert answer.bodies[0].closed


def test_closing_before_iterating_releases_the_response() -> None:
    transport, answer = _transport_and_answer()
    stream = transport.chat.stream(BODY)
    stream.close()
    assert answer.bodies[0].closed and answer.bodies[0].sent == 0


def test_reading_to_the_end_closes_the_response() -> None:
    transport, answer = _transport_and_answer()
    stream = transport.chat.stream(BODY)
    assert len(list(stream)) == 6
    assert stream.response.is_closed and answer.bodies[0].closed


def test_a_stream_read_to_done_consumes_the_body_so_the_connection_is_reused(api: Api) -> None:
    answer = SSE(wire.legacy_stream(), piece=64)
    chunks = api.stream(Script(answer).transport(), "chat.stream", BODY)
    assert len(chunks) == 3 and answer.bodies[0].closed
    assert answer.bodies[0].exhausted


def test_an_abandoned_stream_is_closed_by_garbage_collection() -> None:
    transport, answer = _transport_and_answer()
    for _ in transport.chat.stream(BODY):
        break
    gc.collect()
    assert answer.bodies[0].closed


def test_break_out_of_an_unreferenced_stream_closes_at_once() -> None:
    transport, answer = _transport_and_answer()
    gc.disable()
    try:
        for _ in transport.chat.stream(BODY):
            break
        assert answer.bodies[0].closed
    finally:
        gc.enable()


def test_async_break_then_aclose_and_async_with() -> None:
    async def run() -> None:
        transport, answer = _transport_and_answer()
        stream = await transport.chat.astream(BODY)
        async for _ in stream:
            break
        await stream.aclose()
        assert stream.response.is_closed and answer.bodies[0].closed
        await stream.aclose()  # idempotent

        transport, answer = _transport_and_answer()
        async with await transport.chat.astream(BODY) as stream:
            async for _ in stream:
                break
        assert answer.bodies[0].closed

        transport, answer = _transport_and_answer()
        stream = await transport.chat.astream(BODY)
        assert len([c async for c in stream]) == 6 and answer.bodies[0].closed

        transport, answer = _transport_and_answer()
        stream = await transport.chat.astream(BODY)
        await stream.aclose()
        assert answer.bodies[0].closed and answer.bodies[0].sent == 0

    asyncio.run(run())


def test_next_works_on_both_streams() -> None:
    transport, _ = _transport_and_answer()
    stream = transport.chat.stream(BODY)
    assert next(stream).choices[0].delta.reasoning == " user"
    stream.close()

    async def run() -> None:
        transport, _ = _transport_and_answer()
        astream = await transport.chat.astream(BODY)
        assert (await astream.__anext__()).choices[0].delta.reasoning == " user"
        await astream.aclose()

    asyncio.run(run())


# ------------------------------------------------------------ faults found by testing


@pytest.mark.parametrize(
    ("raw", "status", "error_type"),
    [
        (
            b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
            b'event: error\ndata: {"error":{"message":"model overloaded","type":"server_error"}}\n\n',
            500,
            "server_error",
        ),
        (
            b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
            b'data: {"error":{"message":"Rate limit hit","type":"rate_limit"}}\n\n'
            b"data: [DONE]\n\n",
            429,
            "rate_limit",
        ),
        (
            b'data: {"error": {"message": "bad input", "code": 400}}\n\n',
            400,
            None,
        ),
    ],
    ids=["event-error", "data-error-rate-limit", "data-error-numeric-code"],
)
def test_an_error_sent_inside_the_stream_raises_the_typed_error(
    api: Api, raw: bytes, status: int, error_type: str | None
) -> None:
    seen: list[Any] = []
    with pytest.raises(APIStatusError) as info:
        api.stream(Script(SSE(raw, piece=7)).transport(), "chat.stream", BODY, on_item=seen.append)
    assert info.value.status_code == status and info.value.type == error_type
    assert "error from the server" in info.value.message
    assert len(seen) == (0 if status == 400 else 1)


def test_a_content_delta_that_mentions_error_is_not_an_error(api: Api) -> None:
    chunk = {"id": "a", "choices": [{"index": 0, "delta": {"content": '{"error": 1}'}}]}
    raw = sse([chunk, {"id": "a", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}])
    chunks = api.stream(Script(SSE(raw)).transport(), "chat.stream", BODY)
    assert content(chunks) == '{"error": 1}'


def test_a_stream_dropped_unread_releases_its_connection() -> None:
    transport, answer = _transport_and_answer()
    gc.disable()
    try:
        transport.chat.stream(BODY)  # opened, never iterated, dropped
        assert answer.bodies[0].closed and answer.bodies[0].sent == 0
    finally:
        gc.enable()


def test_an_async_stream_dropped_unread_releases_its_connection() -> None:
    async def run() -> tuple[SSE, int]:
        transport, answer = _transport_and_answer()
        transport = TogetherTransport(
            api_key=wire.KEY,
            http_async_client=transport.async_client,
            max_in_flight=1,
        )
        await transport.chat.astream(BODY)  # dropped unread
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        # The in-flight slot came back too: a second call does not wait forever.
        stream = await asyncio.wait_for(transport.chat.astream(BODY), 1)
        count = len([c async for c in stream])
        return answer, count

    answer, count = asyncio.run(run())
    assert answer.bodies[0].closed and count == 6


def test_a_stream_holds_its_slot_until_closed() -> None:
    answer = SSE(wire.modern_stream(), piece=40)
    transport = Script(answer).transport(max_in_flight=1)
    first = transport.chat.stream(BODY)
    assert not transport._slots.acquire(blocking=False)  # the stream holds the only slot
    first.close()
    assert transport._slots.acquire(blocking=False)
    transport._slots.release()


def test_a_503_whose_body_is_cut_off_is_a_typed_retried_error(
    api: Api, sleeps: list[float]
) -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        body = Body([b'{"error": {"mess'], fail_with=httpx.RemoteProtocolError("peer closed"))
        return httpx.Response(503, stream=body, headers={"content-type": "application/json"})

    script = Script(cut, SSE(wire.legacy_stream()))
    chunks = api.stream(script.transport(), "chat.stream", BODY)
    assert len(chunks) == 3 and script.calls == 2 and len(sleeps) == 1

    with pytest.raises(InternalServerError) as info:
        api.stream(Script(cut).transport(max_retries=0), "chat.stream", BODY)
    assert info.value.status_code == 503
