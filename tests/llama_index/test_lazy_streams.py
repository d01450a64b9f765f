"""Streams send nothing until they are first advanced (issue #9, fault 10): a stream that is
created and never read holds no connection, so unread streams cannot drain the pool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage

from together_integrations import AuthenticationError, TogetherTransport
from together_integrations.llama_index import TogetherLLM
from together_integrations.testing import TogetherEmulator

HI = [ChatMessage(role="user", content="hi")]
CHAT_MODEL = "openai/gpt-oss-20b"
LANGUAGE_MODEL = "mistralai/Mixtral-8x7B-v0.1"


@pytest.mark.parametrize("model", [CHAT_MODEL, LANGUAGE_MODEL])
def test_unread_streams_send_nothing_until_first_advanced(
    emu: TogetherEmulator, model: str
) -> None:
    llm = TogetherLLM(model, transport=emu.transport())
    chats = [llm.stream_chat(HI) for _ in range(100)]
    completions = [llm.stream_complete("Paris is") for _ in range(100)]
    assert emu.requests == []
    emu.reply("answered")
    assert llm.chat(HI).message.content == "answered"
    assert len(emu.requests) == 1
    emu.reply("streamed late")
    assert "".join(r.delta or "" for r in chats[57]) == "streamed late"  # sent only now
    assert len(emu.requests) == 2
    assert list(completions[3])[-1].text  # any of them still works when read
    assert len(emu.requests) == 3


@pytest.mark.parametrize("model", [CHAT_MODEL, LANGUAGE_MODEL])
def test_unread_async_streams_send_nothing_until_first_advanced(
    emu: TogetherEmulator, model: str
) -> None:
    llm = TogetherLLM(model, transport=emu.transport())

    async def scenario() -> tuple[int, str, str]:
        chats = [await llm.astream_chat(HI) for _ in range(100)]
        completions = [await llm.astream_complete("Paris is") for _ in range(100)]
        unsent = len(emu.requests)
        emu.reply("answered")
        answer = (await llm.achat(HI)).message.content or ""
        emu.reply("late")
        late = "".join([r.delta or "" async for r in chats[42]])
        assert [r.text async for r in completions[7]][-1]
        return unsent, answer, late

    assert asyncio.run(scenario()) == (0, "answered", "late")
    assert len(emu.requests) == 3


def test_a_refused_stream_raises_at_the_first_chunk(emu: TogetherEmulator) -> None:
    strict = TogetherEmulator(api_key="right-key")
    llm = TogetherLLM(CHAT_MODEL, transport=strict.transport(api_key="wrong", max_retries=0))
    responses = llm.stream_chat(HI)  # nothing sent, so nothing to refuse yet
    assert strict.requests == []
    with pytest.raises(AuthenticationError):
        next(responses)
    # Request checks that need no server still fail at the call.
    with pytest.raises(ValueError, match="tool_choice without tools"):
        llm.stream_chat(HI, tool_choice="auto")


@pytest.mark.network
def test_100_unread_streams_leave_the_pool_free_for_a_chat(emu: TogetherEmulator) -> None:
    """Over a real connection pool (loopback): before the fix, 100 unread streams held 100
    pooled connections and the chat that followed waited for a free one until it timed out."""
    with emu.serve() as server:
        transport = TogetherTransport(
            api_key="emulator-key", base_url=server.base_url, max_retries=0, timeout=3.0
        )
        try:
            llm = TogetherLLM(CHAT_MODEL, transport=transport)
            unread: list[Any] = [llm.stream_chat(HI) for _ in range(100)]
            emu.reply("the pool is free")
            assert llm.chat(HI).message.content == "the pool is free"
            assert len(emu.requests) == 1 and len(unread) == 100
        finally:
            transport.close()
