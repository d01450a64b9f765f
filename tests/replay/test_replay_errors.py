"""Every error shape the parsers depend on, replayed through ChatTogether and LlamaIndex's
TogetherLLM (``GET /models``, which neither adapter calls, through the transport). Each test
sends the same request twice: once per adapter, each answered by its own recorded error."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

from together_integrations import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from together_integrations.langchain import ChatTogether
from together_integrations.llama_index import TogetherLLM

from ._replay import CHAT_MODEL, emulator, settings, transport

UNKNOWN_MODEL = "acme/no-such-model-7B"
NOT_THE_KEY = "the-key-the-emulator-expects"


def both_raise(
    target: dict[str, Any], kind: type[APIStatusError], model: str = CHAT_MODEL
) -> list[APIStatusError]:
    """The error each adapter raises for one user turn (LangChain's is also ours)."""
    errors: list[APIStatusError] = []
    with pytest.raises(kind) as lc:
        ChatTogether(model=model, **settings(target)).invoke("Hi")
    errors.append(lc.value)
    with pytest.raises(kind) as li:
        TogetherLLM(model=model, **settings(target)).chat([ChatMessage(role="user", content="Hi")])
    errors.append(li.value)
    return errors


@pytest.mark.vcr
def test_401_invalid_api_key(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.api_key = NOT_THE_KEY  # the client's key is refused
    for error in both_raise(together_target, AuthenticationError):
        assert error.status_code == 401 and error.code == "invalid_api_key"
        assert isinstance(error.server_message, str)
        assert error.server_message.startswith("Invalid API key provided")
        assert error.request_id


@pytest.mark.vcr
def test_404_model_not_available(together_target: dict[str, Any]) -> None:
    for error in both_raise(together_target, NotFoundError, UNKNOWN_MODEL):
        assert error.status_code == 404 and error.code == "model_not_available"
        assert UNKNOWN_MODEL in str(error.server_message)


@pytest.mark.vcr
def test_429_with_retry_after(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.fail("status", status=429, retry_after=7, times=2)
    for error in both_raise(together_target, RateLimitError):
        assert error.status_code == 429 and error.type == "rate_limit"
        assert isinstance(error, RateLimitError) and error.retry_after == 7
        assert error.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.vcr
def test_500(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.fail("status", status=500, times=2)
    for error in both_raise(together_target, InternalServerError):
        assert error.status_code == 500 and error.type == "server_error"
        assert error.server_message == "Internal server error"


@pytest.mark.vcr
def test_400_message_as_object(together_target: dict[str, Any]) -> None:
    """Some 400s nest an object where the message string should be (NOTES §2)."""
    inner = {
        "message": f"{CHAT_MODEL} is not a multimodal model None",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    emu = emulator(together_target)
    if emu is not None:
        emu.fail("status", status=400, message=inner, times=2)
    for error in both_raise(together_target, BadRequestError):
        assert error.status_code == 400
        assert error.server_message == inner
        assert "is not a multimodal model" in str(error)  # the inner text, not a dict repr


@pytest.mark.vcr
def test_models_401_unauthorized(together_target: dict[str, Any]) -> None:
    """``GET /models`` answers 401 with a bare ``{"error": {"message": "Unauthorized"}}``."""
    emu = emulator(together_target)
    if emu is not None:
        emu.api_key = NOT_THE_KEY
    with transport(together_target) as t, pytest.raises(AuthenticationError) as caught:
        t.models.list()
    error = caught.value
    assert error.status_code == 401 and error.server_message == "Unauthorized"
    assert error.code is None and error.body == {"error": {"message": "Unauthorized"}}
