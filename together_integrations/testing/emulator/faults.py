"""Fault injection: what ``TogetherEmulator.fail`` queues and how each kind shapes an answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .wire import REASONS, EmulatedResponse, Wire, slices

__all__ = ["FAULTS", "Fault", "FaultKind", "apply_body_fault", "early_fault", "status_response"]

FaultKind = Literal[
    "status", "connection_reset", "cut_stream", "invalid_json", "slow_first_byte", "slow_stream"
]
FAULTS = frozenset(
    {"status", "connection_reset", "cut_stream", "invalid_json", "slow_first_byte", "slow_stream"}
)
RATE_LIMIT_MESSAGE = (
    "Request was rejected due to request rate limiting. Your rate limits are 60 RPM (1 QPS) "
    "and 60000 TPM (1000 TPS). See details: https://docs.together.ai/docs/rate-limits"
)


@dataclass
class Fault:
    kind: str
    when: Any
    times: int | None
    options: dict[str, Any]


def early_fault(wire: Wire, fault: Fault) -> EmulatedResponse | None:
    """The answer for faults that replace the response entirely (None for body faults)."""
    if fault.kind == "status":
        return status_response(wire, fault.options)
    if fault.kind == "connection_reset":
        return EmulatedResponse(0, {}, reset_before_headers=True)
    if fault.kind == "invalid_json":
        return EmulatedResponse(
            200, wire.headers(wire.id()), b"<html><body>upstream hiccup</body></html>"
        )
    return None


def status_response(wire: Wire, options: dict[str, Any]) -> EmulatedResponse:
    status = int(options.get("status", 500))
    extra: dict[str, str] = {}
    if "retry_after" in options:
        extra["retry-after"] = str(options["retry_after"])
    if "retry_after_ms" in options:
        extra["retry-after-ms"] = str(options["retry_after_ms"])
    if options.get("html"):
        title = f"{status} {REASONS.get(status, 'Error')}"
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        headers = {"content-type": "text/html", "server": "cloudflare", **extra}
        return EmulatedResponse(status, headers, page.encode())
    if status == 429:
        extra = {
            "x-ratelimit": "true",
            "x-ratelimit-limit": "1",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-limit-tokens": "1000",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset": str(options.get("retry_after", 2)),
            "retry-after": "2",
            **extra,
        }
        return wire.error(
            429, options.get("message", RATE_LIMIT_MESSAGE), type_="rate_limit", extra_headers=extra
        )
    if status >= 500:
        return wire.error(
            status,
            options.get("message", "Internal server error"),
            type_="server_error",
            extra_headers=extra,
        )
    return wire.error(
        status,
        options.get("message", "Input validation error"),
        code=options.get("code"),
        param=options.get("param"),
        extra_headers=extra,
    )


def apply_body_fault(response: EmulatedResponse, fault: Fault) -> None:
    """Delay or cut the body of an otherwise normal answer."""
    if fault.kind == "slow_first_byte":
        response.delay_first = float(fault.options.get("delay", 1.0))
    elif fault.kind == "slow_stream":
        response.delay_each = float(fault.options.get("delay", 0.1))
        _slice(response)
    elif fault.kind == "cut_stream":
        after = int(fault.options.get("after", 1))
        response.chunks = _slice(response)[:after]
        response.reset_after = after


def _slice(response: EmulatedResponse) -> list[bytes]:
    if response.chunks is None:
        response.declared_length = len(response.body)
        response.chunks = slices(response.body, 64)
    return response.chunks
