"""Fine-tuning: ``POST /fine-tunes`` (paid: never re-sent once it may have reached the
server), list, retrieve, events, checkpoints, cancel, delete, price estimates, resumable
downloads of the result, and waiting for a job to finish."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations._jobs import Clock, JobLike, await_for, wait_for
from together_integrations.schemas import (
    FineTuneCheckpoint,
    FineTuneCheckpointList,
    FineTuneDeleted,
    FineTuneEvent,
    FineTuneEventList,
    FineTuneJob,
    FineTuneList,
    FineTunePriceEstimate,
    FineTunePriceEstimateRequest,
    FineTuneRequest,
)

from ._base import Resource, as_request, path_param
from ._jobs import policy

__all__ = ["FineTuning"]

_PARSE = json_parser(FineTuneJob)
_PARSE_LIST = json_parser(FineTuneList)
_PARSE_EVENTS = json_parser(FineTuneEventList)
_PARSE_CHECKPOINTS = json_parser(FineTuneCheckpointList)
_PARSE_DELETED = json_parser(FineTuneDeleted)
_PARSE_PRICE = json_parser(FineTunePriceEstimate)


def _create_call(request: FineTuneRequest | Mapping[str, Any]) -> Call:
    body = as_request(FineTuneRequest, request)
    return Call("POST", "/fine-tunes", json=body.to_wire_json(), paid=True)


def _job(job_id: str, suffix: str = "", method: str = "GET") -> Call:
    return Call(method, f"/fine-tunes/{path_param('fine_tune_id', job_id)}{suffix}")


def _price_call(request: FineTunePriceEstimateRequest | Mapping[str, Any]) -> Call:
    body = as_request(FineTunePriceEstimateRequest, request)
    return Call("POST", "/fine-tunes/estimate-price", json=body.to_wire_json())


def _download_call(job_id: str, checkpoint: str, checkpoint_step: int | None) -> Call:
    params = {"ft_id": job_id, "checkpoint": checkpoint}
    if checkpoint_step is not None:
        params["checkpoint_step"] = str(checkpoint_step)
    return Call(
        "GET", "/finetune/download", params=params, headers={"Accept": "application/octet-stream"}
    )


class FineTuning(Resource):
    """Fine-tuning jobs (LoRA or full; SFT or DPO) on uploaded training files."""

    __slots__ = ()

    def create(
        self, request: FineTuneRequest | Mapping[str, Any], *, options: RequestOptions | None = None
    ) -> FineTuneJob:
        """Start a fine-tune. Retried only when it cannot have reached the server."""
        return self._transport.request(_create_call(request), _PARSE, options)

    async def acreate(
        self, request: FineTuneRequest | Mapping[str, Any], *, options: RequestOptions | None = None
    ) -> FineTuneJob:
        """Async :meth:`create`."""
        return await self._transport.arequest(_create_call(request), _PARSE, options)

    def list(self, *, options: RequestOptions | None = None) -> builtins.list[FineTuneJob]:
        """``GET /fine-tunes``."""
        return self._transport.request(Call("GET", "/fine-tunes"), _PARSE_LIST, options).data

    async def alist(self, *, options: RequestOptions | None = None) -> builtins.list[FineTuneJob]:
        """Async :meth:`list`."""
        call = Call("GET", "/fine-tunes")
        return (await self._transport.arequest(call, _PARSE_LIST, options)).data

    def retrieve(self, job_id: str, *, options: RequestOptions | None = None) -> FineTuneJob:
        """``GET /fine-tunes/{id}``."""
        return self._transport.request(_job(job_id), _PARSE, options)

    async def aretrieve(self, job_id: str, *, options: RequestOptions | None = None) -> FineTuneJob:
        """Async :meth:`retrieve`."""
        return await self._transport.arequest(_job(job_id), _PARSE, options)

    def events(
        self, job_id: str, *, options: RequestOptions | None = None
    ) -> builtins.list[FineTuneEvent]:
        """``GET /fine-tunes/{id}/events``."""
        return self._transport.request(_job(job_id, "/events"), _PARSE_EVENTS, options).data

    async def aevents(
        self, job_id: str, *, options: RequestOptions | None = None
    ) -> builtins.list[FineTuneEvent]:
        """Async :meth:`events`."""
        call = _job(job_id, "/events")
        return (await self._transport.arequest(call, _PARSE_EVENTS, options)).data

    def checkpoints(
        self, job_id: str, *, options: RequestOptions | None = None
    ) -> builtins.list[FineTuneCheckpoint]:
        """``GET /fine-tunes/{id}/checkpoints``."""
        call = _job(job_id, "/checkpoints")
        return self._transport.request(call, _PARSE_CHECKPOINTS, options).data

    async def acheckpoints(
        self, job_id: str, *, options: RequestOptions | None = None
    ) -> builtins.list[FineTuneCheckpoint]:
        """Async :meth:`checkpoints`."""
        call = _job(job_id, "/checkpoints")
        return (await self._transport.arequest(call, _PARSE_CHECKPOINTS, options)).data

    def cancel(self, job_id: str, *, options: RequestOptions | None = None) -> FineTuneJob:
        """``POST /fine-tunes/{id}/cancel``."""
        return self._transport.request(_job(job_id, "/cancel", "POST"), _PARSE, options)

    async def acancel(self, job_id: str, *, options: RequestOptions | None = None) -> FineTuneJob:
        """Async :meth:`cancel`."""
        return await self._transport.arequest(_job(job_id, "/cancel", "POST"), _PARSE, options)

    def delete(self, job_id: str, *, options: RequestOptions | None = None) -> FineTuneDeleted:
        """``DELETE /fine-tunes/{id}``."""
        return self._transport.request(_job(job_id, method="DELETE"), _PARSE_DELETED, options)

    async def adelete(
        self, job_id: str, *, options: RequestOptions | None = None
    ) -> FineTuneDeleted:
        """Async :meth:`delete`."""
        call = _job(job_id, method="DELETE")
        return await self._transport.arequest(call, _PARSE_DELETED, options)

    def estimate_price(
        self,
        request: FineTunePriceEstimateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> FineTunePriceEstimate:
        """``POST /fine-tunes/estimate-price``."""
        return self._transport.request(_price_call(request), _PARSE_PRICE, options)

    async def aestimate_price(
        self,
        request: FineTunePriceEstimateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> FineTunePriceEstimate:
        """Async :meth:`estimate_price`."""
        return await self._transport.arequest(_price_call(request), _PARSE_PRICE, options)

    def download(
        self,
        job_id: str,
        path: str | os.PathLike[str],
        *,
        checkpoint: str = "merged",
        checkpoint_step: int | None = None,
        options: RequestOptions | None = None,
    ) -> Path:
        """Download the trained model (``merged``, ``adapter`` or ``model_output_path``):
        streamed, resumed after a cut, renamed into place when complete."""
        from .files import write_atomically

        blocks = self._transport.iter_content(
            _download_call(job_id, checkpoint, checkpoint_step), options
        )
        return write_atomically(Path(path), blocks)

    async def adownload(
        self,
        job_id: str,
        path: str | os.PathLike[str],
        *,
        checkpoint: str = "merged",
        checkpoint_step: int | None = None,
        options: RequestOptions | None = None,
    ) -> Path:
        """Async :meth:`download`."""
        from .files import awrite_atomically

        blocks = self._transport.aiter_content(
            _download_call(job_id, checkpoint, checkpoint_step), options
        )
        return await awrite_atomically(Path(path), blocks)

    def wait_until_done(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> FineTuneJob:
        """Poll until the job is terminal and return it.

        Raises:
            JobFailedError: at once when it ends ``error`` or ``cancelled``, with the
                server's reason (never a loop).
            JobTimeoutError: ``timeout`` passed; the job goes on, wait again to resume.
        """
        return wait_for(
            lambda: self.retrieve(job_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="fine-tune",
            on_progress=on_progress,
        )

    async def await_until_done(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> FineTuneJob:
        """Async :meth:`wait_until_done`."""
        return await await_for(
            lambda: self.aretrieve(job_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="fine-tune",
            on_progress=on_progress,
        )
