"""``POST /v1/chat/completions``: validation, scripted or default replies, three stream dialects
and three tool-call styles (NOTES §3-§4)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from together_integrations.testing._schema import example_for_schema

from .content import alternatives, last_user_text, logprob, prompt_chars, usage
from .state import Dialect, LogprobsFormat, Reply, ToolCallStyle, take
from .wire import EmulatedRequest, EmulatedResponse, split

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["chat_completions", "register"]

ROLES = {"system", "user", "assistant", "tool", "function", "developer"}


def register(router: Router) -> None:
    router.add("POST", "/v1/chat/completions", chat_completions, needs_model=True)


@dataclass
class _Call:
    id: str
    name: str
    arguments: str


def logprobs_error(emu: TogetherEmulator, value: Any) -> EmulatedResponse | None:
    """The pydantic-list 400 the server sends for a non-integer ``logprobs`` (NOTES §2)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return None
    return emu.wire.error(
        400,
        "[{'type': 'int_parsing', 'loc': ('body', 'logprobs'), "
        f"'msg': 'Input should be a valid integer', 'input': {value!r}}}]",
    )


def _validate(emu: TogetherEmulator, body: dict[str, Any]) -> EmulatedResponse | None:
    wire = emu.wire
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return wire.error(400, "Prompt cannot be empty")
    info = emu.models[body["model"]]
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            return wire.error(
                400,
                f"Input validation error: invalid role {role!r}; expected one of "
                "system, user, assistant, tool, function",
                param="messages",
            )
        assert isinstance(message, dict)
        if role == "tool" and not message.get("tool_call_id"):
            return wire.error(
                400,
                "Input validation error: tool messages require 'tool_call_id'",
                param="messages",
            )
        content = message.get("content")
        if (
            isinstance(content, list)
            and not info.get("vision")
            and any(isinstance(p, dict) and p.get("type") == "image_url" for p in content)
        ):
            return wire.error(
                400,
                {
                    "message": f"{body['model']} is not a multimodal model None",
                    "type": "BadRequestError",
                    "param": None,
                    "code": 400,
                },
            )
    invalid = logprobs_error(emu, body.get("logprobs"))
    if invalid is not None:
        return invalid
    n = body.get("n", 1)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128):
        return wire.error(
            400, f"Input validation error: n must be an integer from 1 to 128, got {n!r}", param="n"
        )
    limit = int(info.get("context_length") or 0)
    prompt_tokens = prompt_chars(messages) // 4
    max_new = int(body.get("max_tokens") or 0)
    if limit and prompt_tokens + max_new > limit:
        return wire.error(
            400,
            f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {limit}. "
            f"Given: {prompt_tokens} `inputs` tokens and {max_new} `max_new_tokens`",
        )
    return None


def default_reply(body: dict[str, Any]) -> Reply:
    """What an unscripted model answers: a forced tool's schema example, a schema-valid JSON
    object for structured output, or an echo of the last user turn."""
    choice = body.get("tool_choice")
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    forced: dict[str, Any] | None = None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        forced = next((t for t in tools if (t.get("function") or {}).get("name") == name), None)
    elif choice == "required" and tools:
        forced = tools[0]
    if forced is not None:
        fn = forced["function"]
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        return Reply(tool_calls=[{"name": fn["name"], "arguments": example_for_schema(params)}])
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        wrapper = fmt.get("json_schema")
        schema = (wrapper.get("schema") if isinstance(wrapper, dict) else None) or fmt.get("schema")
        if not schema:
            return Reply(text=json.dumps({"answer": last_user_text(body) or "hello"}))
        return Reply(text=json.dumps(example_for_schema(schema)))
    last = last_user_text(body)
    return Reply(text=f"You said: {last}" if last else "Hello! How can I help?")


