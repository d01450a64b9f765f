"""One client-settings model for ChatTogether, TogetherLLM, TogetherEmbeddings and
TogetherRerank: every spelling langchain-together and ChatOpenAI accept is honoured or refused,
nothing client-side reaches the wire, per-call transport options shape the HTTP request.

Each test runs over the four classes (``kind``) against the in-process emulator, seen through
an httpx transport that records the real ``httpx.Request`` (URL, headers, timeout extension).
"""

from __future__ import annotations

import asyncio
import json
import pickle
import warnings
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.load import dumps

from together_integrations.langchain import (
    ChatTogether,
    TogetherEmbeddings,
    TogetherLLM,
    TogetherRerank,
)
from together_integrations.testing import EmulatorTransport, TogetherEmulator

KEY = "tk-settings-secret-0123456789abcdef"
CHAT_MODEL = "openai/gpt-oss-20b"
LLM_MODEL = "mistralai/Mixtral-8x7B-v0.1"
EMBED_MODEL = "BAAI/bge-base-en-v1.5"
RERANK_MODEL = "mixedbread-ai/Mxbai-Rerank-Large-V2"

CLASSES: dict[str, tuple[type[Any], str]] = {
    "chat": (ChatTogether, CHAT_MODEL),
    "llm": (TogetherLLM, LLM_MODEL),
    "embeddings": (TogetherEmbeddings, EMBED_MODEL),
    "rerank": (TogetherRerank, RERANK_MODEL),
}


class Recorder(EmulatorTransport):
    """The emulator as an httpx transport that keeps every request it answers."""

    def __init__(self, emulator: TogetherEmulator) -> None:
        super().__init__(emulator)
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return super().handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await super().handle_async_request(request)

    @property
    def last(self) -> httpx.Request:
        return self.seen[-1]

    @property
    def body(self) -> dict[str, Any]:
        value = json.loads(self.last.content)
        assert isinstance(value, dict)
        return value

    def clients(self) -> dict[str, Any]:
        return {
            "http_client": httpx.Client(transport=self),
            "http_async_client": httpx.AsyncClient(transport=self),
        }


@pytest.fixture(params=sorted(CLASSES))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator(api_key=KEY)


@pytest.fixture
def rec(emu: TogetherEmulator) -> Recorder:
    return Recorder(emu)


def build(kind: str, rec: Recorder | None = None, **kwargs: Any) -> Any:
    cls, model = CLASSES[kind]
    kwargs.setdefault("model", model)
    if rec is not None:
        kwargs = {**rec.clients(), "max_retries": 0, **kwargs}
    return cls(**kwargs)


def call(obj: Any, mode: str = "sync", **kwargs: Any) -> Any:
    """One request through the class's main entry point."""
    if isinstance(obj, TogetherEmbeddings):
        return obj.embed_query("hi") if mode == "sync" else asyncio.run(obj.aembed_query("hi"))
    if isinstance(obj, TogetherRerank):
        if mode == "sync":
            return obj.rerank("q", ["a", "b"])
        return asyncio.run(obj.arerank("q", ["a", "b"]))
    if mode == "sync":
        return obj.invoke("hi", **kwargs)
    return asyncio.run(obj.ainvoke("hi", **kwargs))


def body_text(rec: Recorder) -> str:
    return rec.last.content.decode()


# ------------------------------------------------------------------ the key


