"""End to end: InMemoryVectorStore + TogetherEmbeddings retrieve, TogetherRerank reorders.

``ContextualCompressionRetriever`` lives in ``langchain_classic.retrievers`` (LangChain 1.x
moved it out of ``langchain``). When that package is installed it is tested directly; the
always-run test uses a ten-line retriever with the same contract (retrieve, then
``compress_documents(documents, query, callbacks=...)``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore

from together_integrations import TogetherTransport
from together_integrations.langchain import TogetherEmbeddings, TogetherRerank

DIMS = 256


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def bag_of_words(text: str) -> list[float]:
    vector = [0.0] * DIMS
    for word in tokens(text):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIMS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class FakeTogether:
    """/embeddings (hashed bag of words) and /rerank (query-word overlap)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.paths.append(request.url.path)
        if request.url.path.endswith("/embeddings"):
            data = [
                {"object": "embedding", "embedding": bag_of_words(t), "index": i}
                for i, t in enumerate(body["input"])
            ]
            return httpx.Response(
                200, json={"object": "list", "model": body["model"], "data": data}
            )
        query = set(tokens(body["query"]))
        scores = [len(query & set(tokens(d))) / len(query) for d in body["documents"]]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[: body.get("top_n")]
        results = [{"index": i, "relevance_score": scores[i], "document": {}} for i in order]
        return httpx.Response(
            200, json={"object": "rerank", "model": body["model"], "results": results}
        )

    def transport(self) -> TogetherTransport:
        return TogetherTransport(
            api_key="test-key",
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
        )


CORPUS = [
    ("bees", "Bees make honey from flower nectar and store the honey in wax combs."),
    ("volcano", "A volcano erupts when magma rises through the crust."),
    ("bread", "Bakers bake bread from flour, water, yeast and salt."),
    ("honey-trade", "Honey is sold at markets; prices depend on the harvest."),
    ("rivers", "Rivers carry sediment from mountains to the sea."),
    ("chess", "Chess openings balance piece development and king safety."),
    ("wax", "Candles can be poured from paraffin or from beeswax."),
    ("tides", "Ocean tides follow the pull of the moon."),
]
QUERY = "How do bees make honey?"


class CompressionRetriever(BaseRetriever):
    """The ``ContextualCompressionRetriever`` contract, for when langchain_classic is absent."""

    base_retriever: BaseRetriever
    base_compressor: BaseDocumentCompressor

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        docs = self.base_retriever.invoke(query, config={"callbacks": run_manager.get_child()})
        return list(self.base_compressor.compress_documents(docs, query, run_manager.get_child()))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        docs = await self.base_retriever.ainvoke(
            query, config={"callbacks": run_manager.get_child()}
        )
        return list(
            await self.base_compressor.acompress_documents(docs, query, run_manager.get_child())
        )


def build(fake: FakeTogether) -> tuple[InMemoryVectorStore, TogetherRerank]:
    transport = fake.transport()
    embeddings = TogetherEmbeddings(transport=transport, batch_size=3)
    store = InMemoryVectorStore(embedding=embeddings)
    store.add_documents(
        [Document(page_content=text, metadata={"topic": topic}) for topic, text in CORPUS]
    )
    return store, TogetherRerank(transport=transport, top_n=2)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_retrieve_then_rerank_puts_the_relevant_document_first(mode: str) -> None:
    fake = FakeTogether()
    store, reranker = build(fake)
    retriever = CompressionRetriever(
        base_retriever=store.as_retriever(search_kwargs={"k": 4}), base_compressor=reranker
    )
    docs = retriever.invoke(QUERY) if mode == "sync" else asyncio.run(retriever.ainvoke(QUERY))

    # 8 documents in batches of 3 → 3 embedding requests, one query embedding, one rerank.
    assert fake.paths.count("/v1/embeddings") == 4
    assert fake.paths.count("/v1/rerank") == 1
    assert [d.metadata["topic"] for d in docs] == ["bees", "honey-trade"]
    scores = [d.metadata["relevance_score"] for d in docs]
    assert scores[0] > scores[1] > 0


def test_vector_search_alone_finds_the_relevant_documents() -> None:
    store, _ = build(FakeTogether())
    found = [d.metadata["topic"] for d in store.similarity_search(QUERY, k=3)]
    assert found[0] == "bees"
    assert set(found) <= {"bees", "honey-trade", "wax", "bread"}


def test_with_langchain_classic_contextual_compression_retriever() -> None:
    retrievers = pytest.importorskip(
        "langchain_classic.retrievers", reason="langchain-classic is not installed"
    )
    store, reranker = build(FakeTogether())
    retriever: Any = retrievers.ContextualCompressionRetriever(
        base_compressor=reranker, base_retriever=store.as_retriever(search_kwargs={"k": 4})
    )
    assert [d.metadata["topic"] for d in retriever.invoke(QUERY)] == ["bees", "honey-trade"]
