"""The async paths of both adapters replayed from cassettes: LangChain ``ainvoke`` /
``astream`` / ``aembed_documents`` and LlamaIndex ``achat`` / ``astream_chat`` /
``aget_text_embedding_batch`` (httpx's async client, recorded like the sync one)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from llama_index.core.base.llms.types import ChatMessage

from together_integrations.langchain import ChatTogether
from together_integrations.langchain import TogetherEmbeddings as LCEmbeddings
from together_integrations.llama_index import TogetherEmbedding as LIEmbedding
from together_integrations.llama_index import TogetherLLM

from ._replay import CHAT_MODEL, EMBED_MODEL, emulator, settings

QUESTION = "Say hello in French."
DOCS = ["Paris is the capital of France.", "Bananas are yellow."]


@pytest.mark.vcr
async def test_ainvoke_and_achat(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply("Bonjour !", times=2)
    message = await ChatTogether(model=CHAT_MODEL, **settings(together_target)).ainvoke(QUESTION)
    assert message.content == "Bonjour !"
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] > 0
    llm = TogetherLLM(model=CHAT_MODEL, **settings(together_target))
    response = await llm.achat([ChatMessage(role="user", content=QUESTION)])
    assert response.message.content == "Bonjour !"
    assert response.additional_kwargs["total_tokens"] == message.usage_metadata["total_tokens"]


@pytest.mark.vcr
async def test_astream_and_astream_chat(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply("One, two, three, four, five.", times=2)
    chat = ChatTogether(model=CHAT_MODEL, **settings(together_target))
    chunks = [chunk async for chunk in chat.astream("Count to five.")]
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert len(chunks) > 2 and full.content == "One, two, three, four, five."
    assert isinstance(full, AIMessageChunk) and full.usage_metadata is not None
    assert full.usage_metadata["output_tokens"] > 0
    llm = TogetherLLM(model=CHAT_MODEL, **settings(together_target))
    stream = await llm.astream_chat([ChatMessage(role="user", content="Count to five.")])
    responses = [r async for r in stream]
    assert len(responses) > 2
    assert responses[-1].message.content == "One, two, three, four, five."
    assert "".join(r.delta or "" for r in responses) == responses[-1].message.content


@pytest.mark.vcr
async def test_async_embeddings(together_target: dict[str, Any]) -> None:
    lc = LCEmbeddings(model=EMBED_MODEL, **settings(together_target))
    vectors = await lc.aembed_documents(DOCS)
    assert [len(v) for v in vectors] == [1024, 1024] and vectors[0] != vectors[1]
    query = await lc.aembed_query("capital of France")
    assert len(query) == 1024
    li = LIEmbedding(model_name=EMBED_MODEL, **settings(together_target))
    assert await li.aget_text_embedding_batch(DOCS) == vectors
    assert await li.aget_query_embedding("capital of France") == query
