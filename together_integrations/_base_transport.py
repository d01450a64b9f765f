"""Everything the transport decides without I/O (as httpx's ``BaseClient``).

Settings and their validation, the API key, the per-family API roots, request building,
error mapping and response parsing live here, written once. ``_transport`` adds the
connection pools and the two send loops (sync and async), which are the only code that
exists twice.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from ._constants import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
)
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    TogetherConfigError,
    make_status_error,
)
from ._retry import retry_delay
from ._version import __version__
from .schemas import WireModel

__all__ = [
    "BaseTransport",
    "Call",
    "RequestOptions",
    "clean_api_key",
    "map_httpx_error",
    "safe_url",
]

logger = logging.getLogger("together_integrations")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

USER_AGENT = f"together-integrations/{__version__}"


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call overrides. ``None`` means: use the transport's setting."""

    timeout: float | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_query: Mapping[str, str] | None = None
    connect_timeout: float | None = None


NO_OPTIONS = RequestOptions()


@dataclass(frozen=True, slots=True)
class Call:
    """One API operation, described without I/O; the send loops turn it into requests.

    Attributes:
        method: HTTP method.
        path: Path under the family's API root (``/files/file-1``), or an absolute URL when
            ``root`` is ``""`` (a presigned upload URL).
        json: A serialised JSON body.
        params: Query parameters.
        form: Form fields. With ``files`` or ``multipart`` the body is multipart/form-data.
        files: Builds the file parts, called again for every attempt (so a retry re-reads
            the file from its start instead of sending half of it).
        multipart: Send ``form`` as multipart even without a file part.
        content: Builds a raw body for every attempt (bytes, or an iterator for streaming).
        headers: Headers of this operation (merged over the defaults).
        root: ``"v1"`` (the base URL), ``"v2"`` (derived from it) or ``""`` (absolute URL).
        authenticated: Send the API key and the default headers. ``False`` for presigned
            URLs: they are another host and must never see the key.
        paid: The request starts paid work (see ``_retry``): not re-sent once it may have
            reached the server.
        ok_status: Non-2xx statuses handed back instead of raised (a 302 to a presigned URL).
        final_status: Statuses never retried for this operation (409 "already uploaded").
    """

    method: str
    path: str
    json: bytes | None = None
    params: Mapping[str, str] | None = None
    form: Sequence[tuple[str, str]] | None = None
    files: Callable[[], list[tuple[str, Any]]] | None = None
    multipart: bool = False
    content: Callable[[], Any] | None = None
    headers: Mapping[str, str] | None = None
    root: str = "v1"
    authenticated: bool = True
    paid: bool = False
    ok_status: frozenset[int] = field(default_factory=frozenset)
    final_status: frozenset[int] = field(default_factory=frozenset)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (where plain http cannot be sniffed)."""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TogetherConfigError(
            f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}; got {base_url!r}."
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise TogetherConfigError(
            f"Refusing to send the API key over plain http to {parts.hostname!r}. Use https, "
            "or pass allow_insecure_http=True if this host is trusted."
        )
    return base_url.rstrip("/")


def derive_v2_root(base_url: str) -> str | None:
    """``https://api.together.xyz/v1`` → ``https://api.together.xyz/v2``; ``None`` when the
    base URL does not end in ``/v1`` (a proxy path we cannot map)."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        return None
    return urlunsplit(parts._replace(path=path[: -len("/v1")] + "/v2"))


def clean_api_key(value: str | SecretStr | None) -> SecretStr | None:
    """Strip the whitespace a copy-paste brings and refuse what no HTTP header can carry.

    The error never contains the key: a key with a stray newline or a non-ASCII character
    used to surface verbatim in tracebacks and HTTP debug logs.
    """
    if value is None:
        return None
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(raw, str):
        raise TogetherConfigError(
            f"api_key must be a string, got {type(raw).__name__}. Pass the key as text or set "
            f"{API_KEY_ENV}."
        )
    key = raw.strip()
    if not key:
        raise TogetherConfigError(
            f"The API key is empty. Set the {API_KEY_ENV} environment variable or pass "
            "api_key=... (get one at https://api.together.ai/settings/api-keys)."
        )
    if not all(33 <= ord(c) <= 126 for c in key):
        raise TogetherConfigError(
            "The API key contains a character that cannot be sent in an HTTP header (a space, "
            "a control character or a non-ASCII letter inside it). Copy it again from "
            "https://api.together.ai/settings/api-keys."
        )
    return SecretStr(key)


