"""The transport's decisions, end to end on httpx.MockTransport (no sockets): retries, errors,
configuration, secrets, stream completeness and closing. One body runs sync and async."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import together_integrations._transport as tr
from together_integrations import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestOptions,
    SSEDecoder,
    TogetherConfigError,
    TogetherTransport,
    UnprocessableEntityError,
    __version__,
)

KEY = "tgp_v1_SuperSecretValue123456"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
OK = {
    "id": "oAbcdef-abcdef-0123456789abcdef",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "prompt": [],
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello", "tool_calls": []},
            "finish_reason": "stop",
            "seed": 10570679248326920000,
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
Handler = Callable[[httpx.Request], httpx.Response]


class Server:
    """A scripted MockTransport: each call pops the next response maker."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request)

    def transport(self, **kw: Any) -> TogetherTransport:
        mock = httpx.MockTransport(self)
        kw.setdefault("api_key", KEY)
        return TogetherTransport(
            http_client=httpx.Client(transport=mock),
            http_async_client=httpx.AsyncClient(transport=mock),
            **kw,
        )


def ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=OK, headers={"x-request-id": OK["id"]})


def status(code: int, body: Any = None, **headers: str) -> Handler:
    def answer(_: httpx.Request) -> httpx.Response:
        payload = (
            body
            if body is not None
            else {
                "id": "req1",
                "error": {"message": f"failed {code}", "type": "x", "param": None, "code": None},
            }
        )
        if isinstance(payload, str):
            return httpx.Response(
                code, text=payload, headers={"content-type": "text/html", **headers}
            )
        return httpx.Response(code, json=payload, headers={"x-request-id": "req1", **headers})

    return answer


