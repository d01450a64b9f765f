"""Converters between LangChain messages and the Together wire models.

Request side: ``convert_message_to_wire`` turns any LangChain message into a
:class:`~together_integrations.schemas.ChatMessage`; content blocks in the legacy OpenAI form
(``image_url``) and in LangChain's v1 standard form (``{"type": "image", "url"|"base64"}``,
plus the older ``source_type`` form) become Together content parts. A block Together cannot
take raises ``TypeError`` saying what to send instead; nothing is dropped silently.

Response side: ``message_from_result`` and ``chunk_from_view`` turn the framework-neutral
views of :mod:`together_integrations._chat` (one mapping for streams and whole responses) into
``AIMessage`` / ``AIMessageChunk``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages import content as types
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.block_translators import register_translator
from langchain_core.messages.tool import tool_call_chunk

from together_integrations._chat import ChatDeltaView
from together_integrations._chat import ChatResult as WireResult
from together_integrations.schemas import ChatMessage as WireMessage
from together_integrations.schemas import TokenLogprob, Usage

__all__ = [
    "PROVIDER",
    "chunk_from_view",
    "convert_content",
    "convert_message_to_wire",
    "logprobs_to_dict",
    "message_from_result",
    "register_content_translator",
    "translate_content",
    "translate_content_chunk",
    "usage_to_metadata",
]

PROVIDER = "together"

# Blocks an assistant turn may carry that are not sent back as text: reasoning is the
# model's own scratchpad (Together takes none back), and tool calls travel in ``tool_calls``.
_AI_SKIPPED_BLOCKS = frozenset(
    {
        "reasoning",
        "thinking",
        "redacted_thinking",
        "tool_call",
        "tool_use",
        "tool_call_chunk",
        "invalid_tool_call",
    }
)
_WIRE_PARTS = frozenset({"video_url", "audio_url", "input_audio"})
_SUPPORTED = (
    "text, image (url or base64), image_url, video (url or base64), video_url, audio "
    "(url or base64), audio_url or input_audio"
)

# ---------------------------------------------------------------- LangChain -> wire


def _media_url(block: Mapping[str, Any], kind: str) -> str:
    """The URL (http(s) or ``data:``) of a v1 or ``source_type`` image/video/audio block."""
    source = block.get("source_type")
    url = block.get("url") or (block.get("data") if source == "url" else None)
    if url:
        return str(url)
    data = block.get("base64") or (block.get("data") if source in (None, "base64") else None)
    if data:
        default = "image/jpeg" if kind == "image" else f"{kind}/mpeg"
        return f"data:{block.get('mime_type') or default};base64,{data}"
    if source == "id" or block.get("file_id"):
        raise TypeError(
            f"Together cannot read uploaded file ids in {kind} blocks; pass the {kind} "
            "as a URL or as base64 data with a mime_type."
        )
    raise TypeError(
        f"The {kind} block needs 'url' or 'base64' (with 'mime_type'); got keys {sorted(block)}."
    )


def _image_url_part(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"type": "image_url", "image_url": {"url": value}}
    if isinstance(value, Mapping) and value.get("url"):
        # Only ``url`` is part of Together's image part; OpenAI's ``detail`` has no meaning here.
        return {"type": "image_url", "image_url": {"url": str(value["url"])}}
    raise TypeError(f"An image_url block needs a URL string or {{'url': ...}}; got {value!r}.")


def _convert_block(block: Any) -> dict[str, Any]:
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, Mapping):
        raise TypeError(f"Content blocks must be strings or dicts; got {type(block).__name__}.")
    kind = block.get("type")
    if kind in ("text", "text-plain") and isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    if kind == "image_url":
        return _image_url_part(block.get("image_url"))
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _media_url(block, "image")}}
    if kind == "video":
        return {"type": "video_url", "video_url": {"url": _media_url(block, "video")}}
    if kind == "audio":
        mime = block.get("mime_type") or ""
        if (block.get("base64") or block.get("data")) and mime in ("audio/wav", "audio/x-wav"):
            data = block.get("base64") or block.get("data")
            return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
        return {"type": "audio_url", "audio_url": {"url": _media_url(block, "audio")}}
    if kind in _WIRE_PARTS:
        return dict(block)
    if kind == "file":
        raise TypeError(
            "Together chat models do not take file/PDF blocks; extract the text and send it "
            "as a text block."
        )
    raise TypeError(
        f"Unsupported content block type {kind!r} for Together chat models; use {_SUPPORTED}."
    )


def convert_content(content: str | Sequence[Any]) -> str | list[dict[str, Any]]:
    """LangChain message content (a string, legacy OpenAI parts or v1 standard blocks) as
    Together content: the string itself, or a list of content parts."""
    if isinstance(content, str):
        return content
    return [_convert_block(block) for block in content]


def _text_only(content: str | Sequence[Any], role: str) -> str:
    """Content for roles whose wire content is a plain string (system, assistant)."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
            continue
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind in ("text", "text-plain") and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif role == "assistant" and kind in _AI_SKIPPED_BLOCKS:
            continue
        else:
            raise TypeError(
                f"A {role} message can only carry text for Together chat models; got a "
                f"{kind!r} block. Move images and other media into a user message."
            )
    return "".join(texts)