def env_api_key() -> str | None:
    raw = os.environ.get(API_KEY_ENV)
    if raw is None or not raw.strip():
        return None
    return raw


def safe_url(request: httpx.Request) -> str:
    """The request URL without its query (a presigned URL's query is a credential)."""
    return str(request.url.copy_with(query=None))


def map_httpx_error(
    exc: Exception, method: str, url: str, *, stream: bool = False
) -> APIConnectionError:
    """One typed error for every failure httpx can raise while sending or reading."""
    if isinstance(exc, httpx.DecodingError):
        return APIConnectionError(
            f"The response from {url} could not be decoded ({exc}): it was corrupted on the "
            "way. Retry the request.",
            method=method,
            url=url,
        )
    sent = not isinstance(
        exc,
        httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol,
    )
    if isinstance(exc, httpx.TimeoutException):
        message = (
            "The stream timed out waiting for the next event. Raise `timeout` or retry."
            if stream
            else f"Request to {url} timed out ({type(exc).__name__}). Raise `timeout` or retry "
            "later."
        )
        return APITimeoutError(message, method=method, url=url, request_sent=sent)
    message = (
        f"The stream broke off: {type(exc).__name__}. The answer is incomplete; retry the request."
        if stream
        else f"Could not reach the Together API at {url} ({type(exc).__name__}). Check the "
        "network and base_url, then retry."
    )
    return APIConnectionError(message, method=method, url=url, request_sent=sent)


def json_parser(model: type[M]) -> Callable[[bytes], M]:
    validate = model.model_validate_json

    def parse(content: bytes) -> M:
        return validate(content)

    return parse


def chunk_parser(model: type[M]) -> Callable[[str], M]:
    validate = model.model_validate_json

    def parse(data: str) -> M:
        return validate(data)

    return parse


