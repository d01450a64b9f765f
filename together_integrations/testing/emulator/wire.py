"""Wire helpers shared by every family: request/response records, encoding, ids, headers, errors.

Bodies are built as plain dicts and encoded the way the server does it: non-stream JSON is
indented by two spaces, SSE events are compact ``data: {...}`` lines (NOTES §1, §4).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CREATED",
    "DONE",
    "JSON",
    "SSE",
    "EmulatedRequest",
    "EmulatedResponse",
    "Wire",
    "event",
    "iso",
    "pretty",
    "slices",
    "split",
]

DEFAULT_BASE_URL = "https://api.together.xyz/v1"
DEFAULT_CREATED = 1780235474
"""A fixed ``created`` timestamp, so recordings of the emulator are byte-stable."""

JSON = "application/json; charset=utf-8"
SSE = "text/event-stream;charset=utf-8"
DONE = b"data: [DONE]\n\n"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    520: "Web server is returning an unknown error",
    524: "A timeout occurred",
}


@dataclass
class EmulatedRequest:
    """A request the emulator received (the authorization header is redacted).

    Attributes:
        method: HTTP method.
        path: URL path without the query string, e.g. ``/v1/chat/completions``.
        headers: Lower-cased header names; ``authorization`` reads ``<redacted>``.
        json: The parsed JSON body, or None.
        form: Multipart form fields (file parts as bytes).
        query: The raw query string ("" when none).
        params: Path parameters the router extracted, e.g. ``{"file_id": "file-…"}``.
        filenames: Multipart field name → the file name its part declared.
        content: The raw body bytes.
        origin: ``scheme://host[:port]`` the client reached the emulator on.
        authorized: Whether the request carried an ``Authorization`` header at all.
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    params: dict[str, str] = field(default_factory=dict)
    filenames: dict[str, str] = field(default_factory=dict)
    content: bytes = field(default=b"", repr=False)
    origin: str = ""
    authorized: bool = False

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body when it is an object, else ``{}``."""
        return self.json if isinstance(self.json, dict) else {}

    def query_params(self) -> dict[str, str]:
        """The query string as a dict (last value wins)."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass
class EmulatedResponse:
    """What to answer: status, headers, and a body that may arrive piece by piece.

    Attributes:
        status: HTTP status code.
        headers: Response headers (without content-length / transfer-encoding).
        body: The whole body, when ``chunks`` is None.
        chunks: The body as pieces written and flushed one by one (SSE events).
        delay_first: Seconds to wait before the status line and headers.
        delay_each: Seconds to wait before each chunk.
        reset_after: Break the connection after this many chunks (None: finish normally).
        reset_before_headers: Break the connection before sending anything.
        declared_length: The ``content-length`` of a fixed-length body that a fault sliced
            into ``chunks`` (None: streams are sent chunked).
    """

    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[bytes] | None = None
    delay_first: float = 0.0
    delay_each: float = 0.0
    reset_after: int | None = None
    reset_before_headers: bool = False
    declared_length: int | None = None

    def pieces(self) -> list[bytes]:
        """The body as the list of pieces a front-end writes."""
        return self.chunks if self.chunks is not None else [self.body]

    def json(self) -> Any:
        """The decoded JSON body (for internal callers such as the batch runner)."""
        return json.loads(b"".join(self.pieces()))


