"""Retry decisions, without I/O: which failures to retry and how long to wait.

The sync and async request loops in ``_transport`` both call :func:`retry_delay`; neither
decides anything on its own. There is exactly one retry layer in the package: this one.

Two policies:

* an ordinary request is retried after connection errors, timeouts, 408, 409, 429 and 5xx;
* a request that **starts paid work** (``POST /batches``, ``/fine-tunes``, ``/videos``,
  ``/endpoints``) is retried only when it cannot have started anything: a connection that
  was never made, a 429, or a 503 that says when to come back. A read timeout or a bare
  5xx may mean the job exists already, and sending it again could pay for it twice.
"""

from __future__ import annotations

import random

from ._constants import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    RETRYABLE_STATUS,
)
from ._exceptions import APIConnectionError, APIError, APIStatusError
from ._headers import parse_rate_limit_headers, parse_retry_after

__all__ = [
    "backoff",
    "is_retryable",
    "parse_rate_limit_headers",
    "parse_retry_after",
    "retry_delay",
]


def is_retryable(error: APIError, *, paid: bool = False) -> bool:
    """Whether another attempt can help (and, for paid work, cannot pay twice)."""
    if paid:
        if isinstance(error, APIConnectionError):
            return not error.request_sent
        if isinstance(error, APIStatusError):
            if error.status_code == 429:
                return True
            return error.status_code == 503 and parse_retry_after(error.headers) is not None
        return False
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUS or error.status_code >= 500
    return False


def backoff(attempt: int, *, rand: float | None = None) -> float:
    """Exponential backoff with jitter for retry number ``attempt`` (0-based), capped."""
    base = min(INITIAL_RETRY_DELAY * (2.0 ** min(attempt, 32)), MAX_RETRY_DELAY)
    jitter = 1.0 - 0.25 * (random.random() if rand is None else rand)
    return base * jitter


def retry_delay(
    error: APIError, attempt: int, max_retries: int, *, paid: bool = False
) -> float | None:
    """How long to wait before retrying after ``error`` on retry number ``attempt``.

    Returns ``None`` when the request must not be retried: the error is final, the retries
    are used up (at most ``max_retries + 1`` attempts in all), the request started paid work
    that may already be running, or the server asks to wait longer than
    ``MAX_RETRY_AFTER`` (waiting here would only hide the problem). A ``retry-after`` that
    is not a positive finite number falls back to the normal backoff.
    """
    if attempt >= max_retries or not is_retryable(error, paid=paid):
        return None
    if isinstance(error, APIStatusError):
        asked = parse_retry_after(error.headers)
        if asked is not None:
            if asked > MAX_RETRY_AFTER:
                return None
            return asked
    return backoff(attempt)
