"""The shared Together transport: settings, connection pools, retries, errors, endpoints.

Layout (as httpx's ``BaseClient`` / ``Client`` / ``AsyncClient``): every decision is made
once, without I/O, in :class:`_Core` (request building, retry decisions in ``_retry``, error
mapping in ``_exceptions``, response parsing, SSE decoding in ``_streaming``). The only code
that exists twice is the send-and-sleep loop (:meth:`TogetherTransport._send` and
:meth:`TogetherTransport._asend`) and the one-line endpoint methods.

Adapters get a transport from :meth:`TogetherTransport.shared`, so instances built with the
same settings share one object and one connection pool; building one does no I/O.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from ._constants import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    TogetherConfigError,
    make_status_error,
)
from ._retry import retry_delay
from ._streaming import AsyncStream, Stream
from ._version import __version__
from .schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionChunk,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    ImageGenerationRequest,
    ImageResponse,
    ModelInfo,
    RequestModel,
    RerankRequest,
    RerankResponse,
    SpeechChunk,
    SpeechRequest,
    SpeechResponse,
    Transcription,
    TranscriptionRequest,
    parse_model_list,
)

__all__ = ["RequestOptions", "TogetherTransport"]

logger = logging.getLogger("together_integrations")

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=RequestModel)
T = TypeVar("T")

USER_AGENT = f"together-integrations/{__version__}"
FileInput = bytes | str | Path | tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call overrides. ``None`` means: use the transport's setting."""

    timeout: float | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, str] | None = None


_NO_OPTIONS = RequestOptions()


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TogetherConfigError(
            f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}; got {base_url!r}."
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise TogetherConfigError(
            f"Refusing to send the API key over plain http to {parts.hostname!r}. Use https, "
            "or pass allow_insecure_http=True if this host is trusted."
        )
    return base_url.rstrip("/")


# Parsers turn a successful response body into a typed object; a body that is not what the
# API promises becomes APIResponseValidationError, never a bare pydantic error.
def _json_parser(model: type[M]) -> Callable[[bytes], M]:
    def parse(content: bytes) -> M:
        return model.model_validate_json(content)

    return parse


def _chunk_parser(model: type[M]) -> Callable[[str], M]:
    validate = model.model_validate_json

    def parse(data: str) -> M:
        return validate(data)

    return parse


def _chunk_is_final(chunk: ChatCompletionChunk | CompletionChunk) -> bool:
    return any(choice.finish_reason is not None for choice in chunk.choices)


def _never_final(_: Any) -> bool:
    return False


def _speech_parser(content: bytes, content_type: str) -> SpeechResponse:
    return SpeechResponse(content=content, content_type=content_type)


def _file_part(file: FileInput) -> tuple[str, bytes] | None:
    """Read an upload into memory once, so every retry sends the same bytes."""
    if isinstance(file, tuple):
        return file
    if isinstance(file, bytes):
        return ("audio", file)
    if isinstance(file, str) and file.startswith(("http://", "https://")):
        return None  # a URL is sent as a form field, not uploaded
    path = Path(file)
    if not path.is_file():
        raise TogetherConfigError(
            f"Audio file not found: {str(path)!r}. Pass bytes, a path or a URL."
        )
    return (path.name, path.read_bytes())


