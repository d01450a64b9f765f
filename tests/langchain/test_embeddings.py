"""TogetherEmbeddings: what reaches the wire, batching, sync/async, errors, secrets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, dumps

from together_integrations import (
    AuthenticationError,
    TogetherTransport,
)
from together_integrations.langchain import TogetherEmbeddings

KEY = "tk-embeddings-secret-0123456789"


def vector_for(text: str) -> list[float]:
    return [b / 255.0 for b in hashlib.sha256(text.encode()).digest()[:8]]


class FakeAPI:
    """``POST /embeddings`` as NOTES §6 describes it, recording every request."""

    def __init__(self, status: int = 200, error: dict[str, Any] | None = None) -> None:
        self.status = status
        self.error = error
        self.requests: list[httpx.Request] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json=self.error)
        body = json.loads(request.content)
        data = [
            {"object": "embedding", "embedding": vector_for(t), "index": i}
            for i, t in enumerate(body["input"])
        ]
        return httpx.Response(
            200, json={"object": "list", "model": body["model"], "data": data[::-1]}
        )

    def transport(self) -> TogetherTransport:
        return TogetherTransport(
            api_key=KEY,
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
        )


Call = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Call:
    """Run ``embed_documents``/``embed_query`` or their async twins, by name."""

    def run(model: TogetherEmbeddings, method: str, arg: Any) -> Any:
        if request.param == "sync":
            return getattr(model, method)(arg)
        return asyncio.run(getattr(model, "a" + method)(arg))

    return run


def test_embed_documents_sends_one_batched_request(call: Call) -> None:
    api = FakeAPI()
    model = TogetherEmbeddings(transport=api.transport())
    out = call(model, "embed_documents", ["alpha", "beta"])
    assert out == [vector_for("alpha"), vector_for("beta")]
    assert api.bodies == [
        {"model": "intfloat/multilingual-e5-large-instruct", "input": ["alpha", "beta"]}
    ]
    assert api.requests[0].url.path.endswith("/embeddings")


def test_embed_query_sends_a_one_item_list(call: Call) -> None:
    api = FakeAPI()
    model = TogetherEmbeddings(model="BAAI/bge-base-en-v1.5", transport=api.transport())
    assert call(model, "embed_query", "what is up") == vector_for("what is up")
    assert api.bodies == [{"model": "BAAI/bge-base-en-v1.5", "input": ["what is up"]}]


def test_batching_settings_reach_the_batcher(call: Call) -> None:
    api = FakeAPI()
    model = TogetherEmbeddings(transport=api.transport(), batch_size=2, max_concurrency=1)
    docs = [f"doc {i}" for i in range(5)]
    assert call(model, "embed_documents", docs) == [vector_for(d) for d in docs]
    assert [b["input"] for b in api.bodies] == [docs[0:2], docs[2:4], docs[4:]]


def test_token_budget_splits_requests(call: Call) -> None:
    api = FakeAPI()
    model = TogetherEmbeddings(transport=api.transport(), max_tokens_per_batch=10)
    docs = ["x" * 24, "y" * 24, "z" * 80]  # 6, 6 and 20 estimated tokens
    call(model, "embed_documents", docs)
    assert sorted(len(b["input"]) for b in api.bodies) == [1, 1, 1]
    assert sorted(b["input"][0] for b in api.bodies) == sorted(docs)  # never truncated


def test_model_kwargs_are_sent(call: Call) -> None:
    api = FakeAPI()
    model = TogetherEmbeddings(transport=api.transport(), model_kwargs={"truncate": "END"})
    call(model, "embed_query", "hi")
    assert api.bodies[0]["truncate"] == "END"


def test_empty_list_makes_no_request(call: Call) -> None:
    api = FakeAPI()
    assert call(TogetherEmbeddings(transport=api.transport()), "embed_documents", []) == []
    assert api.requests == []


def test_empty_string_is_a_clear_value_error(call: Call) -> None:
    api = FakeAPI()
    with pytest.raises(ValueError, match="Cannot embed empty strings"):
        call(TogetherEmbeddings(transport=api.transport()), "embed_query", "")
    assert api.requests == []


def test_api_errors_are_typed(call: Call) -> None:
    api = FakeAPI(
        status=401,
        error={
            "id": "omJGQiH-2kFHot-a04666c029ada2f9",
            "error": {
                "message": "Invalid API key provided.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            },
        },
    )
    with pytest.raises(AuthenticationError) as info:
        call(TogetherEmbeddings(transport=api.transport()), "embed_query", "hi")
    assert info.value.code == "invalid_api_key"
    assert KEY not in str(info.value) and KEY not in repr(info.value)


def test_dimensions_for_a_model_without_them_fail_at_construction() -> None:
    # pydantic wraps the TogetherConfigError; both are ValueErrors with the same message.
    with pytest.raises(ValueError, match="does not accept `dimensions`"):
        TogetherEmbeddings(model="BAAI/bge-base-en-v1.5", dimensions=128, api_key=KEY)


def test_construction_does_no_io_and_settings_travel_per_request() -> None:
    api = FakeAPI()
    transport = api.transport()
    model = TogetherEmbeddings(
        transport=transport, timeout=5, max_retries=0, default_headers={"X-App": "demo"}
    )
    assert api.requests == []
    model.embed_query("hi")
    assert api.requests[0].headers["x-app"] == "demo"
    assert api.requests[0].extensions["timeout"]["read"] == 5


def test_instances_with_the_same_key_share_one_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    a = TogetherEmbeddings(timeout=1)
    b = TogetherEmbeddings(model="BAAI/bge-base-en-v1.5", max_retries=5)
    assert a._get_transport() is b._get_transport()
    assert a.api_key is not None and a.api_key.get_secret_value() == KEY


def test_key_is_never_shown_or_serialised() -> None:
    model = TogetherEmbeddings(api_key=KEY)
    assert model.api_key is not None and model.api_key.get_secret_value() == KEY
    for text in (repr(model), str(model), dumps(model), json.dumps(dumpd(model)), str(vars(model))):
        assert KEY not in text
    assert KEY.encode() not in pickle.dumps(model)


def test_pickle_round_trip_keeps_settings_and_reads_key_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "tk-from-env")
    model = TogetherEmbeddings(api_key=KEY, batch_size=7, model="BAAI/bge-base-en-v1.5")
    copy = pickle.loads(pickle.dumps(model))
    assert (copy.model, copy.batch_size) == ("BAAI/bge-base-en-v1.5", 7)
    assert copy.api_key is not None and copy.api_key.get_secret_value() == "tk-from-env"
