"""Chat completions as the emulator sends them, field by field from NOTES §3-§4."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from together_integrations.testing import TogetherEmulator

from ._helpers import ID_PATTERN, LLAMA, MODEL, MSGS, chat, stream_chat

# ------------------------------------------------------------------ non-stream shape


def test_plain_chat_has_the_real_shape_and_headers(emu: TogetherEmulator) -> None:
    r = chat(emu)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert list(body) == ["id", "object", "created", "model", "prompt", "choices", "usage"]
    assert re.match(ID_PATTERN, body["id"]) and r.headers["x-request-id"] == body["id"]
    assert r.headers["cf-ray"] == body["id"].rsplit("-", 1)[1] + "-SEA"
    assert body["object"] == "chat.completion" and body["model"] == MODEL
    assert body["prompt"] == [] and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["logprobs"] is None
    assert choice["finish_reason"] == "stop"
    assert choice["seed"] > 2**63  # beyond int64, as the real server sends
    assert choice["message"] == {
        "role": "assistant",
        "content": "You said: What is the capital of France?",
        "tool_calls": [],
    }
    usage = body["usage"]
    assert usage["cached_tokens"] == 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_success_headers_carry_rate_limits_and_timing(emu: TogetherEmulator) -> None:
    headers = chat(emu).headers
    for name in (
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset",
        "retry-after",
    ):
        assert headers[name].isdigit(), name
    assert headers["x-ratelimit"] == "false" and headers["retry-after"] == "2"
    assert headers["server"] == "cloudflare" and headers["x-inference-version"] == "v2"
    assert headers["x-api-call-end"].endswith("Z")


def test_bodies_are_encoded_like_the_server(emu: TogetherEmulator) -> None:
    # non-stream JSON is indented by two spaces; SSE events are compact
    assert chat(emu).text.startswith('{\n  "id": "o')
    r = emu.http_client().post(
        "/chat/completions", json={"model": MODEL, "messages": MSGS, "stream": True}
    )
    assert r.text.startswith('data: {"id":"o') and ", " not in r.text.split("\n")[0][:40]


def test_same_seed_gives_identical_bytes_and_another_seed_does_not() -> None:
    a, b, c = TogetherEmulator(seed=1), TogetherEmulator(seed=1), TogetherEmulator(seed=2)
    assert chat(a).content == chat(b).content
    assert chat(a).json()["id"] != chat(c).json()["id"]


def test_clock_mode_uses_the_current_time() -> None:
    import time

    body = chat(TogetherEmulator(created=None)).json()
    assert abs(body["created"] - time.time()) < 5


def test_reasoning_sits_beside_content(emu: TogetherEmulator) -> None:
    emu.reply("Paris.", reasoning="The user asks for a capital.")
    message = chat(emu).json()["choices"][0]["message"]
    assert message["content"] == "Paris." and message["reasoning"] == "The user asks for a capital."


def test_think_tags_are_just_text(emu: TogetherEmulator) -> None:
    emu.reply("<think>count</think>\n\nThree.")
    message = chat(emu, model="Qwen/Qwen3-235B-A22B-Thinking-2507").json()["choices"][0]["message"]
    assert message["content"] == "<think>count</think>\n\nThree." and "reasoning" not in message


def test_tool_calls_non_stream(emu: TogetherEmulator) -> None:
    emu.reply(
        tool_calls=[
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "raw", "arguments": '{"broken": ', "id": "call_fixed"},
        ]
    )
    choice = chat(emu).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    first, second = choice["message"]["tool_calls"]
    assert re.match(r"^call_[a-z0-9]{24}$", first["id"])
    assert first == {
        "index": 0,
        "id": first["id"],
        "type": "function",
        "function": {"arguments": '{"city": "Paris"}', "name": "get_weather"},
    }
    assert second["id"] == "call_fixed" and second["function"]["arguments"] == '{"broken": '
    assert choice["message"]["content"] == ""  # gpt-oss / DeepSeek style


def test_legacy_tool_calls_have_null_content_and_eos() -> None:
    emu = TogetherEmulator(dialect="legacy")
    emu.reply(tool_calls=[{"name": "f", "arguments": {}}])
    called = chat(emu, model=LLAMA).json()["choices"][0]
    assert called["message"]["content"] is None and called["finish_reason"] == "tool_calls"
    assert chat(emu, model=LLAMA).json()["choices"][0]["finish_reason"] == "eos"


def test_openai_dialect_non_stream_is_a_vllm_passthrough() -> None:
    body = chat(TogetherEmulator(dialect="openai"), model="google/gemma-3n-E4B-it").json()
    assert body["id"].startswith("chatcmpl-")
    assert "finish_reason" not in body["choices"][0] and "seed" not in body["choices"][0]


@pytest.mark.parametrize("fmt", ["together", "openai"])
def test_logprobs_shapes_non_stream(fmt: str) -> None:
    emu = TogetherEmulator(logprobs_format=fmt)  # type: ignore[arg-type]
    emu.reply("Hello there")
    logprobs = chat(emu, logprobs=2).json()["choices"][0]["logprobs"]
    if fmt == "together":
        assert set(logprobs) == {"tokens", "token_logprobs", "token_ids"}
        assert "".join(logprobs["tokens"]) == "Hello there" and logprobs["token_ids"] == []
        assert len(logprobs["token_logprobs"]) == len(logprobs["tokens"])
        assert all(v <= 0 for v in logprobs["token_logprobs"])
    else:
        content = logprobs["content"]
        assert "".join(c["token"] for c in content) == "Hello there"
        for item in content:
            assert bytes(item["bytes"]).decode() == item["token"] and item["logprob"] <= 0
            assert len(item["top_logprobs"]) == 2
            assert set(item["top_logprobs"][0]) == {"token", "bytes", "logprob"}


def test_no_logprobs_unless_asked(emu: TogetherEmulator) -> None:
    assert chat(emu).json()["choices"][0]["logprobs"] is None


def test_max_tokens_and_stop_cut_the_text(emu: TogetherEmulator) -> None:
    emu.reply("one two three four five six seven eight", times=2)
    choice = chat(emu, max_tokens=2).json()["choices"][0]
    assert choice["message"]["content"] == "one two " and choice["finish_reason"] == "length"
    choice = chat(emu, stop=[" four"]).json()["choices"][0]
    assert choice["message"]["content"] == "one two three" and choice["finish_reason"] == "stop"


def test_usage_can_be_scripted(emu: TogetherEmulator) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    emu.reply("ok", usage=usage)
    assert chat(emu).json()["usage"] == {**usage, "cached_tokens": 0}


# ------------------------------------------------------------------ streams


def content_of(events: list[dict[str, Any]]) -> str:
    return "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])


def test_modern_stream(emu: TogetherEmulator) -> None:
    emu.reply("Paris is the capital.", reasoning="The user asks")
    events = stream_chat(emu)
    first, *middle, finish, usage = events
    assert "usage" not in first  # the first chunk has no usage key at all
    assert all(e["usage"] is None for e in [*middle, finish])
    ids = {e["id"] for e in events}
    assert len(ids) == 1 and re.match(ID_PATTERN, ids.pop())
    for e in events[:-1]:
        assert e["object"] == "chat.completion.chunk" and e["model"] == MODEL
        (choice,) = e["choices"]
        assert "seed" not in choice and choice["text"] == choice["delta"]["content"]
        assert choice["delta"]["role"] == "assistant" and choice["delta"]["token_id"] is None
        assert "reasoning" in choice["delta"]
    reasoning = "".join(e["choices"][0]["delta"]["reasoning"] or "" for e in events[:-1])
    assert reasoning == "The user asks"
    assert first["choices"][0]["delta"]["content"] == ""  # reasoning first, content empty
    assert content_of(events) == "Paris is the capital."
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == [] and usage["usage"]["reasoning_tokens"] == 3
    assert usage["usage"]["total_tokens"] == (
        usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"]
    )


def test_legacy_stream() -> None:
    emu = TogetherEmulator(dialect="legacy")
    emu.reply("2 plus 2 is 4")
    events = stream_chat(emu, model=LLAMA)
    *body, finish = events
    for e in events:
        (choice,) = e["choices"]
        assert "usage" in e and choice["delta"]["role"] == "assistant"
        assert isinstance(choice["delta"]["token_id"], int)
        assert choice["delta"]["tool_calls"] is None and "reasoning" not in choice["delta"]
        assert choice["text"] == choice["delta"]["content"]
    assert all(e["usage"] is None and e["choices"][0]["seed"] is None for e in body)
    assert finish["choices"][0]["finish_reason"] == "eos"
    assert finish["choices"][0]["seed"] > 2**63
    assert set(finish["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert content_of(events) == "2 plus 2 is 4"


def test_openai_dialect_stream_has_no_usage_and_a_stop_reason() -> None:
    emu = TogetherEmulator(dialect="openai")
    emu.reply("Hi there")
    events = stream_chat(emu, model="google/gemma-3n-E4B-it")
    assert all(e["id"].startswith("chatcmpl-") and "usage" not in e for e in events)
    assert all("text" not in e["choices"][0] for e in events)
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "role" not in events[1]["choices"][0]["delta"]
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["choices"][0]["stop_reason"] == 106
    assert content_of(events) == "Hi there"


def test_dialect_can_be_chosen_per_reply(emu: TogetherEmulator) -> None:
    emu.reply("a", dialect="legacy").reply("b")
    assert stream_chat(emu)[-1]["choices"][0]["finish_reason"] == "eos"
    assert stream_chat(emu)[-1]["choices"] == []


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="dialect"):
        TogetherEmulator(dialect="nope")  # type: ignore[arg-type]


def test_stream_logprobs_per_chunk(emu: TogetherEmulator) -> None:
    emu.reply("Hello world")
    events = stream_chat(emu, logprobs=2)
    with_text = [e["choices"][0] for e in events[:-1] if e["choices"][0]["text"]]
    for choice in with_text:
        lp = choice["logprobs"]
        assert lp["tokens"] == [choice["text"]] and lp["token_ids"] == [None]
        assert len(lp["token_logprobs"]) == 1 and len(lp["top_logprobs"][0]) == 2
        assert lp["top_logprobs"][0][0] == {
            "token": choice["text"],
            "logprob": lp["token_logprobs"][0],
        }
    assert events[-2]["choices"][0]["logprobs"] is None  # the finish chunk


# ------------------------------------------------------------------ tool-call streams

TWO_CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    {"name": "square_root", "arguments": {"number": 132413}},
]


def deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for e in events for c in e["choices"] for t in c["delta"].get("tool_calls") or []]


def reassemble(events: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for t in deltas(events):
        call = calls.setdefault(t["index"], {"id": "", "name": "", "arguments": ""})
        call["id"] = t.get("id") or call["id"]
        call["name"] = (t.get("function") or {}).get("name") or call["name"]
        call["arguments"] += (t.get("function") or {}).get("arguments") or ""
    return calls


@pytest.mark.parametrize("dialect", ["modern", "legacy"])
def test_delta_tool_calls_parallel(dialect: str) -> None:
    emu = TogetherEmulator(dialect=dialect)  # type: ignore[arg-type]
    emu.reply(tool_calls=TWO_CALLS)
    events = stream_chat(emu)
    parts = deltas(events)
    firsts = [t for t in parts if t["id"] is not None]
    assert [t["index"] for t in firsts] == [0, 1]
    for t in firsts:
        assert t["type"] == "function" and t["function"]["arguments"] == ""
        assert re.match(r"^call_[a-z0-9]{24}$", t["id"])
    for t in parts:
        if t["id"] is None:
            assert t["function"]["name"] is None and t["function"]["arguments"]
    calls = reassemble(events)
    assert [calls[i]["name"] for i in (0, 1)] == ["get_weather", "square_root"]
    assert [json.loads(calls[i]["arguments"]) for i in (0, 1)] == [
        c["arguments"] for c in TWO_CALLS
    ]
    finishes = [c["finish_reason"] for e in events for c in e["choices"] if c["finish_reason"]]
    assert finishes == ["tool_calls"]
    if dialect == "modern":
        assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0
    else:
        assert events[-1]["usage"]["total_tokens"] > 0


def test_choice_level_tool_calls(emu: TogetherEmulator) -> None:
    emu.reply(tool_calls=TWO_CALLS, tool_call_style="choice_level")
    events = stream_chat(emu)
    carriers = [c for e in events for c in e["choices"] if "tool_calls" in c]
    (carrier,) = carriers
    assert carrier["delta"]["tool_calls"] is None
    assert [t["index"] for t in carrier["tool_calls"]] == [-1, -1]
    assert json.loads(carrier["tool_calls"][1]["function"]["arguments"]) == {"number": 132413}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-1]["choices"] == []


def test_finish_per_call_tool_calls(emu: TogetherEmulator) -> None:
    emu.reply(tool_calls=TWO_CALLS, tool_call_style="finish_per_call")
    events = stream_chat(emu, model="meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert all("usage" not in e and "text" not in e["choices"][0] for e in events)
    finish_chunks = [e for e in events if e["choices"][0]["finish_reason"]]
    assert len(finish_chunks) == 2
    for i, e in enumerate(finish_chunks):
        (fragment,) = e["choices"][0]["delta"]["tool_calls"]
        assert fragment["index"] == i and e["choices"][0]["finish_reason"] == "tool_calls"
    fragments = [t for t in deltas(events) if "id" not in t]
    assert fragments and all(set(t) == {"index", "function"} for t in fragments)
    calls = reassemble(events)
    assert json.loads(calls[1]["arguments"]) == {"number": 132413}


def test_unknown_tool_call_style_is_refused(emu: TogetherEmulator) -> None:
    with pytest.raises(ValueError, match="tool_call_style"):
        emu.reply(tool_calls=TWO_CALLS, tool_call_style="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        emu.reply(tool_calls=[{"arguments": {}}])


# ------------------------------------------------------------------------- n choices


def test_n_choices_each_indexed_and_usage_counts_every_completion(emu: TogetherEmulator) -> None:
    one = chat(emu).json()
    emu.reset()
    three = chat(emu, n=3).json()
    assert [c["index"] for c in three["choices"]] == [0, 1, 2]
    texts = {c["message"]["content"] for c in three["choices"]}
    assert texts == {one["choices"][0]["message"]["content"]}
    per_choice = one["usage"]["completion_tokens"]
    assert three["usage"]["completion_tokens"] == 3 * per_choice
    assert three["usage"]["prompt_tokens"] == one["usage"]["prompt_tokens"]
    assert three["usage"]["total_tokens"] == three["usage"]["prompt_tokens"] + 3 * per_choice


@pytest.mark.parametrize("dialect", ["modern", "legacy", "openai"])
def test_n_choices_stream_each_choice_by_index(emu: TogetherEmulator, dialect: str) -> None:
    emu.reply("Bonjour tout le monde", dialect=dialect)  # type: ignore[arg-type]
    events = stream_chat(emu, n=2)
    text: dict[int, str] = {}
    finishes: dict[int, Any] = {}
    for event in events:
        for item in event["choices"]:
            text[item["index"]] = text.get(item["index"], "") + (item["delta"].get("content") or "")
            if item.get("finish_reason"):
                finishes[item["index"]] = item["finish_reason"]
    assert text == {0: "Bonjour tout le monde", 1: "Bonjour tout le monde"}
    assert sorted(finishes) == [0, 1]
    usages = [e["usage"] for e in events if e.get("usage")]
    assert len(usages) == (0 if dialect == "openai" else 1)  # usage once, for both choices


@pytest.mark.parametrize("n", [0, 129, "2", True])
def test_n_out_of_range_is_a_400(emu: TogetherEmulator, n: Any) -> None:
    r = chat(emu, n=n)
    assert r.status_code == 400 and "n must be" in r.json()["error"]["message"]


def test_stream_usage_without_stream_options_as_together_sends_it(emu: TogetherEmulator) -> None:
    # Together has no stream_options (NOTES §3): usage arrives in streams without it, and
    # the server ignores the field when a client sends it anyway.
    plain = stream_chat(emu)
    asked = stream_chat(TogetherEmulator(), stream_options={"include_usage": True})
    assert plain[-1]["usage"] and plain[-1]["choices"] == []
    assert asked == plain
