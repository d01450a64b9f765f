"""Request validation answers with the real error bodies, statuses and minimal headers (NOTES §2)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from together_integrations.testing import TogetherEmulator

from ._helpers import CHAT, ID_PATTERN, MODEL, MSGS, post

IMAGE = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "x"}}]


@pytest.mark.parametrize(
    ("path", "body", "status", "message", "param", "code"),
    [
        (CHAT, {"messages": MSGS}, 400, "Invalid request", "model", None),
        (
            CHAT,
            {"model": "bad model", "messages": MSGS},
            404,
            "Unable to access model bad model. Please visit https://api.together.ai/models to view the list of supported models.",
            None,
            "model_not_available",
        ),
        (
            CHAT,
            {"model": MODEL, "messages": [{"role": "robot", "content": "x"}]},
            400,
            "invalid role 'robot'",
            "messages",
            None,
        ),
        (
            CHAT,
            {"model": MODEL, "messages": [{"role": "tool", "content": "4"}]},
            400,
            "tool_call_id",
            "messages",
            None,
        ),
        (
            CHAT,
            {"model": MODEL, "messages": MSGS, "logprobs": "yes"},
            400,
            "[{'type': 'int_parsing', 'loc': ('body', 'logprobs')",
            None,
            None,
        ),
        (
            CHAT,
            {"model": MODEL, "messages": MSGS, "logprobs": True},
            400,
            "'input': True",
            None,
            None,
        ),
        (CHAT, {"model": MODEL, "messages": []}, 400, "Prompt cannot be empty", None, None),
        ("/completions", {"model": MODEL, "prompt": ""}, 400, "Prompt cannot be empty", None, None),
        (
            CHAT,
            {
                "model": "google/gemma-3n-E4B-it",
                "messages": [{"role": "user", "content": "x" * 140_000}],
            },
            400,
            "must be <= 32768",
            None,
            None,
        ),
        (
            "/embeddings",
            {"model": "BAAI/bge-base-en-v1.5", "input": []},
            400,
            "Input validation error",
            "input",
            None,
        ),
        (
            "/embeddings",
            {"model": "BAAI/bge-base-en-v1.5", "input": "x", "dimensions": 256},
            400,
            "does not support the dimensions parameter",
            "dimensions",
            None,
        ),
        (
            "/rerank",
            {"model": "Salesforce/Llama-Rank-V1", "documents": ["a"]},
            400,
            "Input validation error",
            "query",
            None,
        ),
        ("/nope", {"model": MODEL}, 404, "Not found: /v1/nope", None, "not_found"),
    ],
)
def test_validation_errors(
    emu: TogetherEmulator,
    path: str,
    body: dict[str, Any],
    status: int,
    message: str,
    param: str | None,
    code: str | None,
) -> None:
    r = post(emu, path, body)
    assert r.status_code == status
    payload = r.json()
    assert set(payload) == {"id", "error"} and re.match(ID_PATTERN, payload["id"])
    assert r.headers["x-request-id"] == payload["id"]
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "x-ratelimit-limit" not in r.headers  # errors carry a minimal header set
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and message in error["message"]
    assert (error["param"], error["code"]) == (param, code)
    assert r.text.startswith('{\n  "id": ')  # indented, as the server sends errors


def test_image_parts_to_a_non_vision_model_give_an_object_message(emu: TogetherEmulator) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": IMAGE}]}
    r = post(emu, CHAT, body)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == {
        "message": f"{MODEL} is not a multimodal model None",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    vision = {"model": "Qwen/Qwen2.5-VL-72B-Instruct", "messages": body["messages"]}
    assert post(emu, CHAT, vision).status_code == 200


def test_a_tool_turn_with_its_call_id_is_accepted(emu: TogetherEmulator) -> None:
    messages = [
        *MSGS,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "content": "363.89", "tool_call_id": "call_1"},
    ]
    r = post(emu, CHAT, {"model": MODEL, "messages": messages})
    assert (
        r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "You said: 363.89"
    )


def test_the_model_catalogue_is_configurable() -> None:
    emu = TogetherEmulator(models={"acme/tiny": {"type": "chat", "context_length": 10}})
    assert post(emu, CHAT, {"model": MODEL, "messages": MSGS}).status_code == 404
    assert (
        post(
            emu, CHAT, {"model": "acme/tiny", "messages": [{"role": "user", "content": "hi"}]}
        ).status_code
        == 200
    )
    too_long = {"model": "acme/tiny", "messages": [{"role": "user", "content": "x" * 100}]}
    assert "must be <= 10" in post(emu, CHAT, too_long).json()["error"]["message"]


def test_a_body_that_is_not_json_is_a_400(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        r = client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


class TestApiKey:
    def test_missing_or_wrong_key_is_401(self) -> None:
        emu = TogetherEmulator(api_key="right-key")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "right-key"}):
            r = post(emu, CHAT, {"model": MODEL, "messages": MSGS}, headers=headers)
            assert r.status_code == 401
            assert r.json()["error"] == {
                "message": "Invalid API key provided. You can find your API key at https://api.together.ai/settings/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        ok = post(
            emu,
            CHAT,
            {"model": MODEL, "messages": MSGS},
            headers={"Authorization": "Bearer right-key"},
        )
        assert ok.status_code == 200

    def test_models_401_has_its_own_shape(self) -> None:
        emu = TogetherEmulator(api_key="right-key")
        with emu.http_client() as client:
            r = client.get("/models", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.json() == {"error": {"message": "Unauthorized"}}
        assert r.headers["content-type"] == "application/json"

    def test_no_key_configured_accepts_anything(self, emu: TogetherEmulator) -> None:
        assert post(emu, CHAT, {"model": MODEL, "messages": MSGS}).status_code == 200
