"""ChatTogether: content blocks, errors, logprobs shapes, serialisation, profile, token
estimates, client settings and the Runnable features LangChain users rely on."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.load import dumpd, dumps, load, loads
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.rate_limiters import InMemoryRateLimiter

import together_integrations
from together_integrations import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TogetherTransport,
)
from together_integrations.langchain import ChatTogether
from together_integrations.testing import TogetherEmulator

MODEL = "openai/gpt-oss-20b"
VISION_MODEL = "Qwen/Qwen2.5-VL-72B-Instruct"
KEY = "tgp_v1_VerySecretKeyValue"


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


def stream(runnable: Any, value: Any, mode: str) -> list[Any]:
    if mode == "sync":
        return list(runnable.stream(value))

    async def collect() -> list[Any]:
        return [chunk async for chunk in runnable.astream(value)]

    return asyncio.run(collect())


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    out = chunks[0]
    for chunk in chunks[1:]:
        out = out + chunk
    return out


def sent(emu: TogetherEmulator) -> dict[str, Any]:
    body = emu.requests[-1].json
    assert isinstance(body, dict)
    return body


def mock_llm(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> ChatTogether:
    """A ChatTogether whose requests go to ``handler`` (httpx.MockTransport), via the
    http_client / http_async_client passthrough."""
    return ChatTogether(
        model=MODEL,
        api_key="test-key",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


def sse(*events: dict[str, Any]) -> httpx.Response:
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def completion(**choice: Any) -> dict[str, Any]:
    message = choice.pop("message", {"role": "assistant", "content": "Hi"})
    return {
        "id": "o1-abc",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "system_fingerprint": "fp_123",
        "choices": [{"index": 0, "finish_reason": "stop", "message": message, **choice}],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 2,
            "total_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 3},
            "completion_tokens_details": {"reasoning_tokens": 1},
        },
    }


# ------------------------------------------------------------------ multimodal


IMAGE_BLOCKS: list[tuple[dict[str, Any], str]] = [
    (
        {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "low"}},
        "https://x/a.png",
    ),
    ({"type": "image_url", "image_url": "https://x/b.png"}, "https://x/b.png"),
    ({"type": "image", "url": "https://x/c.png"}, "https://x/c.png"),
    ({"type": "image", "base64": "AAAA", "mime_type": "image/png"}, "data:image/png;base64,AAAA"),
    ({"type": "image", "source_type": "url", "url": "https://x/d.png"}, "https://x/d.png"),
    (
        {"type": "image", "source_type": "base64", "data": "BBBB", "mime_type": "image/webp"},
        "data:image/webp;base64,BBBB",
    ),
]


def test_images_by_url_and_base64_in_every_block_form(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model=VISION_MODEL, transport=emu.transport())
    content: list[Any] = [{"type": "text", "text": "describe"}] + [b for b, _ in IMAGE_BLOCKS]
    llm.invoke([HumanMessage(content=content)])
    parts = sent(emu)["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "describe"}
    assert parts[1:] == [
        {"type": "image_url", "image_url": {"url": url}} for _, url in IMAGE_BLOCKS
    ]


def test_images_inside_tool_messages(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model=VISION_MODEL, transport=emu.transport())
    ai = AIMessage("", tool_calls=[{"name": "snap", "args": {}, "id": "call_1"}])
    result = ToolMessage(
        [{"type": "text", "text": "the photo"}, {"type": "image", "url": "https://x/p.png"}],
        tool_call_id="call_1",
    )
    llm.invoke([HumanMessage("take a photo"), ai, result])
    assert sent(emu)["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": [
            {"type": "text", "text": "the photo"},
            {"type": "image_url", "image_url": {"url": "https://x/p.png"}},
        ],
    }


def test_video_and_audio_blocks(emu: TogetherEmulator, llm: ChatTogether) -> None:
    content: list[Any] = [
        {"type": "video", "url": "https://x/v.mp4"},
        {"type": "audio", "url": "https://x/a.mp3"},
        {"type": "audio", "base64": "UklG", "mime_type": "audio/wav"},
        {"type": "video_url", "video_url": {"url": "https://x/w.mp4"}},
    ]
    llm.invoke([HumanMessage(content=content)])
    assert sent(emu)["messages"][0]["content"] == [
        {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}},
        {"type": "audio_url", "audio_url": {"url": "https://x/a.mp3"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "video_url", "video_url": {"url": "https://x/w.mp4"}},
    ]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (HumanMessage(content=[{"type": "hologram"}]), "Unsupported content block type 'hologram'"),
        (HumanMessage(content=[{"type": "file", "url": "https://x/a.pdf"}]), "file/PDF"),
        (HumanMessage(content=[{"type": "image", "file_id": "file-1"}]), "file ids"),
        (HumanMessage(content=[{"type": "image"}]), "needs 'url' or 'base64'"),
        (SystemMessage(content=[{"type": "image", "url": "https://x/a.png"}]), "only carry text"),
        (FunctionMessage(content="x", name="f"), "ToolMessage"),
    ],
)
def test_content_together_cannot_take_is_an_error_not_dropped(
    emu: TogetherEmulator, llm: ChatTogether, message: Any, error: str
) -> None:
    with pytest.raises(TypeError, match=error):
        llm.invoke([message])
    assert emu.requests == []


def test_system_text_blocks_become_one_string(emu: TogetherEmulator, llm: ChatTogether) -> None:
    system = SystemMessage(content=[{"type": "text", "text": "Be "}, "brief."])
    llm.invoke([system, HumanMessage("hi")])
    assert sent(emu)["messages"][0] == {"role": "system", "content": "Be brief."}


# ------------------------------------------------------------------- logprobs


LEGACY_LOGPROBS = {"tokens": ["Hi", "!"], "token_logprobs": [-0.5, -1.0], "token_ids": []}
OPENAI_LOGPROBS = {
    "content": [
        {
            "token": "Hi",
            "logprob": -0.5,
            "bytes": [72, 105],
            "top_logprobs": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105]}],
        },
        {"token": "!", "logprob": -1.0, "bytes": [33], "top_logprobs": []},
    ]
}


@pytest.mark.parametrize("shape", [LEGACY_LOGPROBS, OPENAI_LOGPROBS], ids=["legacy", "openai"])
def test_logprobs_in_both_wire_shapes_become_one_shape(shape: dict[str, Any], mode: str) -> None:
    llm = mock_llm(lambda request: httpx.Response(200, json=completion(logprobs=shape)))
    msg = invoke(llm, "hi", mode, logprobs=True)
    content = msg.response_metadata["logprobs"]["content"]
    assert [(t["token"], t["logprob"]) for t in content] == [("Hi", -0.5), ("!", -1.0)]
    assert all(set(t) == {"token", "logprob", "bytes", "top_logprobs"} for t in content)
    if shape is OPENAI_LOGPROBS:
        assert content[0]["top_logprobs"] == [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105]}]


def test_streamed_logprobs_are_concatenated(mode: str) -> None:
    def chunk(text: str, lp: float, finish: str | None = None) -> dict[str, Any]:
        logprobs = {
            "tokens": [text],
            "token_logprobs": [lp],
            "token_ids": [None],
            "top_logprobs": [[{"token": text, "logprob": lp}]],
        }
        return {
            "id": "s1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": MODEL,
            "system_fingerprint": "fp_9",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": text},
                    "logprobs": logprobs,
                    "finish_reason": finish,
                }
            ],
        }

    llm = mock_llm(lambda request: sse(chunk("Hel", -0.1), chunk("lo", -0.2, "stop")))
    full = merged(stream(llm, "hi", mode))
    content = full.response_metadata["logprobs"]["content"]
    assert [(t["token"], t["logprob"]) for t in content] == [("Hel", -0.1), ("lo", -0.2)]
    assert content[1]["top_logprobs"] == [{"token": "lo", "logprob": -0.2, "bytes": None}]
    assert full.response_metadata["system_fingerprint"] == "fp_9"  # reported once


def test_system_fingerprint_and_usage_details(mode: str) -> None:
    llm = mock_llm(lambda request: httpx.Response(200, json=completion()))
    msg = invoke(llm, "hi", mode)
    assert msg.response_metadata["system_fingerprint"] == "fp_123"
    assert msg.usage_metadata == {
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
        "input_token_details": {"cache_read": 3},
        "output_token_details": {"reasoning": 1},
    }


def test_missing_finish_reason_and_null_content() -> None:
    payload = completion(message={"role": "assistant", "content": None})
    payload["choices"][0].pop("finish_reason")
    msg = mock_llm(lambda request: httpx.Response(200, json=payload)).invoke("hi")
    assert msg.content == "" and msg.response_metadata["finish_reason"] is None


# ---------------------------------------------------------------------- errors


ERROR_CASES: list[tuple[dict[str, Any], type[Exception], type[ModelError]]] = [
    ({"status": 400, "message": "bad field"}, BadRequestError, ModelInvalidRequestError),
    ({"status": 401}, AuthenticationError, ModelAuthenticationError),
    ({"status": 403}, PermissionDeniedError, ModelPermissionDeniedError),
    ({"status": 429, "retry_after": 0}, RateLimitError, ModelRateLimitError),
    ({"status": 500}, InternalServerError, ModelAPIError),
]


@pytest.mark.parametrize(("fault", "ours", "theirs"), ERROR_CASES, ids=lambda x: str(x))
def test_status_errors_are_ours_and_langchains(
    emu: TogetherEmulator,
    llm: ChatTogether,
    mode: str,
    fault: dict[str, Any],
    ours: type[Exception],
    theirs: type[ModelError],
) -> None:
    emu.fail("status", **fault)
    with pytest.raises(ours) as info:
        invoke(llm, "hi", mode)
    assert isinstance(info.value, theirs)
    error: Any = info.value
    cause: Any = error.__cause__
    assert error.status_code == fault["status"]
    assert issubclass(type(cause), ours) and not issubclass(type(cause), ModelError)
    assert str(error) == str(cause) and error.request_id == cause.request_id
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is type(error) and restored.status_code == fault["status"]


def test_stream_errors_are_dual_typed(emu: TogetherEmulator, llm: ChatTogether, mode: str) -> None:
    emu.fail("status", status=429, retry_after=61)
    with pytest.raises(ModelRateLimitError) as info:
        stream(llm, "hi", mode)
    assert isinstance(info.value, RateLimitError) and info.value.retry_after == 61


def test_not_found_and_context_overflow(emu: TogetherEmulator, mode: str) -> None:
    missing = ChatTogether(model="no/such-model", transport=emu.transport(max_retries=0))
    with pytest.raises(NotFoundError) as info:
        invoke(missing, "hi", mode)
    assert isinstance(info.value, ModelNotFoundError) and info.value.status_code == 404
    small = ChatTogether(model="google/gemma-3n-E4B-it", transport=emu.transport(max_retries=0))
    with pytest.raises(ContextOverflowError) as overflow:
        invoke(small, "word " * 40_000, mode)
    assert isinstance(overflow.value, BadRequestError)
    assert not isinstance(overflow.value, ModelInvalidRequestError)


@pytest.mark.parametrize(
    ("exc", "theirs"),
    [
        (httpx.ConnectError("refused"), ModelConnectionError),
        (httpx.ReadTimeout("slow"), ModelTimeoutError),
    ],
)
def test_connection_and_timeout_errors(exc: Exception, theirs: type[ModelError], mode: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(APIConnectionError) as info:
        invoke(mock_llm(handler), "hi", mode)
    assert isinstance(info.value, theirs)
    assert isinstance(info.value, APITimeoutError) == (theirs is ModelTimeoutError)
    assert info.value.is_retryable is True


# ------------------------------------------------------- serialisation, secrets


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_key_is_secret_everywhere(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model=MODEL, api_key=KEY, temperature=0.3)
    assert KEY not in repr(llm) and KEY not in str(llm)
    text = dumps(llm)
    assert KEY not in text and "TOGETHER_API_KEY" in text
    assert json.loads(text)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["TOGETHER_API_KEY"],
    }
    restored = loads(
        text,
        secrets_map={"TOGETHER_API_KEY": KEY},
        valid_namespaces=["together_integrations"],
        allowed_objects=[ChatTogether],
    )
    assert isinstance(restored, ChatTogether)
    assert restored.model == MODEL and restored.temperature == 0.3
    assert restored.api_key is not None and restored.api_key.get_secret_value() == KEY
    assert KEY.encode() not in pickle.dumps(llm)
    assert KEY not in json.dumps(llm.model_dump(), default=str)


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_dumpd_load_round_trip_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    llm = ChatTogether(model=MODEL, max_tokens=9, stop=["x"], together_api_base="https://e.test/v1")
    assert llm.api_key is not None and llm.api_key.get_secret_value() == KEY
    data = dumpd(llm)
    assert data["id"] == ["together_integrations", "langchain", "chat_models", "ChatTogether"]
    restored = load(
        data,
        secrets_from_env=True,
        valid_namespaces=["together_integrations"],
        allowed_objects=[ChatTogether],
    )
    assert restored.asdict() == llm.asdict() and restored.base_url == "https://e.test/v1"


def test_pickle_keeps_settings_not_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = ChatTogether(model=MODEL, api_key=KEY, temperature=0.1)
    monkeypatch.setenv("TOGETHER_API_KEY", "key-of-the-loading-process")
    restored = pickle.loads(pickle.dumps(llm))
    assert restored.temperature == 0.1 and restored.api_key is not None
    assert restored.api_key.get_secret_value() == "key-of-the-loading-process"


# ------------------------------------------------- profile, tokens, ls params


def test_profile_from_the_catalog() -> None:
    profile = ChatTogether(model=MODEL, api_key="k").profile
    assert profile is not None
    assert profile["max_input_tokens"] == 131_072 and profile["tool_calling"] is True
    assert profile["structured_output"] is True and profile["reasoning_output"] is True
    assert profile["image_inputs"] is False and profile["text_outputs"] is True
    vision = ChatTogether(model=VISION_MODEL, api_key="k").profile
    assert vision is not None and vision["image_inputs"] is True and vision["image_url_inputs"]
    gemma = ChatTogether(model="google/gemma-3n-E4B-it", api_key="k").profile
    assert gemma is not None and gemma["tool_calling"] is False
    guessed = ChatTogether(model="acme/unknown-vl-7b", api_key="k").profile
    assert guessed is not None and guessed["image_inputs"] is True
    given = ChatTogether(model=MODEL, api_key="k", profile={"max_input_tokens": 5}).profile
    assert given == {"max_input_tokens": 5}


def test_ls_params(llm: ChatTogether) -> None:
    tuned = ChatTogether(model=MODEL, temperature=0.2, max_tokens=10, stop=["x"], api_key="k")
    assert tuned._get_ls_params() == {
        "ls_provider": "together",
        "ls_model_name": MODEL,
        "ls_model_type": "chat",
        "ls_temperature": 0.2,
        "ls_max_tokens": 10,
        "ls_stop": ["x"],
    }
    override = tuned._get_ls_params(stop=["y"], model="openai/gpt-oss-120b", max_tokens=3)
    assert override["ls_model_name"] == "openai/gpt-oss-120b"
    assert override["ls_stop"] == ["y"] and override["ls_max_tokens"] == 3


def test_token_estimates_are_offline_and_documented(llm: ChatTogether) -> None:
    assert llm.get_num_tokens("") == 0 and llm.get_num_tokens("abcdefgh") == 2
    assert llm.get_num_tokens("abcdefghi") == 3
    one = llm.get_num_tokens_from_messages([HumanMessage("abcd" * 10)])
    assert one == 3 + 4 + 10
    image = HumanMessage([{"type": "image", "base64": "A" * 100_000, "mime_type": "image/png"}])
    assert llm.get_num_tokens_from_messages([image]) == 3 + 4 + 1_000
    ai = AIMessage("", tool_calls=[{"name": "f", "args": {"a": 1}, "id": "1"}])
    assert llm.get_num_tokens_from_messages([ai]) > 7

    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    with_tools = llm.get_num_tokens_from_messages([HumanMessage("hi")], tools=[lookup])
    assert with_tools > llm.get_num_tokens_from_messages([HumanMessage("hi")])


# ------------------------------------------------------------- client settings


def test_construction_does_no_io_and_resolves_the_transport_once(
    monkeypatch: pytest.MonkeyPatch, emu: TogetherEmulator
) -> None:
    calls: list[dict[str, Any]] = []
    transport = emu.transport()

    def shared(**kwargs: Any) -> TogetherTransport:
        calls.append(kwargs)
        return transport  # type: ignore[no-any-return]

    monkeypatch.setattr(TogetherTransport, "shared", staticmethod(shared))
    llm = ChatTogether(model=MODEL, api_key="k", timeout=5)
    assert calls == []  # nothing resolved, no pool built
    llm.invoke("one")
    llm.invoke("two")
    assert len(calls) == 1 and calls[0]["base_url"] is None
    assert len(emu.requests) == 2


def test_http_clients_are_used_and_headers_sent(mode: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion())

    llm = mock_llm(handler, default_headers={"X-App": "demo"}, default_query={"trace": "1"})
    assert invoke(llm, "hi", mode).content == "Hi"
    assert seen[0].headers["x-app"] == "demo" and seen[0].url.params["trace"] == "1"
    assert seen[0].headers["authorization"] == "Bearer test-key"


# ------------------------------------------------------------ Runnable features


def test_batch_and_abatch(emu: TogetherEmulator, llm: ChatTogether) -> None:
    outs = llm.batch(["one", "two"])
    assert sorted(str(m.content) for m in outs) == ["You said: one", "You said: two"]
    aouts = asyncio.run(llm.abatch(["three"]))
    assert aouts[0].content == "You said: three"


def test_stream_events_and_callbacks(emu: TogetherEmulator, llm: ChatTogether) -> None:
    class Tokens(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            self.tokens.append(str(token))

    handler = Tokens()
    emu.reply("streamed text here")
    list(llm.stream("hi", config={"callbacks": [handler]}))
    assert "".join(handler.tokens) == "streamed text here" and len(handler.tokens) > 2

    async def events() -> list[Any]:
        emu.reply("event text")
        return [e async for e in llm.astream_events("hi", version="v2")]

    seen: list[dict[str, Any]] = asyncio.run(events())
    kinds = [e["event"] for e in seen]
    assert kinds[0] == "on_chat_model_start" and kinds[-1] == "on_chat_model_end"
    text = "".join(
        str(e["data"]["chunk"].content) for e in seen if e["event"] == "on_chat_model_stream"
    )
    assert text == "event text"
    assert seen[-1]["data"]["output"].usage_metadata is not None


def test_disable_streaming_and_rate_limiter(emu: TogetherEmulator) -> None:
    llm = ChatTogether(model=MODEL, transport=emu.transport(), disable_streaming=True)
    chunks = list(llm.stream("hi"))
    assert sent(emu)["stream"] is False and len(chunks) == 1
    limiter = InMemoryRateLimiter(requests_per_second=1_000, check_every_n_seconds=0.001)
    limited = ChatTogether(model=MODEL, transport=emu.transport(), rate_limiter=limiter)
    assert limited.invoke("hi").content == "You said: hi"


def test_errors_are_importable_for_users() -> None:
    from together_integrations.langchain._errors import LCRateLimitError

    assert issubclass(LCRateLimitError, together_integrations.RateLimitError)
    assert issubclass(LCRateLimitError, ModelRateLimitError)


def _status_error(cls: type[Any], status: int, message: str, **kwargs: Any) -> Any:
    return cls(message, status_code=status, request_id="req-1", **kwargs)


@pytest.mark.parametrize(
    ("error", "theirs", "retryable"),
    [
        (
            _status_error(together_integrations.InsufficientCreditsError, 402, "no credits"),
            ModelAPIError,
            False,
        ),
        (_status_error(together_integrations.ConflictError, 409, "busy"), ModelAPIError, True),
        (
            _status_error(together_integrations.UnprocessableEntityError, 422, "bad"),
            ModelInvalidRequestError,
            False,
        ),
        (
            _status_error(BadRequestError, 400, "x", code="context_length_exceeded"),
            ContextOverflowError,
            False,
        ),
        (
            _status_error(BadRequestError, 400, "This model's maximum context length is 8192"),
            ContextOverflowError,
            False,
        ),
        (_status_error(together_integrations.APIStatusError, 418, "teapot"), ModelAPIError, True),
        (
            together_integrations.APIResponseValidationError("not JSON", status_code=200, body="<"),
            ModelAPIError,
            True,
        ),
    ],
    ids=lambda x: type(x).__name__,
)
def test_every_error_class_has_a_langchain_twin(
    error: Any, theirs: type[ModelError], retryable: bool
) -> None:
    from together_integrations.langchain._errors import to_langchain_error

    dual = to_langchain_error(error)
    assert isinstance(dual, type(error)) and isinstance(dual, theirs)
    assert dual.__dict__ == error.__dict__ and str(dual) == str(error)
    assert dual.is_retryable is retryable  # type: ignore[attr-defined]
    assert to_langchain_error(dual) is dual
    assert type(pickle.loads(pickle.dumps(dual))) is type(dual)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.setenv("TOGETHER_API_BASE", "https://proxy.test/v1")
    llm = ChatTogether(model=MODEL)  # no key yet: building never fails or touches the network
    assert llm.api_key is None and llm.base_url == "https://proxy.test/v1"
    with pytest.raises(together_integrations.TogetherConfigError, match="TOGETHER_API_KEY"):
        llm.invoke("hi")
