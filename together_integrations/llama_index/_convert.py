"""Converters between LlamaIndex LLM types and the Together wire models.

Requests: :func:`to_wire_messages` (text, images, audio, video, tool calls, tool results).
Responses: whole responses and stream chunks go through the framework-neutral
``together_integrations._chat`` first, then through the same block builders here, so a
streamed message ends exactly as the non-streamed one would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from pydantic import BaseModel

from together_integrations._chat import (
    ChatResult,
    ChatStreamAccumulator,
    ParsedToolCall,
    normalize_finish_reason,
    parse_chat_completion,
    parse_tool_arguments,
)
from together_integrations.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    CompletionChunk,
    TokenLogprob,
    Usage,
    normalize_logprobs,
)
from together_integrations.schemas import ChatMessage as WireMessage

__all__ = [
    "ChatStreamConverter",
    "CompletionStreamConverter",
    "InvalidToolCallError",
    "RawResponse",
    "chat_response_from_wire",
    "completion_response_from_wire",
    "completion_to_chat_response",
    "to_completion_response",
    "to_llama_logprobs",
    "to_wire_message",
    "to_wire_messages",
    "tool_selections",
    "usage_kwargs",
]

_ROLE_TO_WIRE = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "developer",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.FUNCTION: "function",
    MessageRole.TOOL: "tool",
    # Other providers' names for the assistant turn.
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
}
_MEDIA_ROLES = frozenset({"user", "tool"})


# ------------------------------------------------------------------------ requests


def _data_url(mime: str | None, b64: bytes | str, what: str) -> str:
    if not mime:
        raise ValueError(
            f"Cannot tell the {what} type of inline {what} data; set its mimetype on the "
            f"block (for example ImageBlock(image=..., image_mimetype='image/png'))."
        )
    text = b64.decode() if isinstance(b64, bytes) else b64
    return f"data:{mime};base64,{text}"


def _image_part(block: ImageBlock) -> dict[str, Any]:
    if block.image is None and block.path is None and block.url is not None:
        url = str(block.url)  # an http(s) or data: URL, fetched by Together
    else:
        data = block.resolve_image(as_base64=True).read()
        url = _data_url(block.image_mimetype, data, "image")
    return {"type": "image_url", "image_url": {"url": url}}


def _audio_part(block: AudioBlock) -> dict[str, Any]:
    if block.audio is None and block.path is None and block.url is not None:
        return {"type": "audio_url", "audio_url": {"url": str(block.url)}}
    data = block.resolve_audio(as_base64=True).read()
    return {
        "type": "input_audio",
        "input_audio": {
            "data": data.decode() if isinstance(data, bytes) else data,
            "format": block.format or "wav",
        },
    }


def _video_part(block: VideoBlock) -> dict[str, Any]:
    if block.video is None and block.path is None and block.url is not None:
        url = str(block.url)
    else:
        data = block.resolve_video(as_base64=True).read()
        url = _data_url(block.video_mimetype, data, "video")
    return {"type": "video_url", "video_url": {"url": url}}


def _content(message: ChatMessage, role: str) -> str | list[dict[str, Any]]:
    """The wire ``content``: a string when the message is text only, else a list of parts."""
    parts: list[dict[str, Any]] = []
    media = False
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, (ImageBlock, AudioBlock, VideoBlock)):
            if role not in _MEDIA_ROLES:
                raise ValueError(
                    f"{type(block).__name__} in a {role!r} message: Together accepts images, "
                    "audio and video only in user and tool messages."
                )
            media = True
            if isinstance(block, ImageBlock):
                parts.append(_image_part(block))
            elif isinstance(block, AudioBlock):
                parts.append(_audio_part(block))
            else:
                parts.append(_video_part(block))
        elif isinstance(block, ToolCallBlock):
            if role != "assistant":
                raise ValueError(
                    f"ToolCallBlock in a {role!r} message; only assistant messages call tools."
                )
        elif isinstance(block, (ThinkingBlock, CachePoint)):
            # Earlier reasoning is not sent back (Together's chat templates drop it), and
            # cache points are a hint for providers with explicit prompt caching.
            continue
        else:
            raise TypeError(
                f"Unsupported content block {type(block).__name__} for Together chat models; "
                "use TextBlock, ImageBlock, AudioBlock or VideoBlock."
            )
    if media:
        return parts
    return "\n".join(p["text"] for p in parts)


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _legacy_tool_call(call: Any) -> dict[str, Any]:
    """A tool call from ``additional_kwargs["tool_calls"]``: a dict or an OpenAI-style object."""
    data = call.model_dump() if isinstance(call, BaseModel) else call
    if not isinstance(data, Mapping) or not isinstance(data.get("function"), Mapping):
        raise TypeError(
            f"Cannot read tool call {call!r}; use ToolCallBlock(tool_call_id=..., "
            "tool_name=..., tool_kwargs=...) in the assistant message."
        )
    function = data["function"]
    return {
        "id": data.get("id"),
        "type": "function",
        "function": {
            "name": function.get("name"),
            "arguments": _arguments(function.get("arguments") or {}),
        },
    }


def _wire_tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    calls = [
        {
            "id": block.tool_call_id,
            "type": "function",
            "function": {"name": block.tool_name, "arguments": _arguments(block.tool_kwargs)},
        }
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    if calls:
        return calls
    return [_legacy_tool_call(c) for c in message.additional_kwargs.get("tool_calls") or []]


def to_wire_message(message: ChatMessage) -> WireMessage:
    """A LlamaIndex message as a Together chat message."""
    role = _ROLE_TO_WIRE.get(message.role)
    if role is None:
        raise ValueError(f"Unsupported message role {message.role!r}.")
    content = _content(message, role)
    if role == "tool":
        tool_call_id = message.additional_kwargs.get("tool_call_id")
        if not tool_call_id:
            raise ValueError(
                "A tool message needs additional_kwargs['tool_call_id'], the id of the call "
                "it answers (Together rejects it otherwise)."
            )
        return WireMessage(role="tool", content=content, tool_call_id=tool_call_id)
    if role == "assistant":
        calls = _wire_tool_calls(message)
        return WireMessage.model_validate(
            {
                "role": "assistant",
                "content": content or (None if calls else ""),
                "tool_calls": calls or None,
            }
        )
    name = message.additional_kwargs.get("name")
    return WireMessage.model_validate({"role": role, "content": content, "name": name})


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[WireMessage]:
    """LlamaIndex messages as Together chat messages."""
    return [to_wire_message(m) for m in messages]


# ----------------------------------------------------------------------- responses


class RawResponse(dict[str, Any]):
    """The response body as a dict that also reads as attributes, nested all the way down
    (``resp.raw.usage.total_tokens`` as with the OpenAI objects upstream hands out, and
    ``resp.raw["usage"]["total_tokens"]``). A plain dict underneath: JSON-serialisable,
    picklable, and what ``TokenCountingHandler`` reads."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"The response has no field {name!r}; it has {sorted(self)}."
            ) from None

    def model_dump(self) -> dict[str, Any]:
        """A plain-dict copy (the name the OpenAI objects upstream use)."""
        plain: dict[str, Any] = json.loads(json.dumps(self))
        return plain

    @classmethod
    def of(cls, wire: BaseModel) -> RawResponse:
        body = wire.model_dump(mode="json", by_alias=True)
        return cls({k: _attr_view(v) for k, v in body.items()})