@pytest.mark.parametrize("spelling", ["api_key", "together_api_key", "openai_api_key"])
@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_every_key_spelling_authenticates_and_stays_secret(
    kind: str, rec: Recorder, spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    obj = build(kind, rec, **{spelling: KEY})
    call(obj)  # the emulator answers 401 unless the bearer key is KEY
    assert rec.last.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in body_text(rec)
    assert obj.api_key.get_secret_value() == KEY
    assert obj.together_api_key is obj.api_key and obj.openai_api_key is obj.api_key
    assert KEY not in repr(obj) and KEY not in str(obj)
    assert KEY.encode() not in pickle.dumps(obj)
    assert KEY not in json.dumps(obj.model_dump(), default=str)
    if kind in ("chat", "llm"):
        assert KEY not in dumps(obj)
        assert KEY not in json.dumps(obj.asdict(), default=str)
        assert KEY not in json.dumps(obj._get_ls_params(), default=str)


def test_two_different_keys_are_refused(kind: str) -> None:
    with pytest.raises(ValueError, match="'api_key' and 'openai_api_key' both set"):
        build(kind, api_key="one", openai_api_key="two")


def test_a_key_callable_is_refused_clearly(kind: str) -> None:
    with pytest.raises(TypeError, match="api_key must be a string or SecretStr"):
        build(kind, api_key=lambda: KEY)


def test_a_key_given_per_call_is_refused_not_sent(rec: Recorder, mode: str) -> None:
    llm = build("chat", rec, api_key=KEY)
    with pytest.raises(ValueError, match="client settings"):
        call(llm, mode, api_key="other")
    assert rec.seen == []


# ------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    "how",
    ["base_url", "together_api_base", "openai_api_base", "TOGETHER_API_BASE", "TOGETHER_BASE_URL"],
)
def test_every_base_url_spelling_routes_the_request(
    kind: str, rec: Recorder, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://proxy.example.test/v1"
    for env in ("TOGETHER_API_BASE", "TOGETHER_BASE_URL"):
        monkeypatch.delenv(env, raising=False)
    if how.isupper():
        monkeypatch.setenv(how, url)
        obj = build(kind, rec, api_key=KEY)
    else:
        obj = build(kind, rec, api_key=KEY, **{how: url})
    call(obj)
    assert rec.last.url.host == "proxy.example.test"
    assert "proxy.example.test" not in body_text(rec)
    if not how.isupper() or how == "TOGETHER_API_BASE":
        assert obj.base_url == url == obj.together_api_base == obj.openai_api_base


# ------------------------------------------------ clients, model, timeouts


def test_http_clients_are_used_sync_and_async(kind: str, rec: Recorder, mode: str) -> None:
    obj = build(kind, rec, api_key=KEY)
    call(obj, mode)
    assert len(rec.seen) == 1


def test_model_name_is_the_model(kind: str, rec: Recorder) -> None:
    _, model = CLASSES[kind]
    cls = CLASSES[kind][0]
    obj = cls(model_name=model, api_key=KEY, **rec.clients())
    assert obj.model == model and obj.model_name == model
    call(obj)
    assert rec.body["model"] == model


def timeouts(request: httpx.Request) -> dict[str, float]:
    value = request.extensions["timeout"]
    assert isinstance(value, dict)
    return value


class FakeTimeout:
    """Duck-typed httpx.Timeout (adapters never import httpx)."""

    def __init__(self, seconds: float, connect: float) -> None:
        self.connect, self.read, self.write, self.pool = connect, seconds, seconds, seconds


@pytest.mark.parametrize(
    ("given", "connect", "read"),
    [
        ({"request_timeout": 12}, 10.0, 12.0),
        ({"timeout": 7.5}, 7.5, 7.5),
        ({"timeout": (3, 30)}, 3.0, 30.0),
        ({"request_timeout": [2, 20]}, 2.0, 20.0),
        ({"timeout": httpx.Timeout(40.0, connect=4.0)}, 4.0, 40.0),
        ({"timeout": FakeTimeout(50.0, connect=5.0)}, 5.0, 50.0),
    ],
    ids=["request_timeout", "number", "tuple", "list", "httpx.Timeout", "duck-typed"],
)
def test_timeouts_in_every_form_reach_the_request(
    kind: str, rec: Recorder, given: dict[str, Any], connect: float, read: float
) -> None:
    obj = build(kind, rec, api_key=KEY, **given)
    call(obj)
    sent = timeouts(rec.last)
    assert sent["connect"] == connect and sent["read"] == read and sent["pool"] == read
    assert obj.request_timeout == read


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ((1, 2, 3), ValueError, r"\(connect, read\)"),
        (httpx.Timeout(None), ValueError, "unbounded"),
        (httpx.Timeout(5.0, write=1.0), ValueError, "one timeout for read, write and pool"),
        ("soon", TypeError, "seconds"),
        (-1, ValueError, "above 0"),
    ],
)
def test_timeouts_that_cannot_be_honoured_are_refused(
    kind: str, value: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build(kind, timeout=value)


def test_retries_headers_and_query_reach_the_request(kind: str, rec: Recorder) -> None:
    obj = build(
        kind,
        rec,
        api_key=KEY,
        max_retries=0,
        default_headers={"X-Team": "search"},
        default_query={"trace": True, "n": 2},
    )
    call(obj)
    assert rec.last.headers["x-team"] == "search"
    assert rec.last.url.params["trace"] == "true" and rec.last.url.params["n"] == "2"
    assert "X-Team" not in body_text(rec) and "trace" not in rec.body


# --------------------------------------------------- unknown and client-side


def test_a_typo_warns_and_becomes_a_request_field(kind: str, rec: Recorder) -> None:
    with pytest.warns(UserWarning, match="'temprature' is not a"):
        obj = build(kind, rec, api_key=KEY, temprature=0.1)
    assert obj.model_kwargs == {"temprature": 0.1}
    if kind != "rerank":  # the rerank endpoint refuses unknown fields (additionalProperties)
        call(obj)
        assert rec.body["temprature"] == 0.1


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("openai_proxy", "http://user:hunter2@proxy:3128", "httpx.Client"),
        ("http_socket_options", [(6, 1, 1)], "socket_options"),
        ("client", object(), "OpenAI SDK clients"),
        ("async_client", object(), "OpenAI SDK clients"),
        ("use_responses_api", True, "Responses API"),
    ],
)
def test_client_side_options_that_change_behaviour_are_refused(
    kind: str, option: str, value: Any, match: str
) -> None:
    with pytest.raises(ValueError, match=match) as caught:
        build(kind, **{option: value})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "option",
    ["openai_proxy", "http_socket_options", "client", "use_responses_api", "openai_organization"],
)
def test_unset_client_side_options_are_accepted_silently(kind: str, option: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        obj = build(kind, api_key=KEY, **{option: None})
    assert obj.model_kwargs == {}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("openai_organization", "org-1"),
        ("organization", "org-1"),
        ("tiktoken_model_name", "gpt-4"),
        ("stream_chunk_timeout", 30.0),
        ("allowed_special", {"<|x|>"}),
        ("embedding_ctx_length", 8191),
    ],
)
def test_client_side_options_with_no_meaning_here_warn_and_stay_off_the_wire(
    kind: str, rec: Recorder, option: str, value: Any
) -> None:
    with pytest.warns(UserWarning, match=f"ignores {option}"):
        obj = build(kind, rec, api_key=KEY, **{option: value})
    call(obj)
    assert option not in rec.body and obj.model_kwargs == {}


