"""LlamaIndex LLM for Together: ``TogetherLLM``, a function-calling chat model.

Converts between LlamaIndex messages and the wire models; streams and whole responses share
``together_integrations._chat``. Retries happen once, in the shared transport.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    ImageBlock,
    LLMMetadata,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode
from pydantic import BaseModel, Field

from together_integrations._catalog import get_model_capabilities
from together_integrations._chat import (
    ChatDeltaView,
    ChatResult,
    ChatStreamAccumulator,
    parse_chat_completion,
)
from together_integrations.llama_index._common import ClientSettingsMixin
from together_integrations.schemas import ChatCompletionRequest, TokenLogprob, Usage
from together_integrations.schemas import ChatMessage as WireMessage

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["TogetherLLM"]

DEFAULT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def _image_url(block: ImageBlock) -> str:
    if block.url is not None:
        return str(block.url)
    data = block.resolve_image(as_base64=True).read()
    mime = block.image_mimetype or "image/jpeg"
    return f"data:{mime};base64,{data.decode() if isinstance(data, bytes) else data}"


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    has_image = False
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            has_image = True
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block)}})
        elif isinstance(block, (ThinkingBlock, ToolCallBlock)):
            continue
        else:
            raise TypeError(
                f"Unsupported content block {type(block).__name__} for Together chat models; "
                "use TextBlock or ImageBlock."
            )
    if not has_image:
        return "".join(p["text"] for p in parts)
    return parts


def _tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    calls = [
        {
            "id": b.tool_call_id,
            "type": "function",
            "function": {
                "name": b.tool_name,
                "arguments": b.tool_kwargs
                if isinstance(b.tool_kwargs, str)
                else json.dumps(b.tool_kwargs),
            },
        }
        for b in message.blocks
        if isinstance(b, ToolCallBlock)
    ]
    if not calls:
        calls = list(message.additional_kwargs.get("tool_calls") or [])
    return calls


def to_wire_message(message: ChatMessage) -> WireMessage:
    """A LlamaIndex message as a Together chat message."""
    role = message.role.value
    if role == "chatbot":
        role = "assistant"
    if role == "model":
        role = "assistant"
    if role == "tool":
        tool_call_id = message.additional_kwargs.get("tool_call_id")
        if not tool_call_id:
            raise ValueError(
                "A tool message needs additional_kwargs['tool_call_id'] "
                "(Together rejects it otherwise)."
            )
        return WireMessage(role="tool", content=_content(message), tool_call_id=tool_call_id)
    if role == "assistant":
        calls = _tool_calls(message)
        content = _content(message)
        return WireMessage.model_validate(
            {
                "role": "assistant",
                "content": content or ("" if not calls else None),
                "tool_calls": calls or None,
            }
        )
    if role not in ("system", "user", "developer", "function"):
        raise ValueError(f"Unsupported message role {role!r}.")
    return WireMessage.model_validate({"role": role, "content": _content(message)})


def _usage_kwargs(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _logprobs(tokens: list[TokenLogprob] | None) -> list[list[LogProb]] | None:
    if tokens is None:
        return None
    return [
        [LogProb(token=t.token, logprob=t.logprob or 0.0, bytes=t.bytes or [])]
        + [
            LogProb(token=top.token, logprob=top.logprob, bytes=top.bytes or [])
            for top in t.top_logprobs
        ]
        for t in tokens
    ]


def _message(result: ChatResult) -> ChatMessage:
    blocks: list[Any] = []
    if result.reasoning:
        blocks.append(
            ThinkingBlock(
                content=result.reasoning,
                num_tokens=result.usage.reasoning if result.usage else None,
            )
        )
    if result.content:
        blocks.append(TextBlock(text=result.content))
    tool_calls = []
    for call in result.tool_calls:
        blocks.append(
            ToolCallBlock(
                tool_call_id=call.id,
                tool_name=call.name,
                tool_kwargs=call.args if call.args is not None else call.arguments,
            )
        )
        tool_calls.append(
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        )
    additional: dict[str, Any] = {}
    if tool_calls:
        additional["tool_calls"] = tool_calls
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=additional)


class TogetherLLM(ClientSettingsMixin, FunctionCallingLLM):
    """Together chat models for LlamaIndex, with function calling and structured output.

    Example:
        .. code-block:: python

            from together_integrations.llama_index import TogetherLLM

            llm = TogetherLLM(model="meta-llama/Llama-3.3-70B-Instruct-Turbo")
            print(llm.complete("Paris is the capital of"))
            print(llm.metadata.context_window)   # 131072, from the bundled catalog

    Works with ``FunctionAgent`` (streaming tool calls), ``structured_predict`` (json_schema
    where supported), ``TokenCountingHandler`` (real usage, streams too) and ``ImageBlock``.
    """

    model: str = Field(default=DEFAULT_MODEL, description="Together model id.")
    temperature: float | None = Field(default=None)
    max_tokens: int | None = Field(default=None, description="Maximum tokens to generate.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request fields, sent as is."
    )
    context_window: int | None = Field(
        default=None, description="Override the catalog's context window."
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override the catalog."
    )
    strict: bool = Field(default=False, description="Send strict tool schemas.")

    @classmethod
    def class_name(cls) -> str:
        return "TogetherLLM"

    @property
    def metadata(self) -> LLMMetadata:
        caps = get_model_capabilities(self.model)
        return LLMMetadata(
            context_window=self.context_window or caps.context_window,
            num_output=self.max_tokens or caps.max_output_tokens or -1,
            is_chat_model=caps.type != "language",
            is_function_calling_model=caps.tool_calling
            if self.is_function_calling_model is None
            else self.is_function_calling_model,
            model_name=self.model,
        )

    @property
    def _think_tags(self) -> bool:
        return get_model_capabilities(self.model).reasoning_in_content

    def _request(
        self, messages: Sequence[ChatMessage], stream: bool, **kwargs: Any
    ) -> ChatCompletionRequest:
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **self.additional_kwargs,
        }
        body.update({k: v for k, v in kwargs.items() if v is not None})
        body["messages"] = [to_wire_message(m) for m in messages]
        body["stream"] = stream
        return ChatCompletionRequest.model_validate(
            {k: v for k, v in body.items() if v is not None}
        )

    def _response(self, wire: Any) -> ChatResponse:
        result = parse_chat_completion(wire, think_tags=self._think_tags)[0]
        return ChatResponse(
            message=_message(result),
            raw=wire.model_dump(mode="json"),
            logprobs=_logprobs(result.logprobs),
            additional_kwargs=_usage_kwargs(result.usage),
        )

    # ---------------------------------------------------------------- chat

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        wire = self._get_transport().chat_completions(
            self._request(messages, False, **kwargs), self._request_options()
        )
        return self._response(wire)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        wire = await self._get_transport().achat_completions(
            self._request(messages, False, **kwargs), self._request_options()
        )
        return self._response(wire)

    def _stream_response(
        self, acc: ChatStreamAccumulator, so_far: list[str], views: list[ChatDeltaView], wire: Any
    ) -> ChatResponse | None:
        """One streamed response: the delta, and the message so far (text, thinking, calls).

        ``so_far`` holds [text, thinking] between chunks, so each chunk costs O(its size).
        """
        if not views:
            return None
        delta = "".join(v.content for v in views)
        thinking = "".join(v.reasoning for v in views)
        so_far[0] += delta
        so_far[1] += thinking
        blocks: list[Any] = []
        if so_far[1]:
            blocks.append(ThinkingBlock(content=so_far[1]))
        if so_far[0]:
            blocks.append(TextBlock(text=so_far[0]))
        additional: dict[str, Any] = {}
        calls = acc.tool_calls()
        if calls:
            for call in calls:
                blocks.append(
                    ToolCallBlock(
                        tool_call_id=call.id,
                        tool_name=call.name,
                        tool_kwargs=call.args if call.args is not None else call.arguments,
                    )
                )
            additional["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ]
        extra: dict[str, Any] = _usage_kwargs(acc.usage)
        if thinking:
            extra["thinking_delta"] = thinking
        return ChatResponse(
            message=ChatMessage(
                role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=additional
            ),
            delta=delta,
            raw=wire,
            additional_kwargs=extra,
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        request = self._request(messages, True, **kwargs)
        stream = self._get_transport().chat_completions_stream(request, self._request_options())

        def gen() -> Generator[ChatResponse, None, None]:
            acc = ChatStreamAccumulator(think_tags=self._think_tags)
            so_far = ["", ""]
            with stream:
                for wire in stream:
                    response = self._stream_response(acc, so_far, acc.feed(wire), wire)
                    if response is not None:
                        yield response

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        request = self._request(messages, True, **kwargs)
        stream = await self._get_transport().achat_completions_stream(
            request, self._request_options()
        )

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            acc = ChatStreamAccumulator(think_tags=self._think_tags)
            so_far = ["", ""]
            async with stream:
                async for wire in stream:
                    response = self._stream_response(acc, so_far, acc.feed(wire), wire)
                    if response is not None:
                        yield response

        return gen()

    # ---------------------------------------------------------- completion

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self.chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await achat_to_completion_decorator(self.achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self.stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self.astream_chat)(prompt, **kwargs)

    # --------------------------------------------------- structured output

    def _json_schema_format(self, output_cls: type[BaseModel]) -> dict[str, Any] | None:
        """The json_schema response format, or None where the model lacks it (then the
        base class's forced-tool-call program is used: tools always come with tool_choice)."""
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return None
        if not get_model_capabilities(self.model).structured_output:
            return None
        return {
            "type": "json_schema",
            "json_schema": {"name": output_cls.__name__, "schema": output_cls.model_json_schema()},
        }

    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an ``output_cls`` instance, with the json_schema response format where the
        model supports it (one request, no tools), else through forced tool calls."""
        fmt = self._json_schema_format(output_cls)
        if fmt is None:
            base: Model = super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
            return base
        messages = prompt.format_messages(llm=self, **prompt_args)
        response = self.chat(messages, response_format=fmt, **(llm_kwargs or {}))
        result: Model = output_cls.model_validate_json(response.message.content or "")
        return result

    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async :meth:`structured_predict`."""
        fmt = self._json_schema_format(output_cls)
        if fmt is None:
            abase: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return abase
        messages = prompt.format_messages(llm=self, **prompt_args)
        response = await self.achat(messages, response_format=fmt, **(llm_kwargs or {}))
        result: Model = output_cls.model_validate_json(response.message.content or "")
        return result

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
        use_strict = self.strict if strict is None else strict
        specs = []
        for tool in tools:
            fn = tool.metadata.to_openai_tool()["function"]
            if use_strict:
                fn["strict"] = True
            specs.append({"type": "function", "function": fn})
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
            tool_choice = {"type": "function", "function": {"name": tool_choice}}
        choice = (
            tool_choice if tool_choice is not None else ("required" if tool_required else "auto")
        )
        out: dict[str, Any] = {
            "messages": messages,
            "tools": specs or None,
            "tool_choice": choice if specs else None,
            **kwargs,
        }
        if specs:
            out["parallel_tool_calls"] = allow_parallel_tool_calls
        return out

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if not allow_parallel_tool_calls:
            calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
            if len(calls) > 1:
                response.message.blocks = [
                    b for b in response.message.blocks if not isinstance(b, ToolCallBlock)
                ] + calls[:1]
                response.message.additional_kwargs["tool_calls"] = (
                    response.message.additional_kwargs.get("tool_calls", [])[:1]
                )
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not calls and error_on_no_tool_call:
            raise ValueError(
                f"Expected at least one tool call, got none: {response.message.content!r}"
            )
        selections = []
        for call in calls:
            kwargs_ = call.tool_kwargs
            if isinstance(kwargs_, str):
                try:
                    kwargs_ = json.loads(kwargs_) if kwargs_.strip() else {}
                except ValueError:
                    kwargs_ = {}
            selections.append(
                ToolSelection(
                    tool_id=call.tool_call_id or "",
                    tool_name=call.tool_name,
                    tool_kwargs=kwargs_ if isinstance(kwargs_, dict) else {},
                )
            )
        return selections