def pretty(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def event(value: Any) -> bytes:
    return b"data: " + compact(value) + b"\n\n"


def iso(timestamp: float) -> str:
    moment = _dt.datetime.fromtimestamp(timestamp, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(timestamp: float) -> str:
    """``2024-01-15T14:30:00Z``, the job families' date-time format (spec examples)."""
    moment = _dt.datetime.fromtimestamp(int(timestamp), tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def slices(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


class Wire:
    """Ids, seeds, headers and response envelopes, drawn from one seeded generator.

    Every family builds its answers through this object, so the same seed gives the same
    bytes whichever endpoints a test touches, in whatever order.
    """

    def __init__(self, seed: int, now: Callable[[], float], lock: threading.RLock) -> None:
        self.rng = random.Random(seed)
        self._now = now
        self._lock = lock
        self.internal = False
        """True while a job runs requests internally (batch lines): their answers are decoded
        at once and never sent, so ``ok`` encodes them compact (the indenting encoder is pure
        Python, ~6x slower) and leaves out the HTTP-only headers (request ids, rate limits,
        etag). Bodies and the id sequence are the same either way."""

    def now(self) -> int:
        return int(self._now())

    def id(self) -> str:
        with self._lock:
            pick = self.rng.choice
            return "o%s-%s-%016x" % (  # noqa: UP031 - the server's own id layout
                "".join(pick(_ALNUM) for _ in range(6)),
                "".join(pick(_ALNUM) for _ in range(6)),
                self.rng.getrandbits(64),
            )

    def token(self, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
        with self._lock:
            return "".join(self.rng.choice(alphabet) for _ in range(length))

    def uuid(self) -> str:
        with self._lock:
            raw = f"{self.rng.getrandbits(128):032x}"
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:]}"

    def seed_value(self) -> int:
        # Above 2**63, printed the way the server prints it (a double's shortest digits).
        with self._lock:
            raw = (1 << 63) | self.rng.getrandbits(63)
        return int(Decimal(repr(float(raw))))

    def call_id(self) -> str:
        return "call_" + self.token(24)

    def headers(
        self, request_id: str, ctype: str = JSON, *, stream: bool = False
    ) -> dict[str, str]:
        stamp = iso(self._now())
        headers = {
            "content-type": ctype,
            "x-request-id": request_id,
            "server": "cloudflare",
            "cf-ray": request_id.rsplit("-", 1)[-1] + "-SEA",
            "cf-cache-status": "DYNAMIC",
            "strict-transport-security": "max-age=15552000; includeSubDomains",
            "x-api-received": stamp,
            "x-api-call-start": stamp,
            "x-inference-version": "v2",
            "x-amzn-trace-id": f"1-{request_id[-8:]}-{request_id[-16:]}-noamzn",
            "x-ratelimit": "false",
            "x-ratelimit-limit": "10",
            "x-ratelimit-remaining": "19",
            "x-ratelimit-limit-tokens": "3000",
            "x-ratelimit-remaining-tokens": "3000",
            "x-ratelimit-reset": "2",
            "retry-after": "2",
        }
        if stream:
            headers["cache-control"] = "no-cache, no-transform"
        else:
            headers["x-api-call-end"] = stamp
        return headers

    def ok(
        self,
        request_id: str,
        payload: Any,
        extra: dict[str, str] | None = None,
        *,
        status: int = 200,
        indent: bool = True,
    ) -> EmulatedResponse:
        if self.internal:
            return EmulatedResponse(
                status, {"content-type": JSON, **(extra or {})}, compact(payload)
            )
        body = pretty(payload) if indent else compact(payload)
        headers = self.headers(request_id)
        headers["etag"] = 'W/"%x-%s"' % (len(body), hashlib.sha1(body).hexdigest()[:27])  # noqa: UP031
        headers["vary"] = "Accept-Encoding"
        return EmulatedResponse(status, headers | (extra or {}), body)

    def json(self, payload: Any, *, status: int = 200) -> EmulatedResponse:
        """A compact JSON answer with a fresh request id, for the file and job families.

        Their bodies carry no request id, and a polled job's event list grows long: the C
        encoder (compact) keeps a 500-poll test at a few milliseconds per poll."""
        return self.ok(self.id(), payload, status=status, indent=False)

    def binary(
        self, data: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> EmulatedResponse:
        return EmulatedResponse(200, self.headers(self.id(), ctype) | (extra or {}), data)

    def stream(
        self, request_id: str, events: list[dict[str, Any]], ctype: str = SSE
    ) -> EmulatedResponse:
        chunks = [event(e) for e in events] + [DONE]
        return EmulatedResponse(200, self.headers(request_id, ctype, stream=True), chunks=chunks)

    def error(
        self,
        status: int,
        message: Any,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> EmulatedResponse:
        request_id = self.id()
        body = {
            "id": request_id,
            "error": {"message": message, "type": type_, "param": param, "code": code},
        }
        return EmulatedResponse(
            status, self._error_headers(request_id, extra_headers), pretty(body)
        )

    def simple_error(self, status: int, message: str) -> EmulatedResponse:
        """The batch family's ``{"error": "<message>"}`` shape (spec)."""
        request_id = self.id()
        return EmulatedResponse(
            status, self._error_headers(request_id, None), pretty({"error": message})
        )

    def _error_headers(self, request_id: str, extra: dict[str, str] | None) -> dict[str, str]:
        return {
            "content-type": JSON,
            "x-request-id": request_id,
            "server": "cloudflare",
            "cf-ray": request_id.rsplit("-", 1)[-1] + "-SEA",
            **(extra or {}),
        }

    def not_found(self, route: str) -> EmulatedResponse:
        return self.error(404, f"Not found: {route}", code="not_found")

    def model_not_available(self, model: str) -> EmulatedResponse:
        return self.error(
            404,
            f"Unable to access model {model}. Please visit https://api.together.ai/models "
            "to view the list of supported models.",
            code="model_not_available",
        )
