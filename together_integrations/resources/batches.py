"""The Batch API: ``POST /batches`` (paid: never re-sent once it may have reached the
server), retrieve, list, cancel, and waiting for a job to finish."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations._jobs import Clock, JobLike, await_for, wait_for
from together_integrations.schemas import (
    BatchCreateRequest,
    BatchJob,
    parse_batch_create,
    parse_batch_list,
)

from ._base import Resource, path_param
from ._jobs import policy

__all__ = ["Batches"]

logger = logging.getLogger("together_integrations")

_PARSE = json_parser(BatchJob)


def _create_call(
    input_file_id: str,
    endpoint: str,
    completion_window: str,
    priority: int | None,
    model_id: str | None,
) -> Call:
    body = BatchCreateRequest(
        input_file_id=input_file_id,
        endpoint=endpoint,
        completion_window=completion_window,
        priority=priority,
        model_id=model_id,
    )
    return Call("POST", "/batches", json=body.to_wire_json(), paid=True)


def _created(content: bytes) -> BatchJob:
    created = parse_batch_create(content)
    if created.warning:
        logger.warning("Batch %s created with a warning: %s", created.job.id, created.warning)
    return created.job


def _job_call(batch_id: str, action: str = "") -> Call:
    return Call("POST" if action else "GET", f"/batches/{path_param('batch_id', batch_id)}{action}")


class Batches(Resource):
    """Batch jobs: many requests in one input file, run within a completion window."""

    __slots__ = ()

    def create(
        self,
        input_file_id: str,
        *,
        endpoint: str = "/v1/chat/completions",
        completion_window: str = "24h",
        priority: int | None = None,
        model_id: str | None = None,
        options: RequestOptions | None = None,
    ) -> BatchJob:
        """Start a batch over an uploaded ``batch-api`` file. A server warning is logged."""
        call = _create_call(input_file_id, endpoint, completion_window, priority, model_id)
        return self._transport.request(call, _created, options)

    async def acreate(
        self,
        input_file_id: str,
        *,
        endpoint: str = "/v1/chat/completions",
        completion_window: str = "24h",
        priority: int | None = None,
        model_id: str | None = None,
        options: RequestOptions | None = None,
    ) -> BatchJob:
        """Async :meth:`create`."""
        call = _create_call(input_file_id, endpoint, completion_window, priority, model_id)
        return await self._transport.arequest(call, _created, options)

    def retrieve(self, batch_id: str, *, options: RequestOptions | None = None) -> BatchJob:
        """``GET /batches/{id}``."""
        return self._transport.request(_job_call(batch_id), _PARSE, options)

    async def aretrieve(self, batch_id: str, *, options: RequestOptions | None = None) -> BatchJob:
        """Async :meth:`retrieve`."""
        return await self._transport.arequest(_job_call(batch_id), _PARSE, options)

    def list(self, *, options: RequestOptions | None = None) -> builtins.list[BatchJob]:
        """``GET /batches`` (the server sends a bare array)."""
        return self._transport.request(Call("GET", "/batches"), parse_batch_list, options)

    async def alist(self, *, options: RequestOptions | None = None) -> builtins.list[BatchJob]:
        """Async :meth:`list`."""
        return await self._transport.arequest(Call("GET", "/batches"), parse_batch_list, options)

    def cancel(self, batch_id: str, *, options: RequestOptions | None = None) -> BatchJob:
        """``POST /batches/{id}/cancel``. Items finished before it are still billed and
        returned in the output file."""
        return self._transport.request(_job_call(batch_id, "/cancel"), _PARSE, options)

    async def acancel(self, batch_id: str, *, options: RequestOptions | None = None) -> BatchJob:
        """Async :meth:`cancel`."""
        return await self._transport.arequest(_job_call(batch_id, "/cancel"), _PARSE, options)

    def wait_until_done(
        self,
        batch_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> BatchJob:
        """Poll until the batch is terminal and return it.

        Raises:
            JobFailedError: it ended FAILED, EXPIRED or CANCELLED (download both files
                anyway: finished items are in the output file).
            JobTimeoutError: ``timeout`` passed; the batch goes on, wait again to resume.
        """
        return wait_for(
            lambda: self.retrieve(batch_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="batch",
            on_progress=on_progress,
        )

    async def await_until_done(
        self,
        batch_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> BatchJob:
        """Async :meth:`wait_until_done`."""
        return await await_for(
            lambda: self.aretrieve(batch_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="batch",
            on_progress=on_progress,
        )
