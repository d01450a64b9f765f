"""Retry decisions, without I/O: which failures to retry and how long to wait.

The sync and async request loops in ``_transport`` both call :func:`retry_delay`; neither
decides anything on its own. There is exactly one retry layer in the package: this one.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from ._constants import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    RETRYABLE_STATUS,
)
from ._exceptions import APIConnectionError, APIError, APIStatusError


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms``, then ``retry-after`` (seconds or an
    HTTP date). ``None`` when absent or unreadable."""
    lower = {k.lower(): v for k, v in headers.items()}
    raw_ms = lower.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = lower.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_to_datetime(raw) if raw.strip() else None
    if parsed is None:
        return None
    return max(parsed.timestamp() - (time.time() if now is None else now), 0.0)


def parse_rate_limit_headers(headers: Mapping[str, str]) -> dict[str, float | str]:
    """The ``x-ratelimit-*`` headers keyed by their suffix, numbers parsed where possible."""
    out: dict[str, float | str] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower.startswith("x-ratelimit-"):
            name = lower[len("x-ratelimit-") :]
            try:
                out[name] = float(value)
            except ValueError:
                out[name] = value
    return out


def is_retryable(error: APIError) -> bool:
    """Connection errors, timeouts, 408, 409, 429 and 5xx are worth another attempt."""
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUS or error.status_code >= 500
    return False


def backoff(attempt: int, *, rand: float | None = None) -> float:
    """Exponential backoff with jitter for retry number ``attempt`` (0-based), capped."""
    base = min(INITIAL_RETRY_DELAY * (2.0**attempt), MAX_RETRY_DELAY)
    jitter = 1.0 - 0.25 * (random.random() if rand is None else rand)
    return base * jitter


def retry_delay(error: APIError, attempt: int, max_retries: int) -> float | None:
    """How long to wait before retrying after ``error`` on retry number ``attempt``.

    Returns ``None`` when the request must not be retried: the error is final, the retries
    are used up (at most ``max_retries + 1`` attempts in all), or the server asks to wait
    longer than ``MAX_RETRY_AFTER``, in which case waiting here would only hide the problem.
    """
    if attempt >= max_retries or not is_retryable(error):
        return None
    if isinstance(error, APIStatusError):
        asked = parse_retry_after(error.headers)
        if asked is not None:
            if asked > MAX_RETRY_AFTER:
                return None
            return asked
    return backoff(attempt)