class BaseTransport:
    """Settings and every I/O-free decision of :class:`TogetherTransport`."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
        max_in_flight: int | None = None,
    ) -> None:
        self._api_key = clean_api_key(api_key if api_key is not None else env_api_key())
        self.base_url = check_base_url(
            base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL, allow_insecure_http
        )
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        if not self.timeout > 0:
            raise TogetherConfigError(
                f"timeout must be a positive number of seconds, got {timeout}."
            )
        self.connect_timeout = (
            DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else float(connect_timeout)
        )
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else int(max_retries)
        if self.max_retries < 0:
            raise TogetherConfigError(f"max_retries must be >= 0, got {max_retries}.")
        self.max_in_flight = (
            DEFAULT_MAX_CONNECTIONS if max_in_flight is None else int(max_in_flight)
        )
        if self.max_in_flight < 1:
            raise TogetherConfigError(f"max_in_flight must be >= 1, got {max_in_flight}.")
        self.default_headers: dict[str, str] = dict(default_headers or {})
        self.allow_insecure_http = allow_insecure_http
        self._roots = {"v1": self.base_url, "v2": derive_v2_root(self.base_url)}
        self._base_headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **self.default_headers,
        }
        self._timeout_cache: dict[tuple[float, float | None], httpx.Timeout] = {}

    @property
    def api_key(self) -> SecretStr | None:
        """The API key, as a ``SecretStr`` (or ``None`` when none is set)."""
        return self._api_key

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, max_retries={self.max_retries}, "
            f"timeout={self.timeout}, api_key={'set' if self._api_key else 'unset'})"
        )

    # ----------------------------------------------------------- request building

    def _timeout(self, seconds: float, connect: float | None = None) -> httpx.Timeout:
        key = (seconds, connect)
        timeout = self._timeout_cache.get(key)
        if timeout is None:
            connect_after = min(self.connect_timeout, seconds) if connect is None else connect
            timeout = httpx.Timeout(seconds, connect=connect_after)
            self._timeout_cache[key] = timeout
        return timeout

    def _url(self, call: Call) -> str:
        if not call.root:
            return call.path
        root = self._roots.get(call.root)
        if root is None:
            raise TogetherConfigError(
                f"This endpoint lives under the API's /{call.root} root, which cannot be derived "
                f"from base_url {self.base_url!r} (it does not end in /v1). Use a base URL that "
                "ends in /v1, such as 'https://api.together.xyz/v1'."
            )
        return root + call.path

    def _headers(self, options: RequestOptions, call: Call) -> dict[str, str]:
        if not call.authenticated:
            # Another host (a presigned URL): only what the operation itself names.
            return dict(call.headers or {})
        if self._api_key is None:
            raise TogetherConfigError(
                f"No Together API key: set the {API_KEY_ENV} environment variable or pass "
                "api_key=... (get one at https://api.together.ai/settings/api-keys)."
            )
        headers = dict(self._base_headers)
        headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        if call.json is not None:
            headers["Content-Type"] = "application/json"
        if call.headers:
            headers.update(call.headers)
        if options.extra_headers:
            headers.update(options.extra_headers)
        return headers

    def build_request(self, call: Call, options: RequestOptions) -> httpx.Request:
        """The ``httpx.Request`` for one attempt of ``call``."""
        query: dict[str, str] = {**(call.params or {})}
        if call.authenticated and options.extra_query:
            query.update(options.extra_query)
        timeout = self._timeout(
            self.timeout if options.timeout is None else options.timeout, options.connect_timeout
        )
        files: list[tuple[str, Any]] | None = None
        data: dict[str, Any] | None = None
        if call.files is not None or call.multipart:
            # Every field as a multipart part (filename None): httpx would otherwise send
            # fields without a file as application/x-www-form-urlencoded.
            files = [(k, (None, v)) for k, v in (call.form or ())]
            if call.files is not None:
                files += call.files()
        elif call.form is not None:
            data = {}
            for key, value in call.form:
                previous = data.get(key)
                data[key] = (
                    value
                    if previous is None
                    else [*([previous] if isinstance(previous, str) else previous), value]
                )
        content = (
            call.json
            if call.json is not None
            else (call.content() if call.content is not None else None)
        )
        return httpx.Request(
            call.method,
            self._url(call),
            headers=self._headers(options, call),
            content=content,
            data=data,
            files=files,
            params=query or None,
            extensions={"timeout": timeout.as_dict()},
        )

    # ------------------------------------------------------ answers and failures

    @staticmethod
    def status_error(response: httpx.Response, content: bytes) -> APIStatusError:
        request = response.request
        return make_status_error(
            response.status_code,
            response.headers,
            content,
            method=request.method,
            url=safe_url(request),
        )

    @staticmethod
    def parse(parser: Callable[[bytes], T], response: httpx.Response, content: bytes) -> T:
        """Parse a successful body; what the API does not promise becomes
        :class:`APIResponseValidationError`, never a bare pydantic error."""
        try:
            result = parser(content)
        except (ValidationError, ValueError, TypeError, KeyError, IndexError) as exc:
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
                url=safe_url(request),
            ) from exc
        if isinstance(result, WireModel):
            result._response_headers = response.headers
        return result

    def retry_after(
        self, error: APIError, attempt: int, options: RequestOptions, call: Call
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to raise ``error`` now."""
        if isinstance(error, APIStatusError) and error.status_code in call.final_status:
            return None
        max_retries = self.max_retries if options.max_retries is None else options.max_retries
        delay = retry_delay(error, attempt, max_retries, paid=call.paid)
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
        elif call.paid and attempt < max_retries and isinstance(error, APIConnectionError):
            logger.warning(
                "Not re-sending %s %s: it starts paid work and may have reached the server. "
                "Look the job up before creating it again.",
                error.method,
                error.url,
            )
        return delay
