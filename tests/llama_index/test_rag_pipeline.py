"""A LlamaIndex RAG pipeline on Together, end to end on the in-process emulator:
documents -> SentenceSplitter -> VectorStoreIndex (TogetherEmbedding) -> retriever ->
TogetherRerank -> query engine / chat engine (TogetherLLM); sync, async and streaming.

The emulator's embeddings are hashed bags of words and its rerank scores word overlap, so
retrieval and reranking are meaningful here: the relevant chunk has to win on its merits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.response.schema import (
    AsyncStreamingResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.chat_engine.types import ChatMode
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode

from together_integrations import TogetherTransport
from together_integrations.llama_index import TogetherEmbedding, TogetherRerank
from together_integrations.llama_index.llms import TogetherLLM
from together_integrations.testing import TogetherEmulator
from together_integrations.testing.emulator import embed_text, overlap_score

LLM_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
EMBED_MODEL = "BAAI/bge-base-en-v1.5"

DOCS = [
    Document(
        text=(
            "The Eiffel Tower in Paris was completed in 1889 for the World's Fair. "
            "It was designed and built by the engineering company of Gustave Eiffel. "
            "At 330 metres it was the tallest structure in the world for four decades, "
            "and today millions of visitors climb its stairs or ride its lifts every year."
        ),
        metadata={"source": "landmarks"},
    ),
    Document(text="Bananas are rich in potassium and grow in tropical climates."),
    Document(text="The Golden Gate Bridge in San Francisco opened in 1937."),
    Document(text="Python is a programming language created by Guido van Rossum in 1991."),
]


@pytest.fixture
def llm(transport: TogetherTransport) -> TogetherLLM:
    return TogetherLLM(model=LLM_MODEL, transport=transport)


@pytest.fixture
def settings(llm: TogetherLLM, transport: TogetherTransport) -> Iterator[None]:
    """Together as LlamaIndex's global LLM and embedding model, for this test only."""
    saved = (Settings._llm, Settings._embed_model)
    Settings.llm = llm
    Settings.embed_model = TogetherEmbedding(model_name=EMBED_MODEL, transport=transport)
    try:
        yield
    finally:
        Settings._llm, Settings._embed_model = saved


@pytest.fixture
def index(emu: TogetherEmulator, settings: None) -> VectorStoreIndex:
    built = VectorStoreIndex.from_documents(
        DOCS, transformations=[SentenceSplitter(chunk_size=50, chunk_overlap=0)]
    )
    emu.requests.clear()
    return built


def rerank(transport: TogetherTransport, **kwargs: Any) -> TogetherRerank:
    return TogetherRerank(transport=transport, **kwargs)


def paths(emu: TogetherEmulator) -> list[str]:
    return [r.path.rsplit("/v1", 1)[-1] for r in emu.requests]


def sent(emu: TogetherEmulator, path: str) -> list[dict[str, Any]]:
    return [r.json for r in emu.requests if r.path.endswith(path)]


# ------------------------------------------------------------------ indexing


@pytest.mark.parametrize("use_async", [False, True])
def test_indexing_embeds_every_chunk_in_one_request(
    emu: TogetherEmulator, settings: None, use_async: bool
) -> None:
    index = VectorStoreIndex.from_documents(
        DOCS,
        transformations=[SentenceSplitter(chunk_size=50, chunk_overlap=0)],
        use_async=use_async,
    )
    nodes = list(index.docstore.docs.values())
    assert len(nodes) > len(DOCS)  # the long document was split
    assert paths(emu) == ["/embeddings"]  # all chunks in one batched request
    (request,) = sent(emu, "/embeddings")
    assert request["model"] == EMBED_MODEL and len(request["input"]) == len(nodes)
    stored = index.vector_store.to_dict()["embedding_dict"]
    for node in nodes:
        text = node.get_content(metadata_mode=MetadataMode.EMBED)
        assert stored[node.node_id] == embed_text(text, 768)


# ------------------------------------------------------------------ query engine

QUESTIONS = [
    ("When was the Eiffel Tower completed?", "1889"),
    ("When did the Golden Gate Bridge in San Francisco open?", "1937"),
    ("Who created the Python programming language?", "Guido"),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("question", "fact"), QUESTIONS)
