"""TogetherTransport on httpx.MockTransport: retries, retry-after, typed errors, configuration,
headers, shared instances and pools. Every retry/error test runs sync and async (``api``)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time
import warnings
from typing import Any

import httpx
import pytest

from together_integrations import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientCreditsError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestOptions,
    TogetherConfigError,
    TogetherTransport,
    UnprocessableEntityError,
    __version__,
)
from together_integrations._base_transport import Call
from together_integrations._constants import MAX_RETRY_DELAY, SHARED_TRANSPORTS_MAX

from .fixtures import wire
from .fixtures.mock import Api, Script, html_response, json_response

BODY = wire.CHAT_BODY


def ok() -> httpx.Response:
    return json_response(200, wire.chat_completion(), **{"x-request-id": wire.REQUEST_ID})


def error(status: int, body: Any = None, **headers: str) -> httpx.Response:
    payload = body if body is not None else {"id": "oErr", "error": {"message": f"failed {status}"}}
    return json_response(status, payload, **{"x-request-id": "oErr-req", **headers})


# ------------------------------------------------------------------------------ retries

RECOVERABLE = {
    "connect-error": httpx.ConnectError("connection refused"),
    "read-timeout": httpx.ReadTimeout("read timed out"),
    "remote-protocol": httpx.RemoteProtocolError("server disconnected"),
    "408": error(408),
    "409": error(409),
    "429": error(429, wire.ERROR_429),
    "500": error(500, wire.ERROR_500),
    "502-html": html_response(502, wire.HTML_502),
    "503-json": error(503, {"error": {"message": "Overloaded", "type": "server_error"}}),
    "503-html": html_response(503, wire.HTML_503),
    "504": error(504),
}


@pytest.mark.parametrize("first", list(RECOVERABLE.values()), ids=list(RECOVERABLE))
def test_a_retryable_failure_recovers_after_one_retry(
    api: Api, sleeps: list[float], first: Any
) -> None:
    script = Script(first, ok())
    reply = api.call(script.transport(), "chat.create", BODY)
    assert reply.choices[0].message.content == "Hello!"
    assert script.calls == 2
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 0.5  # first backoff: 0.5 s minus jitter


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # ms wins
        ({"Retry-After": "4"}, 4.0),
    ],
)
def test_retry_after_forms_are_honoured(
    api: Api, sleeps: list[float], headers: dict[str, str], expected: float
) -> None:
    script = Script(error(429, wire.ERROR_429, **headers), ok())
    api.call(script.transport(), "chat.create", BODY)
    assert sleeps == [pytest.approx(expected)] and script.calls == 2


def test_retry_after_as_a_future_http_date(api: Api, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    script = Script(error(503, **{"retry-after": when}), ok())
    api.call(script.transport(), "chat.create", BODY)
    assert len(sleeps) == 1 and 8.0 <= sleeps[0] <= 10.5


def test_retry_after_also_applies_to_5xx(api: Api, sleeps: list[float]) -> None:
    script = Script(error(500, wire.ERROR_500, **{"retry-after": "7"}), ok())
    api.call(script.transport(), "chat.create", BODY)
    assert sleeps == [7.0]


@pytest.mark.parametrize("headers", [{"retry-after": "61"}, {"retry-after-ms": "120000"}])
def test_a_retry_after_above_the_cap_raises_at_once(
    api: Api, sleeps: list[float], headers: dict[str, str]
) -> None:
    script = Script(error(429, wire.ERROR_429, **headers), ok())
    with pytest.raises(RateLimitError) as info:
        api.call(script.transport(max_retries=5), "chat.create", BODY)
    assert script.calls == 1 and sleeps == []
    assert info.value.retry_after is not None and info.value.retry_after > 60


def test_the_cap_itself_is_still_waited(api: Api, sleeps: list[float]) -> None:
    script = Script(error(429, wire.ERROR_429, **{"retry-after": "60"}), ok())
    api.call(script.transport(), "chat.create", BODY)
    assert sleeps == [60.0]


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "soon"},
        {"retry-after": "nan"},
        {"retry-after-ms": "NaN"},
        {"retry-after": "inf"},
        {"retry-after": "0"},
        {"retry-after": "-5"},
        {"retry-after-ms": "-1"},
        {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},  # a date in the past
        {"retry-after": "Wed, 99 Foo 2015 07:28:00 GMT"},
    ],
)
def test_an_unusable_retry_after_falls_back_to_backoff(
    api: Api, sleeps: list[float], headers: dict[str, str]
) -> None:
    script = Script(error(429, wire.ERROR_429, **headers), ok())
    api.call(script.transport(), "chat.create", BODY)
    assert script.calls == 2 and len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


def test_backoff_grows_is_jittered_and_capped(api: Api, sleeps: list[float]) -> None:
    script = Script(error(500, wire.ERROR_500))
    with pytest.raises(InternalServerError):
        api.call(script.transport(max_retries=7), "chat.create", BODY)
    assert script.calls == 8 and len(sleeps) == 7
    for attempt, delay in enumerate(sleeps):
        base = min(0.5 * 2**attempt, MAX_RETRY_DELAY)
        assert 0.75 * base <= delay <= base, (attempt, delay)
    assert max(sleeps) <= MAX_RETRY_DELAY
    assert sleeps[3] > sleeps[0]  # grows
    assert sleeps[-1] >= 0.75 * MAX_RETRY_DELAY  # reached the cap


def test_jitter_varies_between_retries(api: Api, sleeps: list[float]) -> None:
    script = Script(error(500))
    for _ in range(6):
        with pytest.raises(InternalServerError):
            api.call(script.transport(max_retries=1), "chat.create", BODY)
    assert len(set(sleeps)) > 1


@pytest.mark.parametrize("max_retries", [0, 1, 2, 4])
def test_exactly_max_retries_plus_one_attempts(
    api: Api, sleeps: list[float], max_retries: int
) -> None:
    script = Script(error(503, wire.ERROR_500))
    with pytest.raises(InternalServerError) as info:
        api.call(script.transport(max_retries=max_retries), "chat.create", BODY)
    assert script.calls == max_retries + 1 and len(sleeps) == max_retries
    assert info.value.status_code == 503


def test_the_default_is_two_retries(api: Api, sleeps: list[float]) -> None:
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        api.call(script.transport(), "chat.create", BODY)
    assert script.calls == 3


def test_per_call_max_retries_overrides_the_transport(api: Api, sleeps: list[float]) -> None:
    script = Script(error(429, wire.ERROR_429, **{"retry-after": "0"}))
    transport = script.transport(max_retries=5)
    with pytest.raises(RateLimitError):
        api.call(transport, "chat.create", BODY, RequestOptions(max_retries=0))
    assert script.calls == 1 and sleeps == []
    with pytest.raises(RateLimitError):
        api.call(transport, "chat.create", BODY, RequestOptions(max_retries=1))
    assert script.calls == 3


@pytest.mark.parametrize(
    ("exc", "error_type"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.ConnectTimeout("connect timed out"), APITimeoutError),
        (httpx.ReadTimeout("read timed out"), APITimeoutError),
        (httpx.PoolTimeout("no slot"), APITimeoutError),
        (httpx.ReadError("reset"), APIConnectionError),
    ],
)
def test_transport_failures_become_typed_errors_after_the_retries(
    api: Api, sleeps: list[float], exc: Exception, error_type: type[APIError]
) -> None:
    script = Script(exc)
    with pytest.raises(error_type) as info:
        api.call(script.transport(max_retries=1), "chat.create", BODY)
    assert type(info.value) is error_type
    assert script.calls == 2
    assert info.value.__cause__ is exc  # raise ... from the httpx error
    assert info.value.url == "https://api.together.xyz/v1/chat/completions"
    assert info.value.method == "POST"


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
    ],
)
def test_client_errors_are_never_retried(
    api: Api, sleeps: list[float], status: int, error_type: type[APIStatusError]
) -> None:
    script = Script(error(status, **{"retry-after": "0"}), ok())
    with pytest.raises(error_type) as info:
        api.call(script.transport(max_retries=5), "chat.create", BODY)
    assert script.calls == 1 and sleeps == []
    assert type(info.value) is error_type and info.value.status_code == status


def test_the_request_is_rebuilt_identically_for_each_attempt(api: Api, sleeps: list[float]) -> None:
    script = Script(error(500), error(502), ok())
    api.call(script.transport(), "chat.create", BODY)
    bodies = {r.content for r in script.requests}
    auth = {r.headers["authorization"] for r in script.requests}
    assert script.calls == 3 and len(bodies) == 1 and len(auth) == 1


def test_a_retry_is_logged_at_info_without_the_key(
    api: Api, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="together_integrations")
    script = Script(error(503), ok())
    api.call(script.transport(), "chat.create", BODY)
    retries = [r for r in caplog.records if r.name == "together_integrations"]
    assert len(retries) == 1 and "retry 1 of 2" in retries[0].getMessage()
    assert "/chat/completions" in retries[0].getMessage()


# ------------------------------------------------------------------------ typed errors


@pytest.mark.parametrize(
    ("status", "body", "error_type", "code", "etype", "param", "message"),
    [
        (
            401,
            wire.ERROR_401,
            AuthenticationError,
            "invalid_api_key",
            "invalid_request_error",
            None,
            "Invalid API key provided",
        ),
        (
            404,
            wire.ERROR_404,
            NotFoundError,
            "model_not_available",
            "invalid_request_error",
            None,
            "Unable to access model",
        ),
        (
            400,
            wire.ERROR_400_PARAM,
            BadRequestError,
            None,
            "invalid_request_error",
            "model",
            "Invalid request",
        ),
        (409, {"error": {"message": "conflict"}}, ConflictError, None, None, None, "conflict"),
    ],
)
def test_status_errors_carry_the_server_details(
    api: Api,
    sleeps: list[float],
    status: int,
    body: dict[str, Any],
    error_type: type[APIStatusError],
    code: str | None,
    etype: str | None,
    param: str | None,
    message: str,
) -> None:
    script = Script(json_response(status, body, **{"x-request-id": "oReq-123"}))
    with pytest.raises(error_type) as info:
        api.call(script.transport(max_retries=0), "chat.create", BODY)
    err = info.value
    assert err.status_code == status
    assert err.request_id == "oReq-123"
    assert err.body == body
    assert isinstance(err.server_message, str) and err.server_message.startswith(message)
    assert (err.code, err.type, err.param) == (code, etype, param)
    assert message in str(err) and "oReq-123" in str(err)
    assert err.headers["x-request-id"] == "oReq-123"


def test_request_id_falls_back_to_the_body_id(api: Api, sleeps: list[float]) -> None:
    script = Script(httpx.Response(404, json=wire.ERROR_404))
    with pytest.raises(NotFoundError) as info:
        api.call(script.transport(), "chat.create", BODY)
    assert info.value.request_id == wire.ERROR_404["id"]


def test_server_message_in_object_form(api: Api, sleeps: list[float]) -> None:
    script = Script(error(400, wire.ERROR_400_OBJECT))
    with pytest.raises(BadRequestError) as info:
        api.call(script.transport(), "chat.create", BODY)
    err = info.value
    assert isinstance(err.server_message, dict)
    assert err.server_message["type"] == "BadRequestError"
    assert err.type == "invalid_request_error"
    assert "is not a multimodal model" in str(err)


def test_models_401_shape(api: Api, sleeps: list[float]) -> None:
    script = Script(json_response(401, wire.ERROR_MODELS_401))
    with pytest.raises(AuthenticationError) as info:
        api.call(script.transport(), "models.list")
    err = info.value
    assert err.server_message == "Unauthorized" and err.code is None and err.type is None
    assert err.request_id is None
    assert "Unauthorized" in str(err) and "TOGETHER_API_KEY" in str(err)
    assert script.requests[0].method == "GET"


def test_html_error_page_keeps_the_text(api: Api, sleeps: list[float]) -> None:
    script = Script(html_response(502, wire.HTML_502))
    with pytest.raises(InternalServerError) as info:
        api.call(script.transport(max_retries=0), "chat.create", BODY)
    err = info.value
    assert err.status_code == 502 and isinstance(err.body, str) and "Bad Gateway" in err.body
    assert err.server_message is None and "502 Bad Gateway" in str(err)


def test_rate_limit_error_parses_retry_after_and_limits(api: Api, sleeps: list[float]) -> None:
    script = Script(error(429, wire.ERROR_429, **wire.RATE_LIMIT_HEADERS))
    with pytest.raises(RateLimitError) as info:
        api.call(script.transport(max_retries=0), "chat.create", BODY)
    err = info.value
    assert err.retry_after == 2.0
    assert err.rate_limits == {
        "limit": 1.0,
        "limit-tokens": 1000.0,
        "remaining": 0.0,
        "remaining-tokens": 3000.0,
        "reset": 2.0,
    }
    assert err.type == "rate_limit" and err.request_id == wire.ERROR_429["id"]


@pytest.mark.parametrize(
    "body", [b"<html>maintenance</html>", b"", b'{"choices": "not a list"}', b"[1, 2"]
)
def test_a_2xx_body_that_is_not_the_promised_json_is_a_validation_error(
    api: Api, sleeps: list[float], body: bytes
) -> None:
    script = Script(httpx.Response(200, content=body, headers={"x-request-id": "oBad"}))
    with pytest.raises(APIResponseValidationError) as info:
        api.call(script.transport(), "chat.create", BODY)
    assert info.value.status_code == 200 and info.value.body == body.decode()
    assert script.calls == 1 and "oBad" in str(info.value)


# ---------------------------------------------------------------------- configuration


def test_a_missing_key_fails_before_any_request(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    script = Script(ok())
    with pytest.raises(TogetherConfigError, match="TOGETHER_API_KEY"):
        api.call(script.transport(api_key=None), "chat.create", BODY)
    assert script.calls == 0
    assert isinstance(TogetherConfigError("x"), ValueError)


def test_an_empty_env_key_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "")
    script = Script(ok())
    with pytest.raises(TogetherConfigError):
        script.transport(api_key=None).chat.create(BODY)
    assert script.calls == 0


def test_env_vars_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", wire.KEY)
    monkeypatch.setenv("TOGETHER_BASE_URL", "https://proxy.example.com/together/v1/")
    script = Script(ok())
    transport = script.transport(api_key=None)
    transport.chat.create(BODY)
    sent = script.requests[0]
    assert str(sent.url) == "https://proxy.example.com/together/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {wire.KEY}"
    assert transport.api_key is not None and transport.api_key.get_secret_value() == wire.KEY


def test_arguments_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "env-key")
    monkeypatch.setenv("TOGETHER_BASE_URL", "https://env.example.com/v1")
    script = Script(ok())
    script.transport(api_key="arg-key", base_url="https://arg.example.com/v1").chat.create(BODY)
    sent = script.requests[0]
    assert sent.url.host == "arg.example.com" and sent.headers["authorization"] == "Bearer arg-key"


def test_the_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)
    assert TogetherTransport(api_key=wire.KEY).base_url == "https://api.together.xyz/v1"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://127.8.9.10/v1",
        "http://localhost:3000/v1",
        "http://api.localhost/v1",
        "http://[::1]:9000/v1",
        "https://api.example.com/v1",
    ],
)
def test_https_and_loopback_http_are_allowed(url: str) -> None:
    assert TogetherTransport(api_key=wire.KEY, base_url=url).base_url == url


@pytest.mark.parametrize(
    "url", ["http://api.together.xyz/v1", "http://10.0.0.5/v1", "http://localhost.evil.com/v1"]
)
def test_plain_http_to_other_hosts_is_refused(url: str) -> None:
    with pytest.raises(TogetherConfigError, match="allow_insecure_http"):
        TogetherTransport(api_key=wire.KEY, base_url=url)
    allowed = TogetherTransport(api_key=wire.KEY, base_url=url, allow_insecure_http=True)
    assert allowed.base_url == url


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "api.together.xyz/v1", "https:///v1"])
def test_a_base_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(TogetherConfigError, match="base_url"):
        TogetherTransport(api_key=wire.KEY, base_url=url)


def test_negative_max_retries_is_refused() -> None:
    with pytest.raises(TogetherConfigError, match="max_retries"):
        TogetherTransport(api_key=wire.KEY, max_retries=-1)


def test_headers_user_agent_and_body(api: Api) -> None:
    script = Script(ok())
    transport = script.transport(default_headers={"X-App": "demo", "X-Both": "default"})
    api.call(
        transport,
        "chat.create",
        {**BODY, "temperature": 0.2, "provider": "together"},
        RequestOptions(extra_headers={"X-Trace": "t-1", "X-Both": "call"}, extra_query={"q": "1"}),
    )
    sent = script.requests[0]
    assert sent.method == "POST"
    assert sent.url.path == "/v1/chat/completions" and sent.url.params["q"] == "1"
    assert sent.headers["user-agent"] == f"together-integrations/{__version__}"
    assert sent.headers["authorization"] == f"Bearer {wire.KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["x-app"] == "demo" and sent.headers["x-trace"] == "t-1"
    assert sent.headers["x-both"] == "call"
    # None fields are dropped, extra keys pass through, stream is stated explicitly.
    assert json.loads(sent.content) == {
        **BODY,
        "temperature": 0.2,
        "provider": "together",
        "stream": False,
    }


def test_extra_headers_are_per_call_only(api: Api) -> None:
    script = Script(ok())
    transport = script.transport()
    api.call(transport, "chat.create", BODY, RequestOptions(extra_headers={"X-Once": "1"}))
    api.call(transport, "chat.create", BODY)
    assert "x-once" in script.requests[0].headers and "x-once" not in script.requests[1].headers


def test_timeouts_reach_the_request(api: Api) -> None:
    script = Script(ok())
    transport = script.transport(timeout=30, connect_timeout=4)
    api.call(transport, "chat.create", BODY)
    api.call(transport, "chat.create", BODY, RequestOptions(timeout=2.5))
    first, second = (r.extensions["timeout"] for r in script.requests)
    assert first == {"connect": 4.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    assert second == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


def test_a_request_of_the_wrong_type_is_a_type_error() -> None:
    transport = Script(ok()).transport()
    with pytest.raises(TypeError, match="ChatCompletionRequest"):
        transport.chat.create("hello")  # type: ignore[arg-type]


# ------------------------------------------------------------------ shared and pools


def test_shared_returns_one_instance_per_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "shared-env-key")
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)
    url = "https://shared.example.com/v1"
    a = TogetherTransport.shared(base_url=url)
    assert a is TogetherTransport.shared(base_url=url)
    assert a is TogetherTransport.shared(api_key="shared-env-key", base_url=url + "/")
    assert a is TogetherTransport.shared(base_url=url, default_headers={})
    different = [
        TogetherTransport.shared(api_key="other", base_url=url),
        TogetherTransport.shared(base_url="https://other.example.com/v1"),
        TogetherTransport.shared(base_url=url, timeout=5),
        TogetherTransport.shared(base_url=url, connect_timeout=1),
        TogetherTransport.shared(base_url=url, max_retries=0),
        TogetherTransport.shared(base_url=url, default_headers={"X-App": "1"}),
    ]
    assert all(t is not a for t in different)
    assert len({id(t) for t in different}) == len(different)
    assert TogetherTransport.shared(base_url=url, default_headers={"X-App": "1"}) is different[-1]


def test_construction_does_no_io_and_pools_are_lazy() -> None:
    transport = TogetherTransport(api_key=wire.KEY, base_url="https://lazy.example.com/v1")
    assert transport._client is None and len(transport._loop_pools) == 0
    client = transport.sync_client
    assert isinstance(client, httpx.Client) and transport.sync_client is client
    transport.close()
    assert client.is_closed and transport._client is None
    assert transport.sync_client is not client  # reopened on next use
    transport.close()


async def test_async_pools_are_per_event_loop_and_lazy() -> None:
    transport = TogetherTransport(api_key=wire.KEY, base_url="https://lazy.example.com/v1")
    assert len(transport._loop_pools) == 0
    client = transport.async_client
    assert transport.async_client is client and len(transport._loop_pools) == 1
    await transport.aclose()
    assert client.is_closed and len(transport._loop_pools) == 0


def test_user_clients_are_used_and_never_closed(api: Api) -> None:
    script = Script(ok())
    sync_client, async_client = script.clients()
    transport = TogetherTransport(
        api_key=wire.KEY, http_client=sync_client, http_async_client=async_client
    )
    assert transport.sync_client is sync_client
    api.call(transport, "chat.create", BODY)
    assert script.calls == 1
    transport.close()
    with transport:
        pass

    async def close_async() -> None:
        assert transport.async_client is async_client
        await transport.aclose()
        async with transport:
            pass

    import asyncio

    asyncio.run(close_async())
    assert not sync_client.is_closed and not async_client.is_closed
    api.call(transport, "chat.create", BODY)  # still usable
    assert script.calls == 2


def test_copies_share_the_transport() -> None:
    import copy

    transport = TogetherTransport(api_key=wire.KEY)
    assert copy.copy(transport) is transport and copy.deepcopy(transport) is transport


# ------------------------------------------------------------ faults found by testing


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_shares_the_parents_pools() -> None:
    transport = TogetherTransport(api_key=wire.KEY, base_url="https://fork.example.com/v1")
    parent_client = transport.sync_client
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code, skip pytest's teardown
        fresh = transport.sync_client
        os._exit(0 if fresh is not parent_client and not fresh.is_closed else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert transport.sync_client is parent_client and not parent_client.is_closed
    transport.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_is_warned_about_a_client_it_inherited_from_the_caller() -> None:
    client = httpx.Client(transport=httpx.MockTransport(Script(ok())))
    transport = TogetherTransport(
        api_key=wire.KEY, base_url="https://fork.example.com/v1", http_client=client
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert transport.sync_client is client  # the parent: no warning
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code, skip pytest's teardown
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            transport.sync_client, transport.sync_client  # noqa: B018  (warned once)
        told = [w for w in seen if "os.fork()" in str(w.message)]
        os._exit(0 if len(told) == 1 and wire.KEY not in str(told[0].message) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    client.close()


def test_asyncio_run_per_call_closes_each_loops_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(ok())
    made: list[httpx.AsyncClient] = []
    real = httpx.AsyncClient

    def our_pool(**kwargs: Any) -> httpx.AsyncClient:
        client = real(transport=httpx.MockTransport(script), **kwargs)
        made.append(client)
        return client

    monkeypatch.setattr("together_integrations._transport.httpx.AsyncClient", our_pool)
    transport = TogetherTransport(api_key=wire.KEY, base_url="https://loops.example.com/v1")
    for _ in range(5):
        asyncio.run(transport.chat.acreate(BODY))
    assert script.calls == 5 and len(made) == 5
    assert all(client.is_closed for client in made)  # each loop closed its pool on shutdown


def test_shared_keeps_a_bounded_registry_never_keyed_by_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(TogetherTransport, "_registry", type(TogetherTransport._registry)())
    keys = [f"tgp_v1_distinct{i:04d}SecretValue" for i in range(3 * SHARED_TRANSPORTS_MAX)]
    transports = [TogetherTransport.shared(api_key=k) for k in keys]
    assert len(TogetherTransport._registry) == SHARED_TRANSPORTS_MAX
    assert TogetherTransport.shared(api_key=keys[-1]) is transports[-1]  # recent ones stay
    listing = repr(TogetherTransport._registry)
    assert not any(k in listing for k in keys)


@pytest.mark.parametrize("padded", [wire.KEY + "\n", f"  {wire.KEY}\t", wire.KEY + "\r\n"])
def test_surrounding_whitespace_is_stripped_from_the_key(api: Api, padded: str) -> None:
    script = Script(ok())
    transport = Script.transport(script, api_key=padded)
    api.call(transport, "chat.create", BODY)
    assert script.requests[0].headers["authorization"] == f"Bearer {wire.KEY}"


@pytest.mark.parametrize(
    "bad", ["tgp_v1_abc déf", "tgp_v1_abc\x00def", "tgp_v1_ключ", "tgp_v1_has space"]
)
def test_a_key_no_header_can_carry_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(TogetherConfigError) as info:
        TogetherTransport(api_key=bad)
    assert bad not in str(info.value) and bad not in repr(info.value)
    assert "api-keys" in str(info.value)


def test_an_empty_key_argument_is_a_config_error_at_once() -> None:
    with pytest.raises(TogetherConfigError, match="empty"):
        TogetherTransport(api_key="  ")


def test_in_flight_requests_are_bounded_per_transport() -> None:
    active = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return json_response(200, wire.chat_completion())

    async def run() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
        transport = TogetherTransport(api_key=wire.KEY, http_async_client=client, max_in_flight=3)
        replies = await asyncio.gather(*(transport.chat.acreate(BODY) for _ in range(20)))
        assert len(replies) == 20

    asyncio.run(run())
    assert peak == 3


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(TogetherConfigError, match="max_in_flight"):
        TogetherTransport(api_key=wire.KEY, max_in_flight=0)


PAID = Call("POST", "/batches", json=b"{}", paid=True)


@pytest.mark.parametrize(
    ("first", "retried"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ConnectTimeout("slow connect"), True),
        (lambda r: json_response(429, wire.ERROR_429), True),
        (lambda r: json_response(503, wire.ERROR_500, **{"retry-after": "1"}), True),
        (httpx.ReadTimeout("no answer"), False),
        (httpx.RemoteProtocolError("cut"), False),
        (lambda r: json_response(500, wire.ERROR_500), False),
        (lambda r: json_response(503, wire.ERROR_500), False),
        (lambda r: json_response(502, wire.ERROR_500), False),
        (lambda r: json_response(408, wire.ERROR_500), False),
    ],
    ids=[
        "connect-error",
        "connect-timeout",
        "429",
        "503-retry-after",
        "read-timeout",
        "cut",
        "500",
        "503-bare",
        "502",
        "408",
    ],
)
def test_paid_work_is_resent_only_when_it_cannot_have_started(
    api: Api, sleeps: list[float], first: Any, retried: bool
) -> None:
    script = Script(first, json_response(201, {"job": {"id": "b-1"}}))
    transport = script.transport()

    def send() -> Any:
        if api.is_async:
            return asyncio.run(transport.arequest(PAID, json.loads))
        return transport.request(PAID, json.loads)

    if retried:
        assert send() == {"job": {"id": "b-1"}} and script.calls == 2
    else:
        with pytest.raises(APIError):
            send()
        assert script.calls == 1 and sleeps == []


def test_families_under_v2_derive_their_root_from_the_base_url() -> None:
    script = Script(json_response(200, {}))
    transport = script.transport(base_url="https://proxy.example.com/together/v1")
    transport.request(Call("GET", "/videos/v-1", root="v2"), json.loads)
    assert str(script.requests[0].url) == "https://proxy.example.com/together/v2/videos/v-1"

    odd = Script(json_response(200, {})).transport(base_url="https://proxy.example.com/together")
    with pytest.raises(TogetherConfigError, match="/v2"):
        odd.request(Call("GET", "/videos/v-1", root="v2"), json.loads)


def test_a_corrupt_gzip_body_is_a_typed_retried_error(api: Api, sleeps: list[float]) -> None:
    def corrupt(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            stream=httpx.ByteStream(b"not gzip at all"),
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )

    script = Script(corrupt, json_response(200, wire.chat_completion()))
    reply = api.call(script.transport(), "chat.create", BODY)
    assert reply.choices and script.calls == 2
    with pytest.raises(APIConnectionError, match="decoded"):
        api.call(Script(corrupt).transport(max_retries=0), "chat.create", BODY)


@pytest.mark.parametrize("body", [{"id": "x", "object": "chat.completion"}, {"choices": []}])
def test_a_completion_without_choices_is_a_validation_error(api: Api, body: dict[str, Any]) -> None:
    with pytest.raises(APIResponseValidationError):
        api.call(Script(json_response(200, body)).transport(), "chat.create", BODY)


def test_a_parsed_answer_keeps_its_response_headers(api: Api) -> None:
    from together_integrations import response_headers

    answer = json_response(200, wire.chat_completion(), **{"x-ratelimit-remaining": "59"})
    reply = api.call(Script(answer).transport(), "chat.create", BODY)
    assert response_headers(reply)["x-ratelimit-remaining"] == "59"
    assert response_headers(object()) == {} and "x-ratelimit" not in repr(reply)


def test_a_per_call_connect_timeout_reaches_the_request(api: Api) -> None:
    script = Script(ok())
    options = RequestOptions(timeout=30, connect_timeout=2)
    api.call(script.transport(), "chat.create", BODY, options)
    timeouts = script.requests[0].extensions["timeout"]
    assert timeouts["connect"] == 2 and timeouts["read"] == 30


def test_a_transport_on_user_clients_refuses_to_pickle() -> None:
    import pickle

    transport = Script(ok()).transport()
    assert transport.carries_user_clients
    with pytest.raises(TypeError, match="http_client"):
        pickle.dumps(transport)
    plain = TogetherTransport(api_key=wire.KEY, base_url="https://p.example.com/v1")
    assert (
        not plain.carries_user_clients
        and pickle.loads(pickle.dumps(plain)).base_url == plain.base_url
    )
