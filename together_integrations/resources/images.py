"""``POST /images/generations``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations.schemas import ImageGenerationRequest, ImageResponse

from ._base import Resource, as_request

__all__ = ["Images"]

_PARSE = json_parser(ImageResponse)


def _call(request: ImageGenerationRequest | Mapping[str, Any]) -> Call:
    return Call(
        "POST",
        "/images/generations",
        json=as_request(ImageGenerationRequest, request).to_wire_json(),
    )


class Images(Resource):
    """Image generation."""

    __slots__ = ()

    def generate(
        self,
        request: ImageGenerationRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ImageResponse:
        """``POST /images/generations``."""
        return self._transport.request(_call(request), _PARSE, options)

    async def agenerate(
        self,
        request: ImageGenerationRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ImageResponse:
        """Async :meth:`generate`."""
        return await self._transport.arequest(_call(request), _PARSE, options)
