"""What every resource shares: the transport it talks through, and request coercion.

A resource knows its paths, its request and response models and whether an operation starts
paid work; it knows nothing about pools, retries or errors (the transport's job). Each
method builds one :class:`~together_integrations._base_transport.Call` and hands it to the
transport; the async twin (``a``-prefixed) differs only by ``await``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from together_integrations._exceptions import TogetherConfigError
from together_integrations.schemas import RequestModel

if TYPE_CHECKING:
    from together_integrations._transport import TogetherTransport

__all__ = ["Resource", "as_request", "path_param"]

R = TypeVar("R", bound=RequestModel)


class Resource:
    """A family of endpoints reached from a transport (``transport.files``...)."""

    __slots__ = ("_transport",)

    def __init__(self, transport: TogetherTransport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._transport!r}>"


def as_request(model: type[R], request: R | Mapping[str, Any], **updates: Any) -> R:
    """Accept a request model or a dict of its fields; apply ``updates`` (``stream``...)."""
    if isinstance(request, model):
        body = request
    elif isinstance(request, Mapping):
        body = model.model_validate(dict(request))
    else:
        raise TypeError(
            f"Expected a {model.__name__} or a dict of its fields, got {type(request).__name__}."
        )
    changed = {k: v for k, v in updates.items() if getattr(body, k, None) != v}
    if changed:
        body = body.model_copy(update=changed)
    return body


def path_param(name: str, value: str) -> str:
    """A path segment from an id, refusing what would change the path (``../``, ``/``)."""
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise TogetherConfigError(f"{name} must be a non-empty id string, got {value!r}.")
    return quote(value, safe="")
