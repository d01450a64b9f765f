"""LlamaIndex TogetherEmbedding on the in-process emulator: batching, concurrency, cache,
progress, retries, errors and serialisation."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.schema import TextNode
from llama_index.core.storage.kvstore import SimpleKVStore

from together_integrations import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    TogetherTransport,
)
from together_integrations._catalog import DEFAULT_CATALOG, get_model_capabilities
from together_integrations.llama_index import TogetherEmbedding
from together_integrations.testing import TogetherEmulator
from together_integrations.testing.emulator import embed_text

MODEL = "BAAI/bge-base-en-v1.5"
DIMS = 768
KEY = "tgp_v1_EmbeddingSecretKey0123456789"

Batch = Callable[..., list[list[float]]]


@pytest.fixture(params=["sync", "async"])
def batch(request: pytest.FixtureRequest) -> Batch:
    """``get_text_embedding_batch`` or its async twin, as one callable."""

    def run(embed: TogetherEmbedding, texts: list[str], **kwargs: Any) -> list[list[float]]:
        if request.param == "sync":
            return embed.get_text_embedding_batch(texts, **kwargs)
        return asyncio.run(embed.aget_text_embedding_batch(texts, **kwargs))

    return run


@pytest.fixture(params=["sync", "async"])
def query(request: pytest.FixtureRequest) -> Callable[[TogetherEmbedding, str], list[float]]:
    def run(embed: TogetherEmbedding, text: str) -> list[float]:
        if request.param == "sync":
            return embed.get_query_embedding(text)
        return asyncio.run(embed.aget_query_embedding(text))

    return run


def inputs(emu: TogetherEmulator) -> list[list[str]]:
    return [r.json["input"] for r in emu.requests if r.path.endswith("/embeddings")]


class InFlight(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps the emulator's httpx transport, holding each request ``delay`` seconds and
    recording the most requests in flight at once."""

    def __init__(self, emu: TogetherEmulator, delay: float = 0.02) -> None:
        self.inner = emu.httpx_transport()
        self.delay = delay
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def _enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def _exit(self) -> None:
        with self._lock:
            self.now -= 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._enter()
        try:
            time.sleep(self.delay)
            return self.inner.handle_request(request)
        finally:
            self._exit()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._enter()
        try:
            await asyncio.sleep(self.delay)
            return await self.inner.handle_async_request(request)
        finally:
            self._exit()

    def transport(self) -> TogetherTransport:
        return TogetherTransport(
            api_key="test-key",
            http_client=httpx.Client(transport=self),
            http_async_client=httpx.AsyncClient(transport=self),
        )


# ------------------------------------------------------------------ the class itself


def test_base_class_name_and_defaults() -> None:
    assert BaseEmbedding.__name__ in [b.__name__ for b in TogetherEmbedding.__mro__]
    assert TogetherEmbedding.class_name() == "TogetherEmbedding"
    embed = TogetherEmbedding(api_key=KEY)
    assert get_model_capabilities(embed.model_name).type == "embedding"
    assert embed.model_name in DEFAULT_CATALOG
    assert embed.embed_batch_size == 128  # the base class default is 10
    assert embed.to_dict()["class_name"] == "TogetherEmbedding"


def test_round_trips_through_to_dict_without_the_key() -> None:
    embed = TogetherEmbedding(model_name=MODEL, embed_batch_size=7, max_concurrency=2, api_key=KEY)
    again = TogetherEmbedding.from_dict(embed.to_dict())
    assert (again.model_name, again.embed_batch_size, again.max_concurrency) == (MODEL, 7, 2)


def test_dimensions_checked_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="does not accept `dimensions`"):
        TogetherEmbedding(model_name=MODEL, dimensions=256)
    with pytest.raises(ValueError):
        TogetherEmbedding(embed_batch_size=0)


