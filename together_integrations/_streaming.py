"""Server-sent events: a decoder without I/O, and the sync and async stream wrappers.

The decoder follows the WHATWG event-stream rules: lines end with CRLF, LF or CR; ``data``
lines of one event are joined with ``\\n``; lines starting with ``:`` are comments
(keep-alives); an event is dispatched at a blank line; bytes that are not UTF-8 decode to
U+FFFD. Together sends only ``data:`` lines and ends with ``data: [DONE]`` (NOTES §4).

Rules the wrappers keep:

* a stream that ends with neither ``[DONE]`` nor a finish reason raises
  :class:`APIConnectionError` instead of returning a silently truncated answer;
* an error sent inside the stream (``event: error`` or ``data: {"error": ...}``) raises the
  matching typed error with the server's message;
* a stream read to its end is drained, so its connection goes back to the pool;
* a stream left early (``break``), closed, or dropped unread releases its connection at
  once: the iterator holds no reference to its wrapper, so there is no cycle waiting for
  the garbage collector.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from ._base_transport import map_httpx_error, safe_url
from ._exceptions import APIResponseValidationError, make_stream_error

T = TypeVar("T")

__all__ = ["AsyncStream", "SSEDecoder", "ServerSentEvent", "Stream"]

_DRAIN_LIMIT = 64 * 1024
"""Bytes read after ``[DONE]`` to reach the end of the body (normally a few bytes)."""


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental event-stream decoder: feed bytes in any split, get whole events out.

    Linear in the input: an unfinished line is kept as a list of pieces and joined once,
    when its end arrives, so a 20 MiB line costs one copy, not one per network chunk.
    """

    __slots__ = ("_data", "_event", "_id", "_parts", "_pending_cr", "_retry")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk`` (any slice of the byte stream) and return the completed events."""
        if self._pending_cr and chunk[:1] == b"\n":
            # The CR that ended the previous chunk and this LF are one CRLF line break.
            chunk = chunk[1:]
        self._pending_cr = False
        if not chunk:
            return []
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            self._parts.append(chunk)
            return []
        head, rest = chunk[: end + 1], chunk[end + 1 :]
        if self._parts:
            self._parts.append(head)
            head = b"".join(self._parts)
        self._parts = [rest] if rest else []
        if b"\r" in head:
            self._pending_cr = head.endswith(b"\r")
            head = head.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = head.split(b"\n")
        lines.pop()  # ``head`` ends with a line break: the last piece is empty
        events: list[ServerSentEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch a last event that was not followed by a blank line."""
        events: list[ServerSentEvent] = []
        if self._parts:
            tail = b"".join(self._parts)
            self._parts = []
            event = self._line(tail)
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
        line = raw.decode("utf-8", errors="replace")
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


def _is_error_data(data: str) -> bool:
    # Cheap first: a content delta that merely mentions "error" has it escaped (\"error\").
    if '"error"' not in data or not data.lstrip().startswith("{"):
        return False
    try:
        value = json.loads(data)
    except ValueError:
        return False
    return (
        isinstance(value, dict)
        and value.get("error") not in (None, "")
        and ("choices" not in value)
    )


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
            if event.event == "error" or _is_error_data(data):
                raise make_stream_error(data, method=self.method, url=self.url)
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
        from ._exceptions import APIConnectionError

        if not (self.done or self.finished):
            raise APIConnectionError(
                "The stream ended before the server finished (no [DONE] and no finish "
                "reason): the answer is incomplete. Retry the request.",
                method=self.method,
                url=self.url,
            )


