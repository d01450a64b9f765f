"""EmbeddingBatcher: batching by count and budget, bounded concurrency, order, validation.

Every test body runs twice, through ``embed`` (threads) and ``aembed`` (tasks), against an
``httpx.MockTransport`` fake of ``POST /embeddings`` written from NOTES §6.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx
import pytest

from together_integrations import (
    APIResponseValidationError,
    InternalServerError,
    RequestOptions,
    TogetherConfigError,
    TogetherTransport,
    get_model_capabilities,
)
from together_integrations import _embeddings as embeddings_module
from together_integrations._embeddings import (
    DEFAULT_BATCH_SIZE,
    EmbeddingBatcher,
    estimate_tokens,
    plan_batches,
)

MODEL = "BAAI/bge-base-en-v1.5"


def vector_for(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 for b in digest[:4]]


class FakeEmbeddingsAPI:
    """A scriptable /embeddings endpoint that records requests and in-flight counts."""

    def __init__(
        self,
        *,
        delay: Callable[[list[str]], float] = lambda _: 0.0,
        shape: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda d: d[::-1],
        fail: Callable[[int], httpx.Response | None] = lambda _: None,
    ) -> None:
        self.delay = delay
        self.shape = shape  # the default reverses data[]: the batcher must use `index`
        self.fail = fail
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []
        self.completed: list[str] = []  # first input of each batch, in completion order
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def _enter(self, request: httpx.Request) -> tuple[int, dict[str, Any]]:
        body = json.loads(request.content)
        with self._lock:
            self.requests.append(request)
            self.bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return len(self.requests), body

    def _exit(self, number: int, body: dict[str, Any]) -> httpx.Response:
        with self._lock:
            self.in_flight -= 1
            self.completed.append(body["input"][0])
        failure = self.fail(number)
        if failure is not None:
            return failure
        data = [
            {"object": "embedding", "embedding": vector_for(text), "index": i}
            for i, text in enumerate(body["input"])
        ]
        return httpx.Response(
            200,
            json={"object": "list", "model": body["model"], "data": self.shape(data)},
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        number, body = self._enter(request)
        time.sleep(self.delay(body["input"]))
        return self._exit(number, body)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        number, body = self._enter(request)
        await asyncio.sleep(self.delay(body["input"]))
        return self._exit(number, body)

    def transport(self, **kwargs: Any) -> TogetherTransport:
        return TogetherTransport(
            api_key="test-key",
            base_url="https://api.together.test/v1",
            http_client=httpx.Client(transport=httpx.MockTransport(self.handle)),
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
            **kwargs,
        )


Embed = Callable[[EmbeddingBatcher, Sequence[str]], list[list[float]]]


@pytest.fixture(params=["sync", "async"])
def embed(request: pytest.FixtureRequest) -> Embed:
    if request.param == "sync":
        return lambda batcher, texts: batcher.embed(texts)
    return lambda batcher, texts: asyncio.run(batcher.aembed(texts))


def texts(n: int, width: int = 0) -> list[str]:
    return [f"text {i:03d}".ljust(width, ".") for i in range(n)]


# ------------------------------------------------------------------ planning (pure)


def test_estimate_is_bytes_over_four_and_never_zero() -> None:
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    # Non-Latin scripts cost more per character: the estimate errs high, not low.
    assert estimate_tokens("日本語の文") == 4  # 15 UTF-8 bytes


@pytest.mark.parametrize(
    ("lengths", "batch_size", "budget"),
    [
        ([4] * 10, 3, 1000),
        ([40, 40, 40, 400, 40], 100, 25),
        ([4, 8, 400, 4, 4, 4], 2, 20),
        ([1], 1, 1),
    ],
)
def test_plan_covers_every_text_once_in_order_within_limits(
    lengths: list[int], batch_size: int, budget: int
) -> None:
    items = ["x" * n for n in lengths]
    batches = plan_batches(items, batch_size, budget)
    assert [i for b in batches for i in b] == list(range(len(items)))
    for batch in batches:
        assert len(batch) <= batch_size
        cost = sum(estimate_tokens(items[i]) for i in batch)
        assert cost <= budget or len(batch) == 1


# --------------------------------------------------------------- wire and batching


def test_empty_input_sends_no_request(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    assert embed(EmbeddingBatcher(api.transport(), MODEL), []) == []
    assert api.requests == []


def test_wire_body_is_model_and_input_list(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    out = embed(EmbeddingBatcher(api.transport(), MODEL), ["hello", "world"])
    assert out == [vector_for("hello"), vector_for("world")]
    assert api.bodies == [{"model": MODEL, "input": ["hello", "world"]}]
    assert api.requests[0].url.path == "/v1/embeddings"
    assert api.requests[0].headers["authorization"] == "Bearer test-key"


def test_batches_by_count(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    items = texts(10)
    out = embed(EmbeddingBatcher(api.transport(), MODEL, batch_size=4), items)
    assert out == [vector_for(t) for t in items]
    assert sorted(len(b["input"]) for b in api.bodies) == [2, 4, 4]
    assert sorted(t for b in api.bodies for t in b["input"]) == items


def test_default_batch_size_is_128(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    items = texts(300)
    out = embed(EmbeddingBatcher(api.transport(), MODEL), items)
    assert DEFAULT_BATCH_SIZE == 128
    assert sorted(len(b["input"]) for b in api.bodies) == [44, 128, 128]
    assert out == [vector_for(t) for t in items]


def test_batches_by_token_budget_and_sends_oversized_text_alone_untruncated(
    embed: Embed,
) -> None:
    api = FakeEmbeddingsAPI()
    small = texts(4, width=40)  # 10 estimated tokens each
    huge = "h" * 400  # 100 estimated tokens, over the 25-token budget on its own
    items = [*small[:3], huge, small[3]]
    batcher = EmbeddingBatcher(api.transport(), MODEL, max_tokens_per_batch=25)
    out = embed(batcher, items)
    assert out == [vector_for(t) for t in items]
    sent = sorted((b["input"] for b in api.bodies), key=lambda inp: items.index(inp[0]))
    assert sent == [small[:2], [small[2]], [huge], [small[3]]]


def test_concurrency_is_bounded_and_used(embed: Embed) -> None:
    api = FakeEmbeddingsAPI(delay=lambda _: 0.03)
    batcher = EmbeddingBatcher(api.transport(), MODEL, batch_size=1, max_concurrency=3)
    items = texts(12)
    assert embed(batcher, items) == [vector_for(t) for t in items]
    assert len(api.requests) == 12
    assert api.max_in_flight == 3


def test_max_concurrency_one_is_sequential(embed: Embed) -> None:
    api = FakeEmbeddingsAPI(delay=lambda _: 0.005)
    batcher = EmbeddingBatcher(api.transport(), MODEL, batch_size=2, max_concurrency=1)
    items = texts(7)
    assert embed(batcher, items) == [vector_for(t) for t in items]
    assert api.max_in_flight == 1
    assert [b["input"] for b in api.bodies] == [items[0:2], items[2:4], items[4:6], items[6:]]


def test_order_is_kept_when_batches_complete_out_of_order(embed: Embed) -> None:
    # Earlier batches answer later; each response also lists its data in reverse.
    items = texts(8)
    api = FakeEmbeddingsAPI(delay=lambda inputs: 0.06 - 0.015 * (items.index(inputs[0]) // 2))
    batcher = EmbeddingBatcher(api.transport(), MODEL, batch_size=2, max_concurrency=4)
    out = embed(batcher, items)
    assert api.completed != sorted(api.completed)  # completion really was out of order
    assert out == [vector_for(t) for t in items]


def test_positional_order_when_server_sends_no_index(embed: Embed) -> None:
    def strip_index(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k != "index"} for d in data]

    api = FakeEmbeddingsAPI(shape=strip_index)
    items = texts(3)
    assert embed(EmbeddingBatcher(api.transport(), MODEL), items) == [vector_for(t) for t in items]


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda d: d[:-1], id="missing-one"),
        pytest.param(lambda d: [*d, d[0]], id="one-extra"),
        pytest.param(lambda d: [{**x, "index": 0} for x in d], id="duplicate-index"),
    ],
)
def test_response_that_does_not_match_batch_is_rejected(
    embed: Embed, shape: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> None:
    api = FakeEmbeddingsAPI(shape=shape)
    with pytest.raises(APIResponseValidationError, match="cannot match vectors"):
        embed(EmbeddingBatcher(api.transport(), MODEL), texts(3))


# ------------------------------------------------------------------- validation


def test_empty_strings_are_rejected_before_any_request(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    with pytest.raises(ValueError, match=r"empty strings \(positions \[1, 3\]\)"):
        embed(EmbeddingBatcher(api.transport(), MODEL), ["a", "", "b", ""])
    assert api.requests == []


def test_non_strings_are_a_type_error(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    with pytest.raises(TypeError, match="must be strings; got int"):
        embed(EmbeddingBatcher(api.transport(), MODEL), ["a", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not a single string"):
        embed(EmbeddingBatcher(api.transport(), MODEL), "abc")
    assert api.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_size": 0}, {"max_tokens_per_batch": -1}, {"max_concurrency": 0}, {"dimensions": 0}],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TogetherConfigError, match="positive integer"):
        EmbeddingBatcher(FakeEmbeddingsAPI().transport(), MODEL, **kwargs)


def test_dimensions_refused_for_models_without_support() -> None:
    assert not get_model_capabilities(MODEL).supports_dimensions
    with pytest.raises(TogetherConfigError, match="does not accept `dimensions`"):
        EmbeddingBatcher(FakeEmbeddingsAPI().transport(), MODEL, dimensions=256)


def test_dimensions_sent_when_the_model_supports_them(
    embed: Embed, monkeypatch: pytest.MonkeyPatch
) -> None:
    caps = replace(get_model_capabilities(MODEL), supports_dimensions=True)
    monkeypatch.setattr(embeddings_module, "get_model_capabilities", lambda _: caps)
    api = FakeEmbeddingsAPI()
    embed(EmbeddingBatcher(api.transport(), MODEL, dimensions=256), ["a"])
    assert api.bodies == [{"model": MODEL, "input": ["a"], "dimensions": 256}]


def test_extra_body_and_options_reach_the_wire(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    batcher = EmbeddingBatcher(
        api.transport(),
        MODEL,
        extra_body={"truncate": "END", "model": "ignored"},
        options=RequestOptions(extra_headers={"X-Trace": "abc"}),
    )
    embed(batcher, ["a"])
    assert api.bodies == [{"model": MODEL, "input": ["a"], "truncate": "END"}]
    assert api.requests[0].headers["x-trace"] == "abc"


# ----------------------------------------------------------------------- errors


def test_server_error_is_raised_unchanged_without_batcher_retries(embed: Embed) -> None:
    api = FakeEmbeddingsAPI(
        fail=lambda n: httpx.Response(
            500, json={"id": "r1", "error": {"message": "Internal server error"}}
        )
    )
    with pytest.raises(InternalServerError) as info:
        embed(EmbeddingBatcher(api.transport(max_retries=0), MODEL), ["a", "b"])
    assert info.value.status_code == 500
    assert len(api.requests) == 1


def test_retries_come_from_the_transport(embed: Embed) -> None:
    api = FakeEmbeddingsAPI(
        fail=lambda n: (
            httpx.Response(
                429,
                headers={"retry-after": "0"},
                json={"error": {"message": "rate limited", "type": "rate_limit"}},
            )
            if n == 1
            else None
        )
    )
    out = embed(EmbeddingBatcher(api.transport(max_retries=1), MODEL), ["a"])
    assert out == [vector_for("a")]
    assert len(api.requests) == 2


def test_a_failed_batch_stops_the_call_and_raises_its_error(embed: Embed) -> None:
    api = FakeEmbeddingsAPI(
        delay=lambda _: 0.01,
        fail=lambda n: httpx.Response(500, json={"error": {"message": "boom"}}) if n == 2 else None,
    )
    batcher = EmbeddingBatcher(api.transport(max_retries=0), MODEL, batch_size=1, max_concurrency=2)
    with pytest.raises(InternalServerError, match="boom"):
        embed(batcher, texts(40))
    assert len(api.requests) < 40  # the batches not yet started were cancelled


# --------------------------------------------------------------------- progress


def test_progress_bar_counts_texts(embed: Embed, monkeypatch: pytest.MonkeyPatch) -> None:
    updates: list[int] = []

    class Bar:
        def __init__(self, total: int, **_: Any) -> None:
            updates.append(-total)

        def update(self, n: int) -> None:
            updates.append(n)

        def close(self) -> None:
            updates.append(0)

    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    api = FakeEmbeddingsAPI()
    batcher = EmbeddingBatcher(api.transport(), MODEL, batch_size=2, show_progress=True)
    embed(batcher, texts(5))
    assert updates[0] == -5 and updates[-1] == 0
    assert sorted(updates[1:-1]) == [1, 2, 2]


def test_progress_without_tqdm_still_embeds(
    embed: Embed, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import now raises ImportError
    monkeypatch.setattr(embeddings_module, "_warned_no_tqdm", False)
    api = FakeEmbeddingsAPI()
    with caplog.at_level(logging.WARNING, logger="together_integrations"):
        out = embed(EmbeddingBatcher(api.transport(), MODEL, show_progress=True), ["a"])
    assert out == [vector_for("a")]
    assert "needs tqdm" in caplog.text


def test_repr_names_settings_not_the_key() -> None:
    text = repr(EmbeddingBatcher(FakeEmbeddingsAPI().transport(), MODEL))
    assert MODEL in text and "batch_size=128" in text
    assert "test-key" not in text


def test_dimensions_sent_for_a_model_the_catalog_does_not_know(embed: Embed) -> None:
    api = FakeEmbeddingsAPI()
    model = "someone/new-matryoshka-embedder"
    assert not get_model_capabilities(model).known
    embed(EmbeddingBatcher(api.transport(), model, dimensions=128), ["a"])
    assert api.bodies == [{"model": model, "input": ["a"], "dimensions": 128}]
