"""Base classes for Together wire models.

Responses tolerate unknown fields (the server adds keys over time: ``prompt``, ``warnings``,
``metadata``, ``kv_transfer_params``...) and keep them in ``model_extra`` so nothing the server
sends is lost. Requests allow extra fields too: that is how ``extra_body`` reaches the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr


class WireModel(BaseModel):
    """A response object from the Together API."""

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, protected_namespaces=(), defer_build=True
    )

    _response_headers: Mapping[str, str] | None = PrivateAttr(default=None)
    """The headers of the response this object came from (set by the transport)."""


def response_headers(obj: object) -> Mapping[str, str]:
    """The HTTP headers of the response a parsed object came from (rate limits, request id);
    empty for objects not read from a response."""
    headers = getattr(obj, "_response_headers", None) if isinstance(obj, WireModel) else None
    return headers if headers is not None else {}


class RequestModel(BaseModel):
    """A request body for the Together API.

    Unset optional fields are not sent: ``to_wire`` drops ``None`` so the server applies its
    own defaults. Extra keys (``extra_body``) are sent as given.
    """

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, protected_namespaces=(), defer_build=True
    )

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready body, without unset (``None``) fields."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    def to_wire_json(self) -> bytes:
        """Return the body serialised as compact JSON bytes."""
        return self.model_dump_json(exclude_none=True, by_alias=True).encode()