def test_query_engine_answers_from_the_reranked_context(
    emu: TogetherEmulator,
    index: VectorStoreIndex,
    transport: TogetherTransport,
    mode: str,
    question: str,
    fact: str,
) -> None:
    engine = index.as_query_engine(
        similarity_top_k=3,
        node_postprocessors=[rerank(transport, top_n=1, keep_retrieval_score=True)],
    )
    emu.reply(f"The answer is {fact}.")
    answer = engine.query(question) if mode == "sync" else asyncio.run(engine.aquery(question))
    assert isinstance(answer, Response) and str(answer) == f"The answer is {fact}."

    # query embedding -> rerank of the retrieved candidates -> one LLM call
    assert paths(emu) == ["/embeddings", "/rerank", "/chat/completions"]
    assert sent(emu, "/embeddings")[0]["input"] == [question]
    (ranked,) = sent(emu, "/rerank")
    assert ranked["query"] == question and ranked["top_n"] == 1
    assert len(ranked["documents"]) == 3
    assert sum(fact in d for d in ranked["documents"]) == 1

    (top,) = answer.source_nodes
    content = top.node.get_content()
    assert fact in content
    assert top.score == overlap_score(question, top.node.get_content(MetadataMode.EMBED))
    retrieval = top.node.metadata["retrieval_score"]
    assert isinstance(retrieval, float) and 0 < retrieval < 1 and retrieval != top.score

    # the LLM saw the reranked chunk and none of the candidates reranked away
    prompt = json.dumps(sent(emu, "/chat/completions")[0]["messages"])
    assert content.split(". ")[0] in prompt and question in prompt
    for other in ranked["documents"]:
        if fact not in other:
            assert other.split(". ")[0] not in prompt


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_streaming_query(
    emu: TogetherEmulator, index: VectorStoreIndex, transport: TogetherTransport, mode: str
) -> None:
    engine = index.as_query_engine(
        streaming=True, similarity_top_k=3, node_postprocessors=[rerank(transport, top_n=1)]
    )
    text = "The Eiffel Tower was completed in 1889, in time for the World's Fair."
    emu.reply(text)
    question = "When was the Eiffel Tower completed?"
    if mode == "sync":
        response = engine.query(question)
        assert isinstance(response, StreamingResponse)
        pieces = list(response.response_gen)
    else:

        async def collect() -> tuple[Any, list[str]]:
            response = await engine.aquery(question)
            assert isinstance(response, AsyncStreamingResponse)
            return response, [piece async for piece in response.async_response_gen()]

        response, pieces = asyncio.run(collect())
    assert len(pieces) >= 3 and "".join(pieces) == text
    assert "1889" in response.source_nodes[0].node.get_content()
    (request,) = sent(emu, "/chat/completions")
    assert request["stream"] is True
    assert "completed in 1889 for the World" in json.dumps(request["messages"])


def test_retriever_then_rerank_by_hand(
    index: VectorStoreIndex, transport: TogetherTransport
) -> None:
    question = "Which bridge opened in San Francisco?"
    candidates = index.as_retriever(similarity_top_k=4).retrieve(question)
    assert len(candidates) == 4
    cosine = [n.score or 0.0 for n in candidates]
    assert cosine == sorted(cosine, reverse=True)
    best = rerank(transport, top_n=2).postprocess_nodes(candidates, query_str=question)
    assert "Golden Gate" in best[0].node.get_content()
    assert (best[0].score or 0.0) > (best[1].score or 0.0)


# ------------------------------------------------------------------ chat engine


def test_condense_plus_context_chat_engine(
    emu: TogetherEmulator, index: VectorStoreIndex, transport: TogetherTransport
) -> None:
    chat = index.as_chat_engine(
        chat_mode=ChatMode.CONDENSE_PLUS_CONTEXT,
        similarity_top_k=3,
        node_postprocessors=[rerank(transport, top_n=1)],
    )
    emu.reply("The Eiffel Tower is a wrought-iron tower in Paris.")
    first = chat.chat("Tell me about the Eiffel Tower in Paris")
    assert str(first) == "The Eiffel Tower is a wrought-iron tower in Paris."
    # The first turn has no history to condense: retrieve, rerank, answer.
    assert paths(emu) == ["/embeddings", "/rerank", "/chat/completions"]
    system = sent(emu, "/chat/completions")[0]["messages"][0]
    assert system["role"] == "system" and "Eiffel" in system["content"]

    emu.requests.clear()
    emu.reply("When was the Eiffel Tower completed?")  # the condensed question
    emu.reply("It was completed in 1889.")
    second = chat.chat("When was it completed?")
    assert str(second) == "It was completed in 1889."
    assert paths(emu) == ["/chat/completions", "/embeddings", "/rerank", "/chat/completions"]
    condense, answer = sent(emu, "/chat/completions")
    condense_text = json.dumps(condense["messages"])
    assert "Tell me about the Eiffel Tower in Paris" in condense_text
    assert "When was it completed?" in condense_text
    assert sent(emu, "/embeddings")[0]["input"] == ["When was the Eiffel Tower completed?"]
    assert sent(emu, "/rerank")[0]["query"] == "When was the Eiffel Tower completed?"
    messages = answer["messages"]
    assert "completed in 1889 for the World" in messages[0]["content"]
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]
    assert messages[-1]["content"] == "When was it completed?"
    assert "1889" in second.source_nodes[0].node.get_content()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_streaming_chat_engine(
    emu: TogetherEmulator, index: VectorStoreIndex, transport: TogetherTransport, mode: str
) -> None:
    chat = index.as_chat_engine(
        chat_mode=ChatMode.CONDENSE_PLUS_CONTEXT,
        similarity_top_k=3,
        node_postprocessors=[rerank(transport, top_n=1)],
    )
    text = "Python was created by Guido van Rossum and released in 1991."
    emu.reply(text)
    question = "Who created the Python programming language?"
    if mode == "sync":
        response = chat.stream_chat(question)
        pieces = list(response.response_gen)
    else:

        async def collect() -> tuple[Any, list[str]]:
            response = await chat.astream_chat(question)
            return response, [piece async for piece in response.async_response_gen()]

        response, pieces = asyncio.run(collect())
    assert len(pieces) >= 3 and "".join(pieces) == text
    assert "Guido" in response.source_nodes[0].node.get_content()
    (request,) = sent(emu, "/chat/completions")
    assert request["stream"] is True and "Guido van Rossum" in request["messages"][0]["content"]
    assert [m.content for m in chat.chat_history] == [question, text]