def _tool_call_to_wire(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    if not call_id:
        raise ValueError(
            f"The assistant's tool call {name!r} has no id; tool calls sent back to the model "
            "need the id their ToolMessage answers (tool_call_id)."
        )
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _tool_content(content: str | Sequence[Any]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts = [_convert_block(block) for block in content]
    if all(part["type"] == "text" for part in parts):
        # Text-only results as one string: the form every Together engine accepts.
        return "".join(part["text"] for part in parts)
    return parts


def convert_message_to_wire(message: BaseMessage) -> WireMessage:
    """One LangChain message as a Together chat message."""
    if isinstance(message, SystemMessage):
        return WireMessage(
            role="system", content=_text_only(message.content, "system"), name=message.name
        )
    if isinstance(message, HumanMessage):
        return WireMessage(role="user", content=convert_content(message.content), name=message.name)
    if isinstance(message, AIMessage):
        calls = [
            _tool_call_to_wire(c.get("id"), c["name"], json.dumps(c["args"], ensure_ascii=False))
            for c in message.tool_calls
        ] + [
            _tool_call_to_wire(c.get("id"), c.get("name") or "", c.get("args") or "")
            for c in message.invalid_tool_calls
        ]
        text = _text_only(message.content, "assistant")
        return WireMessage.model_validate(
            {
                "role": "assistant",
                # Together wants content null (not "") beside tool calls on some engines.
                "content": text if text or not calls else None,
                "tool_calls": calls or None,
                "name": message.name,
            }
        )
    if isinstance(message, ToolMessage):
        if not message.tool_call_id:
            raise ValueError("A ToolMessage needs the tool_call_id of the call it answers.")
        return WireMessage(
            role="tool", content=_tool_content(message.content), tool_call_id=message.tool_call_id
        )
    if isinstance(message, ChatMessage):
        role = message.role
        if role == "system":
            return WireMessage(role=role, content=_text_only(message.content, role))
        return WireMessage.model_validate(
            {"role": role, "content": convert_content(message.content)}
        )
    if isinstance(message, FunctionMessage):
        raise TypeError(
            "FunctionMessage is the deprecated OpenAI function-calling form; answer tool calls "
            "with ToolMessage(content, tool_call_id=...) instead."
        )
    raise TypeError(f"Cannot send a {type(message).__name__} to a Together chat model.")


# ---------------------------------------------------------------- wire -> LangChain


def usage_to_metadata(usage: Usage | None) -> UsageMetadata | None:
    """Together usage (both cached/reasoning forms) as LangChain ``UsageMetadata``."""
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


def logprobs_to_dict(tokens: list[TokenLogprob] | None) -> dict[str, Any] | None:
    """Either wire logprobs shape as ChatOpenAI's ``{"content": [{token, logprob, bytes,
    top_logprobs}]}``."""
    if tokens is None:
        return None
    return {
        "content": [
            {
                "token": t.token,
                "logprob": t.logprob,
                "bytes": t.bytes,
                "top_logprobs": [
                    {"token": top.token, "logprob": top.logprob, "bytes": top.bytes}
                    for top in t.top_logprobs
                ],
            }
            for t in tokens
        ]
    }


def message_from_result(result: WireResult, *, system_fingerprint: str | None = None) -> AIMessage:
    """One parsed choice as an ``AIMessage``; bad tool-call JSON goes to
    ``invalid_tool_calls``."""
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
        "model_provider": PROVIDER,
        "finish_reason": result.finish_reason,
        "id": result.id,
    }
    if system_fingerprint:
        metadata["system_fingerprint"] = system_fingerprint
    if result.seed is not None:
        metadata["seed"] = result.seed
    if result.logprobs is not None:
        metadata["logprobs"] = logprobs_to_dict(result.logprobs)
    if result.warnings:
        metadata["warnings"] = list(result.warnings)
    return AIMessage(
        content=result.content,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        additional_kwargs=additional,
        response_metadata=metadata,
        usage_metadata=usage_to_metadata(result.usage),
        id=result.id or None,
    )


def chunk_from_view(view: ChatDeltaView) -> AIMessageChunk:
    """What one stream chunk adds, as an ``AIMessageChunk`` (tool calls as
    ``tool_call_chunks``, usage where the server sent it)."""
    additional: dict[str, Any] = {}
    if view.reasoning:
        additional["reasoning_content"] = view.reasoning
    metadata: dict[str, Any] = {"model_provider": PROVIDER}
    if view.finish_reason is not None:
        metadata["finish_reason"] = view.finish_reason
    if view.logprobs is not None:
        metadata["logprobs"] = logprobs_to_dict(view.logprobs)
    return AIMessageChunk(
        content=view.content,
        additional_kwargs=additional,
        response_metadata=metadata,
        tool_call_chunks=[
            tool_call_chunk(name=d.name, args=d.arguments, id=d.id, index=d.index)
            for d in view.tool_calls
        ],
        usage_metadata=usage_to_metadata(view.usage),
        id=view.id or None,
    )


# ------------------------------------------------------- standard content blocks


def _leading_blocks(message: AIMessage | AIMessageChunk) -> list[types.ContentBlock]:
    if not isinstance(message.content, str):
        # Content already holds blocks (v1 output, or built by hand): the generic parser
        # in langchain-core reads those.
        raise NotImplementedError
    blocks: list[types.ContentBlock] = []
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append(types.ReasoningContentBlock(type="reasoning", reasoning=reasoning))
    if message.content:
        blocks.append(types.TextContentBlock(type="text", text=message.content))
    return blocks


def _call_blocks(message: AIMessage | AIMessageChunk) -> list[types.ContentBlock]:
    blocks: list[types.ContentBlock] = [
        types.ToolCall(type="tool_call", id=c.get("id"), name=c["name"], args=c["args"])
        for c in message.tool_calls
    ]
    blocks.extend(
        types.InvalidToolCall(
            type="invalid_tool_call",
            id=c.get("id"),
            name=c.get("name"),
            args=c.get("args"),
            error=c.get("error"),
        )
        for c in message.invalid_tool_calls
    )
    return blocks


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    """``AIMessage.content_blocks`` for Together replies: reasoning, text, tool calls (valid
    and invalid), in that order."""
    return _leading_blocks(message) + _call_blocks(message)


def translate_content_chunk(chunk: AIMessageChunk) -> list[types.ContentBlock]:
    """``AIMessageChunk.content_blocks`` for Together stream chunks.

    Tool-call pieces get ``lc_tc_<n>`` indexes: LangChain numbers the other blocks of a v1
    stream 0, 1, ... and merges blocks with equal indexes, so a bare tool-call index 0
    would fold the first call into the reasoning or text block.
    """
    blocks = _leading_blocks(chunk)
    if chunk.chunk_position == "last":
        return blocks + _call_blocks(chunk)
    for piece in chunk.tool_call_chunks:
        block = types.ToolCallChunk(
            type="tool_call_chunk",
            id=piece.get("id"),
            name=piece.get("name"),
            args=piece.get("args"),
        )
        if piece.get("index") is not None:
            block["index"] = f"lc_tc_{piece['index']}"
        blocks.append(block)
    return blocks


def register_content_translator() -> None:
    """Register the translators above for ``model_provider == "together"``."""
    register_translator(PROVIDER, translate_content, translate_content_chunk)
