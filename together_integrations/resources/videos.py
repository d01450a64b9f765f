"""Video generation under the ``/v2`` root: ``POST /videos`` (paid: never re-sent once it
may have reached the server), retrieve, and waiting for the video."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations._jobs import Clock, JobLike, await_for, wait_for
from together_integrations.schemas import VideoCreateRequest, VideoJob

from ._base import Resource, as_request, path_param
from ._jobs import policy

__all__ = ["Videos"]

_PARSE = json_parser(VideoJob)


def _create_call(request: VideoCreateRequest | Mapping[str, Any]) -> Call:
    body = as_request(VideoCreateRequest, request)
    return Call("POST", "/videos", json=body.to_wire_json(), root="v2", paid=True)


def _retrieve_call(video_id: str) -> Call:
    return Call("GET", f"/videos/{path_param('video_id', video_id)}", root="v2")


class Videos(Resource):
    """Video jobs (Veo, Sora, Kling...)."""

    __slots__ = ()

    def create(
        self,
        request: VideoCreateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> VideoJob:
        """Start a video job; returns at once with its id."""
        return self._transport.request(_create_call(request), _PARSE, options)

    async def acreate(
        self,
        request: VideoCreateRequest | Mapping[str, Any],
        *,
        options: RequestOptions | None = None,
    ) -> VideoJob:
        """Async :meth:`create`."""
        return await self._transport.arequest(_create_call(request), _PARSE, options)

    def retrieve(self, video_id: str, *, options: RequestOptions | None = None) -> VideoJob:
        """``GET /v2/videos/{id}``."""
        return self._transport.request(_retrieve_call(video_id), _PARSE, options)

    async def aretrieve(self, video_id: str, *, options: RequestOptions | None = None) -> VideoJob:
        """Async :meth:`retrieve`."""
        return await self._transport.arequest(_retrieve_call(video_id), _PARSE, options)

    def wait_until_done(
        self,
        video_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> VideoJob:
        """Poll until the video is ready (``outputs.video_url``) and return the job.

        Raises:
            JobFailedError: the job failed or was cancelled, with the server's reason.
            JobTimeoutError: ``timeout`` passed; the job goes on, wait again to resume.
        """
        return wait_for(
            lambda: self.retrieve(video_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="video",
            on_progress=on_progress,
        )

    async def await_until_done(
        self,
        video_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
    ) -> VideoJob:
        """Async :meth:`wait_until_done`."""
        return await await_for(
            lambda: self.aretrieve(video_id),
            policy=policy(timeout, poll_interval, max_interval),
            clock=clock,
            kind="video",
            on_progress=on_progress,
        )
