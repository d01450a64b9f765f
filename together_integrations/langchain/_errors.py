"""Errors raised from the LangChain adapters: our typed error AND the matching
``langchain_core.exceptions`` class, so code catching either keeps working.

``to_langchain_error`` makes the dual instance (same attributes, same message); it is the
only place that chooses the LangChain class.
"""

from __future__ import annotations

import re

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

from together_integrations._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

__all__ = ["to_langchain_error"]

_CONTEXT = re.compile(
    r"context (length|window)|maximum context|max_new_tokens|too many tokens", re.I
)

# Most specific first: the first matching pair wins.
_PAIRS: tuple[tuple[type[APIError], type[ModelError]], ...] = (
    (APITimeoutError, ModelTimeoutError),
    (APIConnectionError, ModelConnectionError),
    (RateLimitError, ModelRateLimitError),
    (AuthenticationError, ModelAuthenticationError),
    (PermissionDeniedError, ModelPermissionDeniedError),
    (NotFoundError, ModelNotFoundError),
    (BadRequestError, ModelInvalidRequestError),
    (UnprocessableEntityError, ModelInvalidRequestError),
    (InternalServerError, ModelAPIError),
    (APIStatusError, ModelAPIError),
)
_DUAL: dict[tuple[type[APIError], type[ModelError]], type[APIError]] = {}


def _dual_class(ours: type[APIError], theirs: type[ModelError]) -> type[APIError]:
    key = (ours, theirs)
    cls = _DUAL.get(key)
    if cls is None:
        cls = type(
            ours.__name__, (ours, theirs), {"__module__": __name__, "__qualname__": ours.__name__}
        )
        _DUAL[key] = cls
    return cls


def to_langchain_error(error: APIError) -> APIError:
    """Return ``error`` as an instance of both its class and the matching LangChain class."""
    if isinstance(error, ModelError):
        return error
    theirs: type[ModelError] | None = None
    if isinstance(error, BadRequestError) and _CONTEXT.search(error.message):
        theirs = ContextOverflowError
    else:
        theirs = next((lc for ours, lc in _PAIRS if isinstance(error, ours)), None)
    if theirs is None:
        return error
    cls = _dual_class(type(error), theirs)
    dual = cls.__new__(cls)
    Exception.__init__(dual, *error.args)
    dual.__dict__.update(error.__dict__)
    return dual
