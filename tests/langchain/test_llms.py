"""TogetherLLM on ``POST /completions``: wire JSON, both stream dialects, usage, logprobs,
errors, tracing params and secret-free serialisation."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, loads
from langchain_core.outputs import LLMResult

from together_integrations import (
    APIConnectionError,
    BadRequestError,
    TogetherTransport,
)
from together_integrations.langchain import TogetherLLM

KEY = "tk-llm-secret-0123456789"
MODEL = "mistralai/Mixtral-8x7B-v0.1"
USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
LEGACY_LOGPROBS = {"tokens": [" Par", "is"], "token_logprobs": [-0.5, -0.01], "token_ids": []}
OPENAI_LOGPROBS = {
    "content": [
        {"token": " Par", "logprob": -0.5, "bytes": None, "top_logprobs": []},
        {"token": "is", "logprob": -0.01, "bytes": None, "top_logprobs": []},
    ]
}


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


class FakeCompletionsAPI:
    """``POST /completions`` as recorded (NOTES §5): ``eos``, usage in the finish chunk
    (legacy dialect) or in a separate ``choices: []`` chunk (modern dialect)."""

    def __init__(
        self,
        *,
        words: tuple[str, ...] = (" Par", "is", "."),
        dialect: str = "legacy",
        logprobs: dict[str, Any] | None = None,
        reply: Callable[[dict[str, Any]], httpx.Response] | None = None,
    ) -> None:
        self.words = words
        self.dialect = dialect
        self.logprobs = logprobs
        self.reply = reply
        self.requests: list[httpx.Request] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def _chunk(self, text: str, finish: str | None, usage: Any, lp: Any) -> dict[str, Any]:
        return {
            "id": "914c46557dc46428",
            "object": "completion.chunk",
            "created": 1740031209,
            "choices": [
                {
                    "index": 0,
                    "text": text,
                    "logprobs": lp,
                    "finish_reason": finish,
                    "seed": None,
                    "delta": {"token_id": 323, "role": "assistant", "content": text},
                }
            ],
            "model": MODEL,
            "usage": usage,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        if self.reply is not None:
            return self.reply(body)
        if body.get("stream"):
            events = [
                self._chunk(
                    w,
                    None,
                    None,
                    {"tokens": [w], "token_logprobs": [-0.1], "token_ids": [None]}
                    if body.get("logprobs")
                    else None,
                )
                for w in self.words
            ]
            if self.dialect == "legacy":
                events.append(self._chunk("", "eos", USAGE, None))
            else:
                events.append(self._chunk("", "stop", None, None))
                events.append(
                    {
                        "id": "x",
                        "object": "completion.chunk",
                        "created": 1,
                        "choices": [],
                        "model": MODEL,
                        "usage": USAGE,
                    }
                )
            return httpx.Response(
                200, content=sse(events), headers={"content-type": "text/event-stream"}
            )
        choices = [
            {
                "text": "".join(self.words) + (f" #{i}" if body.get("n", 1) > 1 else ""),
                "finish_reason": "eos",
                "seed": 16804105058607157000,
                "logprobs": self.logprobs,
                "index": i,
            }
            for i in range(body.get("n", 1))
        ]
        return httpx.Response(
            200,
            json={
                "id": "8ff411e559717015",
                "object": "text.completion",
                "created": 1736421961,
                "model": body["model"],
                "prompt": [],
                "choices": choices[::-1],  # order must come from `index`
                "usage": USAGE,
            },
        )

    def transport(self) -> TogetherTransport:
        return TogetherTransport(
            api_key=KEY,
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
        )


def llm(api: FakeCompletionsAPI, **kwargs: Any) -> TogetherLLM:
    return TogetherLLM(model=MODEL, transport=api.transport(), **kwargs)


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``run(obj, "invoke", *args)`` calls ``invoke`` or awaits ``ainvoke``."""

    def call(obj: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if request.param == "sync":
            return getattr(obj, method)(*args, **kwargs)
        return asyncio.run(getattr(obj, "a" + method)(*args, **kwargs))

    return call


@pytest.fixture(params=["sync", "async"])
def stream(request: pytest.FixtureRequest) -> Callable[..., list[Any]]:
    def collect(obj: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if request.param == "sync":
            return list(obj.stream(*args, **kwargs))

        async def go() -> list[Any]:
            return [c async for c in obj.astream(*args, **kwargs)]

        return asyncio.run(go())

    return collect


# ------------------------------------------------------------------------- invoke


def test_invoke_sends_prompt_and_sampling_params(run: Callable[..., Any]) -> None:
    api = FakeCompletionsAPI()
    model = llm(
        api,
        temperature=0.5,
        max_tokens=16,
        top_p=0.9,
        top_k=40,
        repetition_penalty=1.1,
        seed=7,
        echo=False,
        stop=["\n"],
        model_kwargs={"min_p": 0.05},
        extra_body={"safety_model": "meta-llama/Meta-Llama-Guard-3-8B"},
    )
    assert run(model, "invoke", "The capital of France is") == " Paris."
    assert api.bodies == [
        {
            "model": MODEL,
            "prompt": "The capital of France is",
            "temperature": 0.5,
            "max_tokens": 16,
            "top_p": 0.9,
            "top_k": 40,
            "repetition_penalty": 1.1,
            "seed": 7,
            "echo": False,
            "stop": ["\n"],
            "stream": False,
            "min_p": 0.05,
            "safety_model": "meta-llama/Meta-Llama-Guard-3-8B",
        }
    ]
    assert api.requests[0].url.path.endswith("/completions")


def test_unset_params_are_not_sent(run: Callable[..., Any]) -> None:
    api = FakeCompletionsAPI()
    run(llm(api), "invoke", "Hi")
    assert api.bodies == [{"model": MODEL, "prompt": "Hi", "stream": False}]


def test_call_stop_and_kwargs_override_defaults(run: Callable[..., Any]) -> None:
    api = FakeCompletionsAPI()
    model = llm(api, stop=["\n"], temperature=0.1)
    run(model, "invoke", "Hi", stop=["END"], temperature=0.9)
    assert api.bodies[0]["stop"] == ["END"] and api.bodies[0]["temperature"] == 0.9


def test_generate_reports_usage_finish_reason_and_n(run: Callable[..., Any]) -> None:
    api = FakeCompletionsAPI()
    result: LLMResult = run(llm(api, n=2), "generate", ["one", "two"])
    assert [b["n"] for b in api.bodies] == [2, 2]
    assert [[g.text for g in gens] for gens in result.generations] == [
        [" Paris. #0", " Paris. #1"],
        [" Paris. #0", " Paris. #1"],
    ]
    assert result.generations[0][0].generation_info == {"finish_reason": "stop"}
    assert result.llm_output == {
        "token_usage": {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14},
        "model_name": MODEL,
    }


@pytest.mark.parametrize("wire", [LEGACY_LOGPROBS, OPENAI_LOGPROBS], ids=["legacy", "openai"])
def test_logprobs_are_normalised_from_either_shape(
    run: Callable[..., Any], wire: dict[str, Any]
) -> None:
    api = FakeCompletionsAPI(logprobs=wire)
    result = run(llm(api, logprobs=1), "generate", ["Capital?"])
    assert api.bodies[0]["logprobs"] == 1
    assert result.generations[0][0].generation_info["logprobs"] == [
        {"token": " Par", "logprob": -0.5, "bytes": None, "top_logprobs": []},
        {"token": "is", "logprob": -0.01, "bytes": None, "top_logprobs": []},
    ]


def test_logprobs_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="logprobs"):
        TogetherLLM(logprobs=21, api_key=KEY)


# ---------------------------------------------------------------------- streaming


@pytest.mark.parametrize("dialect", ["legacy", "modern"])
def test_stream_yields_tokens_then_finish_and_usage(
    stream: Callable[..., list[Any]], dialect: str
) -> None:
    api = FakeCompletionsAPI(dialect=dialect)
    chunks = stream(llm(api), "The capital of France is")
    assert chunks[:3] == [" Par", "is", "."]
    assert "".join(chunks) == " Paris."
    assert api.bodies[0]["stream"] is True


@pytest.mark.parametrize("dialect", ["legacy", "modern"])
def test_stream_chunks_carry_usage_at_the_end(dialect: str) -> None:
    api = FakeCompletionsAPI(dialect=dialect)
    chunks = list(llm(api)._stream("Hi"))
    assert [c.text for c in chunks] == [" Par", "is", ".", ""]
    assert chunks[-1].generation_info == {
        "finish_reason": "stop",
        "model_name": MODEL,
        "token_usage": USAGE,
    }


def test_streaming_flag_aggregates_and_reports_tokens(run: Callable[..., Any]) -> None:
    tokens: list[str] = []

    class Collect(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

    api = FakeCompletionsAPI(dialect="modern")
    result = run(llm(api, streaming=True, logprobs=1), "generate", ["Hi"], callbacks=[Collect()])
    assert tokens == [" Par", "is", "."]
    assert api.bodies[0]["stream"] is True
    generation = result.generations[0][0]
    assert generation.text == " Paris."
    assert generation.generation_info["finish_reason"] == "stop"
    assert [t["token"] for t in generation.generation_info["logprobs"]] == [" Par", "is", "."]
    assert result.llm_output["token_usage"] == USAGE


def test_streaming_more_than_one_completion_is_refused(stream: Callable[..., list[Any]]) -> None:
    api = FakeCompletionsAPI()
    with pytest.raises(ValueError, match="set n=1 to stream"):
        stream(llm(api, n=2), "Hi")
    assert api.requests == []


def test_stream_cut_before_finish_raises(stream: Callable[..., list[Any]]) -> None:
    def cut(body: dict[str, Any]) -> httpx.Response:
        partial = FakeCompletionsAPI()._chunk("Par", None, None, None)
        return httpx.Response(
            200,
            content=f"data: {json.dumps(partial)}\n\n".encode(),
            headers={"content-type": "text/event-stream"},
        )

    with pytest.raises(APIConnectionError, match="incomplete"):
        stream(llm(FakeCompletionsAPI(reply=cut)), "Hi")


# ------------------------------------------------------------------------- errors


def test_status_errors_are_typed(run: Callable[..., Any]) -> None:
    def bad(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "id": "o9REoaF-28Eivz-97807c3f8f21a30b",
                "error": {
                    "message": "Prompt cannot be empty",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                },
            },
        )

    with pytest.raises(BadRequestError, match="Prompt cannot be empty") as info:
        run(llm(FakeCompletionsAPI(reply=bad)), "invoke", "")
    assert KEY not in str(info.value)


def test_missing_key_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    model = TogetherLLM(base_url="https://api.together.test/v1")
    with pytest.raises(ValueError, match="TOGETHER_API_KEY"):
        model.invoke("Hi")


# ------------------------------------------------------- metadata and serialisation


def test_type_identifying_and_tracing_params() -> None:
    model = TogetherLLM(model=MODEL, temperature=0.3, max_tokens=9, stop=["x"], api_key=KEY)
    assert model._llm_type == "together"
    assert model._identifying_params == {"model": MODEL, "temperature": 0.3, "max_tokens": 9}
    params = model._get_ls_params()
    assert params["ls_provider"] == "together"
    assert params["ls_model_name"] == MODEL
    assert params["ls_model_type"] == "llm"
    assert params["ls_temperature"] == 0.3 and params["ls_max_tokens"] == 9
    assert params["ls_stop"] == ["x"]


@pytest.mark.filterwarnings("ignore:The function `loads` is in beta")
def test_serialised_with_the_key_as_a_secret_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    model = TogetherLLM(model=MODEL, temperature=0.2, api_key=KEY)
    data = dumpd(model)
    assert data["id"] == ["together_integrations", "langchain", "llms", "TogetherLLM"]
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["TOGETHER_API_KEY"]}
    text = dumps(model)
    for shown in (text, repr(model), str(model), json.dumps(data)):
        assert KEY not in shown
    assert KEY.encode() not in pickle.dumps(model)
    restored = loads(
        text,
        secrets_map={"TOGETHER_API_KEY": KEY},
        valid_namespaces=["together_integrations"],
        allowed_objects=[TogetherLLM],
    )
    assert isinstance(restored, TogetherLLM)
    assert restored.temperature == 0.2 and restored.model == MODEL
    assert restored.api_key is not None and restored.api_key.get_secret_value() == KEY


def test_key_from_environment_is_still_a_secret_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    model = TogetherLLM(model=MODEL)
    assert model.api_key is not None and model.api_key.get_secret_value() == KEY
    assert KEY not in dumps(model)
