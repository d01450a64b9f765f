"""LangChain chat model for Together: ``ChatTogether``.

Built on the shared transport; this module builds requests and hands responses to the
converters in :mod:`._convert`. Streams and whole responses go through the same normalisation
(:mod:`together_integrations._chat`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple, overload

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import LangSmithParams, LanguageModelInput, ModelProfile
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnablePassthrough,
)
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, Field, field_validator, model_validator

from together_integrations._catalog import get_model_capabilities
from together_integrations._chat import ChatDeltaView, ChatStreamAccumulator, parse_chat_completion
from together_integrations._constants import DEFAULT_ONLINE_FALLBACK
from together_integrations._exceptions import APIError
from together_integrations._transport import RequestOptions, TogetherTransport
from together_integrations.langchain._common import (
    TogetherClientSettings,
    stop_list,
    validate_request,
)
from together_integrations.langchain._convert import (
    PROVIDER,
    chunk_from_view,
    convert_message_to_wire,
    message_from_result,
    register_content_translator,
)
from together_integrations.langchain._errors import to_langchain_error
from together_integrations.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    response_headers,
)

if TYPE_CHECKING:
    from together_integrations.langchain.batch import TogetherBatchRun

__all__ = ["ChatTogether"]

DEFAULT_CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"

DEFAULT_BATCH_MIN_INPUTS = 100
"""``batch_api="auto"`` uses the Batch API from this many inputs (cache misses) on: below
it, the hours a batch job may take cost more than the discount saves."""

_BATCH_STAGE: ContextVar[Any] = ContextVar("together_batch_stage", default=None)
"""Set by :mod:`.batch` around LangChain's cache step: ``_generate`` / ``_stream`` then hand
the request back (collect) or return the batch's answer, instead of sending."""

register_content_translator()

CHARS_PER_TOKEN = 4
"""The offline token estimate: about four characters of English per token."""
TOKENS_PER_MESSAGE = 4
"""Role and separator tokens a chat template adds around each message."""
TOKENS_PER_REPLY = 3
"""Tokens a chat template adds to prime the assistant's reply."""
TOKENS_PER_IMAGE = 1_000
"""A flat estimate per image part (vision encoders use a few hundred to ~1,600 tokens)."""

_ToolChoice = dict[str, Any] | str | bool | None


def _estimate_text(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN) if text else 0


def _estimate_content(content: str | list[Any]) -> int:
    if isinstance(content, str):
        return _estimate_text(content)
    total = 0
    for block in content:
        if isinstance(block, str):
            total += _estimate_text(block)
        elif isinstance(block, Mapping):
            kind = block.get("type")
            if kind in ("image", "image_url"):
                total += TOKENS_PER_IMAGE
            elif isinstance(block.get("text"), str):
                total += _estimate_text(block["text"])
            elif isinstance(block.get("reasoning"), str):
                total += _estimate_text(block["reasoning"])
            else:
                total += _estimate_text(json.dumps(block, default=str))
    return total


def _wire_logprobs(logprobs: int | bool | None, top_logprobs: int | None) -> int | None:
    """Together takes one integer: how many alternatives per token (0-20).

    ``logprobs=True`` (the ChatOpenAI spelling) asks for the sampled tokens' log
    probabilities: ``top_logprobs`` if given, else 1. ``False`` turns them off.
    """
    if logprobs is False:
        return None
    if top_logprobs is not None:
        return max(top_logprobs, 1) if logprobs is True else top_logprobs
    if logprobs is True:
        return 1
    return logprobs


def _tool_name(tool: Mapping[str, Any]) -> str:
    name: str = tool["function"]["name"]
    return name