def chat_completions(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    invalid = _validate(emu, body)
    if invalid is not None:
        return invalid
    reply = take(emu._replies, body, emu._lock) or default_reply(body)
    text = reply.text or ""
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    stops = body.get("stop")
    for stop in [stops] if isinstance(stops, str) else stops or []:
        if isinstance(stop, str) and stop and stop in text:
            text = text[: text.index(stop)]
            finish = reply.finish_reason or "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and len(text) > max_tokens * 4:
        text = text[: max_tokens * 4]
        finish = "length"
    wire = emu.wire
    request_id = wire.id()
    n = int(body.get("n") or 1)
    counts = reply.usage or _times(
        usage(prompt_chars(body["messages"]), text, reply.reasoning or ""), n
    )
    calls = [
        _Call(
            id=call.get("id") or wire.call_id(),
            name=call["name"],
            arguments=call["arguments"]
            if isinstance(call["arguments"], str)
            else json.dumps(call["arguments"]),
        )
        for call in reply.tool_calls or []
    ]
    dialect = reply.dialect or emu.dialect
    if body.get("stream"):
        events = _events(
            emu,
            body,
            request_id,
            text,
            reply.reasoning,
            calls,
            finish,
            counts,
            dialect,
            reply.tool_call_style or "delta",
            n,
        )
        return wire.stream(request_id, events)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if calls and not text and dialect == "legacy" else text,
        "tool_calls": [
            {
                "index": i,
                "id": c.id,
                "type": "function",
                "function": {"arguments": c.arguments, "name": c.name},
            }
            for i, c in enumerate(calls)
        ],
    }
    if reply.reasoning is not None:
        message["reasoning"] = reply.reasoning
    wire_finish = "eos" if dialect == "legacy" and finish == "stop" else finish
    choice: dict[str, Any] = {
        "finish_reason": wire_finish,
        "seed": wire.seed_value(),
        "index": 0,
        "logprobs": logprobs(body, text, reply.logprobs_format or emu.logprobs_format),
        "message": message,
    }
    # n > 1: n choices, indexed, each the same answer with its own seed.
    choices = [choice] + [
        {**json.loads(json.dumps(choice)), "index": i, "seed": wire.seed_value()}
        for i in range(1, n)
    ]
    full_usage: dict[str, Any] = {"cached_tokens": 0, **counts}
    payload: dict[str, Any] = {
        "id": request_id,
        "object": "chat.completion",
        "created": wire.now(),
        "model": body["model"],
        "prompt": [],
        "choices": choices,
        "usage": full_usage,
    }
    if dialect == "openai":
        # vLLM passthrough (Gemma): its own id, no seed, finish_reason left out.
        payload["id"] = "chatcmpl-" + request_id[-16:]
        for item in choices:
            del item["seed"]
            if finish == "stop":
                del item["finish_reason"]
    return wire.ok(request_id, payload)


def _times(counts: dict[str, int], n: int) -> dict[str, int]:
    """Usage for ``n`` choices: the prompt once, the completion ``n`` times."""
    if n == 1:
        return counts
    completion = counts["completion_tokens"] * n
    return {
        **counts,
        "completion_tokens": completion,
        "total_tokens": counts["prompt_tokens"] + completion,
    }


def logprobs(body: dict[str, Any], text: str, fmt: LogprobsFormat) -> Any:
    """Non-stream logprobs in either shape NOTES §3 recorded."""
    top = body.get("logprobs")
    if not isinstance(top, int) or isinstance(top, bool) or top <= 0:
        return None
    tokens = split(text, 4) or [""]
    values = [logprob(t, i) for i, t in enumerate(tokens)]
    if fmt == "together":
        return {"tokens": tokens, "token_logprobs": values, "token_ids": []}
    return {
        "content": [
            {
                "token": tok,
                "bytes": list(tok.encode()),
                "logprob": value,
                "top_logprobs": [
                    {"token": alt, "bytes": list(alt.encode()), "logprob": alt_value}
                    for alt, alt_value in alternatives(tok, value, top)
                ],
            }
            for tok, value in zip(tokens, values, strict=True)
        ]
    }


def chunk_logprobs(body: dict[str, Any], piece: str, index: int) -> Any:
    top = body.get("logprobs")
    if not isinstance(top, int) or isinstance(top, bool) or top <= 0 or not piece:
        return None
    value = logprob(piece, index)
    return {
        "tokens": [piece],
        "token_logprobs": [value],
        "token_ids": [None],
        "top_logprobs": [
            [{"token": alt, "logprob": v} for alt, v in alternatives(piece, value, top)]
        ],
    }


