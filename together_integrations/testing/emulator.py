"""An offline stand-in for the Together API that speaks its real wire format (NOTES §2-§6).

The request handling is written once, as :meth:`TogetherEmulator.handle` (method, path,
headers, body bytes → :class:`EmulatedResponse` with a possibly incremental body); two
front-ends serve it: an in-process httpx transport (:meth:`TogetherEmulator.httpx_transport`,
no sockets) and a loopback HTTP server (:meth:`TogetherEmulator.serve`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

__all__ = ["EmulatedRequest", "EmulatedResponse", "TogetherEmulator"]

Dialect = Literal["modern", "legacy", "openai"]
Predicate = Callable[[dict[str, Any]], bool]

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

_ROLES = {"system", "user", "assistant", "tool", "function", "developer"}
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class EmulatedRequest:
    """A request the emulator received (the authorization header is redacted)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)


@dataclass
class EmulatedResponse:
    """What to answer: status, headers, and a body that may arrive piece by piece."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    chunks: list[bytes] | None = None
    delay_first: float = 0.0
    delay_each: float = 0.0
    reset_after: int | None = None
    """Break the connection after this many chunks (None: finish normally)."""


@dataclass
class _Reply:
    text: str | None
    reasoning: str | None
    tool_calls: list[dict[str, Any]] | None
    finish_reason: str | None
    usage: dict[str, int] | None
    dialect: Dialect | None
    tool_call_style: str | None
    when: Predicate | None
    times: int | None


@dataclass
class _Fault:
    kind: str
    when: Predicate | None
    times: int | None
    options: dict[str, Any]


class TogetherEmulator:
    """A scriptable Together API on loopback or in-process.

    Args:
        dialect: Stream format: ``"modern"`` (separate usage chunk, reasoning deltas),
            ``"legacy"`` (usage in the finish chunk, ``finish_reason: "eos"``) or
            ``"openai"`` (vLLM passthrough: no usage at all).
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>`` (401 otherwise).
        models: Model id → ``{"type", "context_length", ...}``; unknown models answer 404.
        seed: Makes ids, seeds and vectors reproducible.
        stream_chunk_chars: Approximate characters per streamed content chunk.
    """

    def __init__(
        self,
        *,
        dialect: Dialect = "modern",
        api_key: str | None = None,
        models: dict[str, dict[str, Any]] | None = None,
        seed: int = 7,
        stream_chunk_chars: int = 8,
    ) -> None:
        self.dialect: Dialect = dialect
        self.api_key = api_key
        self.models = dict(DEFAULT_MODELS if models is None else models)
        self.stream_chunk_chars = stream_chunk_chars
        self.requests: list[EmulatedRequest] = []
        self._seed = seed
        self._rng = random.Random(seed)
        self._replies: list[_Reply] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

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
        tool_call_style: Literal["delta", "choice_level", "finish_per_call"] | None = None,
        when: Predicate | None = None,
        times: int | None = 1,
    ) -> TogetherEmulator:
        """Queue what the model answers to the next matching chat/completions request.

        ``tool_calls`` items are ``{"name": ..., "arguments": dict | str, "id": optional}``.
        Replies with ``when`` are matched first; the others are used in order. ``times=None``
        keeps the reply forever.
        """
        with self._lock:
            self._replies.append(
                _Reply(
                    text,
                    reasoning,
                    tool_calls,
                    finish_reason,
                    usage,
                    dialect,
                    tool_call_style,
                    when,
                    times,
                )
            )
        return self

    def reply_json(self, value: Any, **kwargs: Any) -> TogetherEmulator:
        """Queue a reply whose text is ``value`` as JSON."""
        return self.reply(json.dumps(value), **kwargs)

    def fail(
        self, kind: str, *, times: int | None = 1, when: Predicate | None = None, **options: Any
    ) -> TogetherEmulator:
        """Inject a fault into the next matching request(s).

        Kinds: ``status`` (``status=429``, ``retry_after=``, ``retry_after_ms=``, ``html=True``,
        ``message=``), ``connection_reset``, ``cut_stream`` (``after=N`` chunks),
        ``invalid_json``, ``slow_first_byte`` (``delay=`` s), ``slow_stream`` (``delay=`` s per chunk).
        """
        known = {
            "status",
            "connection_reset",
            "cut_stream",
            "invalid_json",
            "slow_first_byte",
            "slow_stream",
        }
        if kind not in known:
            raise ValueError(f"Unknown fault {kind!r}; use one of {sorted(known)}.")
        with self._lock:
            self._faults.append(_Fault(kind, when, times, options))
        return self

    def reset(self) -> None:
        """Forget recorded requests, scripted replies and faults."""
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._faults.clear()

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

    def httpx_transport(self) -> _EmulatorTransport:
        """An httpx transport (sync and async) that answers in-process, with no sockets."""
        return _EmulatorTransport(self)

    def http_client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` bound to :meth:`httpx_transport`."""
        return httpx.Client(transport=self.httpx_transport(), **kwargs)

    def async_http_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` bound to :meth:`httpx_transport`."""
        return httpx.AsyncClient(transport=self.httpx_transport(), **kwargs)

    def transport(self, **kwargs: Any) -> Any:
        """A :class:`~together_integrations.TogetherTransport` wired to this emulator."""
        from together_integrations._transport import TogetherTransport

        kwargs.setdefault("api_key", self.api_key or "emulator-key")
        return TogetherTransport(
            http_client=self.http_client(), http_async_client=self.async_http_client(), **kwargs
        )

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Any:
        """Serve on loopback: ``with emu.serve() as server: server.base_url``."""
        from .server import EmulatorServer

        return EmulatorServer(self, host, port)

    # ------------------------------------------------------------- the core

    def _id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        pick = self._rng.choice
        return (
            "o"
            + "".join(pick(alphabet) for _ in range(6))
            + "-"
            + "".join(pick(alphabet) for _ in range(6))
            + "-"
            + "%016x" % self._rng.getrandbits(64)
        )

    def _headers(
        self, request_id: str, ctype: str = "application/json; charset=utf-8"
    ) -> dict[str, str]:
        return {
            "content-type": ctype,
            "x-request-id": request_id,
            "server": "cloudflare",
            "cf-ray": request_id.rsplit("-", 1)[-1] + "-SEA",
            "x-ratelimit-limit": "10",
            "x-ratelimit-remaining": "19",
            "x-ratelimit-limit-tokens": "3000",
            "x-ratelimit-remaining-tokens": "3000",
            "x-ratelimit-reset": "2",
            "retry-after": "2",
        }

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
            "content-type": "application/json; charset=utf-8",
            "x-request-id": request_id,
            **(extra_headers or {}),
        }
        return EmulatedResponse(status, headers, json.dumps(body).encode())

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> EmulatedResponse:
        """Answer one request. Both front-ends call this."""
        lower = {k.lower(): v for k, v in headers.items()}
        parsed: Any = None
        form: dict[str, Any] = {}
        if lower.get("content-type", "").startswith("multipart/"):
            form = _parse_multipart(lower["content-type"], body)
        elif body:
            try:
                parsed = json.loads(body)
            except ValueError:
                return self._error(400, "Invalid JSON body")
        redacted = {k: ("<redacted>" if k == "authorization" else v) for k, v in lower.items()}
        route = path.split("?", 1)[0]
        with self._lock:
            self.requests.append(EmulatedRequest(method, route, redacted, parsed, form))
        if self.api_key is not None and lower.get("authorization") != f"Bearer {self.api_key}":
            if route.endswith("/models"):
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
        if fault is not None and fault.kind == "invalid_json":
            return EmulatedResponse(200, self._headers(self._id()), b"<html>not json")
        if fault is not None and fault.kind == "connection_reset":
            return EmulatedResponse(200, self._headers(self._id()), chunks=[], reset_after=0)
        response = self._route(method, route, request_body, form)
        if fault is not None:
            self._apply_stream_fault(response, fault)
        return response

    def _fault_status(self, options: dict[str, Any]) -> EmulatedResponse:
        status = int(options.get("status", 500))
        extra: dict[str, str] = {}
        if "retry_after" in options:
            extra["retry-after"] = str(options["retry_after"])
        if "retry_after_ms" in options:
            extra["retry-after-ms"] = str(options["retry_after_ms"])
        if options.get("html"):
            page = f"<html><head><title>{status} Bad Gateway</title></head><body>cloudflare</body></html>"
            return EmulatedResponse(status, {"content-type": "text/html", **extra}, page.encode())
        if status == 429:
            extra.update(
                {
                    "x-ratelimit": "true",
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-limit": "1",
                    "x-ratelimit-limit-tokens": "1000",
                }
            )
            extra.setdefault("retry-after", "2")
            message = options.get(
                "message",
                "Request was rejected due to request rate limiting. Your rate limits are 60 RPM (1 QPS) and 60000 TPM (1000 TPS). See details: https://docs.together.ai/docs/rate-limits",
            )
            return self._error(429, message, type_="rate_limit", extra_headers=extra)
        message = options.get("message", "Internal server error")
        return self._error(
            status,
            message,
            type_="server_error" if status >= 500 else "invalid_request_error",
            extra_headers=extra,
        )

    def _apply_stream_fault(self, response: EmulatedResponse, fault: _Fault) -> None:
        if fault.kind == "slow_first_byte":
            response.delay_first = float(fault.options.get("delay", 1.0))
        elif fault.kind == "slow_stream":
            response.delay_each = float(fault.options.get("delay", 0.1))
        elif fault.kind == "cut_stream":
            if response.chunks is None:
                response.chunks = [response.body]
                response.body = b""
            response.chunks = response.chunks[: int(fault.options.get("after", 1))]
            response.reset_after = len(response.chunks)

    def _route(
        self, method: str, route: str, body: dict[str, Any], form: dict[str, Any]
    ) -> EmulatedResponse:
        handlers: dict[tuple[str, str], Callable[[dict[str, Any]], EmulatedResponse]] = {
            ("POST", "/chat/completions"): self._chat,
            ("POST", "/completions"): self._completions,
            ("POST", "/embeddings"): self._embeddings,
            ("POST", "/rerank"): self._rerank,
            ("POST", "/images/generations"): self._images,
            ("POST", "/audio/speech"): self._speech,
            ("GET", "/models"): self._list_models,
        }
        suffix = route[3:] if route.startswith("/v1") else route
        if (method, suffix) == ("POST", "/audio/transcriptions"):
            return self._transcribe(form)
        handler = handlers.get((method, suffix))
        if handler is None:
            return self._error(404, f"Unknown path {route}", code="not_found")
        if method == "POST" and handler is not self._list_models:
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

    # ------------------------------------------------------------ endpoints

    def _usage(self, prompt: str, completion: str, reasoning: str = "") -> dict[str, int]:
        p = max(1, len(prompt) // 4)
        c = max(1, (len(completion) + len(reasoning)) // 4)
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def _validate_chat(self, body: dict[str, Any]) -> EmulatedResponse | None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "Input validation error", param="messages")
        info = self.models[body["model"]]
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in _ROLES:
                return self._error(
                    400,
                    f"Input validation error: unknown role {message.get('role') if isinstance(message, dict) else message!r}",
                )
            if message["role"] == "tool" and not message.get("tool_call_id"):
                return self._error(400, "Input validation error: tool messages need tool_call_id")
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
        prompt_chars = len(json.dumps(messages))
        if prompt_chars // 4 > int(info.get("context_length") or 1 << 30):
            return self._error(
                400,
                f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {info['context_length']}. This model's maximum context length is {info['context_length']} tokens.",
            )
        return None

    def _default_reply(self, body: dict[str, Any]) -> _Reply:
        choice = body.get("tool_choice")
        tools = body.get("tools") or []
        forced: dict[str, Any] | None = None
        if isinstance(choice, dict):
            name = choice.get("function", {}).get("name")
            forced = next((t for t in tools if t.get("function", {}).get("name") == name), None)
        elif choice == "required" and tools:
            forced = tools[0]
        if forced is not None:
            fn = forced["function"]
            args = example_for_schema(
                fn.get("parameters") or {"type": "object"}, fn.get("parameters") or {}
            )
            return _Reply(
                None,
                None,
                [{"name": fn["name"], "arguments": args}],
                None,
                None,
                None,
                None,
                None,
                1,
            )
        fmt = body.get("response_format") or {}
        if fmt.get("type") in ("json_schema", "json_object"):
            schema = (
                (fmt.get("json_schema") or {}).get("schema")
                or fmt.get("schema")
                or {"type": "object"}
            )
            return _Reply(
                json.dumps(example_for_schema(schema, schema)),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                1,
            )
        last = ""
        for message in reversed(body.get("messages") or []):
            if message.get("role") in ("user", "tool"):
                content = message.get("content")
                last = (
                    content
                    if isinstance(content, str)
                    else " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
                )
                break
        text = f"You said: {last}" if last else "Hello! How can I help?"
        return _Reply(text, None, None, None, None, None, None, None, 1)

    def _chat(self, body: dict[str, Any]) -> EmulatedResponse:
        invalid = self._validate_chat(body)
        if invalid is not None:
            return invalid
        reply = self._take(self._replies, body) or self._default_reply(body)
        text = reply.text or ""
        if body.get("max_tokens") and len(text) // 4 > int(body["max_tokens"]):
            text = text[: int(body["max_tokens"]) * 4]
            finish = "length"
        else:
            finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        request_id = self._id()
        prompt = json.dumps(body.get("messages"))
        usage = reply.usage or self._usage(prompt, text, reply.reasoning or "")
        calls = [
            {
                "id": call.get("id")
                or "call_"
                + "".join(
                    self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24)
                ),
                "name": call["name"],
                "arguments": call["arguments"]
                if isinstance(call["arguments"], str)
                else json.dumps(call["arguments"]),
            }
            for call in reply.tool_calls or []
        ]
        dialect = reply.dialect or self.dialect
        if body.get("stream"):
            return self._chat_stream(
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
        message: dict[str, Any] = {
            "role": "assistant",
            "content": (None if calls and dialect == "legacy" else text),
            "tool_calls": [
                {
                    "index": i,
                    "id": c["id"],
                    "type": "function",
                    "function": {"arguments": c["arguments"], "name": c["name"]},
                }
                for i, c in enumerate(calls)
            ],
        }
        if reply.reasoning is not None:
            message["reasoning"] = reply.reasoning
        choice: dict[str, Any] = {
            "finish_reason": "eos" if dialect == "legacy" and finish == "stop" else finish,
            "seed": self._rng.getrandbits(64),
            "index": 0,
            "logprobs": self._logprobs(body, text),
            "message": message,
        }
        payload = {
            "id": request_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "prompt": [],
            "choices": [choice],
            "usage": {**usage, "cached_tokens": 0},
        }
        return EmulatedResponse(200, self._headers(request_id), json.dumps(payload).encode())

    def _logprobs(self, body: dict[str, Any], text: str) -> Any:
        if not body.get("logprobs"):
            return None
        tokens = _split(text, 4) or [""]
        return {
            "tokens": tokens,
            "token_logprobs": [-0.01 * (i + 1) for i in range(len(tokens))],
            "token_ids": [],
        }

    def _chat_stream(
        self,
        body: dict[str, Any],
        request_id: str,
        text: str,
        reasoning: str | None,
        calls: list[dict[str, Any]],
        finish: str,
        usage: dict[str, int],
        dialect: Dialect,
        style: str,
    ) -> EmulatedResponse:
        created = int(time.time())
        model = body["model"]
        chunk_id = "chatcmpl-" + request_id[-16:] if dialect == "openai" else request_id
        events: list[dict[str, Any]] = []

        def chunk(
            delta: dict[str, Any], finish_reason: str | None = None, **choice_extra: Any
        ) -> dict[str, Any]:
            if dialect == "openai":
                choice = {
                    "index": 0,
                    "delta": {"role": "assistant", **delta},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                    **choice_extra,
                }
                if finish_reason is not None:
                    choice["stop_reason"] = None
                return {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [choice],
                }
            full_delta = {"token_id": None, "role": "assistant", "content": "", **delta}
            if dialect == "legacy":
                full_delta.setdefault("tool_calls", None)
            else:
                full_delta.setdefault("reasoning", None)
            choice = {
                "index": 0,
                "text": delta.get("content") or "",
                "logprobs": None,
                "finish_reason": finish_reason,
                "seed": None,
                "delta": full_delta,
                **choice_extra,
            }
            out: dict[str, Any] = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "choices": [choice],
                "model": model,
                "usage": None,
            }
            return out

        for piece in _split(reasoning or "", self.stream_chunk_chars):
            events.append(chunk({"content": "", "reasoning": piece}))
        for piece in _split(text, self.stream_chunk_chars):
            events.append(chunk({"content": piece}))
        if style == "choice_level":
            full = [
                {
                    "id": c["id"],
                    "index": -1,
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls
            ]
            if full:
                events.append(chunk({"tool_calls": None}, tool_calls=full))
        else:
            for i, call in enumerate(calls):
                events.append(
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "id": call["id"],
                                    "index": i,
                                    "type": "function",
                                    "function": {"name": call["name"], "arguments": ""},
                                }
                            ]
                        }
                    )
                )
                pieces = _split(call["arguments"], max(4, self.stream_chunk_chars))
                for j, piece in enumerate(pieces):
                    last_piece = j == len(pieces) - 1
                    frag = (
                        {"index": i, "function": {"arguments": piece}}
                        if style == "finish_per_call"
                        else {
                            "id": None,
                            "index": i,
                            "type": "function",
                            "function": {"name": None, "arguments": piece},
                        }
                    )
                    events.append(
                        chunk(
                            {"tool_calls": [frag]},
                            "tool_calls" if style == "finish_per_call" and last_piece else None,
                        )
                    )
        if style != "finish_per_call" or not calls:
            wire_finish = "eos" if dialect == "legacy" and finish == "stop" else finish
            events.append(chunk({"content": ""}, wire_finish))
        if dialect == "legacy":
            events[-1]["usage"] = usage
        elif dialect == "modern" and style != "finish_per_call":
            events[0].pop("usage", None)
            events.append(
                {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "choices": [],
                    "model": model,
                    "usage": {**usage, "reasoning_tokens": len(reasoning or "") // 4},
                }
            )
        chunks = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
        return EmulatedResponse(
            200,
            self._headers(request_id, "text/event-stream;charset=utf-8")
            | {"cache-control": "no-cache, no-transform"},
            chunks=chunks,
        )

    def _completions(self, body: dict[str, Any]) -> EmulatedResponse:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return self._error(400, "Prompt cannot be empty")
        reply = self._take(self._replies, body)
        text = (
            reply.text
            if reply is not None and reply.text is not None
            else " and so the story continues."
        )
        if body.get("echo"):
            text = prompt + text
        request_id = self._id()
        usage = self._usage(prompt, text)
        model = body["model"]
        if body.get("stream"):
            events = []
            for piece in _split(text, self.stream_chunk_chars):
                events.append(
                    {
                        "id": request_id,
                        "object": "completion.chunk",
                        "created": int(time.time()),
                        "choices": [
                            {
                                "index": 0,
                                "text": piece,
                                "logprobs": None,
                                "finish_reason": None,
                                "seed": None,
                                "delta": {"token_id": 1, "role": "assistant", "content": piece},
                            }
                        ],
                        "model": model,
                        "usage": None,
                    }
                )
            events.append(
                {
                    "id": request_id,
                    "object": "completion.chunk",
                    "created": int(time.time()),
                    "choices": [
                        {
                            "index": 0,
                            "text": "",
                            "logprobs": None,
                            "finish_reason": "eos",
                            "seed": self._rng.getrandbits(64),
                            "delta": {"token_id": 2, "role": "assistant", "content": ""},
                        }
                    ],
                    "model": model,
                    "usage": usage,
                }
            )
            chunks = [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
            return EmulatedResponse(
                200, self._headers(request_id, "text/event-stream;charset=utf-8"), chunks=chunks
            )
        payload = {
            "id": request_id,
            "object": "text.completion",
            "created": int(time.time()),
            "model": model,
            "prompt": [],
            "choices": [
                {
                    "text": text,
                    "finish_reason": "length",
                    "seed": self._rng.getrandbits(64),
                    "logprobs": self._logprobs(body, text),
                    "index": 0,
                }
            ],
            "usage": usage,
        }
        return EmulatedResponse(200, self._headers(request_id), json.dumps(payload).encode())

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
        if "dimensions" in body and not info.get("matryoshka"):
            return self._error(
                400,
                f"Model {body['model']} does not support the dimensions parameter",
                param="dimensions",
            )
        dims = int(info.get("dims", 768))
        data = [
            {"object": "embedding", "embedding": embed_text(t, dims), "index": i}
            for i, t in enumerate(items)
        ]
        payload = {"object": "list", "model": body["model"], "data": data}
        return EmulatedResponse(200, self._headers(self._id()), json.dumps(payload).encode())

    def _rerank(self, body: dict[str, Any]) -> EmulatedResponse:
        query = body.get("query") or ""
        documents = body.get("documents") or []
        fields = body.get("rank_fields")
        scored = []
        for i, doc in enumerate(documents):
            text = (
                doc
                if isinstance(doc, str)
                else " ".join(str(doc.get(f, "")) for f in (fields or ["text"]))
            )
            scored.append((overlap_score(query, text), i, doc))
        scored.sort(key=lambda t: (-t[0], t[1]))
        top_n = body.get("top_n") or len(scored)
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
        tokens = sum(len(json.dumps(d)) // 4 for d in documents) + len(query) // 4
        request_id = self._id()
        payload = {
            "id": request_id,
            "object": "rerank",
            "model": body["model"],
            "results": results,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }
        return EmulatedResponse(200, self._headers(request_id), json.dumps(payload).encode())

    def _images(self, body: dict[str, Any]) -> EmulatedResponse:
        request_id = self._id() + "-SEA"
        n = int(body.get("n") or 1)
        if body.get("response_format") == "base64":
            data = [
                {
                    "timings": {"inference": 0.1},
                    "index": i,
                    "b64_json": base64.b64encode(b"\xff\xd8\xff\xe0emulated-jpeg").decode(),
                }
                for i in range(n)
            ]
        else:
            data = [
                {
                    "index": i,
                    "url": f"https://api.together.ai/shrt/emulated{i}",
                    "timings": {"inference": 0.1},
                }
                for i in range(n)
            ]
        payload = {"id": request_id, "model": body["model"], "object": "list", "data": data}
        return EmulatedResponse(
            200, self._headers(request_id) | {"x-image-version": "v2"}, json.dumps(payload).encode()
        )

    def _speech(self, body: dict[str, Any]) -> EmulatedResponse:
        audio = _wav(len(body.get("input") or ""))
        if body.get("stream"):
            pieces = [audio[i : i + 256] for i in range(0, len(audio), 256)]
            chunks = [
                f"data: {json.dumps({'object': 'audio.tts.chunk', 'model': body['model'], 'b64': base64.b64encode(p).decode()})}\n\n".encode()
                for p in pieces
            ]
            return EmulatedResponse(
                200,
                self._headers(self._id(), "text/event-stream"),
                chunks=[*chunks, b"data: [DONE]\n\n"],
            )
        return EmulatedResponse(200, self._headers(self._id(), "audio/wav"), audio)

    def _transcribe(self, form: dict[str, Any]) -> EmulatedResponse:
        if "file" not in form:
            return self._error(400, "Input validation error: file is required", param="file")
        text = "Hello from the emulator."
        payload: dict[str, Any] = {"text": text}
        if form.get("response_format") == "verbose_json":
            payload = {
                "task": "transcribe",
                "language": form.get("language", "en"),
                "duration": 1.5,
                "text": text,
                "segments": [{"id": 0, "start": 0.0, "end": 1.5, "text": text}],
            }
        return EmulatedResponse(200, self._headers(self._id()), json.dumps(payload).encode())

    def _list_models(self, body: dict[str, Any]) -> EmulatedResponse:
        items = [
            {
                "id": model_id,
                "object": "model",
                "created": 0,
                "type": info.get("type", "chat"),
                "running": False,
                "display_name": model_id.split("/")[-1],
                "organization": model_id.split("/")[0],
                "link": "",
                "license": "other",
                "context_length": info.get("context_length", 0),
                "config": {"chat_template": None, "stop": [], "bos_token": None, "eos_token": None},
                "pricing": {"hourly": 0, "input": 0.2, "output": 0.6, "base": 0, "finetune": 0},
            }
            for model_id, info in self.models.items()
        ]
        return EmulatedResponse(
            200, {"content-type": "application/json"}, json.dumps(items).encode()
        )


# ----------------------------------------------------------------- deterministic content


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def embed_text(text: str, dims: int) -> list[float]:
    """A unit vector from hashed words: texts sharing words have a higher cosine similarity."""
    vector = [0.0] * dims
    for word in _WORD.findall(text.lower()) or [text]:
        digest = hashlib.sha256(word.encode()).digest()
        for k in range(4):
            slot = int.from_bytes(digest[4 * k : 4 * k + 4], "big") % dims
            vector[slot] += 1.0 if digest[16 + k] % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def overlap_score(query: str, text: str) -> float:
    """Word-overlap relevance in [0, 1)."""
    q = set(_WORD.findall(query.lower()))
    d = set(_WORD.findall(text.lower()))
    if not q or not d:
        return 0.0
    return round(len(q & d) / (len(q) + 1) * 0.99, 6)


def example_for_schema(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A value valid against a (common subset of) JSON schema."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example_for_schema(
            (root.get("$defs") or root.get("definitions") or {}).get(name, {}), root
        )
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_for_schema(options[0], root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: example_for_schema(sub, root) for name, sub in props.items()}
    if kind == "array":
        return [example_for_schema(schema.get("items") or {"type": "string"}, root)]
    if kind == "string":
        return "example"
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    return None


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
        if name:
            value: Any = data[:-2] if data.endswith(b"\r\n") else data
            if b"filename=" not in head:
                value = value.decode()
            out[name.group(1).decode()] = value
    return out


# ------------------------------------------------------------------ in-process front-end


class _EmulatedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, response: EmulatedResponse) -> None:
        self.response = response
        self.closed = False

    def _pieces(self) -> list[bytes]:
        return self.response.chunks if self.response.chunks is not None else [self.response.body]

    def __iter__(self) -> Iterator[bytes]:
        for i, piece in enumerate(self._pieces()):
            if self.closed:
                return
            if self.response.delay_each:
                time.sleep(self.response.delay_each)
            yield piece
            if self.response.reset_after is not None and i + 1 >= self.response.reset_after:
                break
        if self.response.reset_after is not None:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self._pieces()):
            if self.closed:
                return
            if self.response.delay_each:
                await asyncio.sleep(self.response.delay_each)
            yield piece
            if self.response.reset_after is not None and i + 1 >= self.response.reset_after:
                break
        if self.response.reset_after is not None:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


class _EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    def __init__(self, emulator: TogetherEmulator) -> None:
        self.emulator = emulator

    def _answer(
        self, request: httpx.Request, body: bytes
    ) -> tuple[EmulatedResponse, httpx.Response]:
        answer = self.emulator.handle(request.method, request.url.path, dict(request.headers), body)
        if answer.reset_after == 0 and not answer.chunks:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return answer, httpx.Response(
            answer.status, headers=answer.headers, stream=_EmulatedStream(answer), request=request
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer, response = self._answer(request, request.read())
        if answer.delay_first:
            time.sleep(answer.delay_first)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer, response = self._answer(request, await request.aread())
        if answer.delay_first:
            await asyncio.sleep(answer.delay_first)
        return response
