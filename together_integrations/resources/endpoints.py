"""Dedicated endpoints: create (paid: never re-sent once it may have reached the server),
list, retrieve, update (start, stop, scale), delete, the hardware on offer, and waiting for
an endpoint to settle (``STARTED``, ``STOPPED`` or ``ERROR``)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations._jobs import Clock, JobLike, await_for, wait_for
from together_integrations.schemas import (
    DedicatedEndpoint,
    EndpointCreateRequest,
    EndpointList,
    EndpointUpdateRequest,
    Hardware,
    HardwareList,
)

from ._base import Resource, as_request, path_param
from ._jobs import policy

__all__ = ["Endpoints"]

_PARSE = json_parser(DedicatedEndpoint)
_PARSE_LIST = json_parser(EndpointList)
_PARSE_HARDWARE = json_parser(HardwareList)


def _deleted(content: bytes) -> None:
    return None


def _create_call(request: EndpointCreateRequest | Mapping[str, Any]) -> Call:
    body = as_request(EndpointCreateRequest, request)
    return Call("POST", "/endpoints", json=body.to_wire_json(), paid=True)


def _list_call(type: str | None, usage_type: str | None, mine: bool | None) -> Call:
    params = {"type": type, "usage_type": usage_type}
    query = {k: v for k, v in params.items() if v is not None}
    if mine is not None:
        query["mine"] = "true" if mine else "false"
    return Call("GET", "/endpoints", params=query or None)


def _one(endpoint_id: str, method: str = "GET", body: bytes | None = None) -> Call:
    return Call(method, f"/endpoints/{path_param('endpoint_id', endpoint_id)}", json=body)


def _update_call(endpoint_id: str, request: EndpointUpdateRequest | Mapping[str, Any]) -> Call:
    return _one(endpoint_id, "PATCH", as_request(EndpointUpdateRequest, request).to_wire_json())


def _hardware_call(model: str | None) -> Call:
    return Call("GET", "/hardware", params={"model": model} if model else None)


class Endpoints(Resource):
    """Dedicated endpoints, for models that are not served serverless."""

    __slots__ = ()

    def create(
        self,
        request: EndpointCreateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> DedicatedEndpoint:
        """``POST /endpoints``: billed from the moment it starts."""
        return self._transport.request(_create_call(request), _PARSE, options)

    async def acreate(
        self,
        request: EndpointCreateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> DedicatedEndpoint:
        """Async :meth:`create`."""
        return await self._transport.arequest(_create_call(request), _PARSE, options)

    def list(
        self,
        *,
        type: str | None = None,
        usage_type: str | None = None,
        mine: bool | None = None,
        options: RequestOptions | None = None,
    ) -> builtins.list[DedicatedEndpoint]:
        """``GET /endpoints`` (``type``: ``dedicated`` or ``serverless``)."""
        call = _list_call(type, usage_type, mine)
        return self._transport.request(call, _PARSE_LIST, options).data

    async def alist(
        self,
        *,
        type: str | None = None,
        usage_type: str | None = None,
        mine: bool | None = None,
        options: RequestOptions | None = None,
    ) -> builtins.list[DedicatedEndpoint]:
        """Async :meth:`list`."""
        call = _list_call(type, usage_type, mine)
        return (await self._transport.arequest(call, _PARSE_LIST, options)).data

    def retrieve(
        self, endpoint_id: str, *, options: RequestOptions | None = None
    ) -> DedicatedEndpoint:
        """``GET /endpoints/{id}``."""
        return self._transport.request(_one(endpoint_id), _PARSE, options)

    async def aretrieve(
        self, endpoint_id: str, *, options: RequestOptions | None = None
    ) -> DedicatedEndpoint:
        """Async :meth:`retrieve`."""
        return await self._transport.arequest(_one(endpoint_id), _PARSE, options)

    def update(
        self,
        endpoint_id: str,
        request: EndpointUpdateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> DedicatedEndpoint:
        """``PATCH /endpoints/{id}``: ``{"state": "STARTED"}`` starts it, ``"STOPPED"`` stops
        it, ``autoscaling`` scales it."""
        return self._transport.request(_update_call(endpoint_id, request), _PARSE, options)

    async def aupdate(
        self,
        endpoint_id: str,
        request: EndpointUpdateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> DedicatedEndpoint:
        """Async :meth:`update`."""
        return await self._transport.arequest(_update_call(endpoint_id, request), _PARSE, options)

    def delete(self, endpoint_id: str, *, options: RequestOptions | None = None) -> None:
        """``DELETE /endpoints/{id}``."""
        self._transport.request(_one(endpoint_id, "DELETE"), _deleted, options)

    async def adelete(self, endpoint_id: str, *, options: RequestOptions | None = None) -> None:
        """Async :meth:`delete`."""
        await self._transport.arequest(_one(endpoint_id, "DELETE"), _deleted, options)

    def hardware(
        self, *, model: str | None = None, options: RequestOptions | None = None
    ) -> builtins.list[Hardware]:
        """``GET /hardware``: what an endpoint (for ``model``) can run on, with prices."""
        return self._transport.request(_hardware_call(model), _PARSE_HARDWARE, options).data

    async def ahardware(
        self, *, model: str | None = None, options: RequestOptions | None = None
    ) -> builtins.list[Hardware]:
        """Async :meth:`hardware`."""
        return (
            await self._transport.arequest(_hardware_call(model), _PARSE_HARDWARE, options)
        ).data

    def wait_until_done(
        self,
        endpoint_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> DedicatedEndpoint:
        """Poll until the endpoint settles (``STARTED`` or ``STOPPED``) and return it.

        Raises:
            JobFailedError: it went to ``ERROR``.
            JobTimeoutError: ``timeout`` passed while it was still changing state.
        """
        return wait_for(
            lambda: self.retrieve(endpoint_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="endpoint",
            on_progress=on_progress,
        )

    async def await_until_done(
        self,
        endpoint_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> DedicatedEndpoint:
        """Async :meth:`wait_until_done`."""
        return await await_for(
            lambda: self.aretrieve(endpoint_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="endpoint",
            on_progress=on_progress,
        )
