"""LangChain ``BaseLLM`` for Together's text completions endpoint (``POST /completions``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar, NamedTuple

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseLLM, LangSmithParams
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import Field, model_validator

from together_integrations._chat import normalize_finish_reason
from together_integrations._transport import RequestOptions, TogetherTransport
from together_integrations.langchain._common import (
    TogetherClientSettings,
    stop_list,
    validate_request,
)
from together_integrations.langchain._errors import langchain_errors
from together_integrations.schemas import (
    Completion,
    CompletionChunk,
    CompletionRequest,
    Usage,
    normalize_logprobs,
)
from together_integrations.schemas.common import Logprobs

__all__ = ["Together", "TogetherLLM"]

DEFAULT_LLM_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def _logprobs(value: Logprobs) -> list[dict[str, Any]] | None:
    """Any wire logprobs shape → ``[{"token", "logprob", "bytes", "top_logprobs"}, ...]``."""
    tokens = normalize_logprobs(value)
    if tokens is None:
        return None
    return [t.model_dump(include={"token", "logprob", "bytes", "top_logprobs"}) for t in tokens]


def _token_usage(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    out = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached is not None:
        out["cached_tokens"] = usage.cached
    return out


def _add_usage(total: dict[str, int], usage: Mapping[str, int] | None) -> None:
    for key, value in (usage or {}).items():
        total[key] = total.get(key, 0) + value


class _Prepared(NamedTuple):
    request: CompletionRequest
    transport: TogetherTransport
    options: RequestOptions | None


class _CompletionStreamState:
    """Finish reason and usage, which may arrive in different chunks (NOTES §4)."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.model = ""

    def feed(self, chunk: CompletionChunk) -> GenerationChunk | None:
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        text, info = "", {}
        for choice in chunk.choices:
            text += choice.text or ""
            if choice.finish_reason is not None:
                self.finish_reason = normalize_finish_reason(choice.finish_reason)
            logprobs = _logprobs(choice.logprobs)
            if logprobs:
                info["logprobs"] = logprobs
        if not text and not info:
            return None
        return GenerationChunk(text=text, generation_info=info or None)

    def final(self, fallback_model: str) -> GenerationChunk:
        info: dict[str, Any] = {
            "finish_reason": self.finish_reason,
            "model_name": self.model or fallback_model,
        }
        usage = _token_usage(self.usage)
        if usage is not None:
            info["token_usage"] = usage
        return GenerationChunk(text="", generation_info=info)