@pytest.mark.parametrize(
    ("option", "value"),
    [("stream_usage", True), ("include_response_headers", True), ("disabled_params", {"n": None})],
)
@pytest.mark.filterwarnings("ignore:include_response_headers=True")
def test_chatopenai_fields_never_reach_the_wire(
    kind: str, rec: Recorder, option: str, value: Any
) -> None:
    if kind == "chat":
        obj = build(kind, rec, api_key=KEY, **{option: value})
        assert getattr(obj, option) == value
    else:
        with pytest.warns(UserWarning, match=f"ignores {option}"):
            obj = build(kind, rec, api_key=KEY, **{option: value})
    call(obj)
    assert option not in rec.body


def test_disabled_params_drop_instance_settings_and_bound_tool_options(rec: Recorder) -> None:
    llm = build(
        "chat",
        rec,
        api_key=KEY,
        n=2,
        seed=5,
        disabled_params={"parallel_tool_calls": None, "seed": [5]},
    )

    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    llm.bind_tools([lookup], parallel_tool_calls=False).invoke("hi")
    assert "parallel_tool_calls" not in rec.body and "seed" not in rec.body
    assert rec.body["n"] == 2


@pytest.mark.parametrize(
    "reserved",
    [
        ("embeddings", "model"),
        ("embeddings", "input"),
        ("rerank", "documents"),
        ("chat", "api_key"),
    ],
)
def test_settings_and_body_keys_in_model_kwargs_are_refused(reserved: tuple[str, str]) -> None:
    kind, key = reserved
    with pytest.raises(ValueError, match=rf"Pass \['{key}'\] as .*not in model_kwargs"):
        build(kind, model_kwargs={key: "x"})


def test_embeddings_spellings_of_langchain_together(rec: Recorder) -> None:
    obj = build("embeddings", rec, api_key=KEY, chunk_size=2, show_progress_bar=False)
    assert obj.batch_size == 2 and obj.show_progress is False
    obj.embed_documents(["a", "b", "c"])
    assert [len(json.loads(r.content)["input"]) for r in rec.seen] == [2, 1]
    with pytest.raises(ValueError, match="skip_empty"):
        build("embeddings", skip_empty=True)


def test_rerank_top_k_is_top_n(rec: Recorder) -> None:
    obj = build("rerank", rec, api_key=KEY, top_k=1)
    assert obj.top_n == 1
    assert len(obj.rerank("q", ["a", "b", "c"])) == 1
    assert rec.body["top_n"] == 1


# ------------------------------------------------------- per-call options


@pytest.mark.parametrize("how", ["invoke", "bind"])
@pytest.mark.parametrize("kind_", ["chat", "llm"])
def test_per_call_transport_options_shape_the_request_not_the_body(
    rec: Recorder, mode: str, how: str, kind_: str
) -> None:
    obj = build(kind_, rec, api_key=KEY, default_headers={"X-A": "1"}, timeout=60)
    options: dict[str, Any] = {
        "timeout": (2, 9),
        "extra_headers": {"X-B": "2"},
        "extra_query": {"debug": "yes"},
        "extra_body": {"new_field": 1},
        "max_retries": 0,
    }
    runnable = obj.bind(**options) if how == "bind" else obj
    call(runnable, mode, **({} if how == "bind" else options))
    body = rec.body
    assert body["new_field"] == 1
    for key in ("timeout", "extra_headers", "extra_query", "extra_body", "max_retries"):
        assert key not in body
    assert rec.last.headers["x-a"] == "1" and rec.last.headers["x-b"] == "2"
    assert rec.last.url.params["debug"] == "yes"
    sent = timeouts(rec.last)
    assert sent["connect"] == 2.0 and sent["read"] == 9.0


def test_a_per_call_connect_timeout_cannot_change_an_explicit_transport(
    emu: TogetherEmulator,
) -> None:
    llm = ChatTogether(model=CHAT_MODEL, transport=emu.transport())
    llm.invoke("hi", timeout=5)
    with pytest.raises(ValueError, match="explicit transport"):
        llm.invoke("hi", timeout=(1, 5))


def test_invalid_arguments_are_one_clear_error(rec: Recorder, mode: str) -> None:
    llm = build("chat", rec, api_key=KEY)
    with pytest.raises(ValueError, match=r"Invalid arguments for ChatTogether: n=0") as caught:
        call(llm, mode, n=0)
    assert isinstance(caught.value, ModelInvalidRequestError)
    assert "Request" not in str(caught.value)
    assert rec.seen == []
