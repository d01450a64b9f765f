"""The async paths of both adapters replayed from cassettes: LangChain ``ainvoke`` /
``astream`` / ``aembed_documents`` / ``acompress_documents`` and LlamaIndex ``achat`` /
``astream_chat`` / ``acomplete`` / ``aget_text_embedding_batch``, and the media tools' and
loaders' async calls (httpx's async client, recorded like the sync one)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessageChunk, ToolMessage
from llama_index.core.base.llms.types import AudioBlock, ChatMessage, TextBlock

from together_integrations._media import clear_voice_cache
from together_integrations.langchain import (
    ChatTogether,
    TogetherAudioLoader,
    TogetherTextToSpeechTool,
)
from together_integrations.langchain import TogetherEmbeddings as LCEmbeddings
from together_integrations.langchain import TogetherLLM as LCLLM
from together_integrations.langchain import TogetherRerank as LCRerank
from together_integrations.llama_index import (
    TogetherAudioReader,
    TogetherLLM,
    TogetherTextToSpeechToolSpec,
)
from together_integrations.llama_index import TogetherEmbedding as LIEmbedding
from together_integrations.testing.emulator.content import wav

from ._replay import CHAT_MODEL, EMBED_MODEL, LANGUAGE_MODEL, RERANK_MODEL, emulator, settings

QUESTION = "Say hello in French."
DOCS = ["Paris is the capital of France.", "Bananas are yellow."]
SPOKEN = "Together serves open models."


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


@pytest.mark.vcr
async def test_async_completion_and_rerank(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.reply(" upon a time", times=2)
    lc = LCLLM(model=LANGUAGE_MODEL, max_tokens=16, **settings(together_target))
    assert await lc.ainvoke("Once") == " upon a time"
    li = TogetherLLM(model=LANGUAGE_MODEL, max_tokens=16, **settings(together_target))
    assert (await li.acomplete("Once")).text == " upon a time"
    query = "What is the capital of France?"
    rerank = LCRerank(model=RERANK_MODEL, top_n=1, **settings(together_target))
    (best,) = await rerank.acompress_documents([Document(page_content=d) for d in DOCS], query)
    assert best.page_content == DOCS[0] and best.metadata["relevance_score"] > 0


@pytest.mark.vcr
async def test_async_media_tools(together_target: dict[str, Any], tmp_path: Path) -> None:
    """The tools' and loaders' async paths: ``ainvoke`` (with the async voices check),
    ``aspeak``, ``aload`` and ``aload_data``."""
    clear_voice_cache()  # cached per transport: fetch it here, whatever ran before
    speech = TogetherTextToSpeechTool(**settings(together_target))
    payload = {"type": "tool_call", "id": "call-1", "name": speech.name, "args": {"text": "Hi."}}
    message = await speech.ainvoke(payload)
    assert isinstance(message, ToolMessage) and "as 'tara'" in str(message.content)
    (block,) = message.artifact
    assert base64.b64decode(block["base64"])[:4] == b"RIFF"
    spec = TogetherTextToSpeechToolSpec(voice="calm man", **settings(together_target))
    text, sound = await spec.aspeak("Hi.")
    assert isinstance(text, TextBlock) and isinstance(sound, AudioBlock)
    recording = tmp_path / "talk.wav"
    recording.write_bytes(wav(SPOKEN))
    (doc,) = await TogetherAudioLoader(str(recording), **settings(together_target)).aload()
    assert doc.page_content == SPOKEN and doc.metadata["task"] == "transcribe"
    reader = TogetherAudioReader(split="segment", **settings(together_target))
    nodes = await reader.aload_data(recording)
    assert [n.text for n in nodes] == [SPOKEN]