def _events(
    emu: TogetherEmulator,
    body: dict[str, Any],
    request_id: str,
    text: str,
    reasoning: str | None,
    calls: list[_Call],
    finish: str,
    counts: dict[str, int],
    dialect: Dialect,
    style: ToolCallStyle,
    n: int = 1,
) -> list[dict[str, Any]]:
    """The SSE events of one answer; with ``n > 1`` each choice's chunks in turn (``index``
    0 to n-1), the usage once at the end."""
    created = emu.wire.now()
    model = body["model"]
    if style == "finish_per_call" and calls:
        dialect = "openai"  # Llama-3.1 2025-02: pure OpenAI chunks, no usage anywhere
        chunk_id = request_id
    else:
        chunk_id = "chatcmpl-" + request_id[-16:] if dialect == "openai" else request_id
    events: list[dict[str, Any]] = []
    position = 0

    def chunk(
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: Any = None,
        **choice_extra: Any,
    ) -> dict[str, Any]:
        nonlocal position
        position += 1
        if dialect == "openai":
            first = not events
            openai_delta = {"role": "assistant", "content": ""} if first else {}
            openai_delta.update(
                {k: v for k, v in delta.items() if k not in ("reasoning", "token_id")}
            )
            openai_choice: dict[str, Any] = {
                "index": 0,
                "delta": openai_delta,
                "logprobs": logprobs,
                "finish_reason": finish_reason,
            }
            if finish_reason is not None:
                openai_choice["stop_reason"] = 106 if finish_reason == "stop" else None
            return {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [openai_choice],
            }
        full_delta: dict[str, Any] = {
            "token_id": position + 100 if dialect == "legacy" else None,
            "role": "assistant",
            "content": "",
        }
        full_delta.update(delta)
        if dialect == "legacy":
            full_delta.setdefault("tool_calls", None)
        else:
            full_delta.setdefault("reasoning", None)
        choice: dict[str, Any] = {
            "index": 0,
            "text": delta.get("content") or "",
            "logprobs": logprobs,
            "finish_reason": finish_reason,
        }
        if dialect == "legacy":
            choice["seed"] = None
        choice.update(choice_extra)
        choice["delta"] = full_delta
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "choices": [choice],
            "model": model,
            "usage": None,
        }

    size = emu.stream_chunk_chars
    for number in range(n):
        start = len(events)
        _choice_events(events, chunk, body, text, reasoning, calls, finish, dialect, style, size)
        for event in events[start:]:
            for item in event["choices"]:
                item["index"] = number
        if dialect == "openai" and number and len(events) > start:
            # Each choice opens with the role, as the first one did.
            opening = events[start]["choices"][0]
            opening["delta"] = {"role": "assistant", "content": "", **opening["delta"]}
    if dialect == "legacy":
        events[-1]["choices"][0]["seed"] = emu.wire.seed_value()
        events[-1]["usage"] = counts
    elif dialect == "modern":
        events[0].pop("usage", None)
        events.append(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "choices": [],
                "model": model,
                "usage": {"reasoning_tokens": n * len(reasoning or "") // 4, **counts},
            }
        )
    return events


def _choice_events(
    events: list[dict[str, Any]],
    chunk: Any,
    body: dict[str, Any],
    text: str,
    reasoning: str | None,
    calls: list[_Call],
    finish: str,
    dialect: Dialect,
    style: ToolCallStyle,
    size: int,
) -> None:
    for piece in split(reasoning or "", size):
        events.append(chunk({"content": "", "reasoning": piece}))
    for i, piece in enumerate(split(text, size)):
        events.append(chunk({"content": piece}, logprobs=chunk_logprobs(body, piece, i)))
    if style == "choice_level" and calls:
        full = [
            {
                "id": c.id,
                "index": -1,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in calls
        ]
        events.append(chunk({"tool_calls": None}, tool_calls=full))
    else:
        for i, call in enumerate(calls):
            opening = {
                "id": call.id,
                "index": i,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(chunk({"tool_calls": [opening]}))
            pieces = split(call.arguments, max(4, size)) or [""]
            for j, piece in enumerate(pieces):
                last_piece = j == len(pieces) - 1
                if style == "finish_per_call":
                    frag: dict[str, Any] = {"index": i, "function": {"arguments": piece}}
                else:
                    frag = {
                        "id": None,
                        "index": i,
                        "type": "function",
                        "function": {"name": None, "arguments": piece},
                    }
                per_call_finish = (
                    "tool_calls" if style == "finish_per_call" and last_piece else None
                )
                events.append(chunk({"tool_calls": [frag]}, per_call_finish))
    if not (style == "finish_per_call" and calls):
        wire_finish = "eos" if dialect == "legacy" and finish == "stop" else finish
        events.append(chunk({"content": ""}, wire_finish))