def _attr_view(value: Any) -> Any:
    if isinstance(value, dict):
        return RawResponse({k: _attr_view(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_attr_view(v) for v in value]
    return value


def _reasoning_content(message: BaseModel) -> str:
    """``reasoning_content``, the field name of DeepSeek's API and vLLM's older releases,
    for servers behind a Together-compatible base URL that send it instead of ``reasoning``."""
    extra = message.model_extra or {}
    value = extra.get("reasoning_content")
    return value if isinstance(value, str) else ""


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Token counts as ``TokenCountingHandler`` reads them from ``additional_kwargs``."""
    if usage is None:
        return {}
    out = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached is not None:
        out["cached_tokens"] = usage.cached
    if usage.reasoning is not None:
        out["reasoning_tokens"] = usage.reasoning
    return out


def to_llama_logprobs(tokens: list[TokenLogprob] | None) -> list[list[LogProb]] | None:
    """One list per generated token: its top alternatives when the server sent them
    (as LlamaIndex's OpenAI integration does), else the sampled token alone."""
    if tokens is None:
        return None
    out: list[list[LogProb]] = []
    for token in tokens:
        if token.top_logprobs:
            out.append(
                [
                    LogProb(token=top.token, logprob=top.logprob, bytes=top.bytes or [])
                    for top in token.top_logprobs
                ]
            )
        elif token.logprob is not None:
            out.append([LogProb(token=token.token, logprob=token.logprob, bytes=token.bytes or [])])
    return out


class InvalidToolCallError(ValueError):
    """The model sent complete tool calls whose arguments are not a JSON object.

    Raised by ``TogetherLLM.get_tool_calls_from_response`` (so an agent never runs a tool
    with guessed arguments); the calls stay readable in
    ``response.message.additional_kwargs["invalid_tool_calls"]`` and in :attr:`calls`
    (``id``, ``name``, ``arguments`` as sent, ``error``).
    """

    def __init__(self, calls: list[dict[str, str]]) -> None:
        self.calls = calls
        described = "; ".join(
            f"{c['name'] or '<no name>'} ({c['id']}): {c['error']}; arguments "
            f"{c['arguments'][:200]!r}"
            for c in calls
        )
        super().__init__(
            f"The model sent {len(calls)} tool call(s) whose arguments are not valid JSON, so "
            f"they were not run: {described}. Ask again (models usually send valid arguments "
            "on a retry); the calls are in response.message.additional_kwargs"
            "['invalid_tool_calls']."
        )

    def __reduce__(self) -> tuple[type[InvalidToolCallError], tuple[list[dict[str, str]]]]:
        return (InvalidToolCallError, (self.calls,))


def _tool_call_block(call: ParsedToolCall, *, complete: bool) -> ToolCallBlock:
    kwargs: dict[str, Any] | str
    if call.args is not None:
        kwargs = call.args
    elif complete:
        # Kept exactly as sent: a finished call is parsed strictly or not at all, so
        # '{"number": 132' never becomes {"number": 132} when the model meant 132413.
        kwargs = call.arguments
    else:
        # A call still streaming is a JSON prefix: show what is there so far.
        try:
            partial = parse_partial_json(call.arguments)
        except (ValueError, TypeError):
            partial = None
        kwargs = partial if isinstance(partial, dict) else {}
    return ToolCallBlock(tool_call_id=call.id, tool_name=call.name, tool_kwargs=kwargs)


def _invalid_call(call: ParsedToolCall) -> dict[str, str]:
    return {
        "id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "error": call.error or "Tool call arguments must be a JSON object",
    }


def _tool_call_dict(call: ParsedToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _assistant_message(
    content: str,
    reasoning: str | None,
    calls: list[ParsedToolCall],
    usage: Usage | None,
    *,
    complete_calls: int | None = None,
) -> ChatMessage:
    """``complete_calls``: how many of ``calls`` are finished (all when None); the rest are
    still streaming."""
    done = len(calls) if complete_calls is None else complete_calls
    blocks: list[Any] = []
    if reasoning:
        blocks.append(
            ThinkingBlock(content=reasoning, num_tokens=usage.reasoning if usage else None)
        )
    if content:
        blocks.append(TextBlock(text=content))
    blocks.extend(_tool_call_block(c, complete=i < done) for i, c in enumerate(calls))
    additional: dict[str, Any] = {}
    if calls:
        additional["tool_calls"] = [_tool_call_dict(c) for c in calls]
    invalid = [_invalid_call(c) for c in calls[:done] if c.args is None]
    if invalid:
        additional["invalid_tool_calls"] = invalid
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=additional)


def _result_kwargs(result: ChatResult) -> dict[str, Any]:
    out: dict[str, Any] = dict(usage_kwargs(result.usage))
    if result.finish_reason is not None:
        out["finish_reason"] = result.finish_reason
    if result.warnings:
        out["warnings"] = list(result.warnings)
    return out


def chat_response_from_wire(wire: ChatCompletion, *, think_tags: bool) -> ChatResponse:
    """A whole chat completion (its first choice) as a ``ChatResponse``."""
    results = parse_chat_completion(wire, think_tags=think_tags)
    if not results:
        raise ValueError(f"The chat completion {wire.id!r} has no choices.")
    result = results[0]
    reasoning = result.reasoning or _reasoning_content(wire.choices[0].message) or None
    return ChatResponse(
        message=_assistant_message(result.content, reasoning, result.tool_calls, result.usage),
        raw=RawResponse.of(wire),
        logprobs=to_llama_logprobs(result.logprobs),
        additional_kwargs=_result_kwargs(result),
    )


class ChatStreamConverter:
    """Stream chunks in, one ``ChatResponse`` per chunk out.

    Each response carries ``delta`` (new text), the message so far (a ``ThinkingBlock``, one
    ``TextBlock``, and ``ToolCallBlock`` s with the arguments parsed so far, mirrored in
    ``message.additional_kwargs["tool_calls"]``), ``raw`` (the chunk as a dict),
    ``additional_kwargs["thinking_delta"]`` (new reasoning), the chunk's own ``logprobs``,
    and, once the server has sent them, the token counts. Work per chunk is proportional to
    the chunk, except that tool-call blocks are rebuilt on chunks that extend a call.

    A tool call is finished once a later call starts or the stream ends; only then are its
    arguments parsed strictly (so a stream with tool calls ends with one more response, from
    :meth:`finish`, holding the finished calls). Until then they are parsed as a JSON prefix,
    for display.
    """

    def __init__(self, *, think_tags: bool) -> None:
        self._acc = ChatStreamAccumulator(think_tags=think_tags)
        self._text = ""
        self._thinking = ""
        self._calls: list[ParsedToolCall] = []
        self._finish: str | None = None
        self._raw: dict[str, Any] | None = None
        self._ended = False

    def feed(self, chunk: ChatCompletionChunk) -> ChatResponse | None:
        views = [v for v in self._acc.feed(chunk) if v.index == 0]
        if not views:
            return None
        delta = "".join(v.content for v in views)
        thinking = "".join(v.reasoning for v in views) or "".join(
            _reasoning_content(c.delta) for c in chunk.choices if c.index == 0
        )
        if any(v.tool_calls for v in views):
            self._calls = self._acc.tool_calls(0)
        for view in views:
            self._finish = view.finish_reason or self._finish
        logprobs = [t for v in views for t in v.logprobs or []] or None
        self._raw = RawResponse.of(chunk)
        return self._response(delta, thinking, self._raw, logprobs)

    def finish(self) -> ChatResponse | None:
        """End of stream: text a ``<think>`` splitter still held, and the tool calls, now
        finished and parsed strictly; ``None`` when there is neither."""
        self._ended = True
        views = [v for v in self._acc.flush() if v.index == 0]
        if not views and not self._calls:
            return None
        delta = "".join(v.content for v in views)
        thinking = "".join(v.reasoning for v in views)
        return self._response(delta, thinking, self._raw, None)

    def _response(
        self,
        delta: str,
        thinking: str,
        raw: dict[str, Any] | None,
        logprobs: list[TokenLogprob] | None,
    ) -> ChatResponse:
        self._text += delta
        self._thinking += thinking
        usage = self._acc.usage
        extra: dict[str, Any] = dict(usage_kwargs(usage))
        if thinking:
            extra["thinking_delta"] = thinking
        if self._finish is not None:
            extra["finish_reason"] = self._finish
        return ChatResponse(
            message=_assistant_message(
                self._text,
                self._thinking,
                self._calls,
                usage,
                complete_calls=None if self._ended else max(len(self._calls) - 1, 0),
            ),
            delta=delta,
            raw=raw,
            logprobs=to_llama_logprobs(logprobs),
            additional_kwargs=extra,
        )


# ------------------------------------------------------- completions (language models)


def completion_response_from_wire(wire: Completion) -> CompletionResponse:
    """A whole ``/completions`` response (its first choice) as a ``CompletionResponse``."""
    if not wire.choices:
        raise ValueError(f"The completion {wire.id!r} has no choices.")
    choice = wire.choices[0]
    extra: dict[str, Any] = dict(usage_kwargs(wire.usage))
    finish = normalize_finish_reason(choice.finish_reason)
    if finish is not None:
        extra["finish_reason"] = finish
    return CompletionResponse(
        text=choice.text,
        raw=RawResponse.of(wire),
        logprobs=to_llama_logprobs(normalize_logprobs(choice.logprobs)),
        additional_kwargs=extra,
    )


class CompletionStreamConverter:
    """``/completions`` stream chunks in, one ``CompletionResponse`` per chunk out."""

    def __init__(self) -> None:
        self._text = ""
        self._usage: Usage | None = None
        self._finish: str | None = None

    def feed(self, chunk: CompletionChunk) -> CompletionResponse:
        if chunk.usage is not None:
            self._usage = chunk.usage
        choice = next((c for c in chunk.choices if c.index == 0), None)
        delta = (choice.text or "") if choice is not None else ""
        if choice is not None and choice.finish_reason is not None:
            self._finish = normalize_finish_reason(choice.finish_reason)
        self._text += delta
        extra: dict[str, Any] = dict(usage_kwargs(self._usage))
        if self._finish is not None:
            extra["finish_reason"] = self._finish
        return CompletionResponse(
            text=self._text,
            delta=delta,
            raw=RawResponse.of(chunk),
            logprobs=to_llama_logprobs(
                normalize_logprobs(choice.logprobs) if choice is not None else None
            ),
            additional_kwargs=extra,
        )


def to_completion_response(response: ChatResponse) -> CompletionResponse:
    """A chat response as a completion response (``complete()`` on a chat model)."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        logprobs=response.logprobs,
        additional_kwargs=dict(response.additional_kwargs),
    )


def completion_to_chat_response(response: CompletionResponse) -> ChatResponse:
    """A completion response as a chat response (``chat()`` on a language model)."""
    return ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, content=response.text),
        delta=response.delta,
        raw=response.raw,
        logprobs=response.logprobs,
        additional_kwargs=dict(response.additional_kwargs),
    )


# ------------------------------------------------------------------------- tools


def tool_selections(message: ChatMessage) -> list[ToolSelection]:
    """The tool calls of an assistant message, from its ``ToolCallBlock`` s or, for messages
    built elsewhere, from ``additional_kwargs["tool_calls"]``.

    Arguments still held as a string are parsed strictly: any that are not a JSON object
    raise :class:`InvalidToolCallError` naming every such call, never a guess. (Calls still
    streaming already hold their prefix parsed as a dict, for display.)
    """
    calls = [
        (b.tool_call_id or "", b.tool_name, b.tool_kwargs)
        for b in message.blocks
        if isinstance(b, ToolCallBlock)
    ]
    if not calls:
        for call in message.additional_kwargs.get("tool_calls") or []:
            wire = _legacy_tool_call(call)
            calls.append(
                (wire["id"] or "", wire["function"]["name"] or "", wire["function"]["arguments"])
            )
    selections: list[ToolSelection] = []
    invalid: list[dict[str, str]] = []
    for call_id, name, value in calls:
        if isinstance(value, dict):
            args: dict[str, Any] | None = value
        else:
            args, error = parse_tool_arguments(str(value))
            if args is None:
                invalid.append(
                    {"id": call_id, "name": name, "arguments": str(value), "error": error or ""}
                )
                continue
        selections.append(ToolSelection(tool_id=call_id, tool_name=name, tool_kwargs=args))
    if invalid:
        raise InvalidToolCallError(invalid)
    return selections
