"""LlamaIndex LLM for Together: ``TogetherLLM``, a function-calling chat model.

Converts between LlamaIndex types and the wire models (``_convert``); streams and whole
responses share ``together_integrations._chat``. Retries happen once, in the shared transport.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from llama_index.core.base.llms.generic_utils import (
    messages_to_prompt as generic_messages_to_prompt,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode
from llama_index_instrumentation import get_dispatcher
from pydantic import BaseModel, Field, SecretStr, ValidationError

from together_integrations._catalog import ModelCapabilities, get_model_capabilities
from together_integrations._constants import DEFAULT_ONLINE_FALLBACK
from together_integrations._jobs import Clock
from together_integrations.batch import (
    BatchItemError,
    BatchLimits,
    BatchResultsError,
    BatchRunStatus,
    BatchStore,
)
from together_integrations.llama_index._common import (
    ClientSettingsMixin,
    log_guessed_capabilities,
    logger,
)
from together_integrations.llama_index._convert import (
    ChatStreamConverter,
    CompletionStreamConverter,
    chat_response_from_wire,
    completion_response_from_wire,
    completion_to_chat_response,
    to_completion_response,
    to_wire_messages,
    tool_selections,
)
from together_integrations.llama_index.batch import TogetherLLMBatchRun
from together_integrations.schemas import ChatCompletionRequest, CompletionRequest

if TYPE_CHECKING:
    from llama_index.core.program.utils import FlexibleModel
    from llama_index.core.tools.types import BaseTool

__all__ = ["TogetherLLM"]

DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
_TOOL_CHOICE_WORDS = frozenset({"auto", "none", "required"})
_TOOL_ONLY_KWARGS = ("tool_choice", "tool_required", "allow_parallel_tool_calls")

dispatcher = get_dispatcher(__name__)


def _resolve_tool_choice(
    tool_choice: str | dict[str, Any] | None, tool_required: bool
) -> str | dict[str, Any]:
    if tool_choice is None:
        return "required" if tool_required else "auto"
    if isinstance(tool_choice, str) and tool_choice not in _TOOL_CHOICE_WORDS:
        # A tool's name (FunctionAgent's initial_tool_choice): force that tool.
        return {"type": "function", "function": {"name": tool_choice}}
    return tool_choice


def _schema_name(output_cls: type[BaseModel]) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", output_cls.__name__)[:64] or "response"


def _parse_structured(output_cls: type[Model], response: ChatResponse) -> Model:
    content = response.message.content or ""
    try:
        return output_cls.model_validate_json(content)
    except ValidationError as exc:
        raise ValueError(
            f"The model's reply is not a valid {output_cls.__name__}: {exc}. "
            f"Reply: {content[:500]!r}"
        ) from exc


class TogetherLLM(ClientSettingsMixin, FunctionCallingLLM):
    """Together models for LlamaIndex, with function calling and structured output.

    Setup:
        ``pip install "together-integrations[llama-index]"`` and set ``TOGETHER_API_KEY``.

    Example:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent
            from together_integrations.llama_index import TogetherLLM

            llm = TogetherLLM(model="meta-llama/Llama-3.3-70B-Instruct-Turbo")
            print(llm.complete("Paris is the capital of"))
            print(llm.metadata.context_window)  # 131072, from the bundled catalog

            for chunk in llm.stream_complete("Tell me a joke"):
                print(chunk.delta, end="")

            def add(a: int, b: int) -> int:
                "Add two integers."
                return a + b

            agent = FunctionAgent(tools=[add], llm=llm)  # streaming tool calls
            # structured output: json_schema where the model supports it, else forced tools
            # city = llm.structured_predict(City, PromptTemplate("Capital of {c}?"), c="France")

    ``metadata`` comes from the model catalog (context window, chat or language model,
    function calling), overridable with ``context_window``, ``num_output``, ``is_chat_model``
    and ``is_function_calling_model``. Language (base) models are served on ``/completions``;
    everything else on ``/chat/completions``. Responses carry the body in ``raw`` (a dict that
    also reads as attributes: ``resp.raw.usage.total_tokens``) and the
    token counts in ``additional_kwargs`` (streams too), so ``TokenCountingHandler`` counts
    what Together billed. Reasoning arrives as a ``ThinkingBlock`` (``thinking_delta`` in
    streams). ``ImageBlock`` s (URL, bytes or path) are sent as ``image_url`` parts.

    Streams are lazy: ``stream_chat()``/``stream_complete()`` (and their async twins) check
    the request at once but send it at the first ``next()``, so an unread stream holds no
    connection; an error from the server is raised from the first chunk.

    Constructing one does no I/O; retries (``max_retries``) happen once, in the shared
    transport. The key comes from ``api_key`` or ``TOGETHER_API_KEY`` and is never serialised.
    """

    model: str = Field(default=DEFAULT_MODEL, description="Together model id.")
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        description="Sampling temperature. Unset, none is sent and the model's own default "
        "applies (llama-index-llms-together always sends 0.1: pass temperature=0.1 to keep "
        "its behaviour).",
    )
    max_tokens: int | None = Field(default=None, gt=0, description="Maximum tokens to generate.")
    logprobs: bool | None = Field(
        default=None, description="Return the log probability of each generated token."
    )
    top_logprobs: int = Field(
        default=0, ge=0, le=20, description="Alternatives per token when logprobs is set."
    )
    reasoning_effort: Literal["low", "medium", "high"] | None = Field(
        default=None, description="Reasoning effort, for reasoning models that accept it."
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request fields, sent as given."
    )
    context_window: int | None = Field(
        default=None, gt=0, description="Override the catalog's context window."
    )
    num_output: int | None = Field(
        default=None, gt=0, description="Override the tokens reserved for the output."
    )
    is_chat_model: bool | None = Field(
        default=None,
        description="Override the catalog: True for /chat/completions, False for /completions.",
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override the catalog's tool-calling support."
    )
    strict: bool = Field(default=False, description="Send strict tool and json_schema definitions.")
    batch_online_fallback: int = Field(
        default=DEFAULT_ONLINE_FALLBACK,
        ge=0,
        description="Batch API runs: when at most this many items are left to retry after "
        "the jobs, send them online once instead of in a follow-up job (their responses "
        "carry batch_id=None); 0 always uses a follow-up job.",
    )
    should_use_structured_outputs: bool | None = Field(
        default=None,
        description="Structured output through a json_schema response format: True always, "
        "False never (forced tool calls or text parsing instead); unset, where the catalog "
        "says the model supports it.",
    )
    tokenizer: Any = Field(
        default=None,
        exclude=True,
        description="On language models (/completions) without max_tokens: an object with "
        "encode(text) (or a Hugging Face tokenizer name, which needs transformers) used to "
        "ask for the rest of the context window, as llama-index-llms-openai-like does.",
    )

    def __init__(
        self,
        model: str | None = None,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        is_chat_model: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # Upstream's positional order: (model, api_key, api_base, is_chat_model).
        for name, value in (("model", model), ("api_base", api_base)):
            if value is not None:
                kwargs[name] = value
        if is_chat_model is not None:
            kwargs["is_chat_model"] = is_chat_model
        if "max_new_tokens" in kwargs:
            max_new = kwargs.pop("max_new_tokens")
            if kwargs.get("max_tokens") not in (None, max_new):
                raise ValueError(
                    "max_new_tokens is the old name of max_tokens; pass only one of them."
                )
            kwargs["max_tokens"] = max_new
        if kwargs.pop("reuse_client", True) is False:
            warnings.warn(
                "reuse_client=False has no effect: TogetherLLM always sends through one "
                "connection pool per event loop, shared and released with the loop, which is "
                "what reuse_client=False works around in the OpenAI client.",
                UserWarning,
                stacklevel=2,
            )
        if isinstance(kwargs.get("tokenizer"), str):
            try:
                importlib.import_module("transformers")
            except ImportError as exc:
                raise ImportError(
                    "A tokenizer given by name is loaded with transformers: pip install "
                    "transformers, or pass an object with an encode(text) method."
                ) from exc
        super().__init__(api_key=api_key, **kwargs)
        self._log_guesses()

    def _log_guesses(self) -> None:
        caps = self._caps
        if self.tokenizer is not None and self._chat_endpoint:
            logger.warning(
                "tokenizer= has no effect on %s: it only sizes max_tokens for language models "
                "served on /completions (as in llama-index-llms-openai-like). Set max_tokens.",
                self.model,
            )
        if None in (self.context_window, self.is_chat_model, self.is_function_calling_model):
            log_guessed_capabilities(
                caps,
                f"{'a chat' if caps.is_chat else 'a language'} model with a "
                f"{caps.context_window:,}-token context window and function calling "
                f"{'on' if caps.tool_calling else 'off'}",
                "context_window=, is_chat_model= and is_function_calling_model=",
            )

    @classmethod
    def from_fine_tune(
        cls, job: Any, *, base_model: str | None = None, **kwargs: Any
    ) -> TogetherLLM:
        """The LLM for a fine-tune's output, with its base model's catalog capabilities
        (context window, function calling, structured output).

        Args:
            job: A completed ``FineTuneJob``, a job id (``ft-...``, looked up with these
                settings' transport), or an output model / dedicated endpoint name.
            base_model: The base model, when ``job`` is a model name.
            kwargs: Any other ``TogetherLLM`` argument (``temperature``, ``transport``...).

        Raises:
            JobFailedError: the job ended ``error`` or ``cancelled``, with the server's reason.
            TogetherConfigError: the job has not completed yet.
        """
        from together_integrations.fine_tuning import fine_tuned_model

        if "model" in kwargs:
            raise ValueError("from_fine_tune takes the model from the job; do not pass model=.")
        model = fine_tuned_model(job, lambda: cls(**kwargs)._get_transport(), base_model=base_model)
        return cls(model=model, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "TogetherLLM"

    # ------------------------------------------------------------ metadata

    @property
    def _caps(self) -> ModelCapabilities:
        return get_model_capabilities(self.model)

    @property
    def _chat_endpoint(self) -> bool:
        if self.is_chat_model is not None:
            return self.is_chat_model
        return self._caps.type != "language"

    @property
    def metadata(self) -> LLMMetadata:
        caps = self._caps
        chat = self._chat_endpoint
        return LLMMetadata(
            context_window=self.context_window or caps.context_window,
            num_output=self.num_output
            or self.max_tokens
            or caps.max_output_tokens
            or DEFAULT_NUM_OUTPUTS,
            is_chat_model=chat,
            is_function_calling_model=(
                chat and caps.tool_calling
                if self.is_function_calling_model is None
                else self.is_function_calling_model
            ),
            model_name=self.model,
        )

    # ------------------------------------------------------------- requests

    def _body(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Instance settings, then ``additional_kwargs``, then per-call kwargs (None = unset)."""
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "reasoning_effort": self.reasoning_effort,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs or None,
            **self.additional_kwargs,
            **kwargs,
        }
        # Together takes ``logprobs`` as a count (0-20), not OpenAI's bool + top_logprobs.
        top = body.pop("top_logprobs", None)
        if body.get("logprobs") is True:
            body["logprobs"] = max(int(top or 0), 1)
        elif body.get("logprobs") is False:
            body["logprobs"] = None
        return {k: v for k, v in body.items() if v is not None}

    def _chat_request(
        self, messages: Sequence[ChatMessage], stream: bool, kwargs: dict[str, Any]
    ) -> ChatCompletionRequest:
        body = self._body(kwargs)
        if "tool_choice" in body and not body.get("tools"):
            raise ValueError(
                "tool_choice without tools: Together rejects it. Pass tools as well "
                "(chat_with_tools does), or drop tool_choice."
            )
        body["messages"] = to_wire_messages(messages)
        body["stream"] = stream
        return ChatCompletionRequest.model_validate(body)

    def _completion_request(
        self, prompt: str, formatted: bool, stream: bool, kwargs: dict[str, Any]
    ) -> CompletionRequest:
        body = self._body(kwargs)
        if body.get("tools") or "tool_choice" in body or "response_format" in body:
            raise ValueError(
                f"{self.model} is a language model served on /completions, which takes no "
                "tools, tool_choice or response_format; use a chat model."
            )
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        if "max_tokens" not in body and self.tokenizer is not None:
            body["max_tokens"] = self._remaining_tokens(prompt)
        body["prompt"] = prompt
        body["stream"] = stream
        return CompletionRequest.model_validate(body)

    def _remaining_tokens(self, prompt: str) -> int:
        tokenizer = self.tokenizer
        if isinstance(tokenizer, str):
            auto = importlib.import_module("transformers").AutoTokenizer
            tokenizer = auto.from_pretrained(tokenizer)
        used = len(tokenizer.encode(prompt))
        window = self.metadata.context_window
        if used >= window:
            raise ValueError(
                f"The prompt is {used:,} tokens long, which leaves nothing of {self.model}'s "
                f"{window:,}-token context window for the answer. Shorten the prompt."
            )
        return window - used

    def _messages_prompt(self, messages: Sequence[ChatMessage]) -> str:
        to_prompt = self.messages_to_prompt or generic_messages_to_prompt
        return to_prompt(messages)

    @property
    def _think_tags(self) -> bool:
        return self._caps.reasoning_in_content

    # ----------------------------------------------------------------- routes
    # The chat-or-completions choice is made here, once per call: every public method asks
    # for the route and calls the same operation on it. A route serves its own endpoint's
    # operations natively and converts the other four, without the callback decorators, so
    # each user call is one callback event, one rate-limiter slot and one token count.

    def _route(self) -> _ChatRoute | _CompletionsRoute:
        return _ChatRoute(self) if self._chat_endpoint else _CompletionsRoute(self)

    # --------------------------------------------------------- public API

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._route().chat(messages, kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._route().achat(messages, kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._route().stream_chat(messages, kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return self._route().astream_chat(messages, kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._route().complete(prompt, formatted, kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await self._route().acomplete(prompt, formatted, kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return self._route().stream_complete(prompt, formatted, kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return self._route().astream_complete(prompt, formatted, kwargs)

    # --------------------------------------------------- structured output
    # Where the catalog says the model takes a json_schema response format, one plain chat
    # request carries it. Otherwise the base class picks its program: forced tool calls
    # (tools + tool_choice "required") for function-calling models, text parsing for the
    # rest. Tool-only kwargs are dropped on the paths that send no tools, so tool_choice
    # never reaches Together without tools.

    def _json_schema_format(self, output_cls: type[BaseModel]) -> dict[str, Any] | None:
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return None
        use = self.should_use_structured_outputs
        if use is None:
            use = self._caps.structured_output
        if not self._chat_endpoint or not use:
            return None
        schema: dict[str, Any] = {
            "name": _schema_name(output_cls),
            "schema": output_cls.model_json_schema(),
        }
        if self.strict:
            schema["strict"] = True
        return {"type": "json_schema", "json_schema": schema}

    def _uses_tools_for(self) -> bool:
        mode = self.pydantic_program_mode
        return mode == PydanticProgramMode.FUNCTION or (
            mode == PydanticProgramMode.DEFAULT and self.metadata.is_function_calling_model
        )

    def _structured_kwargs(
        self, llm_kwargs: dict[str, Any] | None, fmt: dict[str, Any] | None
    ) -> dict[str, Any]:
        kwargs = dict(llm_kwargs or {})
        if fmt is not None or not self._uses_tools_for():
            for key in _TOOL_ONLY_KWARGS:
                kwargs.pop(key, None)
        if fmt is not None:
            kwargs["response_format"] = fmt
        return kwargs

    def _structured_messages(
        self, prompt: PromptTemplate, prompt_args: dict[str, Any]
    ) -> list[ChatMessage]:
        return self._extend_messages(prompt.format_messages(llm=self, **prompt_args))

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an ``output_cls`` instance: one json_schema request where the model
        supports it, else forced tool calls (or text parsing for models without tools)."""
        fmt = self._json_schema_format(output_cls)
        kwargs = self._structured_kwargs(llm_kwargs, fmt)
        if fmt is None:
            base: Model = super().structured_predict(output_cls, prompt, kwargs, **prompt_args)
            return base
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        response = self.chat(self._structured_messages(prompt, prompt_args), **kwargs)
        result = _parse_structured(output_cls, response)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async :meth:`structured_predict`."""
        fmt = self._json_schema_format(output_cls)
        kwargs = self._structured_kwargs(llm_kwargs, fmt)
        if fmt is None:
            base: Model = await super().astructured_predict(
                output_cls, prompt, kwargs, **prompt_args
            )
            return base
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        response = await self.achat(self._structured_messages(prompt, prompt_args), **kwargs)
        result = _parse_structured(output_cls, response)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None, None]:
        # Used by stream_structured_predict (and as_structured_llm().stream_chat).
        fmt = self._json_schema_format(output_cls)
        kwargs = self._structured_kwargs(llm_kwargs, fmt)
        if fmt is None:
            return super()._structured_stream_call(output_cls, prompt, kwargs, **prompt_args)
        responses = self.stream_chat(self._structured_messages(prompt, prompt_args), **kwargs)

        def gen() -> Generator[Model | FlexibleModel, None, None]:
            current: Model | FlexibleModel | None = None
            for response in responses:
                current = process_streaming_content_incremental(response, output_cls, current)
                yield current

        return gen()

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None]:
        fmt = self._json_schema_format(output_cls)
        kwargs = self._structured_kwargs(llm_kwargs, fmt)
        if fmt is None:
            return await super()._structured_astream_call(output_cls, prompt, kwargs, **prompt_args)
        responses = await self.astream_chat(
            self._structured_messages(prompt, prompt_args), **kwargs
        )

        async def gen() -> AsyncGenerator[Model | FlexibleModel, None]:
            current: Model | FlexibleModel | None = None
            async for response in responses:
                current = process_streaming_content_incremental(response, output_cls, current)
                yield current

        return gen()

    # ------------------------------------------------------------ Batch API
    # Bodies come from the online chat builder and results go through its converter
    # (llama_index/batch.py), so a batched ChatResponse is the online one plus its batch id.

    def submit_batch(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        store: BatchStore | None = None,
        retry: bool = True,
        clock: Clock | None = None,
        poll_interval: float | None = None,
        limits: BatchLimits | None = None,
        **kwargs: Any,
    ) -> TogetherLLMBatchRun:
        """Send ``inputs`` (each a list of ``ChatMessage``) as one Batch API run and return
        once its jobs are created, with the run to wait on, read or cancel.

        Args:
            inputs: One conversation per request, as ``chat`` takes it.
            store: Where the run's manifest lives (default: a ``DirectoryStore`` under
                ``$TOGETHER_BATCH_DIR`` or ``~/.cache/together-integrations/batches``). The
                same inputs on the same store find the same run: nothing is created twice.
            retry: Send items that failed retryably (timeouts, 5xx, expiry) once more: online
                when at most ``batch_online_fallback`` are left, else in a follow-up job.
            clock: The poller's clock (tests pass a ``VirtualClock``).
            poll_interval: Seconds before the second look at the jobs (default 30).
            limits: Lines and bytes per job (default: the documented 50,000 and 100 MB).
            kwargs: Request fields, exactly as for ``chat`` (``tools``, ``tool_choice``,
                ``response_format``, ``max_tokens``...).

        Returns:
            A :class:`~together_integrations.llama_index.batch.TogetherLLMBatchRun`.

        Raises:
            BatchNotServedError: the catalog says the Batch API does not serve the
                model (before anything is uploaded).
            BatchEndpointError: the model is a language model served on ``/completions``.

        Example:
            .. code-block:: python

                run = llm.submit_batch([[ChatMessage(role="user", content="Hi")]])
                print(run.run_id)  # TogetherLLMBatchRun.load(run_id, llm=llm) elsewhere
                run.wait(on_progress=lambda status: print(status.progress_fraction))
                print(run.results()[0].message.content)
        """
        run = TogetherLLMBatchRun.create(
            self,
            inputs,
            store=store,
            retry=retry,
            clock=clock,
            poll_interval=poll_interval,
            limits=limits,
            **kwargs,
        )
        return run.submit()

    async def asubmit_batch(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        store: BatchStore | None = None,
        retry: bool = True,
        clock: Clock | None = None,
        poll_interval: float | None = None,
        limits: BatchLimits | None = None,
        **kwargs: Any,
    ) -> TogetherLLMBatchRun:
        """Async :meth:`submit_batch`."""
        run = TogetherLLMBatchRun.create(
            self,
            inputs,
            store=store,
            retry=retry,
            clock=clock,
            poll_interval=poll_interval,
            limits=limits,
            **kwargs,
        )
        return await run.asubmit()

    @overload
    def batch_chat(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        return_exceptions: Literal[False] = ...,
        store: BatchStore | None = ...,
        timeout: float | None = ...,
        show_progress: bool = ...,
        on_progress: Callable[[BatchRunStatus], None] | None = ...,
        retry: bool = ...,
        clock: Clock | None = ...,
        poll_interval: float | None = ...,
        limits: BatchLimits | None = ...,
        **kwargs: Any,
    ) -> list[ChatResponse]: ...

    @overload
    def batch_chat(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        return_exceptions: bool,
        store: BatchStore | None = ...,
        timeout: float | None = ...,
        show_progress: bool = ...,
        on_progress: Callable[[BatchRunStatus], None] | None = ...,
        retry: bool = ...,
        clock: Clock | None = ...,
        poll_interval: float | None = ...,
        limits: BatchLimits | None = ...,
        **kwargs: Any,
    ) -> list[ChatResponse | BatchItemError]: ...

    @dispatcher.span
    def batch_chat(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        return_exceptions: bool = False,
        store: BatchStore | None = None,
        timeout: float | None = None,
        show_progress: bool = False,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        retry: bool = True,
        clock: Clock | None = None,
        poll_interval: float | None = None,
        limits: BatchLimits | None = None,
        **kwargs: Any,
    ) -> list[ChatResponse] | list[ChatResponse | BatchItemError]:
        """``chat`` over many inputs through Together's Batch API (billed at up to 50% off
        on the discounted models), in input order.

        A thousand inputs take a handful of HTTP requests (upload, create, polls, two
        downloads). Running it again with the same inputs and store resumes the same run.

        Args:
            inputs: One conversation per request, as ``chat`` takes it.
            return_exceptions: Put a ``BatchItemError`` (the server's message and code) at
                each failed position instead of raising.
            store, retry, clock, poll_interval, limits: As in :meth:`submit_batch`.
            timeout: Seconds to wait before ``JobTimeoutError`` (the run goes on; calling
                again resumes it).
            show_progress: Draw a tqdm bar over the requests (needs ``tqdm``).
            on_progress: Called after every look with the run's ``BatchRunStatus``.
            kwargs: Request fields, exactly as for ``chat``.

        Returns:
            One ``ChatResponse`` per input, equal to the online one plus
            ``additional_kwargs["batch_id"]``.

        Raises:
            BatchResultsError: some items failed and ``return_exceptions`` is false; raised
                once every item has resolved, carrying every result (``.results``) and every
                error (``.errors``).
            BatchNotServedError: the catalog says the Batch API does not serve the
                model (before anything is uploaded).

        Example:
            .. code-block:: python

                questions = ["What is 2+2?", "Capital of France?"]
                responses = llm.batch_chat(
                    [[ChatMessage(role="user", content=q)] for q in questions]
                )
                print([r.message.content for r in responses])
        """
        run = TogetherLLMBatchRun.create(
            self,
            inputs,
            store=store,
            retry=retry,
            clock=clock,
            poll_interval=poll_interval,
            limits=limits,
            **kwargs,
        )
        return run.results(  # submits first
            return_exceptions=return_exceptions,
            timeout=timeout,
            on_progress=on_progress,
            show_progress=show_progress,
        )

    @overload
    async def abatch_chat(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        return_exceptions: Literal[False] = ...,
        store: BatchStore | None = ...,
        timeout: float | None = ...,
        show_progress: bool = ...,
        on_progress: Callable[[BatchRunStatus], None] | None = ...,
        retry: bool = ...,
        clock: Clock | None = ...,
        poll_interval: float | None = ...,
        limits: BatchLimits | None = ...,
        **kwargs: Any,
    ) -> list[ChatResponse]: ...

    @overload
    async def abatch_chat(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        return_exceptions: bool,
        store: BatchStore | None = ...,
        timeout: float | None = ...,
        show_progress: bool = ...,
        on_progress: Callable[[BatchRunStatus], None] | None = ...,
        retry: bool = ...,
        clock: Clock | None = ...,
        poll_interval: float | None = ...,
        limits: BatchLimits | None = ...,
        **kwargs: Any,
    ) -> list[ChatResponse | BatchItemError]: ...

    @dispatcher.span
    async def abatch_chat(
        self,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        return_exceptions: bool = False,
        store: BatchStore | None = None,
        timeout: float | None = None,
        show_progress: bool = False,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        retry: bool = True,
        clock: Clock | None = None,
        poll_interval: float | None = None,
        limits: BatchLimits | None = None,
        **kwargs: Any,
    ) -> list[ChatResponse] | list[ChatResponse | BatchItemError]:
        """Async :meth:`batch_chat`."""
        run = TogetherLLMBatchRun.create(
            self,
            inputs,
            store=store,
            retry=retry,
            clock=clock,
            poll_interval=poll_interval,
            limits=limits,
            **kwargs,
        )
        return await run.aresults(  # submits first
            return_exceptions=return_exceptions,
            timeout=timeout,
            on_progress=on_progress,
            show_progress=show_progress,
        )

    @overload
    def batch_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        allow_parallel_tool_calls: bool = ...,
        tool_required: bool = ...,
        tool_choice: str | dict[str, Any] | None = ...,
        strict: bool | None = ...,
        return_exceptions: Literal[False] = ...,
        **kwargs: Any,
    ) -> list[ChatResponse]: ...

    @overload
    def batch_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        allow_parallel_tool_calls: bool = ...,
        tool_required: bool = ...,
        tool_choice: str | dict[str, Any] | None = ...,
        strict: bool | None = ...,
        return_exceptions: bool,
        **kwargs: Any,
    ) -> list[ChatResponse | BatchItemError]: ...

    def batch_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[ChatResponse] | list[ChatResponse | BatchItemError]:
        """``chat_with_tools`` over many inputs (each the ``chat_history``) through the
        Batch API: the same tool specs and ``tool_choice`` in every request, and the same
        check of each response (one tool call unless ``allow_parallel_tool_calls``).

        Args:
            tools: The tools offered in every request.
            inputs: One conversation per request.
            allow_parallel_tool_calls, tool_required, tool_choice, strict: As for
                ``chat_with_tools``.
            return_exceptions: As for :meth:`batch_chat`.
            kwargs: :meth:`batch_chat` options (``store``, ``timeout``...) and request fields.

        Raises:
            BatchResultsError: as for :meth:`batch_chat` (its ``.results`` checked too).
        """
        prepared = self._batch_tool_kwargs(
            tools, allow_parallel_tool_calls, tool_required, tool_choice, strict, kwargs
        )
        results = self.batch_chat(inputs, return_exceptions=True, **prepared)
        return self._batch_tool_results(
            results, tools, allow_parallel_tool_calls, return_exceptions
        )

    @overload
    async def abatch_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        allow_parallel_tool_calls: bool = ...,
        tool_required: bool = ...,
        tool_choice: str | dict[str, Any] | None = ...,
        strict: bool | None = ...,
        return_exceptions: Literal[False] = ...,
        **kwargs: Any,
    ) -> list[ChatResponse]: ...

    @overload
    async def abatch_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        allow_parallel_tool_calls: bool = ...,
        tool_required: bool = ...,
        tool_choice: str | dict[str, Any] | None = ...,
        strict: bool | None = ...,
        return_exceptions: bool,
        **kwargs: Any,
    ) -> list[ChatResponse | BatchItemError]: ...

    async def abatch_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[ChatResponse] | list[ChatResponse | BatchItemError]:
        """Async :meth:`batch_chat_with_tools`."""
        prepared = self._batch_tool_kwargs(
            tools, allow_parallel_tool_calls, tool_required, tool_choice, strict, kwargs
        )
        results = await self.abatch_chat(inputs, return_exceptions=True, **prepared)
        return self._batch_tool_results(
            results, tools, allow_parallel_tool_calls, return_exceptions
        )

    def _batch_tool_kwargs(
        self,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool,
        tool_required: bool,
        tool_choice: str | dict[str, Any] | None,
        strict: bool | None,
        kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        if "chat_history" in kwargs or "user_msg" in kwargs:
            raise ValueError(
                "batch_chat_with_tools takes one conversation per input in inputs; drop "
                "chat_history= / user_msg=."
            )
        prepared = self._prepare_chat_with_tools(
            tools,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
            tool_required=tool_required,
            tool_choice=tool_choice,
            strict=strict,
            **kwargs,
        )
        prepared.pop("messages")
        return prepared

    def _batch_tool_results(
        self,
        results: list[ChatResponse | BatchItemError],
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool,
        return_exceptions: bool,
    ) -> list[ChatResponse | BatchItemError]:
        checked = [
            self._validate_chat_with_tools_response(
                r, tools, allow_parallel_tool_calls=allow_parallel_tool_calls
            )
            if isinstance(r, ChatResponse)
            else r
            for r in results
        ]
        errors = {i: r for i, r in enumerate(checked) if isinstance(r, BatchItemError)}
        if errors and not return_exceptions:
            raise BatchResultsError(checked, errors)
        return checked

    # --------------------------------------------------------------- tools

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` kwargs for a request offering ``tools``; ``tool_choice`` is sent only
        with tools: a tool's name forces that tool, ``tool_required`` means "required"."""
        use_strict = self.strict if strict is None else strict
        specs = []
        for tool in tools:
            spec = tool.metadata.to_openai_tool(skip_length_check=True)
            if use_strict:
                spec["function"]["strict"] = True
            specs.append(spec)
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        out: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            out["tools"] = specs
            out["tool_choice"] = _resolve_tool_choice(tool_choice, tool_required)
            out["parallel_tool_calls"] = allow_parallel_tool_calls
        return out

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls were allowed."""
        if allow_parallel_tool_calls:
            return response
        message = response.message
        calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
        if len(calls) > 1:
            message.blocks = [b for b in message.blocks if not isinstance(b, ToolCallBlock)]
            message.blocks.append(calls[0])
            wire_calls = message.additional_kwargs.get("tool_calls")
            if wire_calls:
                message.additional_kwargs["tool_calls"] = wire_calls[:1]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The response's tool calls as ``ToolSelection`` s (partial arguments mid-stream)."""
        selections = tool_selections(response.message)
        if not selections and error_on_no_tool_call:
            raise ValueError(
                "Expected at least one tool call, got none. Reply: "
                f"{(response.message.content or '')[:200]!r}"
            )
        return selections


def _user(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


class _ChatRoute:
    """``/chat/completions``: chat natively; a prompt is sent as one user message."""

    def __init__(self, llm: TogetherLLM) -> None:
        self.llm = llm

    def _prompt_messages(self, prompt: str, formatted: bool) -> list[ChatMessage]:
        if not formatted and self.llm.completion_to_prompt is not None:
            prompt = self.llm.completion_to_prompt(prompt)
        return _user(prompt)

    def chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        llm = self.llm
        wire = llm._get_transport().chat.create(
            llm._chat_request(messages, False, kwargs), llm._request_options()
        )
        return chat_response_from_wire(wire, think_tags=llm._think_tags)

    async def achat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        llm = self.llm
        wire = await llm._get_transport().chat.acreate(
            llm._chat_request(messages, False, kwargs), llm._request_options()
        )
        return chat_response_from_wire(wire, think_tags=llm._think_tags)

    def stream_chat(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseGen:
        llm = self.llm
        request = llm._chat_request(messages, True, kwargs)
        transport, options = llm._get_transport(), llm._request_options()
        converter = ChatStreamConverter(think_tags=llm._think_tags)

        def gen() -> Generator[ChatResponse, None, None]:
            # Sent at the first next(), not at the call: a stream nobody reads holds no
            # connection (100 unread streams would otherwise drain the pool).
            with transport.chat.stream(request, options) as stream:
                for chunk in stream:
                    response = converter.feed(chunk)
                    if response is not None:
                        yield response
            tail = converter.finish()
            if tail is not None:
                yield tail

        return gen()

    def astream_chat(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseAsyncGen:
        llm = self.llm
        request = llm._chat_request(messages, True, kwargs)
        transport, options = llm._get_transport(), llm._request_options()
        converter = ChatStreamConverter(think_tags=llm._think_tags)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            stream = await transport.chat.astream(request, options)
            async with stream:
                async for chunk in stream:
                    response = converter.feed(chunk)
                    if response is not None:
                        yield response
            tail = converter.finish()
            if tail is not None:
                yield tail

        return gen()

    def complete(self, prompt: str, formatted: bool, kwargs: dict[str, Any]) -> CompletionResponse:
        return to_completion_response(self.chat(self._prompt_messages(prompt, formatted), kwargs))

    async def acomplete(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> CompletionResponse:
        messages = self._prompt_messages(prompt, formatted)
        return to_completion_response(await self.achat(messages, kwargs))

    def stream_complete(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> CompletionResponseGen:
        responses = self.stream_chat(self._prompt_messages(prompt, formatted), kwargs)
        return (to_completion_response(r) for r in responses)

    def astream_complete(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> CompletionResponseAsyncGen:
        responses = self.astream_chat(self._prompt_messages(prompt, formatted), kwargs)

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            async for r in responses:
                yield to_completion_response(r)

        return gen()


class _CompletionsRoute:
    """``/completions`` (language models): prompts natively; messages are rendered into one
    prompt with ``messages_to_prompt``."""

    def __init__(self, llm: TogetherLLM) -> None:
        self.llm = llm

    def complete(self, prompt: str, formatted: bool, kwargs: dict[str, Any]) -> CompletionResponse:
        llm = self.llm
        wire = llm._get_transport().completions.create(
            llm._completion_request(prompt, formatted, False, kwargs), llm._request_options()
        )
        return completion_response_from_wire(wire)

    async def acomplete(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> CompletionResponse:
        llm = self.llm
        wire = await llm._get_transport().completions.acreate(
            llm._completion_request(prompt, formatted, False, kwargs), llm._request_options()
        )
        return completion_response_from_wire(wire)

    def stream_complete(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> CompletionResponseGen:
        llm = self.llm
        request = llm._completion_request(prompt, formatted, True, kwargs)
        transport, options = llm._get_transport(), llm._request_options()
        converter = CompletionStreamConverter()

        def gen() -> Generator[CompletionResponse, None, None]:
            with transport.completions.stream(request, options) as stream:
                for chunk in stream:
                    yield converter.feed(chunk)

        return gen()

    def astream_complete(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> CompletionResponseAsyncGen:
        llm = self.llm
        request = llm._completion_request(prompt, formatted, True, kwargs)
        transport, options = llm._get_transport(), llm._request_options()
        converter = CompletionStreamConverter()

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            stream = await transport.completions.astream(request, options)
            async with stream:
                async for chunk in stream:
                    yield converter.feed(chunk)

        return gen()

    def chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        prompt = self.llm._messages_prompt(messages)
        return completion_to_chat_response(self.complete(prompt, True, kwargs))

    async def achat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        prompt = self.llm._messages_prompt(messages)
        return completion_to_chat_response(await self.acomplete(prompt, True, kwargs))

    def stream_chat(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseGen:
        completions = self.stream_complete(self.llm._messages_prompt(messages), True, kwargs)
        return (completion_to_chat_response(c) for c in completions)

    def astream_chat(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseAsyncGen:
        prompt = self.llm._messages_prompt(messages)
        completions = self.astream_complete(prompt, True, kwargs)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            async for c in completions:
                yield completion_to_chat_response(c)

        return gen()
