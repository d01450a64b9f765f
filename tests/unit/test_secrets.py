"""The API key never leaves the Authorization header: not in a repr, an error (text, repr,
args, pickle, chained cause), a log record, or a pickled transport."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from together_integrations import APIError, RequestOptions, TogetherConfigError, TogetherTransport

from .fixtures import wire
from .fixtures.mock import SSE, Script, json_response

KEY = wire.KEY


def leaks(value: Any) -> bool:
    return KEY in repr(value) or KEY in str(value)


def assert_error_is_clean(err: BaseException) -> None:
    assert not leaks(err) and not leaks(err.args)
    assert not leaks(getattr(err, "__dict__", {}))
    assert KEY.encode() not in pickle.dumps(err)
    cause = err.__cause__
    if cause is not None:
        assert not leaks(cause) and not leaks(cause.args)


def test_repr_and_str_of_the_transport() -> None:
    transport = TogetherTransport(api_key=KEY)
    assert not leaks(transport) and "api_key=set" in repr(transport)
    assert not leaks(transport.api_key) and not leaks(vars(transport))
    assert isinstance(transport.api_key, SecretStr)


def test_a_pickled_transport_carries_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "key-from-env")
    transport = TogetherTransport(
        api_key=KEY, base_url="https://pickle.example.com/v1", max_retries=4
    )
    data = pickle.dumps(transport)
    assert KEY.encode() not in data
    back = pickle.loads(data)
    assert back.base_url == transport.base_url and back.max_retries == 4
    assert back.api_key is not None and back.api_key.get_secret_value() == "key-from-env"


ERRORS: dict[str, Any] = {
    "401": json_response(401, wire.ERROR_401),
    "429": json_response(429, wire.ERROR_429, **wire.RATE_LIMIT_HEADERS),
    "500-html": httpx.Response(500, text="<html>oops</html>"),
    "connect": httpx.ConnectError("refused"),
    "timeout": httpx.ReadTimeout("slow"),
    "bad-json": httpx.Response(200, content=b"not json"),
}


@pytest.mark.parametrize("answer", list(ERRORS.values()), ids=list(ERRORS))
def test_errors_and_logs_through_a_retrying_request(
    api: Any, sleeps: list[float], caplog: pytest.LogCaptureFixture, answer: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(answer)
    with pytest.raises(APIError) as info:
        api.call(script.transport(max_retries=2), "chat.create", wire.CHAT_BODY)
    assert script.calls >= 1
    assert script.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent
    assert_error_is_clean(info.value)
    for record in caplog.records:
        assert KEY not in record.getMessage() and not leaks(record.args)
    assert KEY not in caplog.text


def test_a_broken_stream_error_is_clean(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    raw = wire.sse(wire.modern_stream())
    script = Script(SSE(raw[:300], fail_with=httpx.ReadError("reset")))
    with pytest.raises(APIError) as info:
        api.stream(script.transport(), "chat.stream", wire.CHAT_BODY)
    assert_error_is_clean(info.value)
    assert KEY not in caplog.text


def test_the_key_is_not_in_the_missing_key_error_or_the_config_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(TogetherConfigError) as info:
        TogetherTransport(api_key=KEY, base_url="http://example.com/v1")
    assert_error_is_clean(info.value)
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with pytest.raises(TogetherConfigError) as missing:
        TogetherTransport().chat.create(wire.CHAT_BODY)
    assert_error_is_clean(missing.value)


def test_a_key_in_extra_query_is_not_echoed_in_error_urls(sleeps: list[float]) -> None:
    # Errors carry the URL without its query string, whatever was put there.
    script = Script(json_response(500, wire.ERROR_500))
    transport = script.transport(max_retries=0)
    with pytest.raises(APIError) as info:
        transport.chat.create(wire.CHAT_BODY, RequestOptions(extra_query={"token": KEY}))
    assert script.requests[0].url.params["token"] == KEY
    assert_error_is_clean(info.value)


def test_shared_registry_holds_no_plain_key_in_reprs() -> None:
    transport = TogetherTransport.shared(api_key=KEY, base_url="https://secret.example.com/v1")
    assert not leaks(transport) and not leaks([transport])
