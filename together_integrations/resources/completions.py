"""``POST /completions`` (raw prompts for language models), plain and streamed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, chunk_parser, json_parser
from together_integrations._streaming import AsyncStream, Stream
from together_integrations.schemas import Completion, CompletionChunk, CompletionRequest

from ._base import Resource, as_request
from .chat import chunk_is_final

__all__ = ["Completions"]

_PARSE = json_parser(Completion)
_PARSE_CHUNK = chunk_parser(CompletionChunk)


def _call(request: CompletionRequest | Mapping[str, Any], stream: bool) -> Call:
    body = as_request(CompletionRequest, request, stream=stream)
    return Call("POST", "/completions", json=body.to_wire_json())


class Completions(Resource):
    """Text completions."""

    __slots__ = ()

    def create(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Completion:
        """``POST /completions`` without streaming."""
        return self._transport.request(_call(request, False), _PARSE, options)

    async def acreate(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Completion:
        """Async :meth:`create`."""
        return await self._transport.arequest(_call(request, False), _PARSE, options)

    def stream(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Stream[CompletionChunk]:
        """``POST /completions`` with ``stream: true``."""
        return self._transport.stream(_call(request, True), _PARSE_CHUNK, chunk_is_final, options)

    async def astream(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> AsyncStream[CompletionChunk]:
        """Async :meth:`stream`."""
        return await self._transport.astream(
            _call(request, True), _PARSE_CHUNK, chunk_is_final, options
        )
