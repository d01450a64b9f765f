"""Errors raised from the LangChain adapters: our typed error AND the matching
``langchain_core.exceptions`` class, so code catching either keeps working.

::

    ours (together_integrations)      LangChain (langchain_core.exceptions)
    APITimeoutError                   ModelTimeoutError
    APIConnectionError                ModelConnectionError
    BadRequestError                   ModelInvalidRequestError, or ContextOverflowError when
                                      the server says the prompt is over the context window
    UnprocessableEntityError          ModelInvalidRequestError (ContextOverflowError likewise)
    AuthenticationError               ModelAuthenticationError
    PermissionDeniedError             ModelPermissionDeniedError
    NotFoundError                     ModelNotFoundError
    RateLimitError                    ModelRateLimitError
    InsufficientCreditsError          ModelAPIError (not retryable)
    ConflictError, InternalServerError,
    APIResponseValidationError,
    any other APIStatusError          ModelAPIError

Each pair is one class defined here (importable, so the errors pickle).
:func:`to_langchain_error` is the only place that chooses; it keeps every attribute and the
message of the original, and callers ``raise to_langchain_error(exc) from exc``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from pydantic import ValidationError

from together_integrations._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientCreditsError,
    InternalServerError,
    NonServerlessModelError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TogetherConfigError,
    UnprocessableEntityError,
)

__all__ = [
    "LCAPIConnectionError",
    "LCAPIResponseValidationError",
    "LCAPIStatusError",
    "LCAPITimeoutError",
    "LCAuthenticationError",
    "LCBadRequestError",
    "LCConflictError",
    "LCContextOverflowError",
    "LCInsufficientCreditsError",
    "LCInternalServerError",
    "LCInvalidArgumentsError",
    "LCNonServerlessModelError",
    "LCNotFoundError",
    "LCPermissionDeniedError",
    "LCRateLimitError",
    "LCUnprocessableContextOverflowError",
    "LCUnprocessableEntityError",
    "is_context_overflow",
    "langchain_errors",
    "to_langchain_error",
]


class LCAPITimeoutError(APITimeoutError, ModelTimeoutError):
    """The request timed out."""


class LCAPIConnectionError(APIConnectionError, ModelConnectionError):
    """The API could not be reached, or the response broke off."""


class LCAPIResponseValidationError(APIResponseValidationError, ModelAPIError):
    """A 2xx response whose body is not what the API promises."""


class LCBadRequestError(BadRequestError, ModelInvalidRequestError):
    """400: the request is invalid."""


class LCNonServerlessModelError(NonServerlessModelError, ModelInvalidRequestError):
    """The non-serverless 400 with the endpoints hint, still a LangChain
    ``ModelInvalidRequestError``."""


class LCContextOverflowError(BadRequestError, ContextOverflowError):
    """400: the prompt (plus ``max_tokens``) does not fit the model's context window."""


class LCUnprocessableEntityError(UnprocessableEntityError, ModelInvalidRequestError):
    """422: the request cannot be processed."""


class LCUnprocessableContextOverflowError(UnprocessableEntityError, ContextOverflowError):
    """422 saying the prompt does not fit the model's context window."""


class LCAuthenticationError(AuthenticationError, ModelAuthenticationError):
    """401: the API key is missing or invalid."""


class LCInsufficientCreditsError(InsufficientCreditsError, ModelAPIError):
    """402: the account has no credits left."""

    is_retryable = False


class LCPermissionDeniedError(PermissionDeniedError, ModelPermissionDeniedError):
    """403: the key may not use this model."""


class LCNotFoundError(NotFoundError, ModelNotFoundError):
    """404: unknown model."""


class LCConflictError(ConflictError, ModelAPIError):
    """409: a conflicting request."""


class LCRateLimitError(RateLimitError, ModelRateLimitError):
    """429: rate limited (``retry_after`` and ``rate_limits`` as on :class:`RateLimitError`)."""


class LCInternalServerError(InternalServerError, ModelAPIError):
    """5xx: a server-side failure."""


