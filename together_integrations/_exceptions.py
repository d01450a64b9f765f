"""Errors raised by together-integrations.

::

    TogetherError
    ├── TogetherConfigError              bad settings, raised before any request (a ValueError)
    │   └── MediaInputError              a media argument refused: argument, value, allowed
    ├── JobError                         a server-side job (batch, fine-tune, video, endpoint)
    │   ├── JobFailedError               ended failed/error/expired/cancelled: reason, job
    │   └── JobTimeoutError              still running when the wait ran out: the last job state
    └── APIError
        ├── APIConnectionError           the server could not be reached, or a stream broke
        │   └── APITimeoutError
        ├── APIResponseValidationError   a 2xx body that is not what the API promises
        └── APIStatusError               any 4xx/5xx; status_code, request_id, body, message
            ├── BadRequestError              400 (NonServerlessModelError: needs an endpoint)
            ├── AuthenticationError          401
            ├── InsufficientCreditsError     402
            ├── PermissionDeniedError        403
            ├── NotFoundError                404
            ├── ConflictError                409
            ├── UnprocessableEntityError     422
            ├── RateLimitError               429 (retry_after, rate_limits)
            └── InternalServerError          5xx

No error keeps the request's headers, so the API key can never leak through an error's text,
repr or pickle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ._headers import parse_rate_limit_headers, parse_retry_after, request_id
from .schemas.errors import error_message_text, parse_error_body

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InsufficientCreditsError",
    "InternalServerError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "MediaInputError",
    "NonServerlessModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TogetherConfigError",
    "TogetherError",
    "UnprocessableEntityError",
]


class TogetherError(Exception):
    """Base class of every error raised by this package."""


class TogetherConfigError(TogetherError, ValueError):
    """The client is misconfigured (no API key, an unsafe base URL...)."""


_E = TypeVar("_E", bound=TogetherError)


def _rebuild_from_state(cls: type[_E], state: dict[str, Any], args: tuple[Any, ...]) -> _E:
    """Unpickle an error whose ``__init__`` takes keyword-only fields: from its state."""
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


# Pickles made before the rebuild was shared name it so.
_rebuild_job_error = _rebuild_from_state


class MediaInputError(TogetherConfigError):
    """An argument of a media request that cannot succeed, refused before any request.

    Also a ``ValueError``. The message names the argument, the value and what is allowed.

    Attributes:
        argument: The argument's name (``width``, ``voice``, ``file``...).
        value: The value given.
        allowed: What would be accepted, in words (``"1 to 50"``, ``"tara, leah"``...).
    """

    def __init__(self, message: str, *, argument: str, value: Any, allowed: str | None = None):
        super().__init__(message)
        self.message = message
        self.argument = argument
        self.value = value
        self.allowed = allowed

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_from_state, (type(self), self.__dict__.copy(), self.args))


class JobError(TogetherError):
    """A job on the server did not end as hoped.

    Attributes:
        job: The last state of the job as the server reported it (a schema object).
        job_id: Its id, to resume waiting (``wait(job_id)``) or to look it up later.
        status: Its status text.
    """

    def __init__(self, message: str, *, job: Any, job_id: str | None, status: str | None):
        super().__init__(message)
        self.message = message
        self.job = job
        self.job_id = job_id
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_from_state, (type(self), self.__dict__.copy(), self.args))


class JobFailedError(JobError):
    """The job ended without success (failed, error, expired or cancelled).

    Attributes:
        reason: The server's own reason, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        job: Any,
        job_id: str | None,
        status: str | None,
        reason: str | None = None,
    ):
        super().__init__(message, job=job, job_id=job_id, status=status)
        self.reason = reason


class JobTimeoutError(JobError, TimeoutError):
    """The wait ran out while the job was still running. The job goes on on the server.

    Attributes:
        waited: Seconds waited (by the poller's clock).
    """

    def __init__(
        self, message: str, *, job: Any, job_id: str | None, status: str | None, waited: float
    ):
        super().__init__(message, job=job, job_id=job_id, status=status)
        self.waited = waited


class APIError(TogetherError):
    """An error talking to the Together API.

    Attributes:
        message: A human readable description that says what to do.
        method: The HTTP method of the failed request.
        url: The URL of the failed request (never contains the key).
    """

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None):
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__.copy(), self.args))


