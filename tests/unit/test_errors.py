"""The error tree and ``make_status_error``: one class per status, the server's details kept,
messages that say what to do, errors that survive pickling."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

import together_integrations as ti
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
    TogetherConfigError,
    TogetherError,
    UnprocessableEntityError,
)
from together_integrations._exceptions import make_status_error
from together_integrations._retry import is_retryable, parse_rate_limit_headers, retry_delay

from .fixtures import wire


def made(status: int, body: Any, **headers: str) -> APIStatusError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return make_status_error(
        status, headers, raw, method="POST", url="https://x/v1/chat/completions"
    )


def test_the_tree() -> None:
    assert issubclass(TogetherConfigError, TogetherError) and issubclass(
        TogetherConfigError, ValueError
    )
    assert issubclass(APIError, TogetherError)
    assert issubclass(APITimeoutError, APIConnectionError) and issubclass(
        APIConnectionError, APIError
    )
    assert issubclass(APIResponseValidationError, APIError)
    for cls in (
        BadRequestError,
        AuthenticationError,
        InsufficientCreditsError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitError,
        InternalServerError,
    ):
        assert issubclass(cls, APIStatusError) and cls.__name__ in ti.__all__


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
        (418, APIStatusError),
        (415, APIStatusError),
    ],
)
def test_one_class_per_status(status: int, cls: type[APIStatusError]) -> None:
    err = made(status, {"error": {"message": "m"}})
    assert type(err) is cls and err.status_code == status
    assert str(err).startswith(f"Together API error {status}")


@pytest.mark.parametrize(
    ("body", "text", "code", "etype", "param", "request_id"),
    [
        (
            wire.ERROR_401,
            "Invalid API key provided",
            "invalid_api_key",
            "invalid_request_error",
            None,
            wire.ERROR_401["id"],
        ),
        (wire.ERROR_429, "Request was rejected", None, "rate_limit", None, wire.ERROR_429["id"]),
        (wire.ERROR_500, "Internal server error", None, "server_error", None, wire.ERROR_500["id"]),
        (
            wire.ERROR_400_PARAM,
            "Invalid request",
            None,
            "invalid_request_error",
            "model",
            "9026c5ba8ae9d397-CDG",
        ),
        (wire.ERROR_MODELS_401, "Unauthorized", None, None, None, None),
        (wire.ERROR_BATCH_STRING, "Batch not found", None, None, None, None),
    ],
)
def test_error_bodies_of_notes_section_2(
    body: dict[str, Any],
    text: str,
    code: str | None,
    etype: str | None,
    param: str | None,
    request_id: str | None,
) -> None:
    err = made(400, body)
    assert err.body == body
    assert isinstance(err.server_message, str) and err.server_message.startswith(text)
    assert (err.code, err.type, err.param, err.request_id) == (code, etype, param, request_id)
    assert text in err.message
    if code:
        assert f"({code})" in str(err)


def test_the_header_request_id_wins_over_the_body_id() -> None:
    err = made(404, wire.ERROR_404, **{"x-request-id": "from-header"})
    assert err.request_id == "from-header" and "[request id: from-header]" in str(err)


def test_object_message_is_kept_and_flattened_for_the_text() -> None:
    err = made(400, wire.ERROR_400_OBJECT)
    assert err.server_message == wire.ERROR_400_OBJECT["error"]["message"]
    assert "is not a multimodal model" in str(err)
    assert err.type == "invalid_request_error"


def test_a_list_message_is_dumped_as_json() -> None:
    body = {"error": {"message": [{"type": "bool_parsing", "loc": ["body", "logprobs"]}]}}
    err = made(422, body)
    assert err.server_message == body["error"]["message"] and "bool_parsing" in str(err)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (wire.HTML_502.encode(), "502 Bad Gateway"),
        (b"upstream connect error", "upstream connect error"),
        (b"", None),
    ],
)
def test_non_json_bodies_keep_their_text(raw: bytes, needle: str | None) -> None:
    err = made(502, raw)
    assert err.body == raw.decode() and err.server_message is None
    if needle:
        assert needle in str(err)
    assert "\r" not in str(err) and "\n" not in str(err)  # whitespace collapsed
    assert len(str(err)) < 500


def test_json_that_is_not_an_error_object() -> None:
    err = made(500, ["unexpected"])
    assert err.body == ["unexpected"] and err.server_message is None and err.code is None


@pytest.mark.parametrize(
    ("cls", "hint"),
    [
        (AuthenticationError, "TOGETHER_API_KEY"),
        (InsufficientCreditsError, "credits"),
        (NotFoundError, "GET /models"),
        (RateLimitError, "max_retries"),
    ],
)
def test_messages_say_what_to_do(cls: type[APIStatusError], hint: str) -> None:
    status = {
        AuthenticationError: 401,
        InsufficientCreditsError: 402,
        NotFoundError: 404,
        RateLimitError: 429,
    }[cls]
    assert hint in str(made(status, {"error": {"message": "x"}}))


def test_rate_limit_fields() -> None:
    err = made(429, wire.ERROR_429, **wire.RATE_LIMIT_HEADERS)
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 2.0
    assert err.rate_limits["limit"] == 1.0 and err.rate_limits["remaining"] == 0.0
    assert parse_rate_limit_headers({"X-RateLimit-Reset": "soon", "other": "1"}) == {
        "reset": "soon"
    }
    ms = made(429, wire.ERROR_429, **{"retry-after-ms": "1500"})
    assert isinstance(ms, RateLimitError) and ms.retry_after == 1.5
    none = made(429, wire.ERROR_429)
    assert isinstance(none, RateLimitError) and none.retry_after is None and none.rate_limits == {}


@pytest.mark.parametrize(
    "err",
    [
        made(429, wire.ERROR_429, **wire.RATE_LIMIT_HEADERS),
        made(400, wire.ERROR_400_OBJECT, **{"x-request-id": "r"}),
        made(502, wire.HTML_502.encode()),
        APIConnectionError(method="POST", url="https://x/v1/chat/completions"),
        APITimeoutError("slow", method="GET", url="https://x/v1/models"),
        APIResponseValidationError("bad", status_code=200, body="<html>", method="POST", url="u"),
    ],
    ids=["429", "400-object", "502-html", "connection", "timeout", "validation"],
)
def test_errors_survive_pickling(err: APIError) -> None:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.args == err.args
    assert back.__dict__ == err.__dict__


def test_retry_decisions() -> None:
    assert is_retryable(APIConnectionError()) and is_retryable(APITimeoutError())
    for status in (408, 409, 429, 500, 502, 503, 504, 529):
        assert is_retryable(made(status, {})), status
    for status in (400, 401, 402, 403, 404, 413, 422):
        assert not is_retryable(made(status, {})), status
    assert not is_retryable(APIResponseValidationError("x", status_code=200, body=""))
    assert retry_delay(made(500, {}), attempt=2, max_retries=2) is None
    assert retry_delay(made(429, {}, **{"retry-after": "61"}), 0, 5) is None
    assert retry_delay(made(429, {}, **{"retry-after": "3"}), 0, 5) == 3.0


def test_the_non_serverless_400_names_the_endpoints_api() -> None:
    from together_integrations import NonServerlessModelError

    body = {
        "id": "x",
        "error": {
            "message": "Unable to access non-serverless model me/big-model. Please visit "
            "https://api.together.ai/models to create and start a new dedicated endpoint.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_available",
        },
    }
    error = make_status_error(400, {}, json.dumps(body).encode())
    assert isinstance(error, NonServerlessModelError) and isinstance(error, BadRequestError)
    assert "transport.endpoints.create" in str(error) and error.code == "model_not_available"
    other = dict(body, error={**body["error"], "message": "Unable to access model bad model."})
    assert type(make_status_error(400, {}, json.dumps(other).encode())) is BadRequestError
