"""Completions, embeddings, rerank and the model list replayed from cassettes, through the
LangChain and the LlamaIndex adapters (the model list, which neither adapter wraps, through
the transport)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from together_integrations.langchain import TogetherEmbeddings as LCEmbeddings
from together_integrations.langchain import TogetherLLM as LCLLM
from together_integrations.langchain import TogetherRerank as LCRerank
from together_integrations.llama_index import TogetherEmbedding as LIEmbedding
from together_integrations.llama_index import TogetherLLM as LILLM
from together_integrations.llama_index import TogetherRerank as LIRerank

from ._replay import EMBED_MODEL, LANGUAGE_MODEL, RERANK_MODEL, emulator, settings, transport

DOCS = ["Paris is the capital of France.", "Bananas are yellow.", "France borders Spain."]


@pytest.mark.vcr
def test_completion(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply(" upon a time", times=2)
    text = LCLLM(model=LANGUAGE_MODEL, max_tokens=16, **settings(together_target)).invoke("Once")
    assert text == " upon a time"
    li = LILLM(model=LANGUAGE_MODEL, max_tokens=16, **settings(together_target))
    assert li.metadata.is_chat_model is False  # the catalog: /completions, not /chat
    assert li.complete("Once").text == " upon a time"


@pytest.mark.vcr
def test_completion_stream(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply(" upon a time there was a cassette", times=2)
    lc = LCLLM(model=LANGUAGE_MODEL, max_tokens=16, **settings(together_target))
    pieces = list(lc.stream("Once"))
    assert len(pieces) > 2 and "".join(pieces) == " upon a time there was a cassette"
    li = LILLM(model=LANGUAGE_MODEL, max_tokens=16, **settings(together_target))
    responses = list(li.stream_complete("Once"))
    assert len(responses) > 2
    assert responses[-1].text == " upon a time there was a cassette"
    assert "".join(r.delta or "" for r in responses) == responses[-1].text


@pytest.mark.vcr
def test_embeddings(together_target: dict[str, Any]) -> None:
    lc = LCEmbeddings(model=EMBED_MODEL, **settings(together_target))
    vectors = lc.embed_documents(DOCS)
    assert [len(v) for v in vectors] == [1024] * 3
    assert vectors[0] != vectors[1]
    li = LIEmbedding(model_name=EMBED_MODEL, **settings(together_target))
    assert li.get_text_embedding_batch(DOCS) == vectors  # the same wire, the same order


@pytest.mark.vcr
def test_rerank(together_target: dict[str, Any]) -> None:
    query = "What is the capital of France?"
    lc = LCRerank(model=RERANK_MODEL, top_n=2, **settings(together_target))
    kept = lc.compress_documents([Document(page_content=d) for d in DOCS], query)
    assert len(kept) == 2 and kept[0].page_content == DOCS[0]
    scores = [d.metadata["relevance_score"] for d in kept]
    assert scores == sorted(scores, reverse=True)
    li = LIRerank(model=RERANK_MODEL, top_n=2, **settings(together_target))
    nodes = [NodeWithScore(node=TextNode(text=d), score=0.0) for d in DOCS]
    best = li.postprocess_nodes(nodes, query_str=query)
    assert [n.node.get_content() for n in best] == [d.page_content for d in kept]
    assert [n.score for n in best] == scores


@pytest.mark.vcr
def test_models_list(together_target: dict[str, Any]) -> None:
    with transport(together_target) as t:
        models = t.models.list()
    by_id = {m.id: m for m in models}
    assert len(models) >= 30
    assert by_id[EMBED_MODEL].type == "embedding"
    assert by_id[RERANK_MODEL].type == "rerank"
    assert by_id["meta-llama/Llama-3.3-70B-Instruct-Turbo"].context_length == 131_072