class ChatTogether(TogetherClientSettings, BaseChatModel):
    """Together chat models (``POST /chat/completions``) for LangChain.

    A drop-in replacement for ``langchain_together.ChatTogether`` and for
    ``ChatOpenAI(base_url=<Together>)``: their parameter names (``model``/``model_name``,
    ``api_key``/``together_api_key``/``openai_api_key``, ``base_url``/``together_api_base``/
    ``openai_api_base``, ``timeout``/``request_timeout``...) on a shared connection pool with
    typed errors. Unknown constructor arguments warn and are sent as request fields
    (``model_kwargs``); ChatOpenAI's client-side options are honoured, refused or dropped
    with a warning, never sent.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``
        (``TOGETHER_API_BASE`` or ``TOGETHER_BASE_URL`` for another host).

    Key init args (completion params):
        model: Model id, e.g. ``"openai/gpt-oss-20b"`` (also ``model_name``).
        temperature, max_tokens (also ``max_completion_tokens``), top_p, top_k, min_p,
        repetition_penalty, presence_penalty, frequency_penalty, stop (a list or one
        string), seed, n, logit_bias: Sampling.
        logprobs: ``True`` or an integer (Together takes the number of alternatives);
            ``top_logprobs`` sets that number too.
        response_format, reasoning_effort, reasoning (``{"enabled": bool}``), safety_model,
        chat_template_kwargs: Together request fields.
        model_kwargs / extra_body: Any other request field, sent as given.
        stream_usage, include_response_headers, disabled_params: as in ChatOpenAI.

    Key init args (client params):
        api_key, base_url, timeout (seconds, ``(connect, read)`` or an ``httpx.Timeout``),
        connect_timeout, max_retries, default_headers, default_query; transport (a
        ``TogetherTransport``), or http_client / http_async_client. Per call, ``timeout``,
        ``extra_headers``, ``extra_query``, ``max_retries`` and ``extra_body`` may be passed
        to ``invoke``/``bind``: the first four shape the HTTP request, not the body.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import ChatTogether

            llm = ChatTogether(model="openai/gpt-oss-20b", temperature=0, max_tokens=512)

    Invoke:
        .. code-block:: python

            msg = llm.invoke([("system", "Be brief."), ("human", "Why is the sky blue?")])
            msg.content
            msg.additional_kwargs.get("reasoning_content")  # reasoning models

    Stream:
        .. code-block:: python

            for chunk in llm.stream("Tell me a joke"):
                print(chunk.text, end="")
            # The last chunk has chunk_position="last" and the response metadata.

    Async:
        .. code-block:: python

            await llm.ainvoke("Hi")
            async for chunk in llm.astream("Hi"): ...
            await llm.abatch(["Hi", "Hello"])

    Tool calling:
        .. code-block:: python

            from langchain_core.tools import tool

            @tool
            def get_weather(city: str) -> str:
                \"\"\"Weather in a city.\"\"\"

            llm_with_tools = llm.bind_tools([get_weather], tool_choice="auto")
            llm_with_tools.invoke("Weather in Paris?").tool_calls
            # [{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_...", ...}]

        Arguments that are not valid JSON arrive in ``invalid_tool_calls``, never guessed.

    Structured output:
        .. code-block:: python

            from pydantic import BaseModel

            class Answer(BaseModel):
                answer: str
                confidence: float

            llm.with_structured_output(Answer).invoke("...")  # json_schema where supported
            llm.with_structured_output(Answer, method="json_schema", strict=True)
            llm.with_structured_output(Answer, method="function_calling", include_raw=True)
            llm.bind(response_format=Answer).invoke("...").additional_kwargs["parsed"]

        The default method follows the catalog: ``json_schema``, else a forced tool call for
        models that call tools, else ``json_mode``. ``strict=True`` closes every object of
        the schema (``additionalProperties: false``, all keys required).

    Image input:
        .. code-block:: python

            vlm = ChatTogether(model="Qwen/Qwen2.5-VL-72B-Instruct")
            vlm.invoke([("human", [
                {"type": "text", "text": "Describe this image."},
                {"type": "image", "url": "https://example.com/cat.png"},
            ])])
            # also {"type": "image", "base64": ..., "mime_type": "image/png"}, image_url
            # parts, and video/audio blocks for models that take them.

    Token usage:
        .. code-block:: python

            msg.usage_metadata
            # {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18,
            #  "input_token_details": {"cache_read": 0},
            #  "output_token_details": {"reasoning": 5}}   # when the server reports them

        Streams carry ``usage_metadata`` on one chunk near the end. Engines that send no
        usage on streams (vLLM-style models such as Gemma, Llama-3.1 tool streams) get an
        offline estimate (about 4 characters per token) on the last chunk, flagged with
        ``response_metadata["usage_estimated"] = True``; ``stream_usage=True`` also asks the
        server for real counts, ``stream_usage=False`` turns the estimate off. With
        ``n > 1``, usage (for all choices) is on the first choice only.

    Logprobs:
        .. code-block:: python

            msg = llm.bind(logprobs=True, top_logprobs=2).invoke("Hi")
            msg.response_metadata["logprobs"]
            # {"content": [{"token": "Hello", "logprob": -0.01, "bytes": [...],
            #               "top_logprobs": [{"token": ..., "logprob": ..., "bytes": ...}]}]}

        Both shapes the server sends (Together's and OpenAI's) become this one; streamed
        logprobs are concatenated.

    Response metadata:
        .. code-block:: python

            msg.response_metadata
            # {"model_name": "openai/gpt-oss-20b", "model_provider": "together",
            #  "finish_reason": "stop", "id": "o...", "seed": ...,
            #  "system_fingerprint": ..., "warnings": [...]}   # when sent
            # "headers": {...} with include_response_headers=True (streamed and whole answers)

        ``finish_reason`` is ``stop``, ``length`` or ``tool_calls`` (``eos`` is reported as
        ``stop``).

    Reasoning:
        ``message.reasoning`` (and ``<think>`` blocks of models that write them into the
        content) arrive in ``additional_kwargs["reasoning_content"]`` and as ``reasoning``
        blocks in ``.content_blocks`` (and in ``.content`` with ``output_version="v1"``).
        Reasoning is not sent back to the model in later turns.

    Batch API:
        .. code-block:: python

            llm = ChatTogether(model="meta-llama/Llama-3.3-70B-Instruct-Turbo", batch_api="auto")
            answers = (prompt | llm | parser).batch(rows)   # >= 100 cache misses: one batch job
            llm.with_structured_output(Answer).batch(rows)  # tools and schemas reach the job

            run = llm.submit_batch(rows)                    # returns once the job exists
            TogetherBatchRun.load(run.run_id, llm=llm).results()  # later, anywhere

        ``batch_api="on"`` always uses the Batch API (refusing, before any upload, a model
        the catalog says it does not serve); ``"auto"`` from ``batch_api_min_inputs`` cache
        misses on, for models the catalog says it serves. Answers, cache and callbacks are
        the online path's; ``response_metadata`` adds ``batch_id`` and ``batch_run_id``.
        The same ``batch()`` run again finds its run in ``batch_store`` (after a crash or a
        ``batch_timeout``) and creates no new job; delete the run from the store to send
        the inputs again.

    Errors:
        Failures raise the library's typed errors (``RateLimitError``, ``NotFoundError``...),
        each also an instance of the matching ``langchain_core.exceptions`` class
        (``ModelRateLimitError``, ``ModelNotFoundError``, ``ContextOverflowError``...).
        Arguments the client can tell are invalid raise ``LCInvalidArgumentsError`` (a
        ``ValueError`` and ``ModelInvalidRequestError``) before any request. Retries happen
        once, in the shared transport. Building an instance does no I/O.
    """

    _ALIASES: ClassVar[dict[str, str]] = {"max_completion_tokens": "max_tokens"}
    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "messages", "stream"})

    model: str = Field(default=DEFAULT_CHAT_MODEL, alias="model_name")
    """Model id, e.g. ``openai/gpt-oss-20b`` (alias ``model_name``)."""
    temperature: float | None = None
    """Sampling temperature (0 = greedy; the server's default when unset)."""
    max_tokens: int | None = None
    """Maximum tokens to generate (also ``max_completion_tokens``)."""
    top_p: float | None = None
    """Nucleus sampling: sample from the smallest set of tokens with this total
    probability."""
    top_k: int | None = None
    """Sample from the ``top_k`` most likely tokens (a Together field)."""
    min_p: float | None = None
    """Drop tokens less likely than ``min_p`` times the most likely one (a Together
    field)."""
    repetition_penalty: float | None = None
    """Penalty for repeated tokens, 1.0 = none (a Together field)."""
    presence_penalty: float | None = None
    """Penalty for tokens already present in the text (-2 to 2)."""
    frequency_penalty: float | None = None
    """Penalty proportional to how often a token already appeared (-2 to 2)."""
    logit_bias: dict[str, float] | None = None
    """Token id (as a string) → bias added to its logit."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences (also ``stop_sequences``; one string is a one-item list). A call's
    ``stop`` replaces them."""
    seed: int | None = None
    """Seed for reproducible sampling."""
    n: int | None = Field(default=None, ge=1, le=128)
    """Number of choices (1 when streaming)."""
    logprobs: int | bool | None = None
    """Log probabilities of the sampled tokens: ``True`` (1 alternative) or an integer
    0-20 (the wire's ``logprobs``). Reported in ``response_metadata["logprobs"]``."""
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    """Alternatives per token (sent as the integer ``logprobs``)."""
    response_format: dict[str, Any] | None = None
    """``{"type": "json_object"}``, ``{"type": "json_schema", "json_schema": {...}}`` or
    ``{"type": "regex", "pattern": ...}``. Per call, a pydantic class or TypedDict is
    accepted too (see Structured output)."""
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    """Reasoning effort for models that take it (gpt-oss)."""
    reasoning: dict[str, Any] | None = None
    """``{"enabled": bool}`` for hybrid reasoning models."""
    safety_model: str | None = None
    """A Llama Guard model id to moderate the reply with (a Together field)."""
    chat_template_kwargs: dict[str, Any] | None = None
    """Arguments for the model's chat template, e.g. ``{"thinking": False}``."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields, sent as given (unknown constructor arguments land here)."""
    extra_body: dict[str, Any] | None = None
    """Extra request fields, sent as given (same as ``model_kwargs``)."""
    streaming: bool = False
    """Stream even from ``invoke`` (callbacks see tokens as they arrive)."""
    stream_usage: bool | None = None
    """Token usage on streams. ``True`` asks the server for it
    (``stream_options: {"include_usage": true}``); ``None`` (default) does not ask, as not
    every engine behind Together takes the option. Unless ``False``, a stream whose server
    sent no usage ends with an offline estimate, flagged by
    ``response_metadata["usage_estimated"] = True``. ``False``: no estimate."""
    include_response_headers: bool = False
    """Put the response's HTTP headers (rate limits, request id) in
    ``response_metadata["headers"]``."""
    disabled_params: dict[str, Any] | None = None
    """Request fields this model must not get, as in ChatOpenAI: ``{"param": None}`` never
    sends ``param`` from the instance's settings or from ``bind_tools`` /
    ``with_structured_output``; ``{"param": [values]}`` drops only those values. Values
    passed explicitly per call are still sent."""
    batch_api: Literal["off", "auto", "on"] = Field(default="off", exclude=True)
    """Send ``batch``/``abatch``/``batch_as_completed``/``abatch_as_completed`` through
    Together's Batch API (one job, up to 50 % cheaper on some models, answers within 24 h):
    ``"off"`` (default) never; ``"on"`` always (a model the catalog says the Batch API does
    not serve is refused before any upload); ``"auto"`` when at least
    ``batch_api_min_inputs`` inputs miss the cache and the catalog says the model is served
    (else online). Not part of the cache key: online and batch answers share the cache."""
    batch_api_min_inputs: int = Field(default=DEFAULT_BATCH_MIN_INPUTS, ge=1, exclude=True)
    """The fewest inputs (cache misses) ``batch_api="auto"`` sends as a batch."""
    batch_store: Any = Field(default=None, exclude=True, repr=False)
    """Where batch runs remember themselves: a ``BatchStore`` (``DirectoryStore``,
    ``MemoryStore``) or a directory path. Default: ``DirectoryStore()`` under
    ``$TOGETHER_BATCH_DIR`` or ``~/.cache/together-integrations/batches``. A run holds ids
    and states, never prompts, answers or the key."""
    batch_timeout: float | None = Field(default=None, gt=0, exclude=True)
    """Seconds to wait for a batch before ``TogetherBatchTimeoutError`` (the job goes on;
    calling the same ``batch()`` again resumes it). None: as long as it runs (up to 24 h)."""
    batch_online_fallback: int = Field(default=DEFAULT_ONLINE_FALLBACK, ge=0, exclude=True)
    """When at most this many items are left to retry after the batch jobs (timeouts, 5xx,
    items an expired job never reached), send them online once instead of in a follow-up
    job, which could take hours more; their messages carry ``batch_id=None``. 0: always a
    follow-up job."""
    batch_clock: Any = Field(default=None, exclude=True, repr=False)
    """The batch poller's clock (``now``/``sleep``/``asleep``); tests pass a
    ``VirtualClock``. None: real time."""

    @field_validator("batch_store", mode="before")
    @classmethod
    def _check_batch_store(cls, value: Any) -> Any:
        if value is None:
            return None
        from together_integrations.langchain.batch import resolve_store

        try:
            return resolve_store(value)
        except TypeError as exc:  # pydantic reports ValueErrors as validation errors
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _check_batch_api(self) -> ChatTogether:
        if self.batch_api == "on" and self.streaming:
            raise ValueError(
                'batch_api="on" cannot stream: a batch answers whole responses. Use '
                'streaming=False, or batch_api="auto" (which goes online when streaming).'
            )
        return self

    # ------------------------------------------------------------ LangChain hooks

    @property
    def _llm_type(self) -> str:
        return "together-chat"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["together_integrations", "langchain", "chat_models"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "TOGETHER_API_KEY"}

    @property
    def _default_params(self) -> dict[str, Any]:
        """The request fields this instance sends on every call (besides messages)."""
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "min_p": self.min_p,
            "repetition_penalty": self.repetition_penalty,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "logit_bias": self.logit_bias,
            "stop": self.stop or None,
            "seed": self.seed,
            "n": self.n,
            "logprobs": _wire_logprobs(self.logprobs, self.top_logprobs),
            "response_format": self.response_format,
            "reasoning_effort": self.reasoning_effort,
            "reasoning": self.reasoning,
            "safety_model": self.safety_model,
            "chat_template_kwargs": self.chat_template_kwargs,
        }
        return self._drop_disabled({k: v for k, v in params.items() if v is not None})

    def _drop_disabled(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` without what ``disabled_params`` rules out."""
        if not self.disabled_params:
            return params
        out = {}
        for key, value in params.items():
            if key in self.disabled_params:
                banned = self.disabled_params[key]
                if banned is None or value in banned:
                    continue
            out[key] = value
        return out

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model, **self._default_params, **self.model_kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", kwargs.get("max_completion_tokens", self.max_tokens))
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stops = stop_list(stop or kwargs.get("stop") or self.stop)
        if stops:
            params["ls_stop"] = stops
        return params

    @classmethod
    def from_fine_tune(
        cls, job: Any, *, base_model: str | None = None, **kwargs: Any
    ) -> ChatTogether:
        """The chat model for a fine-tune's output, with its base model's catalog
        capabilities (profile, tool calling, structured output).

        Args:
            job: A completed ``FineTuneJob``, a job id (``ft-...``, looked up with these
                settings' transport), or an output model / dedicated endpoint name.
            base_model: The base model, when ``job`` is a model name.
            kwargs: Any other ``ChatTogether`` argument (``temperature``, ``transport``...).

        Raises:
            JobFailedError: the job ended ``error`` or ``cancelled``, with the server's reason.
            TogetherConfigError: the job has not completed yet.
        """
        from together_integrations.fine_tuning import fine_tuned_model

        if "model" in kwargs or "model_name" in kwargs:
            raise ValueError("from_fine_tune takes the model from the job; do not pass model=.")
        model = fine_tuned_model(job, lambda: cls(**kwargs)._get_transport(), base_model=base_model)
        return cls(model=model, **kwargs)

    def _resolve_model_profile(self) -> ModelProfile | None:
        """Capabilities from the bundled catalog (``DEFAULT_CATALOG.refresh`` updates it);
        unknown models get a profile guessed from their name."""
        caps = get_model_capabilities(self.model)
        profile = ModelProfile(
            max_input_tokens=caps.context_window,
            text_inputs=True,
            text_outputs=True,
            image_inputs=caps.image_input,
            image_url_inputs=caps.image_input,
            pdf_inputs=False,
            tool_calling=caps.tool_calling,
            tool_choice=caps.tool_calling,
            tool_call_streaming=caps.tool_calling,
            structured_output=caps.structured_output,
            reasoning_output=caps.reasoning,
        )
        if caps.max_output_tokens is not None:
            profile["max_output_tokens"] = caps.max_output_tokens
        return profile

    # ---------------------------------------------------------------- requests

    def _request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool = False,
    ) -> _Prepared:
        """The wire request and what to send it with.

        Body precedence: instance params < model_kwargs/extra_body < per-call kwargs < a
        call's extra_body. A call's ``timeout``, ``extra_headers``, ``extra_query`` and
        ``max_retries`` shape the HTTP request instead of the body.
        """
        call = dict(kwargs)
        call.pop("stream", None)  # the transport decides streaming
        transport, options = self._call_settings(call)
        call_extra = call.pop("extra_body", None) or {}
        _merge_alias(call, "max_completion_tokens", "max_tokens")
        parse_as: type[BaseModel] | None = None
        if isinstance(call.get("response_format"), type):
            # ChatOpenAI takes a schema class here: sent as a json_schema format, and the
            # reply parsed into additional_kwargs["parsed"] for pydantic classes.
            schema = call["response_format"]
            call["response_format"] = _json_schema_format(schema, call.pop("strict", None))
            if is_basemodel_subclass(schema):
                parse_as = schema
        stop = stop_list(stop if stop is not None else call.pop("stop", None))
        body: dict[str, Any] = {
            **self._default_params,
            **self.model_kwargs,
            **(self.extra_body or {}),
        }
        if "logprobs" in call or "top_logprobs" in call:
            body["logprobs"] = _wire_logprobs(
                call.pop("logprobs", self.logprobs), call.pop("top_logprobs", self.top_logprobs)
            )
        body.update({k: v for k, v in call.items() if v is not None})
        body.update(call_extra)
        if stop:
            body["stop"] = stop
        body = {k: v for k, v in body.items() if v is not None}
        body.setdefault("model", self.model)
        if stream and self.stream_usage and "stream_options" not in body:
            body["stream_options"] = {"include_usage": True}
        body["messages"] = [convert_message_to_wire(m) for m in messages]
        request = validate_request(ChatCompletionRequest, body, type(self).__name__)
        return _Prepared(request, transport, options, parse_as)

    @staticmethod
    def _think_tags(model: str) -> bool:
        return get_model_capabilities(model).reasoning_in_content

    # -------------------------------------------------------------- generation

    def _chat_result(self, wire: ChatCompletion, prepared: _Prepared) -> ChatResult:
        request = prepared.request
        fingerprint = (wire.model_extra or {}).get("system_fingerprint")
        generations = []
        results = parse_chat_completion(wire, think_tags=self._think_tags(request.model))
        # Choices in index order (the server may send them in any), so invoke() returns
        # choice 0; the response's usage covers all n choices, so only the first carries it
        # and summing usage over messages counts it once.
        for position, result in enumerate(sorted(results, key=lambda r: r.index)):
            if position:
                result = dataclasses.replace(result, usage=None)
            message = message_from_result(result, system_fingerprint=fingerprint)
            if self.include_response_headers:
                message.response_metadata["headers"] = dict(response_headers(wire))
            if prepared.parse_as is not None:
                _parsed(message, prepared.parse_as)
            generations.append(
                ChatGeneration(
                    message=message,
                    generation_info={"finish_reason": result.finish_reason},
                )
            )
        usage = wire.usage.model_dump(exclude_none=True) if wire.usage else {}
        llm_output: dict[str, Any] = {
            "token_usage": usage,
            "model_name": wire.model,
            "model_provider": PROVIDER,
            "id": wire.id,
        }
        if fingerprint:
            llm_output["system_fingerprint"] = fingerprint
        return ChatResult(generations=generations, llm_output=llm_output)

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None]) -> dict[str, Any]:
        """``generate``/``batch`` over several prompts: token counts summed, as ChatOpenAI
        does (LangChain's default drops them)."""
        usage: dict[str, int] = {}
        combined: dict[str, Any] = {}
        for output in llm_outputs:
            if not output:
                continue
            for key, value in (output.get("token_usage") or {}).items():
                if isinstance(value, int):
                    usage[key] = usage.get(key, 0) + value
            for key in ("model_name", "model_provider", "system_fingerprint"):
                if key in output:
                    combined.setdefault(key, output[key])
        return {"token_usage": usage, **combined}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        stage = _BATCH_STAGE.get()
        if stage is not None:
            result: ChatResult = stage.respond(self, messages, stop, kwargs)
            return result
        if self.streaming:
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        prepared = self._request(messages, stop, kwargs)
        try:
            wire = prepared.transport.chat.create(prepared.request, prepared.options)
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self._chat_result(wire, prepared)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        stage = _BATCH_STAGE.get()
        if stage is not None:
            result: ChatResult = stage.respond(self, messages, stop, kwargs)
            return result
        if self.streaming:
            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        prepared = self._request(messages, stop, kwargs)
        try:
            wire = await prepared.transport.chat.acreate(prepared.request, prepared.options)
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self._chat_result(wire, prepared)

    def _stream_state(
        self, messages: list[BaseMessage], request: ChatCompletionRequest
    ) -> _StreamState:
        estimate = None
        if self.stream_usage is not False:
            estimate = self.get_num_tokens_from_messages(messages)
            if request.tools:
                estimate += _estimate_text(json.dumps([t.to_wire() for t in request.tools]))
        return _StreamState(self._think_tags(request.model), request.model, estimate)

    def _headers_of(self, stream: Any) -> dict[str, str] | None:
        if not self.include_response_headers:
            return None
        return dict(stream.response.headers)

    def _stream_request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _Prepared:
        prepared = self._request(messages, stop, kwargs, stream=True)
        if prepared.request.n is not None and prepared.request.n > 1:
            raise ValueError("n must be 1 when streaming; use invoke or batch for n > 1.")
        return prepared

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        stage = _BATCH_STAGE.get()
        if stage is not None:
            from together_integrations.langchain.batch import result_chunks

            for chunk in result_chunks(stage.respond(self, messages, stop, kwargs)):
                if run_manager:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk
            return
        prepared = self._stream_request(messages, stop, kwargs)
        request = prepared.request
        state = self._stream_state(messages, request)
        try:
            stream = prepared.transport.chat.stream(request, prepared.options)
            state.headers = self._headers_of(stream)
            with stream:
                for wire in stream:
                    for chunk in state.feed(wire):
                        if run_manager:
                            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        for chunk in state.finish():
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        stage = _BATCH_STAGE.get()
        if stage is not None:
            from together_integrations.langchain.batch import result_chunks

            for chunk in result_chunks(stage.respond(self, messages, stop, kwargs)):
                if run_manager:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk
            return
        prepared = self._stream_request(messages, stop, kwargs)
        request = prepared.request
        state = self._stream_state(messages, request)
        try:
            stream = await prepared.transport.chat.astream(request, prepared.options)
            state.headers = self._headers_of(stream)
            async with stream:
                async for wire in stream:
                    for chunk in state.feed(wire):
                        if run_manager:
                            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        for chunk in state.finish():
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    # -------------------------------------------------------------- Batch API

    def _batch_store(self) -> Any:
        from together_integrations.batch import DirectoryStore

        return self.batch_store if self.batch_store is not None else DirectoryStore()

    def _batch_call(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | Sequence[RunnableConfig] | None,
        kwargs: dict[str, Any],
    ) -> Any:
        """The Batch API call for these inputs, or None to send them online (no I/O)."""
        mode = self.batch_api
        if mode == "off" or not inputs:
            return None
        if mode == "auto" and (len(inputs) < self.batch_api_min_inputs or self.streaming):
            return None
        from together_integrations.langchain import batch

        model = kwargs.get("model") or self.model
        if mode == "on":
            batch.check_served([model])
        elif not batch.batch_served([model]):
            return None
        return batch.BatchCall.build(self, inputs, config, kwargs)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[AIMessage]:
        """Many inputs at once: online (LangChain's thread pool), or as one job on
        Together's Batch API when ``batch_api`` says so (see :mod:`.batch`).

        On the Batch API the answers are the online path's (same request bodies, same
        conversion, same cache and callbacks), in input order. ``return_exceptions=True``
        puts a ``TogetherBatchItemError`` at each failed position; otherwise one
        ``TogetherBatchResultsError`` is raised after every input has resolved, with every
        message in ``.results``. Running the same call again finds the same run (after a
        crash or a ``batch_timeout``) and creates no new job.

        Raises:
            BatchNotServedError: ``batch_api="on"`` with a model the Batch API does not
                serve (before any upload).
            TogetherBatchTimeoutError: ``batch_timeout`` ran out (the job goes on).
        """
        call = self._batch_call(inputs, config, dict(kwargs))
        if call is not None:
            call.classify()
            error = None if return_exceptions else call.first_error()
            if error is not None:
                raise error
            if call.use_batch(self.batch_api):
                call.plan()
                out: list[AIMessage] = call.collected(list(call.iterate()), return_exceptions)
                return out
        return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[AIMessage]:
        """Async :meth:`batch`."""
        call = self._batch_call(inputs, config, dict(kwargs))
        if call is not None:
            await call.aclassify()
            error = None if return_exceptions else call.first_error()
            if error is not None:
                raise error
            if call.use_batch(self.batch_api):
                call.plan()
                pairs = [pair async for pair in call.aiterate()]
                out: list[AIMessage] = call.collected(pairs, return_exceptions)
                return out
        return await super().abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    @overload
    def batch_as_completed(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: Literal[False] = False,
        **kwargs: Any,
    ) -> Iterator[tuple[int, AIMessage]]: ...

    @overload
    def batch_as_completed(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: Literal[True],
        **kwargs: Any,
    ) -> Iterator[tuple[int, AIMessage | Exception]]: ...

    def batch_as_completed(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> Iterator[tuple[int, AIMessage | Exception]]:
        """:meth:`batch`, yielding ``(index, message)`` as answers arrive: on the Batch API,
        cache hits at once, then the batch's answers. Without ``return_exceptions``, the
        successes are yielded and one ``TogetherBatchResultsError`` is raised at the end."""
        call = self._batch_call(inputs, config, dict(kwargs))
        if call is not None:
            call.classify()
            error = None if return_exceptions else call.first_error()
            if error is not None:
                raise error
            if call.use_batch(self.batch_api):
                call.plan()
                seen = []
                for pair in call.iterate():
                    seen.append(pair)
                    if return_exceptions or not isinstance(pair[1], Exception):
                        yield pair
                call.collected(seen, return_exceptions)
                return
        if return_exceptions:
            yield from super().batch_as_completed(inputs, config, return_exceptions=True, **kwargs)
        else:
            yield from super().batch_as_completed(inputs, config, return_exceptions=False, **kwargs)

    @overload
    def abatch_as_completed(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: Literal[False] = False,
        **kwargs: Any | None,
    ) -> AsyncIterator[tuple[int, AIMessage]]: ...

    @overload
    def abatch_as_completed(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: Literal[True],
        **kwargs: Any | None,
    ) -> AsyncIterator[tuple[int, AIMessage | Exception]]: ...

    async def abatch_as_completed(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> AsyncIterator[tuple[int, AIMessage | Exception]]:
        """Async :meth:`batch_as_completed`."""
        call = self._batch_call(inputs, config, dict(kwargs))
        if call is not None:
            await call.aclassify()
            error = None if return_exceptions else call.first_error()
            if error is not None:
                raise error
            if call.use_batch(self.batch_api):
                call.plan()
                seen = []
                async for pair in call.aiterate():
                    seen.append(pair)
                    if return_exceptions or not isinstance(pair[1], Exception):
                        yield pair
                call.collected(seen, return_exceptions)
                return
        if return_exceptions:
            async for pair in super().abatch_as_completed(
                inputs, config, return_exceptions=True, **kwargs
            ):
                yield pair
        else:
            async for done in super().abatch_as_completed(
                inputs, config, return_exceptions=False, **kwargs
            ):
                yield done

    def submit_batch(self, inputs: Sequence[LanguageModelInput], **kwargs: Any) -> TogetherBatchRun:
        """Create a Batch API job for ``inputs`` and return at once (whatever ``batch_api``
        says; no cache, no callbacks): the job runs on Together's side for up to 24 h.

        Args:
            inputs: What ``invoke`` takes, one per request.
            kwargs: Per-call arguments, as for ``invoke`` (``stop``, ``tools``...). For
                tools or a schema, pass a binding's: ``**llm.bind_tools(tools).kwargs``.

        Returns:
            A :class:`~together_integrations.langchain.batch.TogetherBatchRun`: ``status()``,
            ``wait()``, ``results()``, ``cancel()``, ``run_id`` (to ``load`` it elsewhere).
            Submitting the same inputs again returns the same run.

        Raises:
            BatchNotServedError: the catalog says the Batch API does not serve the model.
        """
        from together_integrations.langchain import batch

        return batch.prepare_submission(self, inputs, kwargs).submit()

    async def asubmit_batch(
        self, inputs: Sequence[LanguageModelInput], **kwargs: Any
    ) -> TogetherBatchRun:
        """Async :meth:`submit_batch`."""
        from together_integrations.langchain import batch

        return await batch.prepare_submission(self, inputs, kwargs).asubmit()

    # -------------------------------------------------------------------- tools

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: _ToolChoice = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer tools to the model.

        Args:
            tools: LangChain tools, functions, pydantic classes, TypedDicts or OpenAI-style
                tool dicts.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"`` (must call a
                tool), a tool name (must call that one), an OpenAI-style dict, or ``True``
                (must call the only tool; an error with several). ``None``/``False``: the
                model decides.
            parallel_tool_calls: Allow several calls in one turn (``False``: at most one).
            strict: Ask for schema-exact arguments (sent as ``function.strict``).
            **kwargs: Other request fields to bind.
        """
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        chosen: dict[str, Any] = {}
        if tool_choice is not None and tool_choice is not False:
            chosen["tool_choice"] = _wire_tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            chosen["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **self._drop_disabled(chosen), **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["json_schema", "function_calling", "json_mode"] | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning output that matches ``schema``.

        Args:
            schema: A pydantic class (returns instances), a TypedDict or a JSON schema dict
                (returns dicts). Optional for ``json_mode``.
            method: ``"json_schema"`` (``response_format`` with the schema),
                ``"function_calling"`` (a forced tool call) or ``"json_mode"`` (any JSON
                object; describe the schema in the prompt). Defaults to ``json_schema``
                where the catalog says the model supports it, else ``function_calling``
                where it calls tools, else ``json_mode``.
            include_raw: Return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``
                instead of raising on a parsing error.
            strict: Ask the server to enforce the schema exactly.
        """
        if kwargs:
            raise ValueError(f"Unexpected arguments: {sorted(kwargs)}")
        if method is None:
            method = _default_structured_method(self.model)
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        llm: Runnable[Any, Any]
        parser: Runnable[Any, Any]
        if method == "json_mode":
            llm = self.bind(
                response_format={"type": "json_object"},
                ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
        elif schema is None:
            raise ValueError(f"with_structured_output(method={method!r}) needs a schema.")
        elif method == "json_schema":
            response_format = _json_schema_format(schema, strict)
            llm = self.bind(
                response_format=response_format,
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": schema,
                },
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
        elif method == "function_calling":
            name = _tool_name(convert_to_openai_tool(schema))
            llm = self.bind_tools(
                [schema],
                tool_choice=name,
                strict=strict,
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": schema,
                },
            )
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
            )
        else:
            raise ValueError(
                f"Unknown method {method!r}: use json_schema, function_calling or json_mode."
            )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        # ``llm | {"raw": ...}`` rather than ``RunnableMap(raw=llm)``: a map's batch() calls
        # invoke per input, so the model would never see the batch (nor the Batch API).
        return (
            llm
            | RunnableLambda(_as_raw, name="raw")
            | parsed.with_fallbacks([fallback], exception_key="parsing_error")
        )

    # ----------------------------------------------------------------- tokens

    def get_num_tokens(self, text: str) -> int:
        """Estimate tokens offline: about 4 characters per token (no tokenizer download;
        real counts arrive in ``usage_metadata``)."""
        return _estimate_text(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimate prompt tokens offline: ~4 characters per token for text, a flat
        ``TOKENS_PER_IMAGE`` per image, ``TOKENS_PER_MESSAGE`` per message for the chat
        template, ``TOKENS_PER_REPLY`` for the reply, plus the tools' JSON schemas."""
        total = TOKENS_PER_REPLY
        for message in messages:
            total += TOKENS_PER_MESSAGE + _estimate_content(message.content)
            if isinstance(message, AIMessage):
                for call in message.tool_calls:
                    total += _estimate_text(call["name"] + json.dumps(call["args"]))
        if tools:
            schemas = [convert_to_openai_tool(t) for t in tools]
            total += _estimate_text(json.dumps(schemas))
        return total


def _as_raw(message: Any) -> dict[str, Any]:
    return {"raw": message}


def _default_structured_method(
    model: str,
) -> Literal["json_schema", "function_calling", "json_mode"]:
    """json_schema where the catalog says the model takes it, else a forced tool call where
    it calls tools, else json_mode: a model with neither must not be sent a forced tool
    call it cannot make."""
    caps = get_model_capabilities(model)
    if caps.structured_output:
        return "json_schema"
    if caps.tool_calling:
        return "function_calling"
    return "json_mode"


def _wire_tool_choice(choice: dict[str, Any] | str | bool, tools: list[dict[str, Any]]) -> Any:
    names = [_tool_name(t) for t in tools]
    if choice is True:
        if len(names) != 1:
            raise ValueError(
                f"tool_choice=True needs exactly one tool, got {len(names)}; pass the tool's "
                "name or 'any' instead."
            )
        choice = names[0]
    if isinstance(choice, dict):
        return choice
    if choice == "any":
        return "required"
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, str):
        if choice not in names:
            raise ValueError(f"tool_choice {choice!r} is not one of the bound tools {names}.")
        return {"type": "function", "function": {"name": choice}}
    raise TypeError(
        f"tool_choice must be 'auto', 'none', 'any', 'required', a tool name, a dict or a "
        f"bool; got {choice!r}."
    )


def _json_schema_format(schema: dict[str, Any] | type, strict: bool | None) -> dict[str, Any]:
    """``response_format`` for ``method="json_schema"``; ``strict=True`` also makes the schema
    strict (see :func:`strict_schema`), as the server's strict mode needs."""
    if isinstance(schema, dict) and schema.get("type") == "json_schema":
        if not strict:
            return schema  # already a response_format
        spec: dict[str, Any] = dict(schema.get("json_schema") or {})
    elif isinstance(schema, dict) and "schema" in schema and "name" in schema:
        spec = dict(schema)  # {"name", "schema", "strict"?}
    elif isinstance(schema, dict) and "title" not in schema and "properties" in schema:
        spec = {"name": "response", "schema": schema}  # an untitled JSON schema
    else:
        function = convert_to_openai_tool(schema)["function"]
        spec = {"name": function["name"], "schema": function.get("parameters") or {}}
        if function.get("description"):
            spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    if strict:
        spec["schema"] = strict_schema(spec.get("schema") or {})
    return {"type": "json_schema", "json_schema": spec}


_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("$defs", "definitions", "properties", "patternProperties")


def strict_schema(schema: Any) -> Any:
    """A copy of a JSON schema in the strict form: every object closed
    (``additionalProperties: false``) with all its properties required, at every depth
    (properties, items, ``anyOf``/``oneOf``/``allOf``, ``$defs``). Optional fields stay
    nullable where the schema says so (pydantic writes ``anyOf: [..., {"type": "null"}]``)."""
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: strict_schema(sub) for name, sub in out[key].items()}
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [strict_schema(sub) for sub in out[key]]
    for key in ("items", "additionalProperties", "not"):
        if isinstance(out.get(key), dict):
            out[key] = strict_schema(out[key])
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties") or {})
    return out


class _Prepared(NamedTuple):
    request: ChatCompletionRequest
    transport: TogetherTransport
    options: RequestOptions | None
    parse_as: type[BaseModel] | None = None


def _merge_alias(call: dict[str, Any], alias: str, name: str) -> None:
    """Move a per-call ``alias`` (e.g. ChatOpenAI's ``max_completion_tokens``) to ``name``."""
    if alias not in call:
        return
    value = call.pop(alias)
    if call.get(name) is not None and value is not None and call[name] != value:
        raise ValueError(f"{alias}={value!r} and {name}={call[name]!r} disagree; pass one.")
    if value is not None:
        call[name] = value


def _parsed(message: AIMessage, schema: type[BaseModel]) -> None:
    """``additional_kwargs["parsed"]`` for a reply to ``response_format=<pydantic class>``."""
    if message.tool_calls or not isinstance(message.content, str):
        return
    try:
        message.additional_kwargs["parsed"] = schema.model_validate_json(message.content)
    except ValueError as exc:
        raise OutputParserException(
            f"The reply does not match {schema.__name__}: {exc}", llm_output=message.content
        ) from exc


class _StreamState:
    """Per-stream bookkeeping around :class:`ChatStreamAccumulator`.

    LangChain merges chunk metadata by concatenating strings, so values that must appear
    once (``finish_reason``, which some engines repeat once per tool call, the model name,
    the id) are reported once. When the server sent no usage (vLLM-style engines, Llama-3.1
    tool streams) and ``input_estimate`` is given, the last chunk carries an offline
    estimate, flagged ``response_metadata["usage_estimated"]``.
    """

    __slots__ = (
        "acc",
        "fingerprint",
        "finished",
        "headers",
        "input_estimate",
        "model",
        "output_chars",
        "saw_usage",
    )

    def __init__(self, think_tags: bool, model: str, input_estimate: int | None = None) -> None:
        self.acc = ChatStreamAccumulator(think_tags=think_tags)
        self.finished: set[int] = set()
        self.fingerprint: str | None = None
        self.model = model
        self.input_estimate = input_estimate
        self.saw_usage = False
        self.output_chars = 0
        self.headers: dict[str, str] | None = None

    def feed(self, wire: ChatCompletionChunk) -> Iterator[ChatGenerationChunk]:
        if self.fingerprint is None and wire.model_extra:
            self.fingerprint = wire.model_extra.get("system_fingerprint")
        yield from self._chunks(self.acc.feed(wire))

    def _chunks(self, views: list[ChatDeltaView]) -> Iterator[ChatGenerationChunk]:
        for view in views:
            if view.finish_reason is not None:
                if view.index in self.finished:
                    view.finish_reason = None
                else:
                    self.finished.add(view.index)
            self.output_chars += len(view.content or "") + len(view.reasoning or "")
            self.output_chars += sum(
                len(d.arguments or "") + len(d.name or "") for d in view.tool_calls
            )
            message = chunk_from_view(view)
            if message.usage_metadata is not None:
                self.saw_usage = True
            info = {"finish_reason": view.finish_reason} if view.finish_reason else None
            yield ChatGenerationChunk(message=message, generation_info=info)

    def finish(self) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(self.acc.flush())
        metadata: dict[str, Any] = {
            "model_name": self.acc.model or self.model,
            "model_provider": PROVIDER,
        }
        if self.acc.id:
            metadata["id"] = self.acc.id
        if self.fingerprint:
            metadata["system_fingerprint"] = self.fingerprint
        if self.headers is not None:
            metadata["headers"] = self.headers
        usage: UsageMetadata | None = None
        if not self.saw_usage and self.input_estimate is not None:
            output = -(-self.output_chars // CHARS_PER_TOKEN)
            usage = UsageMetadata(
                input_tokens=self.input_estimate,
                output_tokens=output,
                total_tokens=self.input_estimate + output,
            )
            metadata["usage_estimated"] = True
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                chunk_position="last",
                response_metadata=metadata,
                usage_metadata=usage,
                id=self.acc.id or None,
            )
        )
