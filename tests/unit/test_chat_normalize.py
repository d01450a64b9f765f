"""The framework-neutral chat mapping: every NOTES §4 stream form, and stream == non-stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from together_integrations._chat import (
    ChatStreamAccumulator,
    ThinkTagSplitter,
    normalize_finish_reason,
    parse_chat_completion,
    parse_tool_arguments,
    split_think_tags,
)
from together_integrations.schemas import ChatCompletion, ChatCompletionChunk


def chunk(
    choices: list[dict[str, Any]], usage: dict[str, int] | None = None
) -> ChatCompletionChunk:
    body: dict[str, Any] = {
        "id": "oAbc123-xyz12-0123456789abcdef",
        "object": "chat.completion.chunk",
        "created": 1780235474,
        "model": "openai/gpt-oss-20b",
        "choices": choices,
        "usage": usage,
    }
    return ChatCompletionChunk.model_validate_json(json.dumps(body))


def delta_choice(finish: str | None = None, **delta: Any) -> dict[str, Any]:
    return {
        "index": 0,
        "text": delta.get("content") or "",
        "logprobs": None,
        "finish_reason": finish,
        "delta": {"token_id": None, "role": "assistant", **delta},
    }


USAGE = {"prompt_tokens": 152, "total_tokens": 193, "completion_tokens": 41, "reasoning_tokens": 0}


def run(chunks: list[ChatCompletionChunk], think_tags: bool = False) -> tuple[Any, Any]:
    acc = ChatStreamAccumulator(think_tags=think_tags)
    views = [v for c in chunks for v in acc.feed(c)]
    views += acc.flush()
    return views, acc.results()


def test_eos_is_reported_as_stop() -> None:
    assert normalize_finish_reason("eos") == "stop"
    assert normalize_finish_reason("length") == "length"
    assert normalize_finish_reason(None) is None


def test_legacy_usage_in_finish_chunk_is_reported_once() -> None:
    views, results = run(
        [
            chunk([delta_choice(content="2")]),
            chunk(
                [delta_choice("eos", content="")],
                usage={"prompt_tokens": 48, "completion_tokens": 2, "total_tokens": 50},
            ),
        ]
    )
    assert [v.usage.total_tokens for v in views if v.usage] == [50]
    assert results[0].finish_reason == "stop"
    assert results[0].content == "2"


def test_modern_separate_usage_chunk_and_reasoning() -> None:
    views, results = run(
        [
            chunk([delta_choice(content="", reasoning=" user")]),
            chunk([delta_choice(content="Hello", reasoning=None)]),
            chunk([delta_choice("stop", content="", reasoning=None)]),
            chunk([], usage=USAGE),
        ]
    )
    assert [v.reasoning for v in views] == [" user", "", "", ""]
    assert views[-1].usage is not None and views[-1].usage.reasoning == 0
    assert results[0].reasoning == " user"
    assert results[0].content == "Hello"
    assert results[0].usage is not None and results[0].usage.total_tokens == 193


def test_no_usage_at_all() -> None:
    _, results = run([chunk([delta_choice("stop", content="hi")])])
    assert results[0].usage is None


def test_tool_call_fragments_and_parallel_calls() -> None:
    def call(index: int, id_: str | None, name: str | None, args: str) -> dict[str, Any]:
        return {
            "id": id_,
            "index": index,
            "type": "function",
            "function": {"name": name, "arguments": args},
        }

    views, results = run(
        [
            chunk([delta_choice(content="", tool_calls=[call(0, "call_a", "square_root", "")])]),
            chunk([delta_choice(content="", tool_calls=[call(0, None, None, '{"number": 132')])]),
            chunk([delta_choice(content="", tool_calls=[call(0, None, None, "413}")])]),
            chunk([delta_choice(content="", tool_calls=[call(1, "call_b", "cube", "")])]),
            chunk([delta_choice(content="", tool_calls=[call(1, None, None, '{"n": 2}')])]),
            chunk([delta_choice("tool_calls", content="")]),
            chunk([], usage=USAGE),
        ]
    )
    deltas = [d for v in views for d in v.tool_calls]
    assert [(d.index, d.id, d.name) for d in deltas] == [
        (0, "call_a", "square_root"),
        (0, None, None),
        (0, None, None),
        (1, "call_b", "cube"),
        (1, None, None),
    ]
    calls = results[0].tool_calls
    assert [(c.id, c.name, c.args) for c in calls] == [
        ("call_a", "square_root", {"number": 132413}),
        ("call_b", "cube", {"n": 2}),
    ]
    assert results[0].finish_reason == "tool_calls"


def test_finish_reason_repeated_per_call_without_ids_on_later_fragments() -> None:
    # Llama-3.1 (2025-02): keys omitted on later deltas; finish sent with each call's last fragment.
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "a", "arguments": '{"x":'},
    }
    first_end = {"index": 0, "function": {"arguments": "1}"}}
    second = {
        "index": 1,
        "id": "call_2",
        "type": "function",
        "function": {"name": "b", "arguments": "{}"},
    }
    _, results = run(
        [
            chunk([delta_choice(tool_calls=[first])]),
            chunk([delta_choice("tool_calls", tool_calls=[first_end])]),
            chunk([delta_choice("tool_calls", tool_calls=[second])]),
        ]
    )
    assert [(c.name, c.args) for c in results[0].tool_calls] == [("a", {"x": 1}), ("b", {})]


def test_choice_level_index_minus_one_calls_get_real_indexes_once() -> None:
    qwen = {
        "id": "call_cda1",
        "index": -1,
        "type": "function",
        "function": {"name": "square_root", "arguments": '{"number": 132413}'},
    }
    other = {
        "id": "call_cda2",
        "index": -1,
        "type": "function",
        "function": {"name": "cube", "arguments": '{"n": 3}'},
    }
    choice = delta_choice(content="", tool_calls=None)
    views, results = run(
        [
            chunk([{**choice, "tool_calls": [qwen]}]),
            chunk([{**choice, "tool_calls": [qwen, other]}]),  # repeated call is not duplicated
            chunk([delta_choice("tool_calls", content="")]),
        ]
    )
    assert [d.index for v in views for d in v.tool_calls] == [0, 1]
    assert [c.name for c in results[0].tool_calls] == ["square_root", "cube"]


def test_invalid_tool_arguments_are_reported_not_raised() -> None:
    args, error = parse_tool_arguments('{"a": 1')
    assert args is None and error is not None and "not valid JSON" in error
    args, error = parse_tool_arguments("[1, 2]")
    assert args is None and error is not None and "object" in error
    assert parse_tool_arguments("") == ({}, None)


def test_logprobs_both_stream_shapes() -> None:
    lp = {
        "tokens": ["Hello"],
        "token_logprobs": [-4.7e-07],
        "token_ids": [None],
        "top_logprobs": [
            [{"token": "Hello", "logprob": -4.7e-07}, {"token": " Hello", "logprob": -14.75}]
        ],
    }
    choice = delta_choice("stop", content="Hello")
    choice["logprobs"] = lp
    bare = delta_choice(content="x")
    bare["logprobs"] = -0.5  # Qwen3-Thinking sends a bare number
    views, results = run([chunk([bare]), chunk([choice])])
    assert views[0].logprobs is None
    assert results[0].logprobs is not None
    assert results[0].logprobs[0].token == "Hello"
    assert [t.token for t in results[0].logprobs[0].top_logprobs] == ["Hello", " Hello"]


def test_non_stream_parse_matches_stream_accumulation() -> None:
    body = {
        "id": "ovCayG8-6Ng1vN-a273a07efb3b8b71",
        "object": "chat.completion",
        "created": 1786077875,
        "model": "deepseek-ai/DeepSeek-V3.1",
        "prompt": [],
        "choices": [
            {
                "finish_reason": "tool_calls",
                "seed": 12479678939117453000,
                "index": 0,
                "logprobs": {
                    "content": [{"token": "x", "bytes": [120], "logprob": -0.1, "top_logprobs": []}]
                },
                "message": {
                    "role": "assistant",
                    "content": "",
                    "reasoning": "think",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_3x",
                            "type": "function",
                            "function": {"arguments": '{"city":"Paris"}', "name": "get_weather"},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 198,
            "completion_tokens": 24,
            "total_tokens": 222,
            "cached_tokens": 5,
        },
        "warnings": [{"message": "Model supports only tool_choice auto"}],
    }
    [result] = parse_chat_completion(ChatCompletion.model_validate_json(json.dumps(body)))
    assert result.seed == 12479678939117453000
    assert result.reasoning == "think"
    assert result.tool_calls[0].args == {"city": "Paris"}
    assert result.usage is not None and result.usage.cached == 5
    assert result.warnings == ["Model supports only tool_choice auto"]
    assert result.logprobs is not None and result.logprobs[0].logprob == -0.1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\nplan</think>\n\nanswer", ("plan", "answer")),
        ("plan</think>answer", ("plan", "answer")),
        ("<think>ran out", ("ran out", "")),
        ("no tags", (None, "no tags")),
    ],
)
def test_split_think_tags(text: str, expected: tuple[str | None, str]) -> None:
    assert split_think_tags(text) == expected


@given(
    st.integers(min_value=1, max_value=12),
    st.text(alphabet="ab <>/thinkx\n", max_size=12),
    st.text(alphabet="ab <>/\n", max_size=12),
)
def test_think_splitter_any_chunking_gives_the_same_split(
    size: int, reasoning: str, answer: str
) -> None:
    if "<think>" in reasoning + answer or "</think>" in reasoning + answer:
        return
    text = f"<think>{reasoning}</think>{answer}"
    splitter = ThinkTagSplitter()
    got_r, got_c = "", ""
    for i in range(0, len(text), size):
        r, c = splitter.feed(text[i : i + size])
        got_r, got_c = got_r + r, got_c + c
    r, c = splitter.flush()
    assert (got_r + r, got_c + c) == (reasoning.lstrip(), answer.lstrip())


def test_think_tags_in_stream_become_reasoning() -> None:
    pieces = ["<thi", "nk>I should", " add</th", "ink>\n\n4", ""]
    chunks = [chunk([delta_choice(content=p)]) for p in pieces[:-1]]
    chunks.append(chunk([delta_choice("stop", content="")]))
    views, results = run(chunks, think_tags=True)
    assert "".join(v.reasoning for v in views) == "I should add"
    assert "".join(v.content for v in views) == "4"
    assert results[0].reasoning == "I should add" and results[0].content == "4"


def test_reasoning_content_is_read_like_reasoning() -> None:
    views, results = run(
        [
            chunk([delta_choice(content="", reasoning_content="think")]),
            chunk([delta_choice("stop", content="ok")]),
        ]
    )
    assert views[0].reasoning == "think" and results[0].reasoning == "think"
    whole = ChatCompletion.model_validate(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "ok",
                        "reasoning_content": "because",
                    },
                }
            ]
        }
    )
    assert parse_chat_completion(whole)[0].reasoning == "because"
