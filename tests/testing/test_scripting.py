"""Scripted replies, predicates, FIFO and the deterministic defaults (schema-valid values)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from together_integrations.testing import TogetherEmulator, example_for_schema

from ._helpers import MODEL, chat, post


def content(emu: TogetherEmulator, text: str = "hello", **body: Any) -> Any:
    r = chat(emu, messages=[{"role": "user", "content": text}], **body)
    return r.json()["choices"][0]["message"]["content"]


def test_predicates_first_then_fifo_then_default(emu: TogetherEmulator) -> None:
    emu.reply("first").reply("second")
    emu.reply("special", when=lambda body: "magic" in json.dumps(body["messages"]))
    assert content(emu, "hello") == "first"
    assert content(emu, "magic word") == "special"
    assert content(emu, "magic again") == "second"  # the predicate reply was used up
    assert content(emu, "hello") == "You said: hello"
    assert emu.pending_replies == 0


def test_times_counts_and_none_is_forever(emu: TogetherEmulator) -> None:
    emu.reply("twice", times=2)
    assert [content(emu) for _ in range(3)] == ["twice", "twice", "You said: hello"]
    emu.reply("always", times=None)
    assert {content(emu) for _ in range(4)} == {"always"}


def test_reply_json_and_reset(emu: TogetherEmulator) -> None:
    emu.reply_json({"a": [1, 2]})
    assert json.loads(content(emu)) == {"a": [1, 2]}
    emu.reply("left over")
    chat(emu)
    emu.reset()
    assert emu.requests == [] and content(emu) == "You said: hello"


def test_replies_serve_completions_too(emu: TogetherEmulator) -> None:
    emu.reply(" world", when=lambda body: "prompt" in body)
    r = post(emu, "/completions", {"model": "mistralai/Mixtral-8x7B-v0.1", "prompt": "Hello"})
    assert r.json()["choices"][0]["text"] == " world"


def test_requests_are_recorded_with_the_key_redacted(emu: TogetherEmulator) -> None:
    with emu.http_client(headers={"Authorization": "Bearer sk-secret", "X-App": "demo"}) as c:
        c.post("/chat/completions?trace=1", json={"model": MODEL, "messages": []})
        c.get("/models")
    first, second = emu.requests
    assert (first.method, first.path, first.query) == ("POST", "/v1/chat/completions", "trace=1")
    assert first.headers["authorization"] == "<redacted>" and first.headers["x-app"] == "demo"
    assert first.json == {"model": MODEL, "messages": []}
    assert (second.method, second.path, second.json) == ("GET", "/v1/models", None)
    assert "sk-secret" not in repr(emu.requests)


# ------------------------------------------------------------------ defaults from schemas

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 12},
        "days": {"type": "integer", "minimum": 3, "maximum": 10},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "detailed": {"type": "boolean"},
    },
    "required": ["city", "days", "unit"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER, "strict": True}},
        {"type": "json_schema", "schema": WEATHER},  # the flat form the server also accepts
        {"type": "json_object", "schema": WEATHER},
    ],
)
def test_json_schema_default_is_valid(emu: TogetherEmulator, response_format: Any) -> None:
    value = json.loads(content(emu, response_format=response_format))
    jsonschema.validate(value, WEATHER)


def test_json_object_without_schema_is_an_object(emu: TogetherEmulator) -> None:
    value = json.loads(content(emu, "hi", response_format={"type": "json_object"}))
    assert isinstance(value, dict) and value


@pytest.mark.parametrize(
    "tool_choice", [{"type": "function", "function": {"name": "forecast"}}, "required"]
)
def test_forced_tool_choice_gives_schema_valid_arguments(
    emu: TogetherEmulator, tool_choice: Any
) -> None:
    tools = [
        {"type": "function", "function": {"name": "forecast", "parameters": WEATHER}},
        {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}},
    ]
    if tool_choice == "required":
        tools = tools[:1]
    choice = chat(emu, tools=tools, tool_choice=tool_choice).json()["choices"][0]
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "forecast" and choice["finish_reason"] == "tool_calls"
    jsonschema.validate(json.loads(call["function"]["arguments"]), WEATHER)


def test_auto_tool_choice_answers_with_text(emu: TogetherEmulator) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": WEATHER}}]
    message = chat(emu, tools=tools, tool_choice="auto").json()["choices"][0]["message"]
    assert message["tool_calls"] == [] and message["content"]


PYDANTIC_STYLE = {
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {
                "street": {"type": "string"},
                "zip": {"type": "string", "pattern": "^[0-9]+$", "minLength": 1},
            },
            "required": ["street"],
        },
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["name", "children"],
        },
    },
    "type": "object",
    "properties": {
        "address": {"$ref": "#/$defs/Address"},
        "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "exclusiveMinimum": 5}]},
        "nullable": {"type": ["string", "null"], "format": "date-time"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "uniqueItems": True},
        "score": {"type": "number", "exclusiveMaximum": 0},
        "step": {"type": "number", "multipleOf": 0.25, "minimum": 2.1},
        "tree": {"$ref": "#/$defs/Node"},
        "both": {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"const": "x"}}, "required": ["b"]},
            ]
        },
        "pair": {
            "type": "array",
            "prefixItems": [{"type": "integer"}, {"type": "boolean"}],
            "items": False,
        },
        "email": {"type": "string", "format": "email", "maxLength": 40},
        "short": {"type": "string", "maxLength": 3},
        "even": {"type": "integer", "multipleOf": 2, "minimum": 7},
        "extra": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "minProperties": 2,
        },
    },
    "required": ["address", "tree", "both", "pair", "extra", "nullable"],
}


def test_generator_covers_the_common_schema_features() -> None:
    value = example_for_schema(PYDANTIC_STYLE)
    jsonschema.validate(value, PYDANTIC_STYLE, format_checker=jsonschema.FormatChecker())
    assert value["maybe"] == 6 and value["address"]["street"] == "example"
    assert len(set(value["tags"])) == 3 and value["both"] == {"a": 1, "b": "x"}


def test_generator_through_the_emulator_with_pydantic_schemas(emu: TogetherEmulator) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": PYDANTIC_STYLE}}
    jsonschema.validate(json.loads(content(emu, response_format=fmt)), PYDANTIC_STYLE)


def test_generator_refuses_remote_refs() -> None:
    with pytest.raises(ValueError, match="local"):
        example_for_schema({"$ref": "https://example.com/schema.json"})


def test_reset_forgets_files_jobs_and_their_models() -> None:
    from together_integrations.testing import VirtualClock

    clock = VirtualClock(start=1_800_000_000)
    emu = TogetherEmulator(clock=clock)
    configured = set(emu.models)
    train = b'{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'
    stored = emu.files.create(train, filename="t.jsonl", purpose="fine-tune")
    emu.fine_tunes.script(pending=1, queued=1, duration=10, finishing=2)
    with emu.http_client() as client:
        job = client.post(
            "/fine-tunes",
            json={
                "training_file": stored.id,
                "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
            },
        ).json()
        endpoint = client.post(
            "/endpoints",
            json={
                "model": MODEL,
                "hardware": "2x_nvidia_h100_80gb_sxm",
                "autoscaling": {"min_replicas": 1, "max_replicas": 1},
            },
        ).json()
        video = client.post(
            "https://api.together.xyz/v2/videos", json={"model": "google/veo-3.0", "prompt": "x"}
        ).json()
        clock.advance(3600)
        output = client.get(f"/fine-tunes/{job['id']}").json()["model_output_name"]
        assert chat(emu, model=output).status_code == 200  # the output model answers
        assert chat(emu, model=endpoint["name"]).status_code == 200  # so does the endpoint
        emu.reset()
        assert set(emu.models) == configured
        assert client.get("/files").json()["data"] == []
        assert client.get(f"/files/{stored.id}").status_code == 404
        assert client.get(f"/fine-tunes/{job['id']}").status_code == 404
        assert client.get(f"/endpoints/{endpoint['id']}").status_code == 404
        assert client.get(f"https://api.together.xyz/v2/videos/{video['id']}").status_code == 404
        assert client.get("/fine-tunes").json()["data"] == []
        assert chat(emu, model=output).status_code == 404
    assert emu.requests[-1].path == "/v1/chat/completions"  # still recording after a reset
