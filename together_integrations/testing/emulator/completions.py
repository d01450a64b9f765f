"""``POST /v1/completions``: the language-model endpoint (NOTES §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .chat import chunk_logprobs, logprobs, logprobs_error
from .content import continue_prompt, usage
from .state import take
from .wire import EmulatedRequest, EmulatedResponse, split

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["completions", "register"]


def register(router: Router) -> None:
    router.add("POST", "/v1/completions", completions, needs_model=True)


def completions(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return wire.error(400, "Prompt cannot be empty")
    invalid = logprobs_error(emu, body.get("logprobs"))
    if invalid is not None:
        return invalid
    reply = take(emu._replies, body, emu._lock)
    text = reply.text if reply is not None and reply.text is not None else continue_prompt(prompt)
    finish = reply.finish_reason if reply is not None and reply.finish_reason else "length"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and len(text) > max_tokens * 4:
        text = text[: max_tokens * 4]
        finish = "length"
    counts = usage(len(prompt), text)
    if body.get("echo"):
        text = prompt + text
    request_id = wire.id()
    model = body["model"]
    created = wire.now()
    if body.get("stream"):
        events: list[dict[str, Any]] = [
            {
                "id": request_id,
                "object": "completion.chunk",
                "created": created,
                "choices": [
                    {
                        "index": 0,
                        "text": piece,
                        "logprobs": chunk_logprobs(body, piece, i),
                        "finish_reason": None,
                        "seed": None,
                        "delta": {"token_id": 300 + i, "role": "assistant", "content": piece},
                    }
                ],
                "model": model,
                "usage": None,
            }
            for i, piece in enumerate(split(text, emu.stream_chunk_chars))
        ]
        last_finish = "eos" if finish in ("stop", "length") and reply is None else finish
        events.append(
            {
                "id": request_id,
                "object": "completion.chunk",
                "created": created,
                "choices": [
                    {
                        "index": 0,
                        "text": "",
                        "logprobs": None,
                        "finish_reason": last_finish,
                        "seed": wire.seed_value(),
                        "delta": {"token_id": 2, "role": "assistant", "content": ""},
                    }
                ],
                "model": model,
                "usage": counts,
            }
        )
        return wire.stream(request_id, events)
    payload = {
        "id": request_id,
        "object": "text.completion",
        "created": created,
        "model": model,
        "prompt": [],
        "choices": [
            {
                "text": text,
                "finish_reason": finish,
                "seed": wire.seed_value(),
                "logprobs": logprobs(body, text, "together"),
                "index": 0,
            }
        ],
        "usage": counts,
    }
    return wire.ok(request_id, payload)