def test_dimensions_and_additional_kwargs_reach_the_wire(
    emu: TogetherEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    model = "acme/matryoshka-embed"
    caps = replace(get_model_capabilities(model), supports_dimensions=True, known=True)
    monkeypatch.setitem(DEFAULT_CATALOG._models, model, caps)
    emu.models[model] = {"type": "embedding", "dims": 64, "matryoshka": True}
    embed = TogetherEmbedding(
        model_name=model,
        dimensions=64,
        additional_kwargs={"truncate": "END"},
        transport=emu.transport(),
    )
    assert len(embed.get_text_embedding("hello world")) == 64
    sent = emu.requests[-1].json
    assert sent == {"model": model, "input": ["hello world"], "dimensions": 64, "truncate": "END"}


# ------------------------------------------------------------------ batching and order


def test_batches_by_count_in_order(emu: TogetherEmulator, batch: Batch) -> None:
    embed = TogetherEmbedding(model_name=MODEL, embed_batch_size=10, transport=emu.transport())
    texts = [f"text number {i} about subject {i % 4}" for i in range(25)]
    vectors = batch(embed, texts)
    assert vectors == [embed_text(t, DIMS) for t in texts]  # the right vector for each text
    sent = inputs(emu)
    assert [len(s) for s in sorted(sent, key=len, reverse=True)] == [10, 10, 5]  # ceil(25/10)
    assert sorted(t for s in sent for t in s) == sorted(texts)


def test_default_batch_size_sends_one_request_for_many_texts(
    emu: TogetherEmulator, batch: Batch
) -> None:
    embed = TogetherEmbedding(model_name=MODEL, transport=emu.transport())
    texts = [f"short text {i}" for i in range(100)]
    assert batch(embed, texts) == [embed_text(t, DIMS) for t in texts]
    assert len(inputs(emu)) == 1  # the reference package sent 100


def test_token_budget_splits_a_batch(emu: TogetherEmulator, batch: Batch) -> None:
    # Each text is 40 UTF-8 bytes, about 10 tokens: a 30-token budget fits 3 of them.
    texts = [f"budget text {i:02d} ".ljust(40, "x") for i in range(10)]
    assert all(len(t.encode()) == 40 for t in texts)
    embed = TogetherEmbedding(
        model_name=MODEL,
        embed_batch_size=100,
        max_tokens_per_batch=30,
        transport=emu.transport(),
    )
    assert batch(embed, texts) == [embed_text(t, DIMS) for t in texts]
    assert sorted(len(s) for s in inputs(emu)) == [1, 3, 3, 3]


def test_a_text_over_the_budget_is_sent_alone_and_whole(emu: TogetherEmulator) -> None:
    long = "long " * 100
    embed = TogetherEmbedding(model_name=MODEL, max_tokens_per_batch=50, transport=emu.transport())
    embed.get_text_embedding_batch(["a", long, "b"])
    # Batches go out concurrently, so they may arrive in any order.
    assert sorted(inputs(emu)) == sorted([["a"], [long], ["b"]])


def test_empty_list_sends_nothing(emu: TogetherEmulator, batch: Batch) -> None:
    embed = TogetherEmbedding(model_name=MODEL, transport=emu.transport())
    assert batch(embed, []) == []
    assert emu.requests == []


def test_empty_string_is_rejected_before_any_request(emu: TogetherEmulator, batch: Batch) -> None:
    embed = TogetherEmbedding(model_name=MODEL, embed_batch_size=2, transport=emu.transport())
    with pytest.raises(ValueError, match=r"empty strings \(positions \[0\]\)"):
        batch(embed, ["", "fine"])
    assert emu.requests == []


def test_query_and_text_embeddings(emu: TogetherEmulator, query: Any) -> None:
    embed = TogetherEmbedding(model_name=MODEL, transport=emu.transport())
    assert query(embed, "where is the tower") == embed_text("where is the tower", DIMS)
    assert embed.get_text_embedding("a text") == embed_text("a text", DIMS)
    assert asyncio.run(embed.aget_text_embedding("a text")) == embed_text("a text", DIMS)
    assert inputs(emu) == [["where is the tower"], ["a text"], ["a text"]]


def test_embeds_nodes_as_a_transformation(emu: TogetherEmulator) -> None:
    embed = TogetherEmbedding(model_name=MODEL, transport=emu.transport())
    nodes = [TextNode(text="alpha beta"), TextNode(text="gamma delta")]
    embed(nodes)
    assert [n.embedding for n in nodes] == [embed_text(n.text, DIMS) for n in nodes]
    more = [TextNode(text="epsilon")]
    asyncio.run(embed.acall(more))
    assert more[0].embedding == embed_text("epsilon", DIMS)


# ------------------------------------------------------------------ concurrency


def test_async_concurrency_is_bounded_across_chunks_and_calls(emu: TogetherEmulator) -> None:
    wire = InFlight(emu)
    embed = TogetherEmbedding(
        model_name=MODEL, embed_batch_size=1, max_concurrency=2, transport=wire.transport()
    )
    texts = [f"concurrent text {i}" for i in range(8)]

    async def two_calls() -> tuple[list[list[float]], list[list[float]]]:
        return await asyncio.gather(
            embed.aget_text_embedding_batch(texts), embed.aget_text_embedding_batch(texts[::-1])
        )

    first, second = asyncio.run(two_calls())
    assert wire.peak == 2  # the base class alone would have had 16 in flight
    assert first == [embed_text(t, DIMS) for t in texts] and second == first[::-1]
    assert len(emu.requests) == 16


def test_async_concurrency_is_used(emu: TogetherEmulator) -> None:
    wire = InFlight(emu)
    embed = TogetherEmbedding(
        model_name=MODEL, embed_batch_size=2, max_concurrency=4, transport=wire.transport()
    )
    asyncio.run(embed.aget_text_embedding_batch([f"t{i}" for i in range(16)]))
    assert wire.peak == 4


def test_max_concurrency_one_is_sequential(emu: TogetherEmulator) -> None:
    wire = InFlight(emu, delay=0.005)
    embed = TogetherEmbedding(
        model_name=MODEL, embed_batch_size=1, max_concurrency=1, transport=wire.transport()
    )
    texts = [f"t{i}" for i in range(6)]
    assert asyncio.run(embed.aget_text_embedding_batch(texts)) == [
        embed_text(t, DIMS) for t in texts
    ]
    assert wire.peak == 1


def test_sync_split_chunk_uses_bounded_threads(emu: TogetherEmulator) -> None:
    wire = InFlight(emu)
    embed = TogetherEmbedding(
        model_name=MODEL,
        embed_batch_size=100,
        max_tokens_per_batch=2,
        max_concurrency=3,
        transport=wire.transport(),
    )
    texts = [f"w{i}" for i in range(12)]  # 1 token each: 6 requests of 2 texts
    assert embed.get_text_embedding_batch(texts) == [embed_text(t, DIMS) for t in texts]
    assert len(emu.requests) == 6 and wire.peak == 3


def test_the_bound_works_on_a_new_event_loop_each_time(emu: TogetherEmulator) -> None:
    embed = TogetherEmbedding(
        model_name=MODEL, embed_batch_size=1, max_concurrency=1, transport=emu.transport()
    )
    for _ in range(3):  # a semaphore bound to a closed loop would raise here
        assert len(asyncio.run(embed.aget_text_embedding_batch(["a", "b", "c"]))) == 3


# ------------------------------------------------------------------ cache and progress


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_cache_hit_avoids_a_request(emu: TogetherEmulator, mode: str) -> None:
    cache = SimpleKVStore()
    embed = TogetherEmbedding(model_name=MODEL, transport=emu.transport(), embeddings_cache=cache)

    def run(texts: list[str]) -> list[list[float]]:
        if mode == "sync":
            return embed.get_text_embedding_batch(texts)
        return asyncio.run(embed.aget_text_embedding_batch(texts))

    first = run(["alpha beta", "gamma delta"])
    assert len(emu.requests) == 1
    assert run(["alpha beta", "gamma delta"]) == first
    assert len(emu.requests) == 1  # all from the cache
    mixed = run(["gamma delta", "new text", "alpha beta"])
    assert inputs(emu)[-1] == ["new text"]  # only the miss is sent
    assert mixed == [first[1], embed_text("new text", DIMS), first[0]]
    single = embed.get_text_embedding("alpha beta")
    assert single == first[0] and len(emu.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_show_progress_draws_a_bar(
    emu: TogetherEmulator, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    embed = TogetherEmbedding(model_name=MODEL, embed_batch_size=2, transport=emu.transport())
    texts = [f"progress {i}" for i in range(5)]
    if mode == "sync":
        got = embed.get_text_embedding_batch(texts, show_progress=True)
    else:
        got = asyncio.run(embed.aget_text_embedding_batch(texts, show_progress=True))
    assert got == [embed_text(t, DIMS) for t in texts]
    err = capsys.readouterr().err
    assert "Generating embeddings" in err and "100%" in err
    embed.get_text_embedding_batch(texts, show_progress=False)
    assert "Generating embeddings" not in capsys.readouterr().err


def test_callback_events_per_request(emu: TogetherEmulator) -> None:
    debug = LlamaDebugHandler()
    embed = TogetherEmbedding(
        model_name=MODEL,
        embed_batch_size=3,
        transport=emu.transport(),
        callback_manager=CallbackManager([debug]),
    )
    embed.get_text_embedding_batch([f"event {i}" for i in range(7)])
    pairs = debug.get_event_pairs(CBEventType.EMBEDDING)
    assert len(pairs) == 3 == len(emu.requests)
    assert [len((end.payload or {})["chunks"]) for _, end in pairs] == [3, 3, 1]


# ------------------------------------------------------------------ errors and retries


def test_429_is_retried_a_bounded_number_of_times_then_raised(
    emu: TogetherEmulator, batch: Batch
) -> None:
    embed = TogetherEmbedding(model_name=MODEL, transport=emu.transport(max_retries=2))
    emu.fail("status", status=429, retry_after_ms=1, times=None)
    with pytest.raises(RateLimitError) as info:
        batch(embed, ["anything"])
    assert len(emu.requests) == 3  # max_retries + 1, never forever
    assert info.value.status_code == 429 and "rate limit" in str(info.value).lower()


def test_429_then_success(emu: TogetherEmulator, batch: Batch) -> None:
    embed = TogetherEmbedding(model_name=MODEL, transport=emu.transport(max_retries=2))
    emu.fail("status", status=429, retry_after_ms=1, times=2)
    assert batch(embed, ["recovers"]) == [embed_text("recovers", DIMS)]
    assert len(emu.requests) == 3


def test_instance_max_retries_overrides_the_transport(emu: TogetherEmulator) -> None:
    embed = TogetherEmbedding(
        model_name=MODEL, max_retries=0, transport=emu.transport(max_retries=5)
    )
    emu.fail("status", status=429, retry_after_ms=1, times=None)
    with pytest.raises(RateLimitError):
        embed.get_query_embedding("no retries")
    assert len(emu.requests) == 1


def test_default_headers_are_sent(emu: TogetherEmulator) -> None:
    embed = TogetherEmbedding(
        model_name=MODEL, default_headers={"x-app": "rag-demo"}, transport=emu.transport()
    )
    embed.get_query_embedding("hi")
    assert emu.requests[-1].headers["x-app"] == "rag-demo"


def test_errors_are_typed(batch: Batch) -> None:
    emu = TogetherEmulator(api_key="right-key")
    wrong = TogetherEmbedding(
        model_name=MODEL, transport=emu.transport(api_key="wrong-key", max_retries=0)
    )
    with pytest.raises(AuthenticationError) as auth:
        batch(wrong, ["x"])
    assert auth.value.status_code == 401 and "wrong-key" not in str(auth.value)
    unknown = TogetherEmbedding(
        model_name="acme/no-such-embed", transport=emu.transport(api_key="right-key")
    )
    with pytest.raises(NotFoundError, match="acme/no-such-embed"):
        batch(unknown, ["x"])


def test_query_and_text_instructions_prefix_the_input(emu: TogetherEmulator, query: Any) -> None:
    task = "Instruct: Given a question, retrieve passages that answer it\nQuery:"
    embed = TogetherEmbedding(
        "intfloat/multilingual-e5-large-instruct",
        query_instruction=task,
        text_instruction="passage:",
        transport=emu.transport(),
    )
    query(embed, "where is the tower")
    embed.get_text_embedding_batch(["the tower is in Paris", "bananas"])
    asyncio.run(embed.aget_text_embedding("async passage"))
    assert inputs(emu) == [
        [f"{task} where is the tower"],
        ["passage: the tower is in Paris", "passage: bananas"],
        ["passage: async passage"],
    ]
    with pytest.raises(ValueError, match="empty strings"):
        embed.get_text_embedding_batch([""])  # not turned into a bare instruction
    assert len(emu.requests) == 3


def test_pickles_and_copies_after_async_use(
    emu: TogetherEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # IngestionPipeline(num_workers=...) pickles its transformations.
    embed = TogetherEmbedding(model_name=MODEL, max_concurrency=1, api_key=KEY)
    embed._transport = emu.transport()
    asyncio.run(embed.aget_text_embedding_batch(["before pickling"]))
    embed._transport = None
    with caplog.at_level("WARNING"):
        clone = pickle.loads(pickle.dumps(embed))
    assert "unpickleable" not in caplog.text
    for copy in (clone, embed.model_copy(deep=True)):
        copy._transport = emu.transport()
        assert asyncio.run(copy.aget_text_embedding_batch(["after"])) == [embed_text("after", DIMS)]
    assert clone.api_key is None or clone.api_key.get_secret_value() != KEY  # keys never travel


# ------------------------------------------------------- the model's input window

LONG_DOCUMENT = " ".join(
    f"Paragraph {i} says that the tower at site {i} was finished in year {1800 + i}."
    for i in range(400)
)


def test_the_default_model_fits_llama_index_default_chunks(
    emu: TogetherEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    monkeypatch.setattr(Settings, "_node_parser", None)  # LlamaIndex's own default splitter
    assert Settings.chunk_size == 1024
    default = get_model_capabilities(TogetherEmbedding().model_name)
    assert default.known and default.context_window >= 1024
    index = VectorStoreIndex.from_documents(
        [Document(text=LONG_DOCUMENT)], embed_model=TogetherEmbedding(transport=emu.transport())
    )
    assert isinstance(Settings.node_parser, SentenceSplitter)
    assert len(index.docstore.docs) > 1 and len(emu.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_chunk_far_over_the_window_is_refused_before_any_request_naming_chunk_size(
    emu: TogetherEmulator, mode: str
) -> None:
    from llama_index.core.node_parser import SentenceSplitter

    chunk = SentenceSplitter(chunk_size=1024, chunk_overlap=0).split_text(LONG_DOCUMENT)[0]
    embed = TogetherEmbedding("intfloat/multilingual-e5-large-instruct", transport=emu.transport())
    with pytest.raises(ValueError, match="chunk_size") as info:
        if mode == "sync":
            embed.get_text_embedding_batch(["short", chunk])
        else:
            asyncio.run(embed.aget_query_embedding(chunk))
    assert "514-token input window" in str(info.value)
    assert "intfloat/multilingual-e5-large-instruct" in str(info.value)
    assert emu.requests == []
    embed.get_text_embedding_batch([chunk[:1500]])  # within the window: sent


def test_models_the_catalog_does_not_know_are_not_checked(emu: TogetherEmulator) -> None:
    emu.models["acme/long-embed"] = {"type": "embedding", "context_length": 100_000}
    embed = TogetherEmbedding("acme/long-embed", transport=emu.transport())
    assert len(embed.get_text_embedding(LONG_DOCUMENT)) == 768
