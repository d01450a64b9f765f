"""``POST /embeddings``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations.schemas import EmbeddingRequest, EmbeddingResponse

from ._base import Resource, as_request

__all__ = ["Embeddings"]

_PARSE = json_parser(EmbeddingResponse)


def _call(request: EmbeddingRequest | Mapping[str, Any]) -> Call:
    return Call("POST", "/embeddings", json=as_request(EmbeddingRequest, request).to_wire_json())


class Embeddings(Resource):
    """Embeddings."""

    __slots__ = ()

    def create(
        self, request: EmbeddingRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> EmbeddingResponse:
        """``POST /embeddings``."""
        return self._transport.request(_call(request), _PARSE, options)

    async def acreate(
        self, request: EmbeddingRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> EmbeddingResponse:
        """Async :meth:`create`."""
        return await self._transport.arequest(_call(request), _PARSE, options)