class TogetherTransport:
    """One connection to the Together API, shared by every adapter with the same settings.

    Args:
        api_key: The API key. Defaults to ``TOGETHER_API_KEY``. Held as a ``SecretStr``; it
            never appears in a repr, an error, a log or a pickle.
        base_url: Defaults to ``TOGETHER_BASE_URL``, then ``https://api.together.xyz/v1``.
            Plain ``http://`` is refused for hosts other than loopback unless
            ``allow_insecure_http`` is set.
        timeout: Seconds to wait for a read, a write or a pool slot (default 600).
        connect_timeout: Seconds to wait for a connection (default 10).
        max_retries: Retries after the first attempt for connection errors, timeouts, 408,
            409, 429 and 5xx (default 2). ``retry-after`` headers are honoured.
        default_headers: Headers sent with every request.
        http_client: An ``httpx.Client`` to use instead of our own pool. Never closed by us.
        http_async_client: An ``httpx.AsyncClient`` to use instead of our own. Never closed by us.
        allow_insecure_http: Allow an ``http://`` base URL to a non-loopback host.

    Example:
        >>> transport = TogetherTransport.shared()
        >>> reply = transport.chat_completions(
        ...     {"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "Hi"}]}
        ... )  # doctest: +SKIP
    """

    _registry: dict[tuple[Any, ...], TogetherTransport] = {}
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
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self._api_key: SecretStr | None = (
            key if isinstance(key, SecretStr) or key is None else SecretStr(key)
        )
        self.base_url = _check_base_url(
            base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL, allow_insecure_http
        )
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        self.connect_timeout = (
            DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else float(connect_timeout)
        )
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else int(max_retries)
        if self.max_retries < 0:
            raise TogetherConfigError(f"max_retries must be >= 0, got {max_retries}.")
        self.default_headers: dict[str, str] = dict(default_headers or {})
        self.allow_insecure_http = allow_insecure_http
        self._user_client = http_client
        self._user_async_client = http_async_client
        self._client: httpx.Client | None = None
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._base_headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **self.default_headers,
        }
        self._timeout_cache: dict[float, httpx.Timeout] = {}

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
        ``shared(api_key=os.environ["TOGETHER_API_KEY"])`` return the same object.
        """
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        key = key if key is not None else os.environ.get(API_KEY_ENV) or None
        url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        registry_key = (
            key,
            url,
            timeout,
            connect_timeout,
            max_retries,
            tuple(sorted((default_headers or {}).items())),
            allow_insecure_http,
        )
        with cls._registry_lock:
            found = cls._registry.get(registry_key)
            if found is None:
                found = cls(
                    api_key=key,
                    base_url=url,
                    timeout=timeout,
                    connect_timeout=connect_timeout,
                    max_retries=max_retries,
                    default_headers=default_headers,
                    allow_insecure_http=allow_insecure_http,
                )
                cls._registry[registry_key] = found
            return found

    @property
    def api_key(self) -> SecretStr | None:
        """The API key, as a ``SecretStr`` (or ``None`` when none is set)."""
        return self._api_key

    def __repr__(self) -> str:
        return (
            f"TogetherTransport(base_url={self.base_url!r}, max_retries={self.max_retries}, "
            f"timeout={self.timeout}, api_key={'set' if self._api_key else 'unset'})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # The key never travels in a pickle: the unpickled transport reads TOGETHER_API_KEY.
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

    # --------------------------------------------------------------- pools (lazy)

    def _timeout(self, seconds: float) -> httpx.Timeout:
        timeout = self._timeout_cache.get(seconds)
        if timeout is None:
            timeout = httpx.Timeout(seconds, connect=min(self.connect_timeout, seconds))
            self._timeout_cache[seconds] = timeout
        return timeout

    def _limits(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=DEFAULT_MAX_CONNECTIONS,
            max_keepalive_connections=DEFAULT_MAX_KEEPALIVE,
        )

    @property
    def sync_client(self) -> httpx.Client:
        """The ``httpx.Client`` in use, created on first use."""
        if self._user_client is not None:
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

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` for the running event loop, created on first use.

        Pools are kept per event loop: a connection opened on one loop cannot be used on
        another, and frameworks run several loops (tests, sync-over-async wrappers).
        """
        if self._user_async_client is not None:
            return self._user_async_client
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self._timeout(self.timeout),
                limits=self._limits(),
                follow_redirects=False,
            )
            self._async_clients[loop] = client
        return client

    def close(self) -> None:
        """Close the pools this transport opened (never a client passed in)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close this event loop's async pool and the sync pool, if we opened them."""
        self.close()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - aclose is always awaited in a loop
            return
        client = self._async_clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    def __enter__(self) -> TogetherTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> TogetherTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -------------------------------------------------- I/O-free request building

    def _headers(self, options: RequestOptions, *, json: bool) -> dict[str, str]:
        if self._api_key is None:
            raise TogetherConfigError(
                f"No Together API key: set the {API_KEY_ENV} environment variable or pass "
                "api_key=... (get one at https://api.together.ai/settings/api-keys)."
            )
        headers = dict(self._base_headers)
        headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        if json:
            headers["Content-Type"] = "application/json"
        if options.extra_headers:
            headers.update(options.extra_headers)
        return headers

    def _build_request(
        self,
        method: str,
        path: str,
        options: RequestOptions,
        *,
        content: bytes | None = None,
        data: Mapping[str, str | list[str]] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        query = {**(params or {}), **(options.extra_query or {})}
        timeout = self._timeout(self.timeout if options.timeout is None else options.timeout)
        return httpx.Request(
            method,
            self.base_url + path,
            headers=self._headers(options, json=content is not None),
            content=content,
            data=data,
            files=files,
            params=query or None,
            extensions={"timeout": timeout.as_dict()},
        )

    @staticmethod
    def _transport_error(exc: httpx.TransportError, request: httpx.Request) -> APIError:
        url = str(request.url.copy_with(query=None))
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"Request to {url} timed out ({type(exc).__name__}). Raise `timeout` or retry "
                "later.",
                method=request.method,
                url=url,
            )
        return APIConnectionError(
            f"Could not reach the Together API at {url} ({type(exc).__name__}). Check the "
            "network and base_url, then retry.",
            method=request.method,
            url=url,
        )

    @staticmethod
    def _status_error(response: httpx.Response, content: bytes) -> APIError:
        request = response.request
        return make_status_error(
            response.status_code,
            response.headers,
            content,
            method=request.method,
            url=str(request.url.copy_with(query=None)),
        )

    @staticmethod
    def _parse(parser: Callable[[bytes], T], response: httpx.Response, content: bytes) -> T:
        try:
            return parser(content)
        except (ValidationError, ValueError) as exc:
            text = content.decode("utf-8", errors="replace")
            request = response.request
            raise APIResponseValidationError(
                f"The Together API answered {response.status_code} with a body this client "
                f"cannot read ({exc.__class__.__name__}): {' '.join(text.split())[:200]!r}. "
                "Retry; if it persists, report it with the request id "
                f"{response.headers.get('x-request-id')!r}.",
                status_code=response.status_code,
                body=text,
                method=request.method,
                url=str(request.url.copy_with(query=None)),
            ) from exc

    def _retry_after(self, error: APIError, attempt: int, options: RequestOptions) -> float | None:
        max_retries = self.max_retries if options.max_retries is None else options.max_retries
        delay = retry_delay(error, attempt, max_retries)
        if delay is not None:
            logger.info(
                "Retrying %s %s in %.2fs (retry %d of %d) after: %s",
                error.method,
                error.url,
                delay,
                attempt + 1,
                max_retries,
                error.message,
            )
        return delay

    # ------------------------------------------------------ the two I/O loops

    def _send(
        self, build: Callable[[], httpx.Request], options: RequestOptions, *, stream: bool
    ) -> httpx.Response:
        client = self.sync_client
        attempt = 0
        while True:
            request = build()
            cause: Exception | None = None
            try:
                response = client.send(request, stream=stream)
            except httpx.TransportError as exc:
                error, cause = self._transport_error(exc, request), exc
            else:
                if response.is_success:
                    return response
                content = response.read()
                response.close()
                error = self._status_error(response, content)
            delay = self._retry_after(error, attempt, options)
            if delay is None:
                raise error from cause
            time.sleep(delay)
            attempt += 1

    async def _asend(
        self, build: Callable[[], httpx.Request], options: RequestOptions, *, stream: bool
    ) -> httpx.Response:
        client = self.async_client
        attempt = 0
        while True:
            request = build()
            cause: Exception | None = None
            try:
                response = await client.send(request, stream=stream)
            except httpx.TransportError as exc:
                error, cause = self._transport_error(exc, request), exc
            else:
                if response.is_success:
                    return response
                content = await response.aread()
                await response.aclose()
                error = self._status_error(response, content)
            delay = self._retry_after(error, attempt, options)
            if delay is None:
                raise error from cause
            await asyncio.sleep(delay)
            attempt += 1

    # ---------------------------------------------------- generic call shapes

    def _json_builder(
        self, path: str, body: RequestModel, options: RequestOptions
    ) -> Callable[[], httpx.Request]:
        content = body.to_wire_json()
        return lambda: self._build_request("POST", path, options, content=content)

    def _call(
        self,
        path: str,
        body: RequestModel,
        parser: Callable[[bytes], T],
        options: RequestOptions | None,
    ) -> T:
        opts = options or _NO_OPTIONS
        response = self._send(self._json_builder(path, body, opts), opts, stream=False)
        return self._parse(parser, response, response.content)

    async def _acall(
        self,
        path: str,
        body: RequestModel,
        parser: Callable[[bytes], T],
        options: RequestOptions | None,
    ) -> T:
        opts = options or _NO_OPTIONS
        response = await self._asend(self._json_builder(path, body, opts), opts, stream=False)
        return self._parse(parser, response, response.content)

    def _open_stream(
        self,
        path: str,
        body: RequestModel,
        parse: Callable[[str], T],
        is_final: Callable[[T], bool],
        options: RequestOptions | None,
    ) -> Stream[T]:
        opts = options or _NO_OPTIONS
        response = self._send(self._json_builder(path, body, opts), opts, stream=True)
        return Stream(response, parse, is_final)

    async def _aopen_stream(
        self,
        path: str,
        body: RequestModel,
        parse: Callable[[str], T],
        is_final: Callable[[T], bool],
        options: RequestOptions | None,
    ) -> AsyncStream[T]:
        opts = options or _NO_OPTIONS
        response = await self._asend(self._json_builder(path, body, opts), opts, stream=True)
        return AsyncStream(response, parse, is_final)

    # ------------------------------------------------------------- endpoints

    def chat_completions(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ChatCompletion:
        """``POST /chat/completions`` without streaming."""
        body = _as_request(ChatCompletionRequest, request, stream=False)
        return self._call("/chat/completions", body, _PARSE_CHAT, options)

    async def achat_completions(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ChatCompletion:
        """Async ``POST /chat/completions`` without streaming."""
        body = _as_request(ChatCompletionRequest, request, stream=False)
        return await self._acall("/chat/completions", body, _PARSE_CHAT, options)

    def chat_completions_stream(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> Stream[ChatCompletionChunk]:
        """``POST /chat/completions`` with ``stream: true``: a stream of chunks."""
        body = _as_request(ChatCompletionRequest, request, stream=True)
        return self._open_stream(
            "/chat/completions", body, _PARSE_CHAT_CHUNK, _chunk_is_final, options
        )

    async def achat_completions_stream(
        self,
        request: ChatCompletionRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> AsyncStream[ChatCompletionChunk]:
        """Async ``POST /chat/completions`` with ``stream: true``."""
        body = _as_request(ChatCompletionRequest, request, stream=True)
        return await self._aopen_stream(
            "/chat/completions", body, _PARSE_CHAT_CHUNK, _chunk_is_final, options
        )

    def completions(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Completion:
        """``POST /completions`` without streaming."""
        body = _as_request(CompletionRequest, request, stream=False)
        return self._call("/completions", body, _PARSE_COMPLETION, options)

    async def acompletions(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Completion:
        """Async ``POST /completions`` without streaming."""
        body = _as_request(CompletionRequest, request, stream=False)
        return await self._acall("/completions", body, _PARSE_COMPLETION, options)

    def completions_stream(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Stream[CompletionChunk]:
        """``POST /completions`` with ``stream: true``."""
        body = _as_request(CompletionRequest, request, stream=True)
        return self._open_stream(
            "/completions", body, _PARSE_COMPLETION_CHUNK, _chunk_is_final, options
        )

    async def acompletions_stream(
        self, request: CompletionRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> AsyncStream[CompletionChunk]:
        """Async ``POST /completions`` with ``stream: true``."""
        body = _as_request(CompletionRequest, request, stream=True)
        return await self._aopen_stream(
            "/completions", body, _PARSE_COMPLETION_CHUNK, _chunk_is_final, options
        )

    def embeddings(
        self, request: EmbeddingRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> EmbeddingResponse:
        """``POST /embeddings``."""
        body = _as_request(EmbeddingRequest, request)
        return self._call("/embeddings", body, _PARSE_EMBEDDINGS, options)

    async def aembeddings(
        self, request: EmbeddingRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> EmbeddingResponse:
        """Async ``POST /embeddings``."""
        body = _as_request(EmbeddingRequest, request)
        return await self._acall("/embeddings", body, _PARSE_EMBEDDINGS, options)

    def rerank(
        self, request: RerankRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> RerankResponse:
        """``POST /rerank``."""
        body = _as_request(RerankRequest, request)
        return self._call("/rerank", body, _PARSE_RERANK, options)

    async def arerank(
        self, request: RerankRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> RerankResponse:
        """Async ``POST /rerank``."""
        body = _as_request(RerankRequest, request)
        return await self._acall("/rerank", body, _PARSE_RERANK, options)

    def images_generate(
        self,
        request: ImageGenerationRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ImageResponse:
        """``POST /images/generations``."""
        body = _as_request(ImageGenerationRequest, request)
        return self._call("/images/generations", body, _PARSE_IMAGES, options)

    async def aimages_generate(
        self,
        request: ImageGenerationRequest | Mapping[str, Any],
        options: RequestOptions | None = None,
    ) -> ImageResponse:
        """Async ``POST /images/generations``."""
        body = _as_request(ImageGenerationRequest, request)
        return await self._acall("/images/generations", body, _PARSE_IMAGES, options)

    def audio_speech(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> SpeechResponse:
        """``POST /audio/speech``: the whole audio file as bytes."""
        opts = options or _NO_OPTIONS
        body = _as_request(SpeechRequest, request, stream=False)
        response = self._send(self._json_builder("/audio/speech", body, opts), opts, stream=False)
        return _speech_parser(response.content, response.headers.get("content-type", ""))

    async def aaudio_speech(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> SpeechResponse:
        """Async ``POST /audio/speech``."""
        opts = options or _NO_OPTIONS
        body = _as_request(SpeechRequest, request, stream=False)
        response = await self._asend(
            self._json_builder("/audio/speech", body, opts), opts, stream=False
        )
        return _speech_parser(response.content, response.headers.get("content-type", ""))

    def audio_speech_stream(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Stream[SpeechChunk]:
        """``POST /audio/speech`` with ``stream: true``: base64 audio chunks over SSE."""
        body = _as_request(SpeechRequest, request, stream=True)
        return self._open_stream("/audio/speech", body, _PARSE_SPEECH_CHUNK, _never_final, options)

    async def aaudio_speech_stream(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> AsyncStream[SpeechChunk]:
        """Async ``POST /audio/speech`` with ``stream: true``."""
        body = _as_request(SpeechRequest, request, stream=True)
        return await self._aopen_stream(
            "/audio/speech", body, _PARSE_SPEECH_CHUNK, _never_final, options
        )

    def _transcription_builder(
        self,
        file: FileInput,
        request: TranscriptionRequest | Mapping[str, Any] | None,
        options: RequestOptions,
    ) -> Callable[[], httpx.Request]:
        body = _as_request(TranscriptionRequest, request or {})
        pairs = body.to_form()
        part = _file_part(file)
        files = {"file": part} if part is not None else None
        if part is None:
            pairs.append(("file", str(file)))
        form: dict[str, str | list[str]] = {}
        for key, value in pairs:
            previous = form.get(key)
            if previous is None:
                form[key] = value
            else:
                form[key] = [*([previous] if isinstance(previous, str) else previous), value]
        return lambda: self._build_request(
            "POST", "/audio/transcriptions", options, data=form, files=files
        )

    def audio_transcriptions(
        self,
        file: FileInput,
        request: TranscriptionRequest | Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Transcription:
        """``POST /audio/transcriptions`` (multipart): ``file`` is bytes, a path, a
        ``(filename, bytes)`` pair or a URL."""
        opts = options or _NO_OPTIONS
        response = self._send(self._transcription_builder(file, request, opts), opts, stream=False)
        return self._parse(_PARSE_TRANSCRIPTION, response, response.content)

    async def aaudio_transcriptions(
        self,
        file: FileInput,
        request: TranscriptionRequest | Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Transcription:
        """Async ``POST /audio/transcriptions``."""
        opts = options or _NO_OPTIONS
        response = await self._asend(
            self._transcription_builder(file, request, opts), opts, stream=False
        )
        return self._parse(_PARSE_TRANSCRIPTION, response, response.content)

    def _models_builder(
        self, dedicated: bool | None, options: RequestOptions
    ) -> Callable[[], httpx.Request]:
        params = {"dedicated": "true"} if dedicated else None
        return lambda: self._build_request("GET", "/models", options, params=params)

    def list_models(
        self, *, dedicated: bool | None = None, options: RequestOptions | None = None
    ) -> list[ModelInfo]:
        """``GET /models``."""
        opts = options or _NO_OPTIONS
        response = self._send(self._models_builder(dedicated, opts), opts, stream=False)
        return self._parse(parse_model_list, response, response.content)

    async def alist_models(
        self, *, dedicated: bool | None = None, options: RequestOptions | None = None
    ) -> list[ModelInfo]:
        """Async ``GET /models``."""
        opts = options or _NO_OPTIONS
        response = await self._asend(self._models_builder(dedicated, opts), opts, stream=False)
        return self._parse(parse_model_list, response, response.content)


def _as_request(model: type[R], request: R | Mapping[str, Any], *, stream: bool | None = None) -> R:
    if isinstance(request, model):
        body = request
    elif isinstance(request, Mapping):
        body = model.model_validate(dict(request))
    else:
        raise TypeError(
            f"Expected a {model.__name__} or a dict of its fields, got {type(request).__name__}."
        )
    if stream is not None and getattr(body, "stream", None) != stream:
        body = body.model_copy(update={"stream": stream})
    return body


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


_PARSE_CHAT = _json_parser(ChatCompletion)
_PARSE_COMPLETION = _json_parser(Completion)
_PARSE_EMBEDDINGS = _json_parser(EmbeddingResponse)
_PARSE_RERANK = _json_parser(RerankResponse)
_PARSE_IMAGES = _json_parser(ImageResponse)
_PARSE_TRANSCRIPTION = _json_parser(Transcription)
_PARSE_CHAT_CHUNK = _chunk_parser(ChatCompletionChunk)
_PARSE_COMPLETION_CHUNK = _chunk_parser(CompletionChunk)
_PARSE_SPEECH_CHUNK = _chunk_parser(SpeechChunk)
