"""Pure parsing of response headers: ``retry-after``, ``x-ratelimit-*`` and request ids.

Kept apart from ``_exceptions`` and ``_retry`` so that both can use it without importing each
other. Every parse step stands alone: a header the server garbles yields ``None`` (the caller
falls back to its own backoff), never an exception and never a non-finite number.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

__all__ = ["parse_rate_limit_headers", "parse_retry_after", "request_id"]


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _positive_finite(value: float) -> float | None:
    # 0 and negative waits carry no information (the server would not ask to wait for
    # nothing after refusing), and nan/inf must never reach time.sleep.
    if math.isfinite(value) and value > 0:
        return value
    return None


def _seconds(raw: str) -> float | None:
    try:
        return _positive_finite(float(raw))
    except ValueError:
        return None


def _http_date(raw: str, now: float | None) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:  # pragma: no cover - older Pythons returned None instead of raising
        return None
    try:
        stamp = parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return _positive_finite(stamp - (time.time() if now is None else now))


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asks to wait, or ``None`` when it asks nothing usable.

    ``retry-after-ms`` wins over ``retry-after``; ``retry-after`` is seconds or an HTTP date.
    A value that is not a positive finite number of seconds (``soon``, ``nan``, ``0``, a
    negative number, a date in the past) counts as absent.
    """
    lower = _lower(headers)
    raw_ms = lower.get("retry-after-ms")
    if raw_ms is not None:
        ms = _seconds(raw_ms.strip())
        if ms is not None:
            return ms / 1000.0
    raw = lower.get("retry-after")
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    seconds = _seconds(raw)
    if seconds is not None:
        return seconds
    if any(c.isalpha() for c in raw) and "," in raw:
        return _http_date(raw, now)
    return None


def parse_rate_limit_headers(headers: Mapping[str, str]) -> dict[str, float | str]:
    """The ``x-ratelimit-*`` headers keyed by their suffix, numbers parsed where possible."""
    out: dict[str, float | str] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower.startswith("x-ratelimit-"):
            name = lower[len("x-ratelimit-") :]
            try:
                number = float(value)
            except ValueError:
                out[name] = value
            else:
                out[name] = number if math.isfinite(number) else value
    return out


def request_id(headers: Mapping[str, str]) -> str | None:
    """The request id to quote to Together support (``x-request-id``)."""
    return _lower(headers).get("x-request-id") or None