def raising(exc: type[Exception]) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)  # type: ignore[call-arg]

    return answer


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def call(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Any]]:
    """Run a chat call sync or async; record sleeps instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr(tr.time, "sleep", delays.append)

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(tr.asyncio, "sleep", fake_sleep)

    def run(transport: TogetherTransport, options: RequestOptions | None = None) -> Any:
        if request.param:
            return asyncio.run(transport.achat_completions(BODY, options))
        return transport.chat_completions(BODY, options)

    run.delays = delays  # type: ignore[attr-defined]
    yield run


@pytest.mark.parametrize(
    "first",
    [
        status(408),
        status(409),
        status(429, retry_after="0"),
        status(500),
        status(502, "<html>Bad gateway</html>"),
        status(503),
        raising(httpx.ConnectError),
        raising(httpx.ReadTimeout),
    ],
    ids=["408", "409", "429", "500", "502-html", "503", "connect", "timeout"],
)
def test_retryable_failures_recover_after_one_retry(call: Any, first: Handler) -> None:
    server = Server(first, ok)
    assert call(server.transport()).choices[0].message.content == "hello"
    assert len(server.requests) == 2 and len(call.delays) == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
    ],
)
def test_final_statuses_are_not_retried(call: Any, code: int, error: type[APIStatusError]) -> None:
    server = Server(status(code), ok)
    with pytest.raises(error) as info:
        call(server.transport())
    assert len(server.requests) == 1
    assert info.value.status_code == code and info.value.request_id == "req1"
    assert info.value.server_message == f"failed {code}" and f"failed {code}" in str(info.value)


def test_attempts_are_bounded_by_max_retries(call: Any) -> None:
    server = Server(status(500))
    with pytest.raises(InternalServerError):
        call(server.transport(max_retries=3))
    assert len(server.requests) == 4
    assert call.delays == sorted(call.delays) and max(call.delays) <= 8.0
    server = Server(status(500))
    with pytest.raises(InternalServerError):
        call(server.transport(max_retries=3), RequestOptions(max_retries=0))
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ],
)
def test_retry_after_is_honoured(call: Any, headers: dict[str, str], expected: float) -> None:
    server = Server(status(429, **headers), ok)
    call(server.transport())
    assert call.delays == [expected]


def test_a_wait_longer_than_the_cap_raises_at_once(call: Any) -> None:
    server = Server(
        status(
            429,
            **{
                "retry-after": "120",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-limit-tokens": "1000",
            },
        ),
        ok,
    )
    with pytest.raises(RateLimitError) as info:
        call(server.transport())
    assert len(server.requests) == 1 and call.delays == []
    assert info.value.retry_after == 120.0
    assert info.value.rate_limits == {"remaining": 0.0, "limit-tokens": 1000.0}


def test_error_message_as_object_and_models_401_shape(call: Any) -> None:
    nested = {
        "id": "x",
        "error": {
            "message": {
                "message": "Qwen/x is not a multimodal model None",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            },
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
    }
    with pytest.raises(BadRequestError) as info:
        call(Server(status(400, nested)).transport())
    assert isinstance(info.value.server_message, dict)
    assert "not a multimodal model" in str(info.value)
    with pytest.raises(AuthenticationError) as auth:
        call(Server(status(401, {"error": {"message": "Unauthorized"}})).transport())
    assert "Unauthorized" in str(auth.value) and "TOGETHER_API_KEY" in str(auth.value)


def test_a_2xx_body_that_is_not_json_is_a_validation_error(call: Any) -> None:
    server = Server(lambda r: httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(APIResponseValidationError) as info:
        call(server.transport())
    assert info.value.status_code == 200 and "oops" in info.value.body


def test_connection_errors_are_typed_after_retries(call: Any) -> None:
    with pytest.raises(APITimeoutError):
        call(Server(raising(httpx.ReadTimeout)).transport(max_retries=1))
    with pytest.raises(APIConnectionError):
        call(Server(raising(httpx.ConnectError)).transport(max_retries=0))


def test_missing_key_fails_before_any_request(call: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    server = Server(ok)
    with pytest.raises(TogetherConfigError, match="TOGETHER_API_KEY"):
        call(server.transport(api_key=None))
    assert server.requests == []


def test_headers_env_and_user_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    monkeypatch.setenv("TOGETHER_BASE_URL", "https://example.test/v9")
    server = Server(ok)
    mock = httpx.MockTransport(server)
    t = TogetherTransport(
        http_client=httpx.Client(transport=mock), default_headers={"X-App": "demo"}
    )
    t.chat_completions(BODY, RequestOptions(extra_headers={"X-Trace": "1"}))
    sent = server.requests[0]
    assert str(sent.url) == "https://example.test/v9/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["user-agent"] == f"together-integrations/{__version__}"
    assert sent.headers["x-app"] == "demo" and sent.headers["x-trace"] == "1"
    assert json.loads(sent.content) == {**BODY, "stream": False}


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost/v1", True),
        ("http://[::1]:9/v1", True),
        ("http://api.example.com/v1", False),
        ("https://api.example.com/v1", True),
    ],
)
def test_plain_http_only_to_loopback(url: str, allowed: bool) -> None:
    if allowed:
        assert TogetherTransport(api_key=KEY, base_url=url).base_url == url
    else:
        with pytest.raises(TogetherConfigError, match="allow_insecure_http"):
            TogetherTransport(api_key=KEY, base_url=url)
        assert (
            TogetherTransport(api_key=KEY, base_url=url, allow_insecure_http=True).base_url == url
        )


def test_shared_transports_and_lazy_pools() -> None:
    a = TogetherTransport.shared(api_key=KEY, base_url="https://a.test/v1")
    assert a is TogetherTransport.shared(api_key=KEY, base_url="https://a.test/v1")
    assert a is not TogetherTransport.shared(api_key=KEY, base_url="https://b.test/v1")
    assert a is not TogetherTransport.shared(
        api_key=KEY, base_url="https://a.test/v1", max_retries=5
    )
    assert a._client is None  # no pool until the first request


def test_a_client_passed_in_is_never_closed() -> None:
    client = httpx.Client(transport=httpx.MockTransport(ok))
    t = TogetherTransport(api_key=KEY, http_client=client)
    t.chat_completions(BODY)
    t.close()
    assert not client.is_closed


def test_the_key_never_leaks(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tr.time, "sleep", lambda s: None)
    caplog.set_level(logging.DEBUG)
    server = Server(status(500))
    t = server.transport(max_retries=1)
    with pytest.raises(InternalServerError) as info:
        t.chat_completions(BODY)
    texts = [
        repr(t),
        str(t),
        str(info.value),
        repr(info.value),
        repr(info.value.__dict__),
        caplog.text,
    ]
    assert all(KEY not in text for text in texts)
    assert KEY.encode() not in pickle.dumps(info.value)
    assert KEY.encode() not in pickle.dumps(t)
    assert pickle.loads(pickle.dumps(info.value)).status_code == 500


# ------------------------------------------------------------------------- streams

MODERN = (
    'data: {"id":"a","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":null,"delta":{"token_id":null,"role":"assistant","content":"","reasoning":" user"}}],"model":"m","usage":null}\n\n'
    ": keep-alive\n\n"
    'data: {"id":"a","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"text":"Hi","logprobs":null,"finish_reason":null,"delta":{"role":"assistant","content":"Hi"}}],"model":"m","usage":null}\r\n\r\n'
    'data: {"id":"a","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop","delta":{"role":"assistant","content":""}}],"model":"m","usage":null}\n\n'
    'data: {"id":"a","object":"chat.completion.chunk","created":1,"choices":[],"model":"m","usage":{"prompt_tokens":75,"total_tokens":152,"completion_tokens":77,"reasoning_tokens":0}}\n\n'
    "data: [DONE]\n\n"
)


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes], fail: bool = False) -> None:
        self.pieces, self.fail, self.closed = pieces, fail, False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces
        if self.fail:
            raise httpx.ReadError("cut")

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for piece in self.pieces:
            yield piece
        if self.fail:
            raise httpx.ReadError("cut")

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def sse(pieces: list[bytes], fail: bool = False) -> tuple[Handler, list[Body]]:
    made: list[Body] = []

    def answer(_: httpx.Request) -> httpx.Response:
        body = Body(pieces, fail)
        made.append(body)
        return httpx.Response(200, stream=body, headers={"content-type": "text/event-stream"})

    return answer, made


def collect(transport: TogetherTransport, is_async: bool) -> list[Any]:
    if not is_async:
        return list(transport.chat_completions_stream(BODY))

    async def run() -> list[Any]:
        return [c async for c in await transport.achat_completions_stream(BODY)]

    return asyncio.run(run())


@pytest.mark.parametrize("is_async", [False, True])
def test_stream_decodes_every_event(is_async: bool) -> None:
    answer, _ = sse([MODERN.encode()[i : i + 7] for i in range(0, len(MODERN), 7)])
    chunks = collect(Server(answer).transport(), is_async)
    assert [c.choices[0].delta.content if c.choices else None for c in chunks] == [
        "",
        "Hi",
        "",
        None,
    ]
    assert chunks[0].choices[0].delta.reasoning == " user"
    assert chunks[-1].usage.total_tokens == 152


@pytest.mark.parametrize("is_async", [False, True])
def test_a_stream_without_done_or_finish_is_an_error(is_async: bool) -> None:
    first_event = MODERN.split("\n\n")[0] + "\n\n"
    answer, _ = sse([first_event.encode()])
    with pytest.raises(APIConnectionError, match="incomplete"):
        collect(Server(answer).transport(), is_async)


@pytest.mark.parametrize("is_async", [False, True])
def test_a_cut_stream_is_an_error_and_is_never_retried(is_async: bool) -> None:
    answer, _ = sse([MODERN.encode()[:200]], fail=True)
    server = Server(answer, ok)
    with pytest.raises(APIConnectionError):
        collect(server.transport(), is_async)
    assert len(server.requests) == 1


@pytest.mark.parametrize("is_async", [False, True])
def test_a_429_before_the_stream_starts_is_retried(
    is_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tr.time, "sleep", lambda s: None)

    async def no_sleep(s: float) -> None:
        return None

    monkeypatch.setattr(tr.asyncio, "sleep", no_sleep)
    answer, _ = sse([MODERN.encode()])
    server = Server(status(429, retry_after="0"), answer)
    assert len(collect(server.transport(), is_async)) == 4
    assert len(server.requests) == 2


def test_leaving_a_stream_early_closes_the_response() -> None:
    answer, made = sse([MODERN.encode()])
    stream = Server(answer).transport().chat_completions_stream(BODY)
    for _ in stream:
        break
    del _
    stream.close()
    assert stream.response.is_closed and made[0].closed


# ------------------------------------------------------------------------ SSE decoder

events = st.lists(
    st.tuples(
        st.lists(
            st.text(
                alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                max_size=20,
            ),
            min_size=1,
            max_size=3,
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    events=events,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_split_of_a_valid_stream_decodes_to_the_same_events(
    events: list[tuple[list[str], bool]], newline: str, cuts: list[int]
) -> None:
    text = ""
    for lines, comment in events:
        if comment:
            text += ": ping" + newline
        text += "".join(f"data: {line}{newline}" for line in lines) + newline
    raw = text.encode()
    whole = SSEDecoder()
    expected = whole.feed(raw) + whole.flush()
    assert [e.data for e in expected] == ["\n".join(lines) for lines, _ in events]
    pieces, last = [], 0
    for cut in sorted({min(c, len(raw)) for c in cuts}):
        pieces.append(raw[last:cut])
        last = cut
    pieces.append(raw[last:])
    split = SSEDecoder()
    got = [e for piece in pieces for e in split.feed(piece)] + split.flush()
    assert got == expected
