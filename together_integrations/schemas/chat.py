"""Chat completions: ``POST /chat/completions``, plain and streamed.

Shapes follow what the server really sends (NOTES §3-§4), not only the spec: ``seed`` can
exceed int64 or be null, ``message.tool_calls`` is ``[]`` when there are none, ``logprobs``
comes in two shapes, chunks may carry tool calls at choice level with ``index: -1``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import RequestModel, WireModel
from .common import Logprobs, Usage, Warning

Role = Literal["system", "user", "assistant", "tool", "function", "developer"]


# --------------------------------------------------------------------------- request


class FunctionCall(WireModel):
    """The function part of a tool call."""

    name: str | None = None
    arguments: str | None = None


class ToolCall(WireModel):
    """A tool call in a message, or a fragment of one in a stream delta."""

    id: str | None = None
    type: str | None = "function"
    function: FunctionCall = Field(default_factory=FunctionCall)
    index: int | None = None


class ChatMessage(RequestModel):
    """A message in a chat request.

    ``content`` is a string or a list of parts (``text``, ``image_url``, ``video_url``,
    ``audio_url``, ``input_audio``), kept as dicts so new part types pass through.
    """

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning: str | None = None


class FunctionDefinition(RequestModel):
    """A tool's function: name, description, JSON-schema parameters."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDefinition(RequestModel):
    """A tool offered to the model."""

    type: Literal["function"] = "function"
    function: FunctionDefinition


class JSONSchemaFormat(RequestModel):
    """The ``json_schema`` member of a ``json_schema`` response format."""

    name: str = "response"
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(RequestModel):
    """``{"type": "text" | "json_object" | "json_schema" | "regex", ...}``."""

    type: Literal["text", "json_object", "json_schema", "regex"]
    json_schema: JSONSchemaFormat | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    pattern: str | None = None


class ReasoningOptions(RequestModel):
    """``reasoning: {"enabled": bool}`` for hybrid reasoning models."""

    enabled: bool | None = None


class ChatCompletionRequest(RequestModel):
    """A ``POST /chat/completions`` body."""

    model: str
    messages: list[ChatMessage]
    max_tokens: int | None = None
    stop: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    stream: bool | None = None
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool | None = None
    response_format: ResponseFormat | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    context_length_exceeded_behavior: Literal["truncate", "error"] | None = None
    safety_model: str | None = None
    compliance: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    reasoning: ReasoningOptions | None = None


# -------------------------------------------------------------------------- response


class AssistantMessage(WireModel):
    """The message of a non-streamed choice."""

    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning: str | None = None


class ChatChoice(WireModel):
    """One choice of a non-streamed response. Gemma omits ``finish_reason``."""

    index: int = 0
    message: AssistantMessage = Field(default_factory=AssistantMessage)
    finish_reason: str | None = None
    logprobs: Logprobs = None
    seed: int | None = None


class ChatCompletion(WireModel):
    """A ``chat.completion`` object."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[ChatChoice] = Field(min_length=1)
    """At least one: a 200 without a choice is not an answer (it raises
    ``APIResponseValidationError`` instead of an ``IndexError`` in the adapters)."""
    usage: Usage | None = None
    warnings: list[Warning] | None = None


class ChatDelta(WireModel):
    """A streamed delta. ``role`` is repeated on every chunk by Together-native engines."""

    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] | None = None
    token_id: int | None = None


class ChatChunkChoice(WireModel):
    """One choice of a stream chunk.

    ``tool_calls`` at this level is the Qwen3-Coder form (complete calls, ``index: -1``).
    """

    index: int = 0
    delta: ChatDelta = Field(default_factory=ChatDelta)
    finish_reason: str | None = None
    logprobs: Logprobs = None
    text: str | None = None
    seed: int | None = None
    tool_calls: list[ToolCall] | None = None


class ChatCompletionChunk(WireModel):
    """A ``chat.completion.chunk``. A usage-only chunk has ``choices: []``."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChatChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
    warnings: list[Warning] | None = None
