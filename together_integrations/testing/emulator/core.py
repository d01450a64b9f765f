"""The emulator object: scripting API, front-ends, and the one request handler they share."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx

from . import (
    audio,
    batches,
    chat,
    completions,
    embeddings,
    endpoints,
    files,
    fine_tuning,
    images,
    models,
    rerank,
    videos,
)
from .clock import Clock, SystemClock, VirtualClock
from .faults import FAULTS, Fault, FaultKind, apply_body_fault, early_fault
from .models import DEFAULT_MODELS
from .multipart import parse_multipart
from .router import Route, Router
from .state import (
    Dialect,
    FileStore,
    LogprobsFormat,
    Predicate,
    Reply,
    ToolCallStyle,
    take,
)
from .transport import EmulatorTransport
from .wire import DEFAULT_BASE_URL, DEFAULT_CREATED, EmulatedRequest, EmulatedResponse, Wire

if TYPE_CHECKING:
    from together_integrations.testing.server import EmulatorServer

__all__ = ["ROUTER", "TogetherEmulator"]


def _build_router() -> Router:
    router = Router()
    for family in (
        chat,
        completions,
        embeddings,
        rerank,
        images,
        audio,
        models,
        files,
        batches,
        fine_tuning,
        videos,
        endpoints,
    ):
        family.register(router)
    return router


ROUTER = _build_router()
"""Every route the emulator serves (``ROUTER.routes`` lists them)."""


class TogetherEmulator:
    """A scriptable Together API, served in-process (httpx transport) or on loopback.

    Args:
        dialect: Stream format: ``"modern"`` (separate usage chunk, reasoning deltas),
            ``"legacy"`` (usage in the finish chunk, ``finish_reason: "eos"``) or
            ``"openai"`` (vLLM passthrough: ``chatcmpl-`` ids, no usage at all).
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>`` (401 otherwise).
        models: Model id → ``{"type", "context_length", ...}`` (see :data:`DEFAULT_MODELS`,
            which holds every model of the package catalog); unknown models answer 404
            ``model_not_available``.
        seed: Makes ids, seeds and tool-call ids reproducible.
        stream_chunk_chars: Characters per streamed content chunk.
        logprobs_format: Non-stream ``logprobs`` shape: ``"together"`` (``tokens``,
            ``token_logprobs``, ``token_ids``) or ``"openai"`` (``content: [...]``).
        created: Where the default clock starts: a :class:`VirtualClock` at this timestamp
            (the default: a fixed stamp, so outputs are byte-stable), or None for the
            wall clock (:class:`SystemClock`). Ignored when ``clock`` is given.
        clock: The clock every timestamp and job state comes from, e.g.
            ``VirtualClock(auto_advance=30)``; see :attr:`clock`.

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
        clock: Clock | None = None,
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
        if clock is None:
            clock = SystemClock() if created is None else VirtualClock(start=created)
        self.clock: Clock = clock
        """The emulator's clock; with a :class:`VirtualClock`, ``emu.clock.advance(s)``
        moves every job forward and ``emu.clock.sleep`` can stand in for a poller's sleep."""
        self.requests: list[EmulatedRequest] = []
        self._seed = seed
        self._lock = threading.RLock()
        self.wire = Wire(seed, self._now, self._lock)
        self._replies: list[Reply] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        """Bytes behind the image URLs handed out: slug → (data, content type)."""
        self.files = FileStore(lambda: "file-" + self.wire.uuid(), self.wire.now)
        """The file store (see :class:`FileStore`): seed inputs, read job outputs."""
        self.batches = batches.Batches(self)
        """Batch jobs and their scripting (see :meth:`Batches.script`)."""
        self.fine_tunes = fine_tuning.FineTunes(self)
        """Fine-tuning jobs and their scripting (see :meth:`FineTunes.script`)."""
        self.videos = videos.Videos(self)
        """Video jobs and their scripting (see :meth:`Videos.script`)."""
        self.endpoints = endpoints.Endpoints(self)
        """Dedicated endpoints and their scripting (see :meth:`Endpoints.script`)."""
        self._faults: list[Fault] = []

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
                Reply(
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
        if kind not in FAULTS:
            raise ValueError(f"Unknown fault {kind!r}; use one of {sorted(FAULTS)}.")
        with self._lock:
            self._faults.append(Fault(kind, when, times, options))
        return self

    def reset(self) -> None:
        """Forget recorded requests, scripted replies and faults, and every file, job and
        media URL: stored files, batches, fine-tunes (their output models stop answering),
        videos, dedicated endpoints (their names too) and their scripts.

        The clock, the model table as configured, the dialect and the id sequence stay.
        """
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._faults.clear()
            for job in self.fine_tunes._jobs.values():
                if job.model_output_name:
                    self.models.pop(job.model_output_name, None)
            for endpoint in self.endpoints._items.values():
                self.models.pop(endpoint.name, None)
            self.media.clear()
            self.files = FileStore(lambda: "file-" + self.wire.uuid(), self.wire.now)
            self.batches = batches.Batches(self)
            self.fine_tunes = fine_tuning.FineTunes(self)
            self.videos = videos.Videos(self)
            self.endpoints = endpoints.Endpoints(self)

    @property
    def pending_replies(self) -> int:
        """How many scripted replies are still queued."""
        return len(self._replies)

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
        from together_integrations.testing.server import EmulatorServer

        return EmulatorServer(self, host, port)

    # ------------------------------------------------------------- the core

    def _now(self) -> float:
        return self.clock.now()

    def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        *,
        origin: str | None = None,
    ) -> EmulatedResponse:
        """Answer one request; both front-ends call this.

        Args:
            method: HTTP method.
            path: Request target (path and optional query string).
            headers: Request headers (any case).
            body: The raw request body.
            origin: ``scheme://host[:port]`` the client reached us on; URLs the emulator
                hands out point there. Defaults to the ``Host`` header over http.

        Returns:
            The response description, possibly with an incremental body and fault directives.
        """
        return self._process(method, path, headers, body, origin=origin, record=True)

    def internal(self, method: str, path: str, body: Any) -> EmulatedResponse:
        """Run one request through the same pipeline (scripted replies, validation, faults)
        on behalf of a job, e.g. one batch line; it is not added to :attr:`requests`."""
        headers = {"content-type": "application/json"}
        if self.api_key is not None:
            headers["authorization"] = f"Bearer {self.api_key}"
        return self._process(method, path, headers, json.dumps(body).encode(), record=False)

    def _process(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        *,
        origin: str | None = None,
        record: bool,
    ) -> EmulatedResponse:
        method = method.upper()
        lower = {k.lower(): v for k, v in headers.items()}
        route_path, _, query = path.partition("?")
        found = ROUTER.match(method, route_path)
        route = found[0] if found is not None else None
        ctype = lower.get("content-type", "")
        parsed: Any = None
        form: dict[str, Any] = {}
        filenames: dict[str, str] = {}
        bad_json = False
        if route is not None and route.raw_body:
            pass
        elif ctype.startswith("multipart/"):
            form, filenames = parse_multipart(ctype, body)
        elif ctype.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif body:
            try:
                parsed = json.loads(body)
            except ValueError:
                bad_json = True
        redacted = {k: ("<redacted>" if k == "authorization" else v) for k, v in lower.items()}
        request = EmulatedRequest(
            method, route_path, redacted, parsed, form, query, filenames=filenames, content=body
        )
        request.origin = origin or f"http://{lower.get('host', 'localhost')}"
        request.authorized = "authorization" in lower
        if record:
            with self._lock:
                self.requests.append(request)
        public = route is not None and route.public
        if (
            not public
            and self.api_key is not None
            and lower.get("authorization") != f"Bearer {self.api_key}"
        ):
            if route_path.rstrip("/").endswith("/models"):
                return EmulatedResponse(
                    401,
                    {"content-type": "application/json"},
                    b'{"error":{"message":"Unauthorized"}}',
                )
            return self.wire.error(
                401,
                "Invalid API key provided. You can find your API key at "
                "https://api.together.ai/settings/api-keys.",
                code="invalid_api_key",
            )
        fault = take(self._faults, request.body, self._lock)
        if fault is not None:
            early = early_fault(self.wire, fault)
            if early is not None:
                return early
        raw = route is not None and route.raw_body
        if not raw and (bad_json or (body and not form and not isinstance(parsed, dict))):
            return self.wire.error(400, "Input validation error: the body is not a JSON object")
        if found is None:
            response = self.wire.not_found(route_path)
        else:
            request.params = found[1]
            response = self._dispatch(found[0], request)
        if fault is not None:
            apply_body_fault(response, fault)
        return response

    def _dispatch(self, route: Route, request: EmulatedRequest) -> EmulatedResponse:
        with self._lock:
            if route.needs_model:
                model = request.body.get("model")
                if not model:
                    return self.wire.error(400, "Invalid request", param="model")
                # An endpoint's name answers only while it is STARTED, however it got there
                # (an idle one may have stopped by itself); a request keeps it awake.
                self.endpoints.touch(str(model))
                self.endpoints.sync()
                if model not in self.models:
                    unavailable = self._resolve_model(str(model))
                    if unavailable is not None:
                        return unavailable
            return route.handler(self, request)

    def _resolve_model(self, model: str) -> EmulatedResponse | None:
        # Jobs are lazy: a fine-tune that finished since anyone last looked must answer
        # now, so bring them up to the clock before refusing.
        self.fine_tunes.sync()
        if model in self.models:
            return None
        if self.endpoints.by_name(model) is not None:
            return endpoints.not_serverless(self, model)
        return self.wire.model_not_available(model)