class TogetherLLM(TogetherClientSettings, BaseLLM):
    """Together text completion models (``POST /completions``): prompt in, text out.

    Also importable as ``Together``, the ``langchain_together`` name. For chat models with
    messages, tools and structured output, use ``ChatTogether``.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``
        (``TOGETHER_API_BASE`` or ``TOGETHER_BASE_URL`` for another host).

    Key init args (completion params):
        model: Model id (also ``model_name``).
        temperature, max_tokens (also ``max_completion_tokens``), top_p, top_k,
        repetition_penalty, stop (a list or one string), seed, logprobs, echo, n: Sampling.
        model_kwargs / extra_body: Any other request field (``min_p``, ``safety_model``...).

    Key init args (client params):
        api_key (also ``together_api_key``, ``openai_api_key``), base_url (also
        ``together_api_base``, ``openai_api_base``), timeout (also ``request_timeout``;
        seconds, ``(connect, read)`` or an ``httpx.Timeout``), max_retries, default_headers,
        default_query, transport, http_client / http_async_client. Per call,
        ``timeout``, ``extra_headers``, ``extra_query``, ``max_retries`` shape the request
        and ``extra_body`` extends the body.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherLLM

            llm = TogetherLLM(
                model="meta-llama/Llama-3.3-70B-Instruct-Turbo", temperature=0.7, max_tokens=128
            )

    Invoke:
        .. code-block:: python

            llm.invoke("The capital of France is")
            # ' Paris. It is known for ...'

    Stream:
        .. code-block:: python

            for text in llm.stream("Once upon a time"):
                print(text, end="")

    Async:
        .. code-block:: python

            await llm.ainvoke("The capital of France is")
            async for text in llm.astream("Once upon a time"):
                ...

    Token usage:
        ``llm.generate([...]).llm_output["token_usage"]`` holds the token counts summed
        over prompts (``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
        ``cached_tokens`` when sent). When streaming, the last chunk's ``generation_info``
        carries ``token_usage`` when the server sent it.

    Logprobs:
        With ``logprobs=k``, each generation's ``generation_info["logprobs"]`` is a list of
        ``{"token", "logprob", "bytes", "top_logprobs"}``, whichever shape the server sent.

    Response metadata:
        Each generation's ``generation_info`` has ``finish_reason`` (``"eos"`` reported as
        ``"stop"``); ``llm_output`` has ``model_name``. The last streamed chunk's
        ``generation_info`` has ``finish_reason`` and ``model_name``.

    Errors:
        As ``ChatTogether``: the library's typed errors, each also the matching
        ``langchain_core.exceptions`` class; invalid arguments raise
        ``LCInvalidArgumentsError`` before any request.
    """

    _ALIASES: ClassVar[dict[str, str]] = {"max_completion_tokens": "max_tokens"}
    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "prompt", "stream"})

    model: str = DEFAULT_LLM_MODEL
    """Model id (also ``model_name``)."""
    temperature: float | None = None
    """Sampling temperature."""
    max_tokens: int | None = None
    """Maximum tokens to generate (also ``max_completion_tokens``)."""
    top_p: float | None = None
    """Nucleus sampling probability mass."""
    top_k: int | None = None
    """Sample from the k most likely tokens."""
    repetition_penalty: float | None = None
    """Penalty for repeated tokens (1.0 = none)."""
    stop: list[str] | None = None
    """Default stop sequences (one string is a one-item list; a call's ``stop`` replaces
    them)."""
    seed: int | None = None
    """Seed for reproducible sampling."""
    logprobs: int | None = Field(default=None, ge=0, le=20)
    """Return log probabilities of this many top tokens per position (0-20)."""
    echo: bool | None = None
    """Include the prompt in the returned text."""
    n: int = Field(default=1, ge=1, le=128)
    """Completions per prompt (not with streaming)."""
    streaming: bool = False
    """Stream internally even for ``invoke``/``generate`` (callbacks see each token)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields (e.g. ``min_p``, ``safety_model``), sent as given."""
    extra_body: dict[str, Any] | None = None
    """More extra request fields, sent after ``model_kwargs``."""

    @model_validator(mode="after")
    def _endpoint_url_as_base(self) -> TogetherLLM:
        # langchain_together.Together's base_url is the whole endpoint URL
        # (".../v1/completions"); ours is the API base. Read theirs as meant, so a migrated
        # proxy URL is not sent to ".../completions/completions".
        if self.base_url and self.base_url.rstrip("/").endswith("/completions"):
            base = self.base_url.rstrip("/").removesuffix("/completions")
            self.__dict__["base_url"] = base
        return self

    # ------------------------------------------------------------- LangChain metadata

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["together_integrations", "langchain", "llms"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "TOGETHER_API_KEY"}

    @property
    def _llm_type(self) -> str:
        return "together"

    @property
    def _default_params(self) -> dict[str, Any]:
        params = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "seed": self.seed,
            "logprobs": self.logprobs,
            "echo": self.echo,
            "n": self.n if self.n != 1 else None,
        }
        return {k: v for k, v in params.items() if v is not None}

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, **self._default_params, **self.model_kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "together"
        params["ls_model_name"] = kwargs.get("model", self.model)
        max_tokens = kwargs.get("max_tokens", kwargs.get("max_completion_tokens"))
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        stops = stop_list(stop or kwargs.get("stop") or self.stop)
        if stops:
            params["ls_stop"] = stops
        return params

    # --------------------------------------------------------------- request building

    def _request(self, prompt: str, stop: list[str] | None, kwargs: Mapping[str, Any]) -> _Prepared:
        """The wire request and what to send it with: a call's ``timeout``,
        ``extra_headers``, ``extra_query`` and ``max_retries`` shape the HTTP request, its
        ``extra_body`` extends the body."""
        if not isinstance(prompt, str):
            raise TypeError(f"A prompt must be a string, got {type(prompt).__name__}.")
        call = dict(kwargs)
        call.pop("stream", None)  # the transport decides streaming
        transport, options = self._call_settings(call)
        call_extra = call.pop("extra_body", None) or {}
        if "max_completion_tokens" in call:
            call.setdefault("max_tokens", call.pop("max_completion_tokens"))
        stop = stop_list(stop if stop is not None else call.pop("stop", None))
        body: dict[str, Any] = {
            **self.model_kwargs,
            **(self.extra_body or {}),
            **self._default_params,
            **call,
            **call_extra,
            "model": call.get("model", self.model),
            "prompt": prompt,
        }
        stops = stop if stop is not None else self.stop
        if stops:
            body["stop"] = list(stops)
        request = validate_request(CompletionRequest, body, type(self).__name__)
        return _Prepared(request, transport, options)

    def _generations(self, response: Completion) -> list[Generation]:
        generations = []
        for choice in sorted(response.choices, key=lambda c: c.index):
            info: dict[str, Any] = {"finish_reason": normalize_finish_reason(choice.finish_reason)}
            logprobs = _logprobs(choice.logprobs)
            if logprobs is not None:
                info["logprobs"] = logprobs
            generations.append(Generation(text=choice.text, generation_info=info))
        return generations

    def _result(self, responses: list[Completion]) -> LLMResult:
        usage: dict[str, int] = {}
        for response in responses:
            _add_usage(usage, _token_usage(response.usage))
        return LLMResult(
            generations=[self._generations(r) for r in responses],
            llm_output={"token_usage": usage, "model_name": self.model},
        )

    def _check_streamable(self, kwargs: Mapping[str, Any]) -> None:
        if kwargs.get("n", self.n) != 1:
            raise ValueError("Streaming returns one completion per prompt; set n=1 to stream.")

    # ------------------------------------------------------------------- generation

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming:
            return self._result_from_streams(
                [list(self._stream(p, stop, run_manager, **kwargs)) for p in prompts]
            )
        results = []
        for prompt in prompts:
            request, transport, options = self._request(prompt, stop, kwargs)
            with langchain_errors():
                results.append(transport.completions.create(request, options))
        return self._result(results)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming:

            async def collect(prompt: str) -> list[GenerationChunk]:
                return [c async for c in self._astream(prompt, stop, run_manager, **kwargs)]

            return self._result_from_streams(list(await asyncio.gather(*map(collect, prompts))))
        prepared = [self._request(p, stop, kwargs) for p in prompts]
        with langchain_errors():
            responses = await asyncio.gather(
                *(transport.completions.acreate(r, options) for r, transport, options in prepared)
            )
        return self._result(list(responses))

    def _result_from_streams(self, streams: list[list[GenerationChunk]]) -> LLMResult:
        usage: dict[str, int] = {}
        generations: list[list[Generation]] = []
        for chunks in streams:
            merged: GenerationChunk | None = None
            for chunk in chunks:
                merged = chunk if merged is None else merged + chunk
            info = dict(merged.generation_info or {}) if merged is not None else {}
            _add_usage(usage, info.pop("token_usage", None))
            info.pop("model_name", None)
            text = merged.text if merged is not None else ""
            generations.append([Generation(text=text, generation_info=info)])
        return LLMResult(
            generations=generations, llm_output={"token_usage": usage, "model_name": self.model}
        )

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        self._check_streamable(kwargs)
        request, transport, options = self._request(prompt, stop, kwargs)
        state = _CompletionStreamState()
        with langchain_errors(), transport.completions.stream(request, options) as stream:
            for chunk in stream:
                out = state.feed(chunk)
                if out is not None:
                    if run_manager:
                        run_manager.on_llm_new_token(out.text, chunk=out)
                    yield out
        yield state.final(self.model)

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        self._check_streamable(kwargs)
        request, transport, options = self._request(prompt, stop, kwargs)
        state = _CompletionStreamState()
        with langchain_errors():
            stream = await transport.completions.astream(request, options)
            async with stream:
                async for chunk in stream:
                    out = state.feed(chunk)
                    if out is not None:
                        if run_manager:
                            await run_manager.on_llm_new_token(out.text, chunk=out)
                        yield out
        yield state.final(self.model)


Together = TogetherLLM
"""``langchain_together``'s name for this class: ``from langchain_together import Together``
becomes ``from together_integrations.langchain import Together``."""