class LCAPIStatusError(APIStatusError, ModelAPIError):
    """Any other 4xx/5xx status."""


class LCInvalidArgumentsError(TogetherConfigError, ModelInvalidRequestError):
    """Request arguments this client can tell are invalid, raised before any request (also
    a ``ValueError``). The message names each argument, its value and the rule it breaks."""


def invalid_arguments(error: ValidationError, owner: str) -> LCInvalidArgumentsError:
    """A pydantic error about a request body, in the words of the arguments the user passed
    (never the internal request class's name)."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "request"
        value = repr(item.get("input"))
        if len(value) > 60:
            value = value[:57] + "..."
        problems.append(f"{where}={value}: {item['msg']}")
    return LCInvalidArgumentsError(f"Invalid arguments for {owner}: " + "; ".join(problems) + ".")


# Exact class → dual class. Subclasses of ours that are not listed fall back to the nearest
# listed base through the MRO walk in ``_dual_for``.
_DUALS: dict[type[APIError], type[APIError]] = {
    APITimeoutError: LCAPITimeoutError,
    APIConnectionError: LCAPIConnectionError,
    APIResponseValidationError: LCAPIResponseValidationError,
    BadRequestError: LCBadRequestError,
    NonServerlessModelError: LCNonServerlessModelError,
    UnprocessableEntityError: LCUnprocessableEntityError,
    AuthenticationError: LCAuthenticationError,
    InsufficientCreditsError: LCInsufficientCreditsError,
    PermissionDeniedError: LCPermissionDeniedError,
    NotFoundError: LCNotFoundError,
    ConflictError: LCConflictError,
    RateLimitError: LCRateLimitError,
    InternalServerError: LCInternalServerError,
    APIStatusError: LCAPIStatusError,
}
_OVERFLOW: dict[type[APIError], type[APIError]] = {
    BadRequestError: LCContextOverflowError,
    UnprocessableEntityError: LCUnprocessableContextOverflowError,
}

# Phrases Together (and the engines behind it) use when the prompt is too long, e.g.
# "`inputs` tokens + `max_new_tokens` must be <= 8193" or "maximum context length is ...".
_CONTEXT = re.compile(
    r"context (length|window)|maximum context|max_new_tokens|too many (input )?tokens"
    r"|prompt is too long|input (is )?too long",
    re.I,
)


def is_context_overflow(error: APIError) -> bool:
    """Whether a 400/422 says the prompt does not fit the model's context window."""
    if not isinstance(error, (BadRequestError, UnprocessableEntityError)):
        return False
    code = str(error.code or "")
    return code == "context_length_exceeded" or bool(_CONTEXT.search(error.message))


def _dual_for(error: APIError) -> type[APIError] | None:
    table = _OVERFLOW if is_context_overflow(error) else _DUALS
    for cls in type(error).__mro__:
        dual = table.get(cls)
        if dual is not None:
            return dual
    return None


def to_langchain_error(error: APIError) -> APIError:
    """Return ``error`` as an instance of both its class and the matching LangChain class.

    The result has the original's message and every attribute (``status_code``,
    ``request_id``, ``body``, ``retry_after``...). Errors that already are LangChain errors,
    and errors with no LangChain counterpart, are returned unchanged.
    """
    if isinstance(error, ModelError):
        return error
    cls = _dual_for(error)
    if cls is None:
        return error
    if not issubclass(cls, type(error)):
        # A subclass of ours we do not know: keep its type rather than lose it.
        return error
    dual = cls.__new__(cls)
    Exception.__init__(dual, *error.args)
    dual.__dict__.update(error.__dict__)
    dual.__traceback__ = error.__traceback__
    return dual


@contextmanager
def langchain_errors() -> Iterator[None]:
    """Re-raise errors from the block as :func:`to_langchain_error` twins: the one mapping
    every LangChain call site (request, stream, parsing) goes through."""
    try:
        yield
    except APIError as exc:
        raise to_langchain_error(exc) from exc
