"""LangChain chat model for Together: ``ChatTogether``.

Built on the shared transport; this module only converts between LangChain messages and the
wire models in ``together_integrations.schemas``. Streams and whole responses go through the
same normalisation (``together_integrations._chat``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams, LanguageModelInput, ModelProfile
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, Field

from together_integrations._catalog import get_model_capabilities
from together_integrations._chat import (
    ChatDeltaView,
    ChatStreamAccumulator,
    parse_chat_completion,
)
from together_integrations._chat import ChatResult as WireResult
from together_integrations._exceptions import APIError
from together_integrations.langchain._errors import to_langchain_error
from together_integrations.langchain.embeddings import _ClientSettings
from together_integrations.schemas import (
    ChatCompletionRequest,
    TokenLogprob,
    Usage,
)
from together_integrations.schemas import (
    ChatMessage as WireMessage,
)

__all__ = ["ChatTogether"]

DEFAULT_CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"

# ---------------------------------------------------------------- LangChain -> wire


def _image_url(block: Mapping[str, Any]) -> str:
    if block.get("url"):
        return str(block["url"])
    data = block.get("base64") or block.get("data")
    if data:
        mime = block.get("mime_type") or "image/jpeg"
        return f"data:{mime};base64,{data}"
    raise ValueError(f"Image block needs 'url' or 'base64' data: {dict(block)!r}")


def _convert_content(content: str | list[Any]) -> str | list[dict[str, Any]]:
    """LangChain content (legacy OpenAI parts or v1 standard blocks) → Together parts."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image_url":
            url = block["image_url"]
            parts.append(
                {"type": "image_url", "image_url": url if isinstance(url, dict) else {"url": url}}
            )
        elif kind == "image":
            if block.get("source_type") == "base64" or (
                block.get("base64") and not block.get("url")
            ):
                data = block.get("base64") or block.get("data")
                parts.append(
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": _image_url({"base64": data, "mime_type": block.get("mime_type")})
                        },
                    }
                )
            else:
                parts.append({"type": "image_url", "image_url": {"url": _image_url(block)}})
        elif kind in ("reasoning", "thinking"):
            continue  # reasoning is not sent back to the model
        elif kind in ("video_url", "audio_url", "input_audio"):
            parts.append(dict(block))
        else:
            raise TypeError(
                f"Unsupported content block type {kind!r} for Together chat models; use text, "
                "image (url or base64), image_url, video_url, audio_url or input_audio."
            )
    return parts


def _convert_message(message: BaseMessage) -> WireMessage:
    if isinstance(message, SystemMessage):
        return WireMessage(role="system", content=_convert_content(message.content))
    if isinstance(message, HumanMessage):
        return WireMessage(
            role="user", content=_convert_content(message.content), name=message.name
        )
    if isinstance(message, AIMessage):
        calls = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["args"])},
            }
            for c in message.tool_calls
        ] + [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["args"] or ""},
            }
            for c in message.invalid_tool_calls
        ]
        text: Any = message.content
        if isinstance(text, list):
            text = "".join(
                b if isinstance(b, str) else b.get("text", "")
                for b in text
                if isinstance(b, str) or b.get("type") == "text"
            )
        return WireMessage.model_validate(
            {
                "role": "assistant",
                "content": text or ("" if not calls else None),
                "tool_calls": calls or None,
                "name": message.name,
            }
        )
    if isinstance(message, ToolMessage):
        content = (
            message.content
            if isinstance(message.content, str)
            else _convert_content(message.content)
        )
        return WireMessage(role="tool", content=content, tool_call_id=message.tool_call_id)
    if isinstance(message, ChatMessage):
        return WireMessage.model_validate(
            {"role": message.role, "content": _convert_content(message.content)}
        )
    raise TypeError(f"Cannot send a {type(message).__name__} to a Together chat model.")


# ---------------------------------------------------------------- wire -> LangChain


