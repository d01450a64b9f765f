"""``POST /chat/completions``, plain and streamed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, chunk_parser, json_parser
from together_integrations._streaming import AsyncStream, Stream
from together_integrations.schemas import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest

from ._base import Resource, as_request

__all__ = ["Chat", "chunk_is_final"]

_PARSE = json_parser(ChatCompletion)
_PARSE_CHUNK = chunk_parser(ChatCompletionChunk)


def chunk_is_final(chunk: Any) -> bool:
    """A chunk that carries a finish reason ends the answer (even without ``[DONE]``)."""
    return any(choice.finish_reason is not None for choice in chunk.choices)


def _call(request: ChatCompletionRequest | Mapping[str, Any], stream: bool) -> Call:
    body = as_request(ChatCompletionRequest, request, stream=stream)
    return Call("POST", "/chat/completions", json=body.to_wire_json())


class Chat(Resource):
    """Chat completions."""

    __slots__ = ()

    def create(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ChatCompletion:
        """``POST /chat/completions`` without streaming."""
        return self._transport.request(_call(request, False), _PARSE, options)

    async def acreate(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ChatCompletion:
        """Async :meth:`create`."""
        return await self._transport.arequest(_call(request, False), _PARSE, options)

    def stream(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> Stream[ChatCompletionChunk]:
        """``POST /chat/completions`` with ``stream: true``: a stream of chunks."""
        return self._transport.stream(_call(request, True), _PARSE_CHUNK, chunk_is_final, options)

    async def astream(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> AsyncStream[ChatCompletionChunk]:
        """Async :meth:`stream`."""
        return await self._transport.astream(
            _call(request, True), _PARSE_CHUNK, chunk_is_final, options
        )
