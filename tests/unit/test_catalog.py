"""The model catalog: built-in profiles, guesses for unknown models, update from a /models
listing, refresh through the transport (sync and async)."""

from __future__ import annotations

import asyncio

import pytest

from together_integrations import ModelCapabilities, ModelCatalog, get_model_capabilities
from together_integrations.schemas import ModelInfo

from .fixtures import wire
from .fixtures.mock import Script, json_response


@pytest.mark.parametrize(
    ("model", "type_", "context", "checks"),
    [
        (
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "chat",
            131_072,
            {"tool_calling": True, "reasoning": False, "batch_api": True, "batch_discount": True},
        ),
        (
            "deepseek-ai/DeepSeek-R1",
            "chat",
            163_840,
            {"batch_api": False, "batch_discount": False},
        ),
        (
            "moonshotai/Kimi-K2-Instruct",
            "chat",
            131_072,
            {"batch_api": True, "batch_discount": False},
        ),
        ("openai/gpt-oss-20b", "chat", 131_072, {"reasoning": True, "reasoning_in_content": False}),
        ("Qwen/Qwen3-235B-A22B-Thinking-2507", "chat", 262_144, {"reasoning_in_content": True}),
        (
            "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
            "chat",
            1_048_576,
            {"image_input": True},
        ),
        (
            "google/gemma-3n-E4B-it",
            "chat",
            32_768,
            {"tool_calling": False, "structured_output": False},
        ),
        ("mistralai/Mixtral-8x7B-v0.1", "language", 32_768, {"tool_calling": False}),
        (
            "BAAI/bge-base-en-v1.5",
            "embedding",
            512,
            {"embedding_dimensions": 768, "tool_calling": False, "batch_api": None},
        ),
        (
            "intfloat/multilingual-e5-large-instruct",
            "embedding",
            514,
            {"embedding_dimensions": 1024},
        ),
        ("Salesforce/Llama-Rank-V1", "rerank", 8_192, {"structured_output": False}),
    ],
)
def test_known_models(model: str, type_: str, context: int, checks: dict[str, object]) -> None:
    caps = get_model_capabilities(model)
    assert caps.known and caps.id == model and caps.type == type_ and caps.context_window == context
    for name, value in checks.items():
        assert getattr(caps, name) == value, name
    assert caps.is_chat == (type_ in ("chat", "code"))


def test_lookup_is_case_insensitive() -> None:
    catalog = ModelCatalog()
    assert catalog.get("OPENAI/GPT-OSS-20B").known
    assert "openai/GPT-oss-20b" in catalog and 42 not in catalog
    assert len(catalog) > 20


@pytest.mark.parametrize(
    ("model", "type_", "checks"),
    [
        ("acme/acme-embed-v2-8k", "embedding", {"context_window": 8 * 1024}),
        ("acme/bge-small-en", "embedding", {"context_window": 512}),
        ("acme/super-reranker", "rerank", {"tool_calling": False}),
        ("acme/Foo-VL-7B-Instruct", "chat", {"image_input": True, "reasoning": False}),
        ("acme/Foo-Thinking-2026", "chat", {"reasoning": True, "reasoning_in_content": True}),
        ("openai/gpt-oss-999b", "chat", {"reasoning": True, "reasoning_in_content": False}),
        (
            "acme/plain-chat-model",
            "chat",
            {"reasoning": False, "image_input": False, "tool_calling": True, "batch_api": None},
        ),
    ],
)
def test_unknown_models_are_guessed(model: str, type_: str, checks: dict[str, object]) -> None:
    caps = ModelCatalog().get(model)
    assert not caps.known and caps.id == model and caps.type == type_
    for name, value in checks.items():
        assert getattr(caps, name) == value, name


def test_update_from_a_listing() -> None:
    catalog = ModelCatalog()
    before = catalog.get("BAAI/bge-base-en-v1.5")
    count = catalog.update(
        [
            ModelInfo(id="moonshotai/Kimi-K3", type="chat", context_length=1_000_000),
            ModelInfo(id="BAAI/bge-base-en-v1.5", type="embedding", context_length=1024),
            ModelInfo(id="acme/New-Model", type=None, context_length=None),
        ]
    )
    assert count == 3
    kimi = catalog.get("moonshotai/Kimi-K3")
    assert kimi.known and kimi.context_window == 1_000_000 and kimi.type == "chat"
    bge = catalog.get("BAAI/bge-base-en-v1.5")
    assert bge.context_window == 1024 and bge.embedding_dimensions == before.embedding_dimensions
    new = catalog.get("acme/New-Model")
    assert new.known and new.context_window == 32_768  # guessed values kept
    assert "acme/new-model" in catalog


def test_update_does_not_touch_other_catalogs() -> None:
    catalog = ModelCatalog()
    catalog.update([ModelInfo(id="meta-llama/Llama-3.3-70B-Instruct-Turbo", context_length=1)])
    assert (
        get_model_capabilities("meta-llama/Llama-3.3-70B-Instruct-Turbo").context_window == 131_072
    )


def test_a_catalog_of_given_models() -> None:
    catalog = ModelCatalog([ModelCapabilities(id="only/one", context_window=10)])
    assert len(catalog) == 1 and catalog.get("only/one").context_window == 10
    assert not catalog.get("meta-llama/Llama-3.3-70B-Instruct-Turbo").known


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_refresh_through_the_transport(is_async: bool) -> None:
    script = Script(json_response(200, wire.MODELS))
    transport = script.transport()
    catalog = ModelCatalog()
    count = asyncio.run(catalog.arefresh(transport)) if is_async else catalog.refresh(transport)
    assert count == len(wire.MODELS) and script.calls == 1
    assert script.requests[0].method == "GET" and script.requests[0].url.path == "/v1/models"
    kimi = catalog.get("moonshotai/Kimi-K3")
    assert kimi.known and kimi.context_window == 1_000_000
    assert catalog.get("Salesforce/Llama-Rank-V1").type == "rerank"


def test_a_catalog_iterates_and_registers() -> None:
    from dataclasses import replace

    from together_integrations import ModelCatalog

    catalog = ModelCatalog()
    ids = [caps.id for caps in catalog]
    assert len(ids) == len(catalog) and "meta-llama/Llama-3.3-70B-Instruct-Turbo" in ids
    tuned = replace(catalog.get(ids[0]), id="me/tuned-model")
    catalog.register(tuned)
    assert catalog.get("ME/tuned-model") == tuned and "me/tuned-model" in catalog
