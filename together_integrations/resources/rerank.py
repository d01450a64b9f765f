"""``POST /rerank``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations.schemas import RerankRequest, RerankResponse

from ._base import Resource, as_request

__all__ = ["Rerank"]

_PARSE = json_parser(RerankResponse)


def _call(request: RerankRequest | Mapping[str, Any]) -> Call:
    return Call("POST", "/rerank", json=as_request(RerankRequest, request).to_wire_json())


class Rerank(Resource):
    """Document reranking."""

    __slots__ = ()

    def create(
        self, request: RerankRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> RerankResponse:
        """``POST /rerank``."""
        return self._transport.request(_call(request), _PARSE, options)

    async def acreate(
        self, request: RerankRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> RerankResponse:
        """Async :meth:`create`."""
        return await self._transport.arequest(_call(request), _PARSE, options)