class _Release:
    """Run ``callback`` (give back the in-flight slot) exactly once."""

    __slots__ = ("_callback",)

    def __init__(self, callback: Callable[[], None] | None) -> None:
        self._callback = callback

    def __call__(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


def _close_sync(response: httpx.Response, release: _Release) -> None:
    try:
        response.close()
    finally:
        release()


def _iterate(
    response: httpx.Response, state: _StreamState[T], release: _Release
) -> Generator[T, None, None]:
    # A module-level generator: it must not reference its Stream, or a ``break`` would
    # leave a cycle (stream → generator → frame → stream) holding the connection until GC.
    try:
        chunks = response.iter_bytes()
        try:
            for chunk in chunks:
                yield from state.items(state.decoder.feed(chunk))
                if state.done:
                    drained = 0
                    for rest in chunks:  # reach the end so the connection can be reused
                        drained += len(rest)
                        if drained > _DRAIN_LIMIT:
                            break
                    break
            else:
                yield from state.items(state.decoder.flush())
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise map_httpx_error(exc, state.method, state.url, stream=True) from exc
        state.check_complete()
    finally:
        _close_sync(response, release)


async def _aiterate(
    response: httpx.Response, state: _StreamState[T], release: _Release
) -> AsyncGenerator[T, None]:
    try:
        chunks = response.aiter_bytes()
        try:
            async for chunk in chunks:
                for item in state.items(state.decoder.feed(chunk)):
                    yield item
                if state.done:
                    drained = 0
                    async for rest in chunks:
                        drained += len(rest)
                        if drained > _DRAIN_LIMIT:
                            break
                    break
            else:
                for item in state.items(state.decoder.flush()):
                    yield item
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise map_httpx_error(exc, state.method, state.url, stream=True) from exc
        state.check_complete()
    finally:
        try:
            await response.aclose()
        finally:
            release()


class Stream(Generic[T]):
    """A synchronous stream of parsed events. Iterate once; closing is idempotent.

    Leaving the loop early (``break``, an exception), calling :meth:`close`, or dropping
    the stream without reading it closes the HTTP response and frees its connection.
    """

    def __init__(
        self,
        response: httpx.Response,
        parse: Parse[T],
        is_final: IsFinal[T],
        *,
        release: Callable[[], None] | None = None,
    ):
        self.response = response
        release_once = _Release(release)
        state = _StreamState(parse, is_final, response.request.method, safe_url(response.request))
        self._release = release_once
        self._iterator = _iterate(response, state, release_once)
        self._finalizer = weakref.finalize(self, _close_sync, response, release_once)

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (rate limits, request id)."""
        return self.response.headers

    def __iter__(self) -> Iterator[T]:
        # From here the generator owns the response: its ``finally`` closes it on
        # exhaustion, ``break`` + drop, or ``close()``, even when this wrapper is gone.
        self._finalizer.detach()
        return self._iterator

    def __next__(self) -> T:
        self._finalizer.detach()
        return next(self._iterator)

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._iterator.close()
        _close_sync(self.response, self._release)
        self._finalizer.detach()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _aclose_later(response: httpx.Response, release: _Release, loop: Any) -> None:
    # A dropped async stream cannot await; schedule the close on its own loop, or, when that
    # loop is gone, give back the slot (the loop's pool is released with the loop).
    try:
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_schedule_aclose, loop, response, release)
            return
    except RuntimeError:
        pass
    release()


def _schedule_aclose(
    loop: asyncio.AbstractEventLoop, response: httpx.Response, release: _Release
) -> None:
    async def close() -> None:
        try:
            await response.aclose()
        finally:
            release()

    loop.create_task(close())


class AsyncStream(Generic[T]):
    """The asynchronous twin of :class:`Stream`; ``aclose()`` releases the connection."""

    def __init__(
        self,
        response: httpx.Response,
        parse: Parse[T],
        is_final: IsFinal[T],
        *,
        release: Callable[[], None] | None = None,
    ):
        self.response = response
        release_once = _Release(release)
        state = _StreamState(parse, is_final, response.request.method, safe_url(response.request))
        self._release = release_once
        self._iterator = _aiterate(response, state, release_once)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._finalizer = weakref.finalize(self, _aclose_later, response, release_once, loop)

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (rate limits, request id)."""
        return self.response.headers

    def __aiter__(self) -> AsyncIterator[T]:
        self._finalizer.detach()
        return self._iterator

    async def __anext__(self) -> T:
        self._finalizer.detach()
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        self._finalizer.detach()
        try:
            await self._iterator.aclose()
        finally:
            try:
                await self.response.aclose()
            finally:
                self._release()  # an unstarted generator's aclose runs no finally

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
