"""Server-sent events: a decoder without I/O, and the sync and async stream wrappers.

The decoder follows the WHATWG event-stream rules: lines end with CRLF, LF or CR; ``data``
lines of one event are joined with ``\\n``; lines starting with ``:`` are comments
(keep-alives); an event is dispatched at a blank line. Together sends only ``data:`` lines and
ends with ``data: [DONE]`` (NOTES §4).

A stream that ends with neither ``[DONE]`` nor a finish reason raises
:class:`APIConnectionError` instead of returning a silently truncated answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from ._exceptions import APIConnectionError, APIResponseValidationError, APITimeoutError

T = TypeVar("T")

__all__ = ["AsyncStream", "SSEDecoder", "ServerSentEvent", "Stream"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental event-stream decoder: feed bytes in any split, get whole events out."""

    __slots__ = ("_buf", "_data", "_event", "_id", "_pending_cr", "_retry")

    def __init__(self) -> None:
        self._buf = b""
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk`` (any slice of the byte stream) and return the completed events."""
        if self._pending_cr and chunk.startswith(b"\n"):
            # The CR that ended the previous chunk and this LF are one CRLF line break.
            chunk = chunk[1:]
        self._pending_cr = False
        if not chunk:
            return []
        data = self._buf + chunk
        if b"\r" in data:
            self._pending_cr = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        self._buf = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch a last event that was not followed by a blank line."""
        events: list[ServerSentEvent] = []
        if self._buf:
            event = self._line(self._buf)
            self._buf = b""
            if event is not None:
                events.append(event)
        event = self._line(b"")
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            if not self._data and self._event is None:
                return None
            event = ServerSentEvent("\n".join(self._data), self._event, self._id, self._retry)
            self._data = []
            self._event = None
            self._retry = None
            return event
        if raw[:1] == b":":
            return None
        line = raw.decode("utf-8")
        field, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry" and value.isdigit():
            self._retry = int(value)
        return None


Parse = Callable[[str], T]
IsFinal = Callable[[T], bool]


class _StreamState(Generic[T]):
    """What sync and async streams share: event → item, and the completeness check."""

    __slots__ = ("decoder", "done", "finished", "is_final", "method", "parse", "url")

    def __init__(self, parse: Parse[T], is_final: IsFinal[T], method: str, url: str) -> None:
        self.decoder = SSEDecoder()
        self.parse = parse
        self.is_final = is_final
        self.done = False
        self.finished = False
        self.method = method
        self.url = url

    def items(self, events: list[ServerSentEvent]) -> list[T]:
        out: list[T] = []
        for event in events:
            if self.done:
                break
            data = event.data
            if data == "[DONE]":
                self.done = True
                break
            if not data:
                continue
            try:
                item = self.parse(data)
            except ValueError as exc:
                raise APIResponseValidationError(
                    f"The stream sent an event that is not valid JSON for this endpoint: "
                    f"{data[:200]!r}",
                    status_code=200,
                    body=data,
                    method=self.method,
                    url=self.url,
                ) from exc
            if self.is_final(item):
                self.finished = True
            out.append(item)
        return out

    def check_complete(self) -> None:
        if not (self.done or self.finished):
            raise APIConnectionError(
                "The stream ended before the server finished (no [DONE] and no finish "
                "reason): the answer is incomplete. Retry the request.",
                method=self.method,
                url=self.url,
            )


def _broken(exc: Exception, state: _StreamState[Any]) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            "The stream timed out waiting for the next event. Raise `timeout` or retry.",
            method=state.method,
            url=state.url,
        )
    return APIConnectionError(
        f"The stream broke off: {type(exc).__name__}. The answer is incomplete; retry the request.",
        method=state.method,
        url=state.url,
    )


class Stream(Generic[T]):
    """A synchronous stream of parsed events. Iterate once; closing is idempotent.

    Leaving the loop early (``break``, an exception, garbage collection) closes the HTTP
    response and returns its connection to the pool.
    """

    def __init__(self, response: httpx.Response, parse: Parse[T], is_final: IsFinal[T]):
        self.response = response
        self._state = _StreamState(parse, is_final, response.request.method, _safe_url(response))
        self._iterator = self._iterate()

    def __iter__(self) -> Iterator[T]:
        return self._iterator

    def __next__(self) -> T:
        return next(self._iterator)

    def _iterate(self) -> Generator[T, None, None]:
        state = self._state
        try:
            try:
                for chunk in self.response.iter_bytes():
                    yield from state.items(state.decoder.feed(chunk))
                    if state.done:
                        break
                else:
                    yield from state.items(state.decoder.flush())
            except httpx.TransportError as exc:
                raise _broken(exc, state) from exc
            state.check_complete()
        finally:
            self.response.close()

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._iterator.close()
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """The asynchronous twin of :class:`Stream`; ``aclose()`` releases the connection."""

    def __init__(self, response: httpx.Response, parse: Parse[T], is_final: IsFinal[T]):
        self.response = response
        self._state = _StreamState(parse, is_final, response.request.method, _safe_url(response))
        self._iterator = self._iterate()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterator

    async def __anext__(self) -> T:
        return await self._iterator.__anext__()

    async def _iterate(self) -> AsyncGenerator[T, None]:
        state = self._state
        try:
            try:
                async for chunk in self.response.aiter_bytes():
                    for item in state.items(state.decoder.feed(chunk)):
                        yield item
                    if state.done:
                        break
                else:
                    for item in state.items(state.decoder.flush()):
                        yield item
            except httpx.TransportError as exc:
                raise _broken(exc, state) from exc
            state.check_complete()
        finally:
            await self.response.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        await self._iterator.aclose()
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _safe_url(response: httpx.Response) -> str:
    return str(response.request.url.copy_with(query=None))
