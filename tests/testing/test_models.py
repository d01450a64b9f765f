"""The model table comes from the package catalog: every catalogued model answers."""

from __future__ import annotations

import pytest

from together_integrations._catalog import DEFAULT_CATALOG
from together_integrations.testing import DEFAULT_MODELS, TogetherEmulator

from ._helpers import post

CATALOGUED = sorted(DEFAULT_MODELS)


def test_every_catalogued_model_is_in_the_table() -> None:
    catalogued = [m for m in CATALOGUED if m in DEFAULT_CATALOG]
    assert len(catalogued) >= 30
    for model in catalogued:
        caps = DEFAULT_CATALOG.get(model)
        assert DEFAULT_MODELS[model]["type"] == caps.type
        assert DEFAULT_MODELS[model]["context_length"] == caps.context_window
        assert DEFAULT_MODELS[model].get("dims") == caps.embedding_dimensions
        assert bool(DEFAULT_MODELS[model].get("vision")) == caps.image_input


@pytest.mark.parametrize("model", [m for m in CATALOGUED if DEFAULT_MODELS[m]["type"] == "chat"])
def test_each_chat_model_answers(emu: TogetherEmulator, model: str) -> None:
    r = post(
        emu, "/chat/completions", {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert r.status_code == 200 and r.json()["model"] == model


@pytest.mark.parametrize(
    "model", [m for m in CATALOGUED if DEFAULT_MODELS[m]["type"] == "embedding"]
)
def test_each_embedding_model_answers_with_its_size(emu: TogetherEmulator, model: str) -> None:
    r = post(emu, "/embeddings", {"model": model, "input": "hi"})
    assert len(r.json()["data"][0]["embedding"]) == DEFAULT_MODELS[model]["dims"]


def test_the_listing_names_every_model(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        listed = [m["id"] for m in client.get("/models").json()]
    assert sorted(listed) == CATALOGUED


def test_an_unknown_model_is_404(emu: TogetherEmulator) -> None:
    r = post(
        emu,
        "/chat/completions",
        {"model": "acme/none", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_available"
