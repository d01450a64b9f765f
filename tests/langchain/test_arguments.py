"""Arguments ChatOpenAI and langchain-together users pass that the request models alone would
reject or drop: stop strings, schema classes as response_format, max_completion_tokens,
out-of-range values, embedding dimensions, system names, the ``Together`` class name."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel
from typing_extensions import TypedDict

from together_integrations._catalog import DEFAULT_CATALOG
from together_integrations.langchain import ChatTogether, Together, TogetherEmbeddings, TogetherLLM
from together_integrations.langchain._errors import LCInvalidArgumentsError
from together_integrations.testing import DEFAULT_MODELS, TogetherEmulator

CHAT_MODEL = "openai/gpt-oss-20b"
LLM_MODEL = "mistralai/Mixtral-8x7B-v0.1"


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()


def invoke(runnable: Any, value: Any, mode: str, **kwargs: Any) -> Any:
    if mode == "sync":
        return runnable.invoke(value, **kwargs)
    return asyncio.run(runnable.ainvoke(value, **kwargs))


def sent(emu: TogetherEmulator) -> dict[str, Any]:
    body = emu.requests[-1].json
    assert isinstance(body, dict)
    return body


def chat(emu: TogetherEmulator, **kwargs: Any) -> ChatTogether:
    return ChatTogether(model=CHAT_MODEL, transport=emu.transport(max_retries=0), **kwargs)


def llm(emu: TogetherEmulator, **kwargs: Any) -> TogetherLLM:
    return TogetherLLM(model=LLM_MODEL, transport=emu.transport(max_retries=0), **kwargs)


MAKERS = {"chat": chat, "llm": llm}


@pytest.fixture(params=sorted(MAKERS))
def make(request: pytest.FixtureRequest) -> Any:
    return MAKERS[str(request.param)]


# ------------------------------------------------------------------- stop


def test_a_stop_string_is_a_one_item_list(emu: TogetherEmulator, make: Any, mode: str) -> None:
    model = make(emu, stop="END")
    assert model.stop == ["END"]
    invoke(model, "hi", mode)
    assert sent(emu)["stop"] == ["END"]
    invoke(model, "hi", mode, stop="STOP")
    assert sent(emu)["stop"] == ["STOP"]
    invoke(model.bind(stop="HALT"), "hi", mode)
    assert sent(emu)["stop"] == ["HALT"]
    assert model._get_ls_params(stop="X")["ls_stop"] == ["X"]


# ------------------------------------------------------ max_completion_tokens


def test_max_completion_tokens_is_max_tokens(emu: TogetherEmulator, make: Any, mode: str) -> None:
    model = make(emu, max_completion_tokens=40)
    assert model.max_tokens == 40 and model.model_kwargs == {}
    assert model._get_ls_params()["ls_max_tokens"] == 40
    invoke(model, "hi", mode)
    assert sent(emu)["max_tokens"] == 40 and "max_completion_tokens" not in sent(emu)
    invoke(model, "hi", mode, max_completion_tokens=7)
    assert sent(emu)["max_tokens"] == 7 and "max_completion_tokens" not in sent(emu)
    assert model._get_ls_params(max_completion_tokens=7)["ls_max_tokens"] == 7


# ---------------------------------------------------------- response_format


class City(BaseModel):
    name: str
    population: int


class CityDict(TypedDict):
    name: str
    population: int


def test_bind_response_format_with_a_pydantic_class(emu: TogetherEmulator, mode: str) -> None:
    msg = invoke(chat(emu).bind(response_format=City), "A city?", mode)
    fmt = sent(emu)["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City"
    assert fmt["json_schema"]["schema"]["required"] == ["name", "population"]
    parsed = msg.additional_kwargs["parsed"]
    assert (
        isinstance(parsed, City)
        and parsed.model_dump() == City.model_validate_json(msg.content).model_dump()
    )
    assert "strict" not in sent(emu)


def test_bind_response_format_with_a_typeddict_and_strict(emu: TogetherEmulator) -> None:
    msg = chat(emu).bind(response_format=CityDict, strict=True).invoke("A city?")
    fmt = sent(emu)["response_format"]["json_schema"]
    assert fmt["name"] == "CityDict" and fmt["strict"] is True
    assert "parsed" not in msg.additional_kwargs and "strict" not in sent(emu)


# ------------------------------------------------------ values out of range


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_out_of_range_values_are_one_typed_error_before_any_request(
    emu: TogetherEmulator, kind: str, mode: str
) -> None:
    model = MAKERS[kind](emu)
    with pytest.raises(LCInvalidArgumentsError, match=r"logprobs=50: .*less than or equal to 20"):
        invoke(model, "hi", mode, logprobs=50)
    try:
        invoke(model, "hi", mode, logprobs=50)
    except ValueError as exc:  # the ChatOpenAI-era except clause still catches it
        assert isinstance(exc, ModelInvalidRequestError)
        assert "Request" not in str(exc) and "pydantic" not in str(exc)
    assert emu.requests == []


# ---------------------------------------------------------------- dimensions


def test_dimensions_for_a_catalogued_matryoshka_model(monkeypatch: pytest.MonkeyPatch) -> None:
    model_id = "BAAI/bge-base-en-v1.5"
    caps = DEFAULT_CATALOG.get(model_id)
    monkeypatch.setitem(
        DEFAULT_CATALOG._models,
        model_id.lower(),
        dataclasses.replace(caps, supports_dimensions=True),
    )
    models = {model_id: {**DEFAULT_MODELS[model_id], "matryoshka": True}}
    emu = TogetherEmulator(models=models)
    embeddings = TogetherEmbeddings(model=model_id, dimensions=64, transport=emu.transport())
    assert len(embeddings.embed_query("hi")) == 64
    assert sent(emu)["dimensions"] == 64


def test_dimensions_for_a_model_the_catalog_does_not_know_are_sent() -> None:
    model_id = "acme/matryoshka-embed-v2"
    assert model_id not in DEFAULT_CATALOG
    emu = TogetherEmulator(
        models={model_id: {"type": "embedding", "dims": 512, "matryoshka": True}}
    )
    embeddings = TogetherEmbeddings(model=model_id, dimensions=128, transport=emu.transport())
    assert len(embeddings.embed_documents(["a", "b"])[1]) == 128
    assert sent(emu)["dimensions"] == 128


def test_dimensions_for_a_catalogued_model_without_them_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"'BAAI/bge-base-en-v1.5' does not accept .*768 values"):
        TogetherEmbeddings(model="BAAI/bge-base-en-v1.5", dimensions=128, api_key="k")


# ----------------------------------------------------------- system names


def test_a_system_message_keeps_its_name(emu: TogetherEmulator) -> None:
    chat(emu).invoke([SystemMessage("Be brief.", name="policy"), HumanMessage("hi", name="ann")])
    system, user = sent(emu)["messages"]
    assert system == {"role": "system", "content": "Be brief.", "name": "policy"}
    assert user["name"] == "ann"


# -------------------------------------------------------------- Together name


def test_together_is_the_langchain_together_llm_name(emu: TogetherEmulator) -> None:
    assert Together is TogetherLLM
    model = Together(model_name=LLM_MODEL, together_api_key="k", transport=emu.transport())
    assert model.invoke("The capital of France is")
    assert sent(emu)["model"] == LLM_MODEL and model.together_api_key is not None


@pytest.mark.parametrize(
    "url", ["https://proxy.test/v1/completions", "https://proxy.test/v1/completions/"]
)
def test_together_llm_base_url_may_be_the_endpoint_url(url: str) -> None:
    # langchain_together.Together(base_url=...) names the whole /completions URL.
    model = Together(model=LLM_MODEL, base_url=url, api_key="k")
    assert model.base_url == "https://proxy.test/v1"
    assert TogetherLLM(model=LLM_MODEL, base_url="https://proxy.test/v1", api_key="k").base_url == (
        "https://proxy.test/v1"
    )
