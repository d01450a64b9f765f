"""The shared Together transport: connection pools, the two send loops, and the resources.

Every decision is made once, without I/O, in :class:`~._base_transport.BaseTransport`
(request building, retry decisions, error mapping, parsing). This module holds what does
I/O: the pools, :meth:`TogetherTransport._send` and :meth:`TogetherTransport._asend` (the
only loop written twice, differing where one awaits), resumable downloads, and one
attribute per endpoint family (``transport.chat``, ``transport.files``, ...).

Pools are safe across the ways real programs use them:

* after ``os.fork()`` the child gets fresh pools (never a socket shared with its parent);
* an async pool belongs to its event loop and is closed when that loop shuts down, so
  ``asyncio.run()`` per call does not leak a pool per call;
* in-flight requests are bounded per transport (``max_in_flight``), so a thousand
  concurrent calls wait outside httpcore's pool instead of timing out inside it;
* :meth:`TogetherTransport.shared` keeps a bounded number of transports, keyed by a
  fingerprint of the settings, never by the raw key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import httpx
from pydantic import SecretStr

from ._base_transport import (
    NO_OPTIONS,
    BaseTransport,
    Call,
    RequestOptions,
    env_api_key,
    map_httpx_error,
    safe_url,
)
from ._constants import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE,
    SHARED_TRANSPORTS_MAX,
)
from ._downloads import ResumePlan
from ._exceptions import APIError
from ._retry import backoff
from ._streaming import AsyncStream, Stream

if TYPE_CHECKING:
    from .resources import (
        Audio,
        Batches,
        Chat,
        Completions,
        Embeddings,
        Endpoints,
        Files,
        FineTuning,
        Images,
        Models,
        Rerank,
        Videos,
    )

__all__ = ["RequestOptions", "TogetherTransport"]

logger = logging.getLogger("together_integrations")

T = TypeVar("T")
R = TypeVar("R")

_ALL_TRANSPORTS: weakref.WeakSet[TogetherTransport] = weakref.WeakSet()
_ABANDONED: list[Any] = []
"""Pools a forked child inherited: kept referenced so the child never closes its parent's
connections, and never used again."""


def _after_fork_in_child() -> None:
    for transport in list(_ALL_TRANSPORTS):
        transport._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _resource(Generic[R]):
    """A family created on first access and cached on the transport (one line per family)."""

    def __init__(self, import_path: str) -> None:
        self._module, _, self._class = import_path.rpartition(".")
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _resource[R]: ...
    @overload
    def __get__(self, instance: TogetherTransport, owner: type) -> R: ...
    def __get__(self, instance: TogetherTransport | None, owner: type) -> Any:
        if instance is None:
            return self
        import importlib

        cls = getattr(importlib.import_module(self._module), self._class)
        value = cls(instance)
        instance.__dict__[self._name] = value
        return value


@dataclass(slots=True)
class _LoopPool:
    client: httpx.AsyncClient
    slots: asyncio.Semaphore
    keeper: Any = None


async def _pool_keeper(client: httpx.AsyncClient | None) -> AsyncGenerator[None, None]:
    # Registered with the loop as an async generator, so ``loop.shutdown_asyncgens()``
    # (run by asyncio.run and every asyncio Runner) closes the pool before the loop closes.
    try:
        yield
    finally:
        if client is not None:
            await client.aclose()


def _start_keeper(client: httpx.AsyncClient | None) -> Any:
    keeper = _pool_keeper(client)
    step = keeper.asend(None)  # runs the loop's first-iteration hook: the loop now tracks it
    with contextlib.suppress(StopIteration):
        step.send(None)
    return keeper


def _fingerprint(key: str | None, *settings: Any) -> str:
    digest = hashlib.sha256()
    digest.update(b"\0" if key is None else key.encode())
    digest.update(repr(settings).encode())
    return digest.hexdigest()


class TogetherTransport(BaseTransport):
    """One connection to the Together API, shared by every adapter with the same settings.

    Args:
        api_key: The API key. Defaults to ``TOGETHER_API_KEY``. Surrounding whitespace is
            stripped; a key no HTTP header can carry is refused. Held as a ``SecretStr``: it
            never appears in a repr, an error, a log or a pickle.
        base_url: Defaults to ``TOGETHER_BASE_URL``, then ``https://api.together.xyz/v1``.
            Plain ``http://`` is refused for hosts other than loopback unless
            ``allow_insecure_http`` is set. Families under the ``/v2`` root (videos) derive
            it from this URL, which must then end in ``/v1``.
        timeout: Seconds to wait for a read, a write or a pool slot (default 600).
        connect_timeout: Seconds to wait for a connection (default 10).
        max_retries: Retries after the first attempt for connection errors, timeouts, 408,
            409, 429 and 5xx (default 2). ``retry-after`` headers are honoured. Requests that
            start paid work are re-sent only when they cannot have reached the server.
        default_headers: Headers sent with every request to the API (never to presigned
            upload URLs).
        http_client: An ``httpx.Client`` to use instead of our own pool. Never closed by us.
        http_async_client: An ``httpx.AsyncClient`` to use instead of our own. Never closed.
        allow_insecure_http: Allow an ``http://`` base URL to a non-loopback host.
        max_in_flight: Requests in flight at once per transport (and per event loop);
            further calls wait their turn outside the connection pool. Defaults to the
            pool size (100).

    Example:
        >>> transport = TogetherTransport.shared()
        >>> reply = transport.chat.create(
        ...     {"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "Hi"}]}
        ... )  # doctest: +SKIP
    """

    chat: _resource[Chat] = _resource("together_integrations.resources.chat.Chat")
    completions: _resource[Completions] = _resource(
        "together_integrations.resources.completions.Completions"
    )
    embeddings: _resource[Embeddings] = _resource(
        "together_integrations.resources.embeddings.Embeddings"
    )
    rerank: _resource[Rerank] = _resource("together_integrations.resources.rerank.Rerank")
    images: _resource[Images] = _resource("together_integrations.resources.images.Images")
    audio: _resource[Audio] = _resource("together_integrations.resources.audio.Audio")
    videos: _resource[Videos] = _resource("together_integrations.resources.videos.Videos")
    files: _resource[Files] = _resource("together_integrations.resources.files.Files")
    batches: _resource[Batches] = _resource("together_integrations.resources.batches.Batches")
    fine_tuning: _resource[FineTuning] = _resource(
        "together_integrations.resources.fine_tuning.FineTuning"
    )
    endpoints: _resource[Endpoints] = _resource(
        "together_integrations.resources.endpoints.Endpoints"
    )
    models: _resource[Models] = _resource("together_integrations.resources.models.Models")

    _registry: OrderedDict[str, TogetherTransport] = OrderedDict()
    _registry_lock = threading.Lock()

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        allow_insecure_http: bool = False,
        max_in_flight: int | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            allow_insecure_http=allow_insecure_http,
            max_in_flight=max_in_flight,
        )
        self._user_client = http_client
        self._user_async_client = http_async_client
        self._inherited_user_clients = False
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._loop_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = (
            weakref.WeakKeyDictionary()
        )
        _ALL_TRANSPORTS.add(self)

    # ------------------------------------------------------------------ construction

    @classmethod
    def shared(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
    ) -> TogetherTransport:
        """Return the process-wide transport for these settings, creating it on first use.

        Environment defaults are resolved first, so ``shared()`` and
        ``shared(api_key=os.environ["TOGETHER_API_KEY"])`` return the same object. At most
        ``SHARED_TRANSPORTS_MAX`` transports are kept (least recently used first out); the
        registry is keyed by a hash of the settings, never by the key itself.
        """
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        key = key if key is not None else env_api_key()
        key = key.strip() if isinstance(key, str) else key
        url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        fingerprint = _fingerprint(
            key,
            url,
            timeout,
            connect_timeout,
            max_retries,
            tuple(sorted((default_headers or {}).items())),
            allow_insecure_http,
        )
        with cls._registry_lock:
            found = cls._registry.get(fingerprint)
            if found is not None:
                cls._registry.move_to_end(fingerprint)
                return found
        created = cls(
            api_key=key,
            base_url=url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            allow_insecure_http=allow_insecure_http,
        )
        with cls._registry_lock:
            found = cls._registry.setdefault(fingerprint, created)
            cls._registry.move_to_end(fingerprint)
            while len(cls._registry) > SHARED_TRANSPORTS_MAX:
                # An evicted transport stays usable by whoever holds it; its pools close
                # when the last holder lets it go.
                cls._registry.popitem(last=False)
            return found

    @property
    def carries_user_clients(self) -> bool:
        """Whether this transport sends through httpx clients passed in by the user."""
        return self._user_client is not None or self._user_async_client is not None

    def __reduce__(self) -> tuple[Any, ...]:
        # The key never travels in a pickle: the unpickled transport reads TOGETHER_API_KEY.
        if self.carries_user_clients:
            # Re-created without them, the copy would silently send elsewhere (production
            # instead of a proxy or a test double): refuse instead.
            raise TypeError(
                "A TogetherTransport built with http_client/http_async_client cannot be "
                "pickled: the clients hold sockets. Build the transport in the worker instead, "
                "or configure it with base_url/default_headers, which do pickle."
            )
        return (
            _unpickle_transport,
            (
                self.base_url,
                self.timeout,
                self.connect_timeout,
                self.max_retries,
                self.default_headers,
                self.allow_insecure_http,
            ),
        )

    def __copy__(self) -> TogetherTransport:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> TogetherTransport:
        # A transport is a shared connection, not a value: copies of an adapter share it.
        return self

    def __del__(self) -> None:
        client = self.__dict__.get("_client")
        if client is not None:
            with contextlib.suppress(Exception):  # interpreter shutdown
                client.close()

    # --------------------------------------------------------------- pools (lazy)

    def _limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=max(DEFAULT_MAX_CONNECTIONS, self.max_in_flight),
            max_keepalive_connections=DEFAULT_MAX_KEEPALIVE,
        )

    def _reset_after_fork(self) -> None:
        # The parent's sockets must not be read or closed here: the parent still uses them.
        _ABANDONED.append((self._client, dict(self._loop_pools)))
        self._client = None
        self._loop_pools = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._inherited_user_clients = self.carries_user_clients

    def _warn_inherited_user_client(self) -> None:
        # Our own pools are replaced in a forked child; the caller's clients cannot be:
        # their pooled connections are the parent's sockets.
        if self._inherited_user_clients:
            self._inherited_user_clients = False
            warnings.warn(
                "This TogetherTransport runs on the httpx client you passed, created before "
                "os.fork(): its pooled connections are the parent process's sockets, and "
                "using them from both processes mixes up their responses. Create the client "
                "(and the transport) in the child, or let the transport make its own.",
                RuntimeWarning,
                stacklevel=3,
            )

    @property
    def sync_client(self) -> httpx.Client:
        """The ``httpx.Client`` in use, created on first use."""
        if self._user_client is not None:
            self._warn_inherited_user_client()
            return self._user_client
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = httpx.Client(
                        timeout=self._timeout(self.timeout),
                        limits=self._limits(),
                        follow_redirects=False,
                    )
                    self._client = client
        return client

    def _loop_pool(self) -> _LoopPool:
        loop = asyncio.get_running_loop()
        pool = self._loop_pools.get(loop)
        if pool is None:
            if self._user_async_client is not None:
                self._warn_inherited_user_client()
                client, ours = self._user_async_client, False
            else:
                client = httpx.AsyncClient(
                    timeout=self._timeout(self.timeout),
                    limits=self._limits(),
                    follow_redirects=False,
                )
                ours = True
            pool = _LoopPool(client, asyncio.Semaphore(self.max_in_flight))
            pool.keeper = _start_keeper(client if ours else None)
            self._loop_pools[loop] = pool
        return pool

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` for the running event loop, created on first use.

        Pools are kept per event loop (a connection opened on one loop cannot be used on
        another) and closed when their loop shuts down.
        """
        return self._loop_pool().client

    def close(self) -> None:
        """Close the pools this transport opened (never a client passed in)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close this event loop's async pool and the sync pool, if we opened them."""
        self.close()
        loop = asyncio.get_running_loop()
        pool = self._loop_pools.pop(loop, None)
        if pool is not None:
            await pool.keeper.aclose()

    def __enter__(self) -> TogetherTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> TogetherTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------ the two I/O loops

    def _send(
        self, call: Call, options: RequestOptions, *, stream: bool
    ) -> tuple[httpx.Response, Callable[[], None]]:
        """Send ``call`` with retries. Returns the response and the release of its in-flight
        slot (already released unless ``stream``)."""
        client = self.sync_client
        slots = self._slots
        attempt = 0
        while True:
            request = self.build_request(call, options)
            cause: Exception | None = None
            slots.acquire()
            try:
                response = client.send(request, stream=stream)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                slots.release()
                error: APIError = map_httpx_error(exc, request.method, safe_url(request))
                cause = exc
            else:
                if response.is_success or response.status_code in call.ok_status:
                    if stream:
                        return response, slots.release
                    slots.release()
                    return response, _noop
                try:
                    content = response.read()
                except (httpx.TransportError, httpx.DecodingError) as exc:
                    content, cause = b"", exc  # the status says enough to decide
                finally:
                    response.close()
                    slots.release()
                error = self.status_error(response, content)
            delay = self.retry_after(error, attempt, options, call)
            if delay is None:
                raise error from cause
            time.sleep(delay)
            attempt += 1

    async def _asend(
        self, call: Call, options: RequestOptions, *, stream: bool
    ) -> tuple[httpx.Response, Callable[[], None]]:
        pool = self._loop_pool()
        client, slots = pool.client, pool.slots
        attempt = 0
        while True:
            request = self.build_request(call, options)
            cause: Exception | None = None
            await slots.acquire()
            try:
                response = await client.send(request, stream=stream)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                slots.release()
                error: APIError = map_httpx_error(exc, request.method, safe_url(request))
                cause = exc
            except BaseException:
                slots.release()  # cancelled while waiting for the answer
                raise
            else:
                if response.is_success or response.status_code in call.ok_status:
                    if stream:
                        return response, slots.release
                    slots.release()
                    return response, _noop
                try:
                    content = await response.aread()
                except (httpx.TransportError, httpx.DecodingError) as exc:
                    content, cause = b"", exc
                finally:
                    await response.aclose()
                    slots.release()
                error = self.status_error(response, content)
            delay = self.retry_after(error, attempt, options, call)
            if delay is None:
                raise error from cause
            await asyncio.sleep(delay)
            attempt += 1

    # ---------------------------------------------------- generic call shapes

    def send(self, call: Call, options: RequestOptions | None = None) -> httpx.Response:
        """Send ``call`` and return the whole response (body read, connection released)."""
        response, _ = self._send(call, options or NO_OPTIONS, stream=False)
        return response

    async def asend(self, call: Call, options: RequestOptions | None = None) -> httpx.Response:
        """Async :meth:`send`."""
        response, _ = await self._asend(call, options or NO_OPTIONS, stream=False)
        return response

    def request(
        self, call: Call, parse: Callable[[bytes], T], options: RequestOptions | None = None
    ) -> T:
        """Send ``call`` and parse its body."""
        response, _ = self._send(call, options or NO_OPTIONS, stream=False)
        return self.parse(parse, response, response.content)

    async def arequest(
        self, call: Call, parse: Callable[[bytes], T], options: RequestOptions | None = None
    ) -> T:
        """Async :meth:`request`."""
        response, _ = await self._asend(call, options or NO_OPTIONS, stream=False)
        return self.parse(parse, response, response.content)

    def stream(
        self,
        call: Call,
        parse: Callable[[str], T],
        is_final: Callable[[T], bool],
        options: RequestOptions | None = None,
    ) -> Stream[T]:
        """Send ``call`` and return its server-sent events as a :class:`Stream`."""
        response, release = self._send(call, options or NO_OPTIONS, stream=True)
        return Stream(response, parse, is_final, release=release)

    async def astream(
        self,
        call: Call,
        parse: Callable[[str], T],
        is_final: Callable[[T], bool],
        options: RequestOptions | None = None,
    ) -> AsyncStream[T]:
        """Async :meth:`stream`."""
        response, release = await self._asend(call, options or NO_OPTIONS, stream=True)
        return AsyncStream(response, parse, is_final, release=release)

    def iter_content(self, call: Call, options: RequestOptions | None = None) -> Iterator[bytes]:
        """The response body in chunks, resumed with ``Range`` after a cut (never a byte
        twice, never a gap)."""
        opts = options or NO_OPTIONS
        plan = ResumePlan()
        while True:
            ranged = _with_headers(call, plan.request_headers())
            response, release = self._send(ranged, opts, stream=True)
            try:
                plan.on_response(response.status_code, response.headers)
                for chunk in response.iter_bytes():
                    new = plan.take(chunk)
                    if new:
                        yield new
                if plan.complete:
                    return
                failure: Exception = httpx.RemoteProtocolError("body shorter than announced")
            except (httpx.TransportError, httpx.DecodingError) as exc:
                failure = exc
            finally:
                response.close()
                release()
            error = map_httpx_error(failure, call.method, safe_url(response.request), stream=True)
            if not plan.can_resume():
                raise error from failure
            logger.info("Download cut at byte %d; resuming: %s", plan.offset, error.message)
            time.sleep(backoff(0))

    async def aiter_content(
        self, call: Call, options: RequestOptions | None = None
    ) -> AsyncIterator[bytes]:
        """Async :meth:`iter_content`."""
        opts = options or NO_OPTIONS
        plan = ResumePlan()
        while True:
            ranged = _with_headers(call, plan.request_headers())
            response, release = await self._asend(ranged, opts, stream=True)
            try:
                plan.on_response(response.status_code, response.headers)
                async for chunk in response.aiter_bytes():
                    new = plan.take(chunk)
                    if new:
                        yield new
                if plan.complete:
                    return
                failure: Exception = httpx.RemoteProtocolError("body shorter than announced")
            except (httpx.TransportError, httpx.DecodingError) as exc:
                failure = exc
            finally:
                await response.aclose()
                release()
            error = map_httpx_error(failure, call.method, safe_url(response.request), stream=True)
            if not plan.can_resume():
                raise error from failure
            logger.info("Download cut at byte %d; resuming: %s", plan.offset, error.message)
            await asyncio.sleep(backoff(0))


def _noop() -> None:
    return None


def _with_headers(call: Call, headers: Mapping[str, str]) -> Call:
    from dataclasses import replace

    return replace(call, headers={**(call.headers or {}), **headers})


def _unpickle_transport(
    base_url: str,
    timeout: float,
    connect_timeout: float,
    max_retries: int,
    default_headers: Mapping[str, str],
    allow_insecure_http: bool,
) -> TogetherTransport:
    return TogetherTransport.shared(
        base_url=base_url,
        timeout=timeout,
        connect_timeout=connect_timeout,
        max_retries=max_retries,
        default_headers=default_headers or None,
        allow_insecure_http=allow_insecure_http,
    )
