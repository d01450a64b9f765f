"""``GET /models``."""

from __future__ import annotations

import builtins

from together_integrations._base_transport import Call, RequestOptions
from together_integrations.schemas import ModelInfo, parse_model_list

from ._base import Resource

__all__ = ["Models"]


def _call(dedicated: bool | None) -> Call:
    return Call("GET", "/models", params={"dedicated": "true"} if dedicated else None)


class Models(Resource):
    """The model catalog of the account."""

    __slots__ = ()

    def list(
        self, *, dedicated: bool | None = None, options: RequestOptions | None = None
    ) -> builtins.list[ModelInfo]:
        """``GET /models`` (``dedicated=True``: models that need a dedicated endpoint)."""
        return self._transport.request(_call(dedicated), parse_model_list, options)

    async def alist(
        self, *, dedicated: bool | None = None, options: RequestOptions | None = None
    ) -> builtins.list[ModelInfo]:
        """Async :meth:`list`."""
        return await self._transport.arequest(_call(dedicated), parse_model_list, options)