def _rebuild(cls: type[APIError], state: dict[str, Any], args: tuple[Any, ...]) -> APIError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class APIConnectionError(APIError):
    """The request did not reach the server, or the response (or stream) broke off.

    Attributes:
        request_sent: ``False`` only when the request certainly never reached the server
            (no connection was made); then even a request that starts paid work is safe to
            send again.
    """

    def __init__(
        self,
        message: str = "Connection error: could not reach the Together API. Check the network "
        "and base_url, then retry.",
        *,
        method: str | None = None,
        url: str | None = None,
        request_sent: bool = True,
    ):
        super().__init__(message, method=method, url=url)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The request timed out (connect or read)."""

    def __init__(
        self,
        message: str = "Request timed out. Raise `timeout` or retry later.",
        *,
        method: str | None = None,
        url: str | None = None,
        request_sent: bool = True,
    ):
        super().__init__(message, method=method, url=url, request_sent=request_sent)


class APIResponseValidationError(APIError):
    """A successful response whose body is not what the API promises (e.g. not JSON).

    Attributes:
        status_code: The HTTP status of the response.
        body: The raw body text (truncated to 2,000 characters in the message only).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str,
        method: str | None = None,
        url: str | None = None,
    ):
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.body = body


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status.

    Attributes:
        status_code: The HTTP status code.
        request_id: The ``x-request-id`` header (quote it to Together support).
        body: The parsed JSON body, or the text when it is not JSON.
        server_message: The server's own message: a string, or an object when the server
            nests one (NOTES §2).
        code: The error ``code`` field (``invalid_api_key``, ``model_not_available``...).
        type: The error ``type`` field (``invalid_request_error``, ``rate_limit``...).
        param: The error ``param`` field.
        headers: The response headers.
    """

    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: Any = None,
        server_message: str | dict[str, Any] | list[Any] | None = None,
        code: str | int | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ):
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.server_message = server_message
        self.code = code
        self.type = type
        self.param = param
        self.headers = dict(headers or {})


class BadRequestError(APIStatusError):
    """400: the request is invalid; fix it rather than retry."""

    hint = "Check the request parameters."


class NonServerlessModelError(BadRequestError):
    """400 ``model_not_available`` "non-serverless model": the model is served only on a
    dedicated endpoint. The message names the endpoints API."""

    hint = (
        "This model is not served serverless: deploy it on a dedicated endpoint with "
        "transport.endpoints.create({'model': ..., 'hardware': ..., 'autoscaling': "
        "{'min_replicas': 1, 'max_replicas': 1}}) (or TogetherDedicatedEndpoints.create), see "
        "transport.endpoints.hardware(model=...) for the options, then call the endpoint's name "
        "once it is STARTED."
    )


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid."""

    hint = "Check TOGETHER_API_KEY (or the api_key argument)."


class InsufficientCreditsError(APIStatusError):
    """402: the account has no credits left."""

    hint = "Add credits to the Together account."


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this resource."""

    hint = "Check that this key may use the model or endpoint."


class NotFoundError(APIStatusError):
    """404: unknown model or path."""

    hint = "Check the model name against GET /models."


class ConflictError(APIStatusError):
    """409: a conflicting request; retried automatically."""


class UnprocessableEntityError(APIStatusError):
    """422: the request is well formed but cannot be processed."""

    hint = "Check the request parameters."


class RateLimitError(APIStatusError):
    """429: rate limited. Retried automatically while the wait is short.

    Attributes:
        retry_after: Seconds the server asked to wait (``retry-after-ms`` / ``retry-after``),
            or ``None``.
        rate_limits: The ``x-ratelimit-*`` headers, parsed to numbers where possible
            (``{"limit": 10.0, "remaining": 0.0, "limit-tokens": 1000.0, ...}``).
    """

    hint = "Slow down, or raise max_retries; Together limits are per second."

    def __init__(self, message: str, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after: float | None = parse_retry_after(self.headers)
        self.rate_limits: dict[str, float | str] = parse_rate_limit_headers(self.headers)


class InternalServerError(APIStatusError):
    """5xx: a server-side failure. Retried automatically."""

    hint = "The server failed; retry later."


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def make_status_error(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    method: str | None = None,
    url: str | None = None,
) -> APIStatusError:
    """Build the one error class that matches a failed response: the only place that chooses."""
    body, parsed = parse_error_body(content)
    detail = parsed.detail if parsed is not None else None
    server_message = detail.message if detail is not None else None
    text = error_message_text(server_message)
    if text is None:
        text = body if isinstance(body, str) else None
        if text is not None:
            text = " ".join(text.split())[:300] or None
    cls = _STATUS_ERRORS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    if (
        status_code == 400
        and detail is not None
        and detail.code == "model_not_available"
        and "non-serverless" in (text or "")
    ):
        cls = NonServerlessModelError
    request_id_ = request_id(headers) or (parsed.id if parsed is not None else None)
    parts = [f"Together API error {status_code}"]
    if detail is not None and detail.code:
        parts[0] += f" ({detail.code})"
    message = parts[0] + (f": {text}" if text else "")
    if cls.hint:
        message += f" {cls.hint}"
    if request_id_:
        message += f" [request id: {request_id_}]"
    return cls(
        message,
        status_code=status_code,
        request_id=request_id_,
        body=body,
        server_message=server_message,
        code=detail.code if detail is not None else None,
        type=detail.type if detail is not None else None,
        param=detail.param if detail is not None else None,
        headers=headers,
        method=method,
        url=url,
    )


_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit": 429,
    "rate_limit_error": 429,
    "server_error": 500,
    "overloaded_error": 503,
}


def make_stream_error(data: str, *, method: str | None, url: str | None) -> APIStatusError:
    """The typed error for an error the server sent inside a stream, after its 200.

    The HTTP status is already spent, so the status is read from the error itself: a
    numeric ``code`` or ``status_code``, else its ``type``, else 500.
    """
    body, parsed = parse_error_body(data.encode("utf-8", errors="replace"))
    detail = parsed.detail if parsed is not None else None
    status = 500
    candidates: list[Any] = []
    if isinstance(body, dict):
        candidates.append(body.get("status_code"))
        inner = body.get("error")
        if isinstance(inner, dict):
            candidates += [inner.get("status_code"), inner.get("code")]
    for candidate in candidates:
        if isinstance(candidate, int) and 400 <= candidate <= 599:
            status = candidate
            break
    else:
        if detail is not None and detail.type in _ERROR_TYPE_STATUS:
            status = _ERROR_TYPE_STATUS[detail.type]
    error = make_status_error(
        status, {}, data.encode("utf-8", errors="replace"), method=method, url=url
    )
    error.message = "The stream was ended by an error from the server. " + error.message
    error.args = (error.message,)
    return error
