"""An offline stand-in for the Together API that speaks its real wire format (NOTES §2-§6).

The request handling is written once, as :meth:`TogetherEmulator.handle` (method, path,
headers, body bytes → :class:`EmulatedResponse` with a possibly incremental body); two
front-ends serve it: an in-process httpx transport (:meth:`TogetherEmulator.httpx_transport`,
no sockets) and a loopback HTTP server (:meth:`TogetherEmulator.serve`).

Bodies are built as plain dicts and encoded the way the server does it: non-stream JSON is
indented by two spaces, SSE events are compact ``data: {...}`` lines.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import httpx

from ._schema import example_for_schema

if TYPE_CHECKING:
    from .server import EmulatorServer

__all__ = [
    "DEFAULT_MODELS",
    "Dialect",
    "EmulatedRequest",
    "EmulatedResponse",
    "EmulatorTransport",
    "FaultKind",
    "LogprobsFormat",
    "TogetherEmulator",
    "ToolCallStyle",
    "embed_text",
    "example_for_schema",
    "overlap_score",
]

Dialect = Literal["modern", "legacy", "openai"]
ToolCallStyle = Literal["delta", "choice_level", "finish_per_call"]
LogprobsFormat = Literal["together", "openai"]
FaultKind = Literal[
    "status", "connection_reset", "cut_stream", "invalid_json", "slow_first_byte", "slow_stream"
]
Predicate = Callable[[dict[str, Any]], bool]

DEFAULT_BASE_URL = "https://api.together.xyz/v1"
DEFAULT_CREATED = 1780235474
"""A fixed ``created`` timestamp, so recordings of the emulator are byte-stable."""

DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    "meta-llama/Llama-3.3-70B-Instruct-Turbo": {"type": "chat", "context_length": 131072},
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8": {
        "type": "chat",
        "context_length": 1048576,
        "vision": True,
    },
    "openai/gpt-oss-20b": {"type": "chat", "context_length": 131072},
    "openai/gpt-oss-120b": {"type": "chat", "context_length": 131072},
    "deepseek-ai/DeepSeek-V3.1": {"type": "chat", "context_length": 131072},
    "Qwen/Qwen3-235B-A22B-Thinking-2507": {"type": "chat", "context_length": 262144},
    "Qwen/Qwen2.5-VL-72B-Instruct": {"type": "chat", "context_length": 32768, "vision": True},
    "google/gemma-3n-E4B-it": {"type": "chat", "context_length": 32768},
    "mistralai/Mixtral-8x7B-Instruct-v0.1": {"type": "chat", "context_length": 32768},
    "mistralai/Mixtral-8x7B-v0.1": {"type": "language", "context_length": 32768},
    "BAAI/bge-base-en-v1.5": {"type": "embedding", "context_length": 512, "dims": 768},
    "intfloat/multilingual-e5-large-instruct": {
        "type": "embedding",
        "context_length": 514,
        "dims": 1024,
    },
    "togethercomputer/m2-bert-80M-32k-retrieval": {
        "type": "embedding",
        "context_length": 32768,
        "dims": 768,
    },
    "Salesforce/Llama-Rank-V1": {"type": "rerank", "context_length": 8192},
    "mixedbread-ai/Mxbai-Rerank-Large-V2": {"type": "rerank", "context_length": 32768},
    "black-forest-labs/FLUX.1-schnell": {"type": "image", "context_length": 0},
    "openai/whisper-large-v3": {"type": "transcribe", "context_length": 0},
    "cartesia/sonic": {"type": "audio", "context_length": 0},
}
"""The model catalogue: id → ``type``, ``context_length``, and optionally ``vision`` (accepts
image parts), ``dims`` (embedding size) and ``matryoshka`` (honours ``dimensions``)."""

_ROLES = {"system", "user", "assistant", "tool", "function", "developer"}
_WORD = re.compile(r"[a-z0-9]+")
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_JSON = "application/json; charset=utf-8"
_SSE = "text/event-stream;charset=utf-8"
_FAULTS = frozenset(
    {"status", "connection_reset", "cut_stream", "invalid_json", "slow_first_byte", "slow_stream"}
)
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    520: "Web server is returning an unknown error",
    524: "A timeout occurred",
}
_RATE_LIMIT_MESSAGE = (
    "Request was rejected due to request rate limiting. Your rate limits are 60 RPM (1 QPS) "
    "and 60000 TPM (1000 TPS). See details: https://docs.together.ai/docs/rate-limits"
)


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
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)
    query: str = ""


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
    """

    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[bytes] | None = None
    delay_first: float = 0.0
    delay_each: float = 0.0
    reset_after: int | None = None
    reset_before_headers: bool = False

    def pieces(self) -> list[bytes]:
        """The body as the list of pieces a front-end writes."""
        return self.chunks if self.chunks is not None else [self.body]


@dataclass
class _Reply:
    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    dialect: Dialect | None = None
    tool_call_style: ToolCallStyle | None = None
    logprobs_format: LogprobsFormat | None = None
    when: Predicate | None = None
    times: int | None = 1


@dataclass
class _Fault:
    kind: str
    when: Predicate | None
    times: int | None
    options: dict[str, Any]


@dataclass
class _Call:
    id: str
    name: str
    arguments: str