def _usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    meta = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    )
    if usage.cached is not None:
        meta["input_token_details"] = InputTokenDetails(cache_read=usage.cached)
    if usage.reasoning is not None:
        meta["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning)
    return meta


def _logprobs(tokens: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if tokens is None:
        return None
    return {
        "content": [
            t.model_dump(include={"token", "logprob", "bytes", "top_logprobs"}) for t in tokens
        ]
    }


def _message_from_result(result: WireResult) -> AIMessage:
    tool_calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in result.tool_calls:
        if call.args is not None:
            tool_calls.append(
                ToolCall(name=call.name, args=call.args, id=call.id, type="tool_call")
            )
        else:
            invalid.append(
                InvalidToolCall(
                    name=call.name,
                    args=call.arguments,
                    id=call.id,
                    error=call.error,
                    type="invalid_tool_call",
                )
            )
    additional: dict[str, Any] = {}
    if result.reasoning:
        additional["reasoning_content"] = result.reasoning
    metadata: dict[str, Any] = {
        "model_name": result.model,
        "model_provider": "together",
        "finish_reason": result.finish_reason,
        "id": result.id,
    }
    if result.logprobs is not None:
        metadata["logprobs"] = _logprobs(result.logprobs)
    if result.warnings:
        metadata["warnings"] = result.warnings
    return AIMessage(
        content=result.content,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        additional_kwargs=additional,
        response_metadata=metadata,
        usage_metadata=_usage_metadata(result.usage),
        id=result.id or None,
    )


def _chunk_from_view(view: ChatDeltaView) -> AIMessageChunk:
    additional: dict[str, Any] = {}
    if view.reasoning:
        additional["reasoning_content"] = view.reasoning
    metadata: dict[str, Any] = {"model_provider": "together"}
    if view.finish_reason is not None:
        metadata["finish_reason"] = view.finish_reason
    if view.logprobs is not None:
        metadata["logprobs"] = _logprobs(view.logprobs)
    return AIMessageChunk(
        content=view.content,
        additional_kwargs=additional,
        response_metadata=metadata,
        tool_call_chunks=[
            tool_call_chunk(name=d.name, args=d.arguments, id=d.id, index=d.index)
            for d in view.tool_calls
        ],
        usage_metadata=_usage_metadata(view.usage),
        id=view.id or None,
    )


# ------------------------------------------------------------------------ the model


class ChatTogether(_ClientSettings, BaseChatModel):
    """Together chat models (``POST /chat/completions``) for LangChain.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import ChatTogether

            llm = ChatTogether(model="openai/gpt-oss-20b", temperature=0, max_tokens=512)

    Invoke:
        .. code-block:: python

            msg = llm.invoke("Why is the sky blue?")
            msg.content, msg.usage_metadata, msg.additional_kwargs.get("reasoning_content")

    Stream:
        .. code-block:: python

            for chunk in llm.stream("Tell me a joke"):
                print(chunk.content, end="")
            # the last chunk carries usage_metadata (Together always sends usage)

    Tool calling:
        .. code-block:: python

            llm_with_tools = llm.bind_tools([get_weather], tool_choice="auto")
            llm_with_tools.invoke("Weather in Paris?").tool_calls

    Structured output:
        .. code-block:: python

            llm.with_structured_output(Answer).invoke("...")  # json_schema where supported

    Errors are the library's typed errors (``RateLimitError``, ``NotFoundError``...).
    Retries happen once, in the shared transport. Building an instance does no I/O.
    """

    model: str = Field(default=DEFAULT_CHAT_MODEL, alias="model_name")
    """Model id, e.g. ``openai/gpt-oss-20b``."""
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    seed: int | None = None
    n: int | None = None
    logprobs: int | bool | None = None
    """Log probabilities of sampled tokens (``True`` means 1; the wire wants an integer)."""
    top_logprobs: int | None = None
    """Alternatives per token (sent as the integer ``logprobs``)."""
    response_format: dict[str, Any] | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    reasoning: dict[str, Any] | None = None
    """``{"enabled": bool}`` for hybrid reasoning models."""
    safety_model: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields, sent as is."""
    extra_body: dict[str, Any] | None = None
    """Extra request fields, sent as is (same as ``model_kwargs``)."""
    streaming: bool = False

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
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, **self._sampling_params()}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="together",
            ls_model_name=kwargs.get("model", self.model),
            ls_model_type="chat",
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def _sampling_params(self) -> dict[str, Any]:
        logprobs = self.logprobs
        if self.top_logprobs is not None:
            logprobs = self.top_logprobs
        elif logprobs is True:
            logprobs = 1
        elif logprobs is False:
            logprobs = None
        params = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "min_p": self.min_p,
            "repetition_penalty": self.repetition_penalty,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "stop": self.stop,
            "seed": self.seed,
            "n": self.n,
            "logprobs": logprobs,
            "response_format": self.response_format,
            "reasoning_effort": self.reasoning_effort,
            "reasoning": self.reasoning,
            "safety_model": self.safety_model,
            "chat_template_kwargs": self.chat_template_kwargs,
        }
        return {k: v for k, v in params.items() if v is not None}

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> ChatCompletionRequest:
        body: dict[str, Any] = {
            **self._sampling_params(),
            **self.model_kwargs,
            **(self.extra_body or {}),
        }
        if stop is not None:
            body["stop"] = stop
        extra = kwargs.pop("extra_body", None) or {}
        body.update({k: v for k, v in kwargs.items() if v is not None})
        body.update(extra)
        body.setdefault("model", self.model)
        body["messages"] = [_convert_message(m) for m in messages]
        return ChatCompletionRequest.model_validate(body)

    @property
    def _think_tags(self) -> bool:
        return get_model_capabilities(self.model).reasoning_in_content

    def _resolve_model_profile(self) -> ModelProfile | None:
        """Model capabilities from the bundled catalog (``ModelCatalog.refresh`` updates it);
        unknown models get a profile guessed from their name."""
        caps = get_model_capabilities(self.model)
        profile = ModelProfile(
            max_input_tokens=caps.context_window,
            tool_calling=caps.tool_calling,
            structured_output=caps.structured_output,
            image_inputs=caps.image_input,
            reasoning_output=caps.reasoning,
        )
        if caps.max_output_tokens is not None:
            profile["max_output_tokens"] = caps.max_output_tokens
        return profile

    # -------------------------------------------------------------- generation

    def _result(self, wire: Any) -> ChatResult:
        generations = []
        for result in parse_chat_completion(wire, think_tags=self._think_tags):
            message = _message_from_result(result)
            generations.append(
                ChatGeneration(
                    message=message, generation_info={"finish_reason": result.finish_reason}
                )
            )
        usage = wire.usage.model_dump(exclude_none=True) if wire.usage else {}
        return ChatResult(
            generations=generations,
            llm_output={"token_usage": usage, "model_name": wire.model, "id": wire.id},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            from langchain_core.language_models.chat_models import generate_from_stream

            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        request = self._request(messages, stop, **kwargs)
        try:
            wire = self._get_transport().chat_completions(request, self._request_options())
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self._result(wire)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            from langchain_core.language_models.chat_models import agenerate_from_stream

            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        request = self._request(messages, stop, **kwargs)
        try:
            wire = await self._get_transport().achat_completions(request, self._request_options())
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self._result(wire)

    def _chunks(
        self, acc: ChatStreamAccumulator, views: list[ChatDeltaView]
    ) -> Iterator[ChatGenerationChunk]:
        for view in views:
            message = _chunk_from_view(view)
            info = {"finish_reason": view.finish_reason} if view.finish_reason else None
            yield ChatGenerationChunk(message=message, generation_info=info)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, **kwargs)
        acc = ChatStreamAccumulator(think_tags=self._think_tags)
        try:
            stream = self._get_transport().chat_completions_stream(request, self._request_options())
            with stream:
                for wire in stream:
                    for chunk in self._chunks(acc, acc.feed(wire)):
                        if run_manager:
                            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        for chunk in self._chunks(acc, acc.flush()):
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                chunk_position="last",
                response_metadata={"model_name": acc.model or self.model},
            )
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, **kwargs)
        acc = ChatStreamAccumulator(think_tags=self._think_tags)
        try:
            stream = await self._get_transport().achat_completions_stream(
                request, self._request_options()
            )
            async with stream:
                async for wire in stream:
                    for chunk in self._chunks(acc, acc.feed(wire)):
                        if run_manager:
                            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        for chunk in self._chunks(acc, acc.flush()):
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                chunk_position="last",
                response_metadata={"model_name": acc.model or self.model},
            )
        )

    # -------------------------------------------------------------------- tools

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer tools to the model.

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"``, a tool name, a dict
        in the OpenAI form, or ``True`` (the only tool; an error with several).
        """
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            if tool_choice is True:
                if len(formatted) != 1:
                    raise ValueError(
                        "tool_choice=True needs exactly one tool; name the tool instead."
                    )
                tool_choice = formatted[0]["function"]["name"]
            if tool_choice == "any":
                tool_choice = "required"
            if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
                names = [f["function"]["name"] for f in formatted]
                if tool_choice not in names:
                    raise ValueError(
                        f"tool_choice {tool_choice!r} is not one of the bound tools {names}."
                    )
                tool_choice = {"type": "function", "function": {"name": tool_choice}}
            kwargs["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["json_schema", "function_calling", "json_mode"] | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Return output matching ``schema`` (pydantic class, TypedDict or JSON schema).

        ``method`` defaults to ``json_schema`` where the model supports it (the catalog says),
        else ``function_calling``.
        """
        if kwargs:
            raise ValueError(f"Unexpected arguments: {sorted(kwargs)}")
        if method is None:
            method = (
                "json_schema"
                if get_model_capabilities(self.model).structured_output
                else "function_calling"
            )
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        llm: Runnable[Any, Any]
        if method == "json_mode":
            llm = self.bind(
                response_format={"type": "json_object"},
                ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
            )
            parser: Runnable[Any, Any] = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
        elif schema is None:
            raise ValueError(f"with_structured_output(method={method!r}) needs a schema.")
        elif method == "json_schema":
            tool = convert_to_openai_tool(schema)["function"]
            fmt = {
                "type": "json_schema",
                "json_schema": {
                    "name": tool["name"],
                    "schema": tool.get("parameters", {}),
                    "strict": strict,
                },
            }
            llm = self.bind(
                response_format=fmt,
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": convert_to_openai_tool(schema),
                },
            )
            parser = (
                PydanticOutputParser(pydantic_object=schema) if is_pydantic else JsonOutputParser()
            )
        elif method == "function_calling":
            name = convert_to_openai_tool(schema)["function"]["name"]
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
        return RunnableMap(raw=llm) | parsed.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )

    # ----------------------------------------------------------------- tokens

    def get_num_tokens(self, text: str) -> int:
        """Estimate tokens offline (~4 characters per token; no tokenizer download)."""
        return max(1, -(-len(text) // 4)) if text else 0

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimate prompt tokens offline: content estimate + 4 per message + tools' JSON."""
        total = 3
        for message in messages:
            content = (
                message.content if isinstance(message.content, str) else json.dumps(message.content)
            )
            total += 4 + self.get_num_tokens(content)
        if tools:
            total += self.get_num_tokens(json.dumps([convert_to_openai_tool(t) for t in tools]))
        return total
