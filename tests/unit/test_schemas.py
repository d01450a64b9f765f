"""Wire models on their own: the response shapes of NOTES §3-§6, both logprobs shapes,
usage forms, unknown keys kept, and request bodies as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from together_integrations.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    EmbeddingRequest,
    JSONSchemaFormat,
    LegacyLogprobs,
    OpenAILogprobs,
    RerankResponse,
    ResponseFormat,
    TokenLogprob,
    TranscriptionRequest,
    Usage,
    normalize_logprobs,
    parse_model_list,
)

from .fixtures import wire


def parse(body: dict[str, Any]) -> ChatCompletion:
    return ChatCompletion.model_validate_json(json.dumps(body))


@pytest.mark.parametrize("seed", [wire.BIG_SEED, 2**64 + 12345, None, 0])
def test_seed_is_unbounded_or_null(seed: int | None) -> None:
    body = wire.chat_completion()
    body["choices"][0]["seed"] = seed
    assert parse(body).choices[0].seed == seed


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", ""), ("Hi", "Hi")])
def test_content_null_empty_and_text_stay_distinct(raw: str | None, expected: str | None) -> None:
    body = wire.chat_completion()
    body["choices"][0]["message"]["content"] = raw
    assert parse(body).choices[0].message.content == expected


def test_tool_calls_empty_list_is_kept() -> None:
    assert parse(wire.chat_completion()).choices[0].message.tool_calls == []


@pytest.mark.parametrize(
    ("usage", "cached", "reasoning"),
    [
        ({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}, None, None),
        (
            {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "cached_tokens": 5},
            5,
            None,
        ),
        (
            {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "reasoning_tokens": 7},
            None,
            7,
        ),
        (
            {
                "prompt_tokens": 1,
                "completion_tokens": 1,
                "total_tokens": 2,
                "prompt_tokens_details": None,
            },
            None,
            None,
        ),
        (
            {
                "prompt_tokens": 1,
                "completion_tokens": 1,
                "total_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 3},
                "completion_tokens_details": {"reasoning_tokens": 4},
            },
            3,
            4,
        ),
    ],
    ids=["plain", "cached_tokens", "reasoning_tokens", "details-null", "openai-details"],
)
def test_usage_forms(usage: dict[str, Any], cached: int | None, reasoning: int | None) -> None:
    parsed = Usage.model_validate(usage)
    assert (parsed.cached, parsed.reasoning) == (cached, reasoning)
    assert parse(wire.chat_completion(usage=usage)).usage == parsed


def test_unknown_top_level_keys_are_kept() -> None:
    reply = parse(wire.REASONING_COMPLETION)
    assert reply.model_extra is not None
    assert reply.model_extra["metadata"] == {"weight_version": "default"}
    assert reply.model_extra["prompt"] == []
    assert "kv_transfer_params" in reply.model_extra
    assert reply.model_dump()["metadata"] == {"weight_version": "default"}  # round-trips


def test_warnings() -> None:
    reply = parse(wire.REASONING_COMPLETION)
    assert (
        reply.warnings is not None
        and reply.warnings[0].message == "Model supports only tool_choice auto"
    )


def test_normalize_legacy_logprobs() -> None:
    tokens = normalize_logprobs(LegacyLogprobs.model_validate(wire.LEGACY_LOGPROBS))
    assert tokens == [
        TokenLogprob(token="Hello", logprob=-0.0006),
        TokenLogprob(token="<|im_end|>", logprob=-1.01),
    ]
    assert normalize_logprobs(wire.LEGACY_LOGPROBS) == tokens  # a plain dict works too


def test_normalize_openai_logprobs() -> None:
    tokens = normalize_logprobs(OpenAILogprobs.model_validate(wire.OPENAI_LOGPROBS))
    assert tokens is not None and len(tokens) == 1
    assert tokens[0].token == "<|return|>" and tokens[0].logprob == -6.5e-06
    assert tokens[0].bytes == [60, 124, 114, 101, 116, 117, 114, 110, 124, 62]
    assert [t.logprob for t in tokens[0].top_logprobs] == [-6.5e-06, -12.0]
    assert normalize_logprobs(wire.OPENAI_LOGPROBS) == tokens


def test_normalize_legacy_with_top_logprobs_and_gaps() -> None:
    tokens = normalize_logprobs(
        {
            "tokens": ["a", None, "c"],
            "token_logprobs": [-1.0, None],
            "top_logprobs": [[{"token": "a", "logprob": -1.0}], {"b": -0.5, "x": -2.0}],
        }
    )
    assert tokens is not None
    assert [(t.token, t.logprob) for t in tokens] == [("a", -1.0), ("", None), ("c", None)]
    assert [t.token for t in tokens[1].top_logprobs] == ["b", "x"]
    assert tokens[2].top_logprobs == []


@pytest.mark.parametrize("value", [None, -0.25, 0])
def test_normalize_no_per_token_logprobs(value: float | None) -> None:
    assert normalize_logprobs(value) is None


def test_both_logprobs_shapes_select_their_model_in_a_chat_body() -> None:
    for logprobs, shape in (
        (wire.LEGACY_LOGPROBS, LegacyLogprobs),
        (wire.OPENAI_LOGPROBS, OpenAILogprobs),
    ):
        body = wire.chat_completion()
        body["choices"][0]["logprobs"] = logprobs
        assert isinstance(parse(body).choices[0].logprobs, shape)


def test_chunk_shapes() -> None:
    for event in [
        *wire.legacy_stream(),
        *wire.modern_stream(),
        *wire.gemma_stream(),
        *wire.tool_delta_stream(),
        *wire.qwen_choice_level_tool_stream(),
        *wire.logprob_streams(),
    ]:
        if isinstance(event, dict):
            chunk = ChatCompletionChunk.model_validate_json(json.dumps(event))
            assert chunk.object == "chat.completion.chunk" and chunk.id == event["id"]


def test_models_list_forms() -> None:
    bare = parse_model_list(json.dumps(wire.MODELS).encode())
    envelope = parse_model_list(json.dumps({"object": "list", "data": wire.MODELS}).encode())
    assert bare == envelope and len(bare) == 3
    assert parse_model_list(b"[]") == []


def test_rerank_document_empty_object() -> None:
    reply = RerankResponse.model_validate(wire.RERANK)
    assert [r.index for r in reply.results] == [0, 5] and reply.results[0].document == {}
    assert reply.usage is not None and reply.usage.completion_tokens == 0


# ------------------------------------------------------------------------------ requests


def test_request_to_wire_drops_none_and_keeps_extras() -> None:
    req = ChatCompletionRequest.model_validate(
        {
            **wire.CHAT_BODY,
            "temperature": None,
            "logprobs": 2,
            "chat_template_kwargs": {"enable_thinking": False},
            "provider": "together",
        }
    )
    wire_body = req.to_wire()
    assert wire_body == {
        **wire.CHAT_BODY,
        "logprobs": 2,
        "chat_template_kwargs": {"enable_thinking": False},
        "provider": "together",
    }
    assert json.loads(req.to_wire_json()) == wire_body


def test_json_schema_alias_on_the_wire() -> None:
    fmt = ResponseFormat(
        type="json_schema",
        json_schema=JSONSchemaFormat.model_validate({"name": "x", "schema": {"type": "object"}}),
    )
    assert fmt.to_wire() == {
        "type": "json_schema",
        "json_schema": {"name": "x", "schema": {"type": "object"}},
    }
    bare = ResponseFormat.model_validate({"type": "json_schema", "schema": {"type": "object"}})
    assert bare.to_wire() == {"type": "json_schema", "schema": {"type": "object"}}


@pytest.mark.parametrize("field", [{"logprobs": 21}, {"n": 0}, {"n": 129}])
def test_request_bounds(field: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChatCompletionRequest.model_validate({**wire.CHAT_BODY, **field})


def test_embedding_and_transcription_requests() -> None:
    assert EmbeddingRequest(model="m", input="a").to_wire() == {"model": "m", "input": "a"}
    form = TranscriptionRequest(
        model="openai/whisper-large-v3", diarize=False, timestamp_granularities=["segment", "word"]
    ).to_form()
    assert form == [
        ("model", "openai/whisper-large-v3"),
        ("timestamp_granularities", "segment"),
        ("timestamp_granularities", "word"),
        ("diarize", "false"),
    ]