def _pretty(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


def _event(value: Any) -> bytes:
    return (
        b"data: " + json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"
    )


_DONE = b"data: [DONE]\n\n"


class TogetherEmulator:
    """A scriptable Together API, served in-process (httpx transport) or on loopback.

    Args:
        dialect: Stream format: ``"modern"`` (separate usage chunk, reasoning deltas),
            ``"legacy"`` (usage in the finish chunk, ``finish_reason: "eos"``) or
            ``"openai"`` (vLLM passthrough: ``chatcmpl-`` ids, no usage at all).
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>`` (401 otherwise).
        models: Model id → ``{"type", "context_length", ...}`` (see :data:`DEFAULT_MODELS`);
            unknown models answer 404 ``model_not_available``.
        seed: Makes ids, seeds and tool-call ids reproducible.
        stream_chunk_chars: Characters per streamed content chunk.
        logprobs_format: Non-stream ``logprobs`` shape: ``"together"`` (``tokens``,
            ``token_logprobs``, ``token_ids``) or ``"openai"`` (``content: [...]``).
        created: The ``created`` timestamp of every response; None uses the clock.

    Example:
        >>> emu = TogetherEmulator()
        >>> _ = emu.reply("Paris")
        >>> with emu.http_client() as client:
        ...     r = client.post("/chat/completions", json={
        ...         "model": "openai/gpt-oss-20b",
        ...         "messages": [{"role": "user", "content": "Capital of France?"}]})
        >>> r.json()["choices"][0]["message"]["content"]
        'Paris'
    """

    def __init__(
        self,
        *,
        dialect: Dialect = "modern",
        api_key: str | None = None,
        models: dict[str, dict[str, Any]] | None = None,
        seed: int = 7,
        stream_chunk_chars: int = 8,
        logprobs_format: LogprobsFormat = "together",
        created: int | None = DEFAULT_CREATED,
    ) -> None:
        if dialect not in ("modern", "legacy", "openai"):
            raise ValueError(f"Unknown dialect {dialect!r}; use 'modern', 'legacy' or 'openai'.")
        self.dialect: Dialect = dialect
        self.api_key = api_key
        self.models = {
            k: dict(v) for k, v in (DEFAULT_MODELS if models is None else models).items()
        }
        self.stream_chunk_chars = max(1, stream_chunk_chars)
        self.logprobs_format: LogprobsFormat = logprobs_format
        self.created = created
        self.requests: list[EmulatedRequest] = []
        self._seed = seed
        self._rng = random.Random(seed)
        self._replies: list[_Reply] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- scripting

    def reply(
        self,
        text: str | None = None,
        *,
        reasoning: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
        usage: dict[str, int] | None = None,
        dialect: Dialect | None = None,
        tool_call_style: ToolCallStyle | None = None,
        logprobs_format: LogprobsFormat | None = None,
        when: Predicate | None = None,
        times: int | None = 1,
    ) -> TogetherEmulator:
        """Queue what the model answers to the next matching chat or completions request.

        Args:
            text: The answer text (``<think>…</think>`` is just text, as Qwen3 sends it).
            reasoning: Reasoning text: ``message.reasoning`` / ``delta.reasoning``.
            tool_calls: Items ``{"name": str, "arguments": dict | str, "id": optional str}``;
                a str is sent verbatim (even if it is not valid JSON).
            finish_reason: Overrides the natural one (``stop``/``eos``, ``tool_calls``, ``length``).
            usage: ``prompt_tokens``/``completion_tokens``/``total_tokens`` to report.
            dialect: Stream dialect for this reply only.
            tool_call_style: ``"delta"`` (default), ``"choice_level"`` (Qwen3-Coder: complete
                calls at choice level with ``index: -1``) or ``"finish_per_call"`` (Llama-3.1:
                OpenAI chunks, ``finish_reason`` with each call's last fragment, no usage).
            logprobs_format: Non-stream logprobs shape for this reply only.
            when: A predicate on the parsed request body; such replies are matched first.
            times: How many requests this reply answers; None answers forever.

        Returns:
            The emulator, for chaining.
        """
        if tool_call_style not in (None, "delta", "choice_level", "finish_per_call"):
            raise ValueError(f"Unknown tool_call_style {tool_call_style!r}.")
        for call in tool_calls or []:
            if "name" not in call or "arguments" not in call:
                raise ValueError("Each tool call needs a 'name' and 'arguments'.")
        with self._lock:
            self._replies.append(
                _Reply(
                    text=text,
                    reasoning=reasoning,
                    tool_calls=tool_calls,
                    finish_reason=finish_reason,
                    usage=usage,
                    dialect=dialect,
                    tool_call_style=tool_call_style,
                    logprobs_format=logprobs_format,
                    when=when,
                    times=times,
                )
            )
        return self

    def reply_json(self, value: Any, **kwargs: Any) -> TogetherEmulator:
        """Queue a reply whose text is ``value`` encoded as JSON (same options as :meth:`reply`)."""
        return self.reply(json.dumps(value), **kwargs)

    def fail(
        self,
        kind: FaultKind,
        *,
        times: int | None = 1,
        when: Predicate | None = None,
        **options: Any,
    ) -> TogetherEmulator:
        """Inject a fault into the next matching request(s); faults are consumed in order.

        Kinds and options:
            ``status``: ``status=500`` (any code), ``retry_after=`` seconds, ``retry_after_ms=``,
            ``html=True`` (a proxy's HTML page), ``message=``. 429 answers carry the real body
            and ``x-ratelimit: true`` / ``x-ratelimit-remaining: 0``.
            ``connection_reset``: the connection drops before any response.
            ``cut_stream``: ``after=N`` body chunks, then the connection drops (no ``[DONE]``).
            ``invalid_json``: 200 with a body that is not JSON.
            ``slow_first_byte``: ``delay=`` seconds before the headers.
            ``slow_stream``: ``delay=`` seconds before each chunk.

        Returns:
            The emulator, for chaining.
        """
        if kind not in _FAULTS:
            raise ValueError(f"Unknown fault {kind!r}; use one of {sorted(_FAULTS)}.")
        with self._lock:
            self._faults.append(_Fault(kind, when, times, options))
        return self

    def reset(self) -> None:
        """Forget recorded requests, scripted replies and faults."""
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._faults.clear()

    @property
    def pending_replies(self) -> int:
        """How many scripted replies are still queued."""
        return len(self._replies)

    def _take(self, queue: list[Any], body: dict[str, Any]) -> Any:
        with self._lock:
            ordered = [x for x in queue if x.when is not None] + [
                x for x in queue if x.when is None
            ]
            for item in ordered:
                if item.when is None or item.when(body):
                    if item.times is not None:
                        item.times -= 1
                        if item.times <= 0:
                            queue.remove(item)
                    return item
        return None

    # ------------------------------------------------------------ front-ends

    def httpx_transport(self) -> EmulatorTransport:
        """An httpx transport (sync and async) that answers in-process, with no sockets."""
        return EmulatorTransport(self)

    def http_client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on :meth:`httpx_transport` (``base_url`` defaults to Together's)."""
        kwargs.setdefault("base_url", DEFAULT_BASE_URL)
        return httpx.Client(transport=self.httpx_transport(), **kwargs)

    def async_http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on :meth:`httpx_transport` (``base_url`` as above)."""
        kwargs.setdefault("base_url", DEFAULT_BASE_URL)
        return httpx.AsyncClient(transport=self.httpx_transport(), **kwargs)

    def transport(self, **kwargs: Any) -> Any:
        """A :class:`~together_integrations.TogetherTransport` wired to this emulator."""
        from together_integrations._transport import TogetherTransport

        kwargs.setdefault("api_key", self.api_key or "emulator-key")
        return TogetherTransport(
            http_client=self.http_client(), http_async_client=self.async_http_client(), **kwargs
        )

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        """Serve on loopback: ``with emu.serve() as server: server.base_url``."""
        from .server import EmulatorServer

        return EmulatorServer(self, host, port)

    # ------------------------------------------------------------- helpers

    def _now(self) -> int:
        return int(time.time()) if self.created is None else self.created

    def _id(self) -> str:
        with self._lock:
            pick = self._rng.choice
            return "o%s-%s-%016x" % (
                "".join(pick(_ALNUM) for _ in range(6)),
                "".join(pick(_ALNUM) for _ in range(6)),
                self._rng.getrandbits(64),
            )

    def _seed_value(self) -> int:
        # Above 2**63, printed the way the server prints it (a double's shortest digits).
        with self._lock:
            raw = (1 << 63) | self._rng.getrandbits(63)
        return int(Decimal(repr(float(raw))))

    def _call_id(self) -> str:
        with self._lock:
            return "call_" + "".join(
                self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24)
            )

    def _headers(
        self, request_id: str, ctype: str = _JSON, *, stream: bool = False
    ) -> dict[str, str]:
        stamp = _iso(self._now())
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

    def _ok(
        self, request_id: str, payload: Any, extra: dict[str, str] | None = None
    ) -> EmulatedResponse:
        body = _pretty(payload)
        headers = self._headers(request_id)
        headers["etag"] = 'W/"%x-%s"' % (len(body), hashlib.sha1(body).hexdigest()[:27])
        headers["vary"] = "Accept-Encoding"
        return EmulatedResponse(200, headers | (extra or {}), body)

    def _stream(
        self, request_id: str, events: list[dict[str, Any]], ctype: str = _SSE
    ) -> EmulatedResponse:
        chunks = [_event(e) for e in events] + [_DONE]
        return EmulatedResponse(200, self._headers(request_id, ctype, stream=True), chunks=chunks)

    def _error(
        self,
        status: int,
        message: Any,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> EmulatedResponse:
        request_id = self._id()
        body = {
            "id": request_id,
            "error": {"message": message, "type": type_, "param": param, "code": code},
        }
        headers = {
            "content-type": _JSON,
            "x-request-id": request_id,
            "server": "cloudflare",
            "cf-ray": request_id.rsplit("-", 1)[-1] + "-SEA",
            **(extra_headers or {}),
        }
        return EmulatedResponse(status, headers, _pretty(body))

    # ------------------------------------------------------------- the core

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> EmulatedResponse:
        """Answer one request; both front-ends call this.

        Args:
            method: HTTP method.
            path: Request target (path and optional query string).
            headers: Request headers (any case).
            body: The raw request body.

        Returns:
            The response description, possibly with an incremental body and fault directives.
        """
        lower = {k.lower(): v for k, v in headers.items()}
        route, _, query = path.partition("?")
        parsed: Any = None
        form: dict[str, Any] = {}
        bad_json = False
        if lower.get("content-type", "").startswith("multipart/"):
            form = _parse_multipart(lower["content-type"], body)
        elif body:
            try:
                parsed = json.loads(body)
            except ValueError:
                bad_json = True
        redacted = {k: ("<redacted>" if k == "authorization" else v) for k, v in lower.items()}
        with self._lock:
            self.requests.append(
                EmulatedRequest(method.upper(), route, redacted, parsed, form, query)
            )
        if self.api_key is not None and lower.get("authorization") != f"Bearer {self.api_key}":
            if route.rstrip("/").endswith("/models"):
                return EmulatedResponse(
                    401,
                    {"content-type": "application/json"},
                    b'{"error":{"message":"Unauthorized"}}',
                )
            return self._error(
                401,
                "Invalid API key provided. You can find your API key at https://api.together.ai/settings/api-keys.",
                code="invalid_api_key",
            )
        request_body = parsed if isinstance(parsed, dict) else {}
        fault = self._take(self._faults, request_body)
        if fault is not None and fault.kind == "status":
            return self._fault_status(fault.options)
        if fault is not None and fault.kind == "connection_reset":
            return EmulatedResponse(0, {}, reset_before_headers=True)
        if fault is not None and fault.kind == "invalid_json":
            return EmulatedResponse(
                200, self._headers(self._id()), b"<html><body>upstream hiccup</body></html>"
            )
        if bad_json or (body and not form and not isinstance(parsed, dict)):
            return self._error(400, "Input validation error: the body is not a JSON object")
        response = self._route(method.upper(), route, request_body, form, query)
        if fault is not None:
            self._apply_body_fault(response, fault)
        return response

    def _fault_status(self, options: dict[str, Any]) -> EmulatedResponse:
        status = int(options.get("status", 500))
        extra: dict[str, str] = {}
        if "retry_after" in options:
            extra["retry-after"] = str(options["retry_after"])
        if "retry_after_ms" in options:
            extra["retry-after-ms"] = str(options["retry_after_ms"])
        if options.get("html"):
            title = f"{status} {_REASONS.get(status, 'Error')}"
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
            return self._error(
                429,
                options.get("message", _RATE_LIMIT_MESSAGE),
                type_="rate_limit",
                extra_headers=extra,
            )
        if status >= 500:
            return self._error(
                status,
                options.get("message", "Internal server error"),
                type_="server_error",
                extra_headers=extra,
            )
        return self._error(
            status,
            options.get("message", "Input validation error"),
            code=options.get("code"),
            param=options.get("param"),
            extra_headers=extra,
        )

    def _apply_body_fault(self, response: EmulatedResponse, fault: _Fault) -> None:
        if fault.kind == "slow_first_byte":
            response.delay_first = float(fault.options.get("delay", 1.0))
        elif fault.kind == "slow_stream":
            response.delay_each = float(fault.options.get("delay", 0.1))
            if response.chunks is None:
                response.chunks = _slices(response.body, 64)
        elif fault.kind == "cut_stream":
            if response.chunks is None:
                response.chunks = _slices(response.body, 64)
            after = int(fault.options.get("after", 1))
            response.chunks = response.chunks[:after]
            response.reset_after = after

    def _route(
        self, method: str, route: str, body: dict[str, Any], form: dict[str, Any], query: str
    ) -> EmulatedResponse:
        if not route.startswith("/v1/"):
            return self._not_found(route)
        suffix = route[3:].rstrip("/")
        if (method, suffix) == ("GET", "/models"):
            return self._list_models(query)
        if (method, suffix) == ("POST", "/audio/transcriptions"):
            return self._transcribe(form)
        handlers: dict[str, Callable[[dict[str, Any]], EmulatedResponse]] = {
            "/chat/completions": self._chat,
            "/completions": self._completions,
            "/embeddings": self._embeddings,
            "/rerank": self._rerank,
            "/images/generations": self._images,
            "/audio/speech": self._speech,
        }
        handler = handlers.get(suffix)
        if handler is None or method != "POST":
            return self._not_found(route)
        model = body.get("model")
        if not model:
            return self._error(400, "Invalid request", param="model")
        if model not in self.models:
            return self._error(
                404,
                f"Unable to access model {model}. Please visit https://api.together.ai/models to view the list of supported models.",
                code="model_not_available",
            )
        return handler(body)

    def _not_found(self, route: str) -> EmulatedResponse:
        return self._error(404, f"Not found: {route}", code="not_found")

    # ------------------------------------------------------------ chat

    def _usage(self, prompt_chars: int, completion: str, reasoning: str = "") -> dict[str, int]:
        p = max(1, prompt_chars // 4)
        c = max(1, (len(completion) + len(reasoning)) // 4)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def _validate_chat(self, body: dict[str, Any]) -> EmulatedResponse | None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "Prompt cannot be empty")
        info = self.models[body["model"]]
        for message in messages:
            role = message.get("role") if isinstance(message, dict) else None
            if role not in _ROLES:
                return self._error(
                    400,
                    f"Input validation error: invalid role {role!r}; expected one of "
                    "system, user, assistant, tool, function",
                    param="messages",
                )
            assert isinstance(message, dict)
            if role == "tool" and not message.get("tool_call_id"):
                return self._error(
                    400,
                    "Input validation error: tool messages require 'tool_call_id'",
                    param="messages",
                )
            content = message.get("content")
            if (
                isinstance(content, list)
                and not info.get("vision")
                and any(isinstance(p, dict) and p.get("type") == "image_url" for p in content)
            ):
                return self._error(
                    400,
                    {
                        "message": f"{body['model']} is not a multimodal model None",
                        "type": "BadRequestError",
                        "param": None,
                        "code": 400,
                    },
                )
        logprobs = body.get("logprobs")
        if logprobs is not None and (isinstance(logprobs, bool) or not isinstance(logprobs, int)):
            return self._error(
                400,
                "[{'type': 'int_parsing', 'loc': ('body', 'logprobs'), 'msg': 'Input should be a valid integer', 'input': %r}]"
                % (logprobs,),
            )
        limit = int(info.get("context_length") or 0)
        prompt_tokens = _prompt_chars(messages) // 4
        max_new = int(body.get("max_tokens") or 0)
        if limit and prompt_tokens + max_new > limit:
            return self._error(
                400,
                f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {limit}. "
                f"Given: {prompt_tokens} `inputs` tokens and {max_new} `max_new_tokens`",
            )
        return None

    def _default_reply(self, body: dict[str, Any]) -> _Reply:
        choice = body.get("tool_choice")
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        forced: dict[str, Any] | None = None
        if isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name")
            forced = next((t for t in tools if (t.get("function") or {}).get("name") == name), None)
        elif choice == "required" and tools:
            forced = tools[0]
        if forced is not None:
            fn = forced["function"]
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            return _Reply(
                tool_calls=[{"name": fn["name"], "arguments": example_for_schema(params)}]
            )
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
            wrapper = fmt.get("json_schema")
            schema = (wrapper.get("schema") if isinstance(wrapper, dict) else None) or fmt.get(
                "schema"
            )
            if not schema:
                return _Reply(text=json.dumps({"answer": _last_user_text(body) or "hello"}))
            return _Reply(text=json.dumps(example_for_schema(schema)))
        last = _last_user_text(body)
        return _Reply(text=f"You said: {last}" if last else "Hello! How can I help?")

    def _chat(self, body: dict[str, Any]) -> EmulatedResponse:
        invalid = self._validate_chat(body)
        if invalid is not None:
            return invalid
        reply = self._take(self._replies, body) or self._default_reply(body)
        text = reply.text or ""
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        stops = body.get("stop")
        for stop in [stops] if isinstance(stops, str) else stops or []:
            if isinstance(stop, str) and stop and stop in text:
                text = text[: text.index(stop)]
                finish = reply.finish_reason or "stop"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and len(text) > max_tokens * 4:
            text = text[: max_tokens * 4]
            finish = "length"
        request_id = self._id()
        usage = reply.usage or self._usage(
            _prompt_chars(body["messages"]), text, reply.reasoning or ""
        )
        calls = [
            _Call(
                id=call.get("id") or self._call_id(),
                name=call["name"],
                arguments=call["arguments"]
                if isinstance(call["arguments"], str)
                else json.dumps(call["arguments"]),
            )
            for call in reply.tool_calls or []
        ]
        dialect = reply.dialect or self.dialect
        if body.get("stream"):
            events = self._chat_events(
                body,
                request_id,
                text,
                reply.reasoning,
                calls,
                finish,
                usage,
                dialect,
                reply.tool_call_style or "delta",
            )
            return self._stream(request_id, events)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if calls and not text and dialect == "legacy" else text,
            "tool_calls": [
                {
                    "index": i,
                    "id": c.id,
                    "type": "function",
                    "function": {"arguments": c.arguments, "name": c.name},
                }
                for i, c in enumerate(calls)
            ],
        }
        if reply.reasoning is not None:
            message["reasoning"] = reply.reasoning
        wire_finish = "eos" if dialect == "legacy" and finish == "stop" else finish
        choice: dict[str, Any] = {
            "finish_reason": wire_finish,
            "seed": self._seed_value(),
            "index": 0,
            "logprobs": self._logprobs(body, text, reply.logprobs_format or self.logprobs_format),
            "message": message,
        }
        full_usage: dict[str, Any] = {"cached_tokens": 0, **usage}
        payload: dict[str, Any] = {
            "id": request_id,
            "object": "chat.completion",
            "created": self._now(),
            "model": body["model"],
            "prompt": [],
            "choices": [choice],
            "usage": full_usage,
        }
        if dialect == "openai":
            # vLLM passthrough (Gemma): its own id, no seed, finish_reason left out.
            payload["id"] = "chatcmpl-" + request_id[-16:]
            del choice["seed"]
            if finish == "stop":
                del choice["finish_reason"]
        return self._ok(request_id, payload)

    def _logprobs(self, body: dict[str, Any], text: str, fmt: LogprobsFormat) -> Any:
        top = body.get("logprobs")
        if not isinstance(top, int) or isinstance(top, bool) or top <= 0:
            return None
        tokens = _split(text, 4) or [""]
        values = [_logprob(t, i) for i, t in enumerate(tokens)]
        if fmt == "together":
            return {"tokens": tokens, "token_logprobs": values, "token_ids": []}
        return {
            "content": [
                {
                    "token": tok,
                    "bytes": list(tok.encode()),
                    "logprob": value,
                    "top_logprobs": [
                        {"token": alt, "bytes": list(alt.encode()), "logprob": alt_value}
                        for alt, alt_value in _alternatives(tok, value, top)
                    ],
                }
                for tok, value in zip(tokens, values, strict=True)
            ]
        }

    def _chunk_logprobs(self, body: dict[str, Any], piece: str, index: int) -> Any:
        top = body.get("logprobs")
        if not isinstance(top, int) or isinstance(top, bool) or top <= 0 or not piece:
            return None
        value = _logprob(piece, index)
        return {
            "tokens": [piece],
            "token_logprobs": [value],
            "token_ids": [None],
            "top_logprobs": [
                [{"token": alt, "logprob": v} for alt, v in _alternatives(piece, value, top)]
            ],
        }

    def _chat_events(
        self,
        body: dict[str, Any],
        request_id: str,
        text: str,
        reasoning: str | None,
        calls: list[_Call],
        finish: str,
        usage: dict[str, int],
        dialect: Dialect,
        style: ToolCallStyle,
    ) -> list[dict[str, Any]]:
        created = self._now()
        model = body["model"]
        if style == "finish_per_call" and calls:
            dialect = "openai"  # Llama-3.1 2025-02: pure OpenAI chunks, no usage anywhere
            chunk_id = request_id
        else:
            chunk_id = "chatcmpl-" + request_id[-16:] if dialect == "openai" else request_id
        events: list[dict[str, Any]] = []
        position = 0

        def chunk(
            delta: dict[str, Any],
            finish_reason: str | None = None,
            logprobs: Any = None,
            **choice_extra: Any,
        ) -> dict[str, Any]:
            nonlocal position
            position += 1
            if dialect == "openai":
                first = not events
                openai_delta = {"role": "assistant", "content": ""} if first else {}
                openai_delta.update(
                    {k: v for k, v in delta.items() if k not in ("reasoning", "token_id")}
                )
                openai_choice: dict[str, Any] = {
                    "index": 0,
                    "delta": openai_delta,
                    "logprobs": logprobs,
                    "finish_reason": finish_reason,
                }
                if finish_reason is not None:
                    openai_choice["stop_reason"] = 106 if finish_reason == "stop" else None
                return {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [openai_choice],
                }
            full_delta: dict[str, Any] = {
                "token_id": position + 100 if dialect == "legacy" else None,
                "role": "assistant",
                "content": "",
            }
            full_delta.update(delta)
            if dialect == "legacy":
                full_delta.setdefault("tool_calls", None)
            else:
                full_delta.setdefault("reasoning", None)
            choice: dict[str, Any] = {
                "index": 0,
                "text": delta.get("content") or "",
                "logprobs": logprobs,
                "finish_reason": finish_reason,
            }
            if dialect == "legacy":
                choice["seed"] = None
            choice.update(choice_extra)
            choice["delta"] = full_delta
            return {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "choices": [choice],
                "model": model,
                "usage": None,
            }

        for piece in _split(reasoning or "", self.stream_chunk_chars):
            events.append(chunk({"content": "", "reasoning": piece}))
        for i, piece in enumerate(_split(text, self.stream_chunk_chars)):
            events.append(chunk({"content": piece}, logprobs=self._chunk_logprobs(body, piece, i)))
        if style == "choice_level" and calls:
            full = [
                {
                    "id": c.id,
                    "index": -1,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ]
            events.append(chunk({"tool_calls": None}, tool_calls=full))
        else:
            for i, call in enumerate(calls):
                events.append(
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "id": call.id,
                                    "index": i,
                                    "type": "function",
                                    "function": {"name": call.name, "arguments": ""},
                                }
                            ]
                        }
                    )
                )
                pieces = _split(call.arguments, max(4, self.stream_chunk_chars)) or [""]
                for j, piece in enumerate(pieces):
                    last_piece = j == len(pieces) - 1
                    if style == "finish_per_call":
                        frag: dict[str, Any] = {"index": i, "function": {"arguments": piece}}
                    else:
                        frag = {
                            "id": None,
                            "index": i,
                            "type": "function",
                            "function": {"name": None, "arguments": piece},
                        }
                    per_call_finish = (
                        "tool_calls" if style == "finish_per_call" and last_piece else None
                    )
                    events.append(chunk({"tool_calls": [frag]}, per_call_finish))
        if not (style == "finish_per_call" and calls):
            wire_finish = "eos" if dialect == "legacy" and finish == "stop" else finish
            events.append(chunk({"content": ""}, wire_finish))
        if dialect == "legacy":
            events[-1]["choices"][0]["seed"] = self._seed_value()
            events[-1]["usage"] = usage
        elif dialect == "modern":
            events[0].pop("usage", None)
            events.append(
                {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "choices": [],
                    "model": model,
                    "usage": {"reasoning_tokens": len(reasoning or "") // 4, **usage},
                }
            )
        return events

    # ------------------------------------------------------------ completions

    def _completions(self, body: dict[str, Any]) -> EmulatedResponse:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._error(400, "Prompt cannot be empty")
        logprobs = body.get("logprobs")
        if logprobs is not None and (isinstance(logprobs, bool) or not isinstance(logprobs, int)):
            return self._error(
                400,
                "[{'type': 'int_parsing', 'loc': ('body', 'logprobs'), 'msg': 'Input should be a valid integer', 'input': %r}]"
                % (logprobs,),
            )
        reply = self._take(self._replies, body)
        text = reply.text if reply is not None and reply.text is not None else _continue(prompt)
        finish = reply.finish_reason if reply is not None and reply.finish_reason else "length"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and len(text) > max_tokens * 4:
            text = text[: max_tokens * 4]
            finish = "length"
        usage = self._usage(len(prompt), text)
        if body.get("echo"):
            text = prompt + text
        request_id = self._id()
        model = body["model"]
        created = self._now()
        if body.get("stream"):
            events: list[dict[str, Any]] = [
                {
                    "id": request_id,
                    "object": "completion.chunk",
                    "created": created,
                    "choices": [
                        {
                            "index": 0,
                            "text": piece,
                            "logprobs": self._chunk_logprobs(body, piece, i),
                            "finish_reason": None,
                            "seed": None,
                            "delta": {"token_id": 300 + i, "role": "assistant", "content": piece},
                        }
                    ],
                    "model": model,
                    "usage": None,
                }
                for i, piece in enumerate(_split(text, self.stream_chunk_chars))
            ]
            events.append(
                {
                    "id": request_id,
                    "object": "completion.chunk",
                    "created": created,
                    "choices": [
                        {
                            "index": 0,
                            "text": "",
                            "logprobs": None,
                            "finish_reason": "eos"
                            if finish in ("stop", "length") and reply is None
                            else finish,
                            "seed": self._seed_value(),
                            "delta": {"token_id": 2, "role": "assistant", "content": ""},
                        }
                    ],
                    "model": model,
                    "usage": usage,
                }
            )
            return self._stream(request_id, events)
        payload = {
            "id": request_id,
            "object": "text.completion",
            "created": created,
            "model": model,
            "prompt": [],
            "choices": [
                {
                    "text": text,
                    "finish_reason": finish,
                    "seed": self._seed_value(),
                    "logprobs": self._logprobs(body, text, "together"),
                    "index": 0,
                }
            ],
            "usage": usage,
        }
        return self._ok(request_id, payload)

    # ------------------------------------------------------------ embeddings, rerank

    def _embeddings(self, body: dict[str, Any]) -> EmulatedResponse:
        texts = body.get("input")
        items = [texts] if isinstance(texts, str) else texts
        if (
            not isinstance(items, list)
            or not items
            or any(not isinstance(t, str) or not t for t in items)
        ):
            return self._error(400, "Input validation error", param="input")
        info = self.models[body["model"]]
        if info.get("type", "embedding") != "embedding":
            return self._error(
                400, f"Model {body['model']} is not an embedding model", param="model"
            )
        dims = int(info.get("dims", 768))
        if "dimensions" in body:
            wanted = body["dimensions"]
            if not info.get("matryoshka"):
                return self._error(
                    400,
                    f"Model {body['model']} does not support the dimensions parameter",
                    param="dimensions",
                )
            if not isinstance(wanted, int) or isinstance(wanted, bool) or not 1 <= wanted <= dims:
                return self._error(
                    400, f"dimensions must be between 1 and {dims}", param="dimensions"
                )
            dims = wanted
        limit = int(info.get("context_length") or 0)
        for text in items:
            if limit and len(text) // 4 > limit:
                return self._error(
                    400,
                    f"Input validation error: `inputs` must have less than {limit} tokens. Given: {len(text) // 4}",
                )
        data = [
            {"object": "embedding", "embedding": embed_text(t, dims), "index": i}
            for i, t in enumerate(items)
        ]
        request_id = self._id()
        return self._ok(request_id, {"object": "list", "model": body["model"], "data": data})

    def _rerank(self, body: dict[str, Any]) -> EmulatedResponse:
        query = body.get("query")
        documents = body.get("documents")
        if not isinstance(query, str) or not query:
            return self._error(400, "Input validation error", param="query")
        if not isinstance(documents, list) or not documents:
            return self._error(400, "Input validation error", param="documents")
        fields = body.get("rank_fields")
        scored: list[tuple[float, int, Any]] = []
        for i, doc in enumerate(documents):
            if isinstance(doc, str):
                text = doc
            elif isinstance(doc, dict):
                text = " ".join(str(doc.get(f, "")) for f in (fields or ["text"]))
            else:
                return self._error(400, "Input validation error", param="documents")
            scored.append((overlap_score(query, text), i, doc))
        scored.sort(key=lambda t: (-t[0], t[1]))
        top_n = body.get("top_n")
        top_n = len(scored) if not isinstance(top_n, int) or top_n <= 0 else top_n
        results = [
            {
                "index": i,
                "relevance_score": score,
                "document": ({"text": doc} if isinstance(doc, str) else doc)
                if body.get("return_documents")
                else {},
            }
            for score, i, doc in scored[:top_n]
        ]
        tokens = sum(len(json.dumps(d)) // 4 for d in documents) + max(1, len(query) // 4)
        request_id = self._id()
        payload = {
            "id": request_id,
            "object": "rerank",
            "model": body["model"],
            "results": results,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }
        return self._ok(request_id, payload)

    # ------------------------------------------------------------ images, audio, models

    def _images(self, body: dict[str, Any]) -> EmulatedResponse:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return self._error(400, "Input validation error", param="prompt")
        request_id = self._id() + "-SEA"
        n = int(body.get("n") or 1)
        png = body.get("output_format") == "png"
        data: list[dict[str, Any]] = []
        for i in range(n):
            if body.get("response_format") == "base64":
                image = _image_bytes(f"{prompt}|{body.get('seed')}|{i}", png)
                data.append(
                    {
                        "timings": {"inference": 0.11},
                        "index": i,
                        "b64_json": base64.b64encode(image).decode(),
                    }
                )
            else:
                slug = hashlib.sha256(f"{prompt}|{i}".encode()).hexdigest()[:16]
                data.append(
                    {
                        "index": i,
                        "url": f"https://api.together.ai/shrt/{slug}",
                        "timings": {"inference": 0.11},
                    }
                )
        payload = {"id": request_id, "model": body["model"], "object": "list", "data": data}
        return self._ok(request_id, payload, {"x-image-version": "v2"})

    def _speech(self, body: dict[str, Any]) -> EmulatedResponse:
        text = body.get("input")
        if not isinstance(text, str) or not text or not body.get("voice"):
            return self._error(
                400, "Input validation error", param="input" if not text else "voice"
            )
        fmt = body.get("response_format") or "wav"
        audio = _wav(len(text)) if fmt == "wav" else _fake_audio(text, fmt)
        request_id = self._id()
        if body.get("stream"):
            events = [
                {
                    "object": "audio.tts.chunk",
                    "model": body["model"],
                    "b64": base64.b64encode(p).decode(),
                }
                for p in _slices(audio, 1024)
            ]
            return self._stream(request_id, events)
        ctype = {"wav": "audio/wav", "mp3": "audio/mpeg"}.get(fmt, "application/octet-stream")
        return EmulatedResponse(200, self._headers(request_id, ctype), audio)

    def _transcribe(self, form: dict[str, Any]) -> EmulatedResponse:
        model = form.get("model") or "openai/whisper-large-v3"
        if model not in self.models:
            return self._error(
                404,
                f"Unable to access model {model}. Please visit https://api.together.ai/models to view the list of supported models.",
                code="model_not_available",
            )
        if "file" not in form:
            return self._error(400, "Input validation error: file is required", param="file")
        text = str(form.get("prompt") or "Hello from the emulator.")
        request_id = self._id()
        if form.get("response_format") != "verbose_json":
            return self._ok(request_id, {"text": text})
        words = text.split()
        duration = round(0.4 * max(1, len(words)), 2)
        payload: dict[str, Any] = {
            "task": "transcribe",
            "language": form.get("language") or "en",
            "duration": duration,
            "text": text,
            "segments": [{"id": 0, "start": 0.0, "end": duration, "text": text}],
        }
        if "word" in str(form.get("timestamp_granularities", "")):
            payload["words"] = [
                {"word": w, "start": round(0.4 * i, 2), "end": round(0.4 * (i + 1), 2)}
                for i, w in enumerate(words)
            ]
        return self._ok(request_id, payload)

    def _list_models(self, query: str) -> EmulatedResponse:
        items = [
            {
                "id": model_id,
                "object": "model",
                "created": 0,
                "type": info.get("type", "chat"),
                "running": False,
                "display_name": model_id.split("/")[-1].replace("-", " "),
                "organization": model_id.split("/")[0],
                "link": f"https://huggingface.co/{model_id}",
                "license": "other",
                "context_length": info.get("context_length", 0),
                "config": {"chat_template": None, "stop": [], "bos_token": None, "eos_token": None},
                "pricing": {"hourly": 0, "input": 0.2, "output": 0.6, "base": 0, "finetune": 0},
            }
            for model_id, info in self.models.items()
        ]
        if "dedicated=true" in query:
            items = []
        return EmulatedResponse(
            200, {"content-type": "application/json"}, json.dumps(items).encode()
        )


# ----------------------------------------------------------------- deterministic content


def _iso(timestamp: int) -> str:
    moment = _dt.datetime.fromtimestamp(timestamp, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _slices(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _prompt_chars(messages: list[Any]) -> int:
    return sum(len(_content_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict))


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") in ("user", "tool"):
            return _content_text(message.get("content")).strip()
    return ""


def _continue(prompt: str) -> str:
    words = _WORD.findall(prompt.lower())
    topic = words[-1] if words else "it"
    return f" and so the story of {topic} continues."


def _logprob(token: str, index: int) -> float:
    digest = hashlib.sha256(f"{index}:{token}".encode()).digest()
    return -round(int.from_bytes(digest[:2], "big") / 65535 * 2, 6)


def _alternatives(token: str, value: float, k: int) -> list[tuple[str, float]]:
    out = [(token, value)]
    for i in range(1, k):
        out.append((f"{token}{i}", round(value - 2.5 * i, 6)))
    return out[:k]


def embed_text(text: str, dims: int) -> list[float]:
    """A unit vector from hashed words: texts sharing words have a higher cosine similarity.

    Args:
        text: The input text.
        dims: The vector size.

    Returns:
        A deterministic unit-norm vector (same text → same vector).
    """
    vector = [0.0] * dims
    for word in _WORD.findall(text.lower()) or [text]:
        digest = hashlib.sha256(word.encode()).digest()
        for k in range(4):
            slot = int.from_bytes(digest[4 * k : 4 * k + 4], "big") % dims
            vector[slot] += 1.0 if digest[16 + k] % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def overlap_score(query: str, text: str) -> float:
    """Word-overlap relevance in [0, 1): the share of query words found in ``text``."""
    q = set(_WORD.findall(query.lower()))
    d = set(_WORD.findall(text.lower()))
    if not q or not d:
        return 0.0
    return round(len(q & d) / (len(q) + 1) * 0.99, 6)


def _image_bytes(key: str, png: bool) -> bytes:
    digest = hashlib.sha256(key.encode()).digest()
    if png:
        return b"\x89PNG\r\n\x1a\n" + digest
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + digest + b"\xff\xd9"


def _fake_audio(text: str, fmt: str) -> bytes:
    payload = hashlib.sha256(text.encode()).digest() * max(1, len(text) // 8)
    return (b"ID3\x04\x00\x00" + payload) if fmt == "mp3" else payload


def _wav(length: int) -> bytes:
    frames = b"\x00\x00" * max(160, length * 80)
    header = (
        b"RIFF"
        + (36 + len(frames)).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + (16000).to_bytes(4, "little")
        + (32000).to_bytes(4, "little")
        + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + len(frames).to_bytes(4, "little")
    )
    return header + frames


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    match = re.search(r"boundary=\"?([^\";]+)", content_type)
    if not match:
        return {}
    out: dict[str, Any] = {}
    for part in body.split(b"--" + match.group(1).encode()):
        head, _, data = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if not name:
            continue
        value: Any = data[:-2] if data.endswith(b"\r\n") else data
        if b"filename=" not in head:
            value = value.decode()
        key = name.group(1).decode().removesuffix("[]")
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------ in-process front-end

_CUT = "peer closed connection without sending complete message body (incomplete chunked read)"


class _EmulatedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The body, yielded piece by piece; honours per-chunk delays, cuts and early close."""

    def __init__(self, response: EmulatedResponse) -> None:
        self.response = response
        self.closed = False
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.response.pieces():
            if self.closed:
                return
            if self.response.delay_each:
                time.sleep(self.response.delay_each)
            self.sent += 1
            yield piece
        if self.response.reset_after is not None:
            raise httpx.RemoteProtocolError(_CUT)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.response.pieces():
            if self.closed:
                return
            if self.response.delay_each:
                await asyncio.sleep(self.response.delay_each)
            self.sent += 1
            yield piece
        if self.response.reset_after is not None:
            raise httpx.RemoteProtocolError(_CUT)

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport, sync and async, answering from a :class:`TogetherEmulator`.

    No sockets are opened; faults surface as the exceptions httpx's own transports raise
    (``httpx.RemoteProtocolError`` for resets and cut streams).
    """

    def __init__(self, emulator: TogetherEmulator) -> None:
        self.emulator = emulator
        self.last_stream: _EmulatedStream | None = None
        """The body stream of the latest response (``sent``: chunks yielded, ``closed``)."""

    def _answer(
        self, request: httpx.Request, body: bytes
    ) -> tuple[EmulatedResponse, httpx.Response]:
        target = request.url.raw_path.decode("ascii")
        answer = self.emulator.handle(request.method, target, dict(request.headers), body)
        if answer.reset_before_headers:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        self.last_stream = _EmulatedStream(answer)
        response = httpx.Response(
            answer.status, headers=answer.headers, stream=self.last_stream, request=request
        )
        return answer, response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request synchronously (``time.sleep`` for delays)."""
        answer, response = self._answer(request, request.read())
        if answer.delay_first:
            time.sleep(answer.delay_first)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request asynchronously (``asyncio.sleep`` for delays)."""
        answer, response = self._answer(request, await request.aread())
        if answer.delay_first:
            await asyncio.sleep(answer.delay_first)
        return response


_EmulatorTransport = EmulatorTransport
