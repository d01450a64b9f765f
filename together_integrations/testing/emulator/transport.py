"""The in-process front-end: an httpx transport (sync and async) answered by the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx

from .wire import EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator

__all__ = ["EmulatorTransport"]

_CUT = "peer closed connection without sending complete message body (incomplete chunked read)"


class _EmulatedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The body, yielded piece by piece; honours per-chunk delays, cuts and early close."""

    def __init__(self, response: EmulatedResponse) -> None:
        self.response = response
        self.closed = False
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.response.pieces():
            if self.closed:
                return
            if self.response.delay_each:
                time.sleep(self.response.delay_each)
            self.sent += 1
            yield piece
        if self.response.reset_after is not None:
            raise httpx.RemoteProtocolError(_CUT)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.response.pieces():
            if self.closed:
                return
            if self.response.delay_each:
                await asyncio.sleep(self.response.delay_each)
            self.sent += 1
            yield piece
        if self.response.reset_after is not None:
            raise httpx.RemoteProtocolError(_CUT)

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport, sync and async, answering from a :class:`TogetherEmulator`.

    No sockets are opened; faults surface as the exceptions httpx's own transports raise
    (``httpx.RemoteProtocolError`` for resets and cut streams).
    """

    def __init__(self, emulator: TogetherEmulator) -> None:
        self.emulator = emulator
        self.last_stream: _EmulatedStream | None = None
        """The body stream of the latest response (``sent``: chunks yielded, ``closed``)."""

    def _answer(
        self, request: httpx.Request, body: bytes
    ) -> tuple[EmulatedResponse, httpx.Response]:
        target = request.url.raw_path.decode("ascii")
        # URLs the emulator hands out (presigned uploads, media) point back at the origin
        # the client used, so the same client can follow them.
        origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        answer = self.emulator.handle(
            request.method, target, dict(request.headers), body, origin=origin
        )
        if answer.reset_before_headers:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        self.last_stream = _EmulatedStream(answer)
        headers = dict(answer.headers)
        length = len(answer.body) if answer.chunks is None else answer.declared_length
        if length is not None:
            # As the loopback server declares it: clients size downloads and resumes by it.
            headers["content-length"] = str(length)
        response = httpx.Response(
            answer.status, headers=headers, stream=self.last_stream, request=request
        )
        return answer, response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request synchronously (``time.sleep`` for delays)."""
        answer, response = self._answer(request, request.read())
        if answer.delay_first:
            time.sleep(answer.delay_first)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request asynchronously (``asyncio.sleep`` for delays)."""
        answer, response = self._answer(request, await request.aread())
        if answer.delay_first:
            await asyncio.sleep(answer.delay_first)
        return response
