"""Drop-in with llama-index-llms-together / llama-index-embeddings-together: every argument
those packages (and llama-index-llms-openai-like, which the LLM builds on) accept is honoured
or warned about, never dropped without a word."""

from __future__ import annotations

import importlib.util
import logging
import warnings

import pytest
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from together_integrations.llama_index import TogetherEmbedding, TogetherLLM, TogetherRerank
from together_integrations.testing import TogetherEmulator

LANGUAGE_MODEL = "mistralai/Mixtral-8x7B-v0.1"


class City(BaseModel):
    name: str
    population: int


# ----------------------------------------------------------------- positional ids


def test_positional_arguments_in_upstream_order() -> None:
    llm = TogetherLLM("openai/gpt-oss-20b", "tgp_v1_k", "https://proxy.example/v1", False)
    assert (llm.model, llm.base_url, llm.is_chat_model) == (
        "openai/gpt-oss-20b",
        "https://proxy.example/v1",
        False,
    )
    assert llm.api_key is not None and llm.api_key.get_secret_value() == "tgp_v1_k"
    embed = TogetherEmbedding("BAAI/bge-base-en-v1.5", "tgp_v1_k", "https://proxy.example/v1")
    assert (embed.model_name, embed.base_url) == (
        "BAAI/bge-base-en-v1.5",
        "https://proxy.example/v1",
    )
    rerank = TogetherRerank(2, "mixedbread-ai/Mxbai-Rerank-Large-V2")
    assert (rerank.top_n, rerank.model) == (2, "mixedbread-ai/Mxbai-Rerank-Large-V2")


@pytest.mark.parametrize("keyword", ["model", "model_name"])
def test_embedding_model_and_model_name_are_the_same_model(
    emu: TogetherEmulator, keyword: str
) -> None:
    embed = TogetherEmbedding(
        **{keyword: "togethercomputer/m2-bert-80M-32k-retrieval"}, transport=emu.transport()
    )
    embed.get_query_embedding("hi")
    assert emu.requests[-1].json["model"] == "togethercomputer/m2-bert-80M-32k-retrieval"
    assert embed.model_name == "togethercomputer/m2-bert-80M-32k-retrieval"


def test_embedding_model_and_model_name_that_disagree_are_refused() -> None:
    with pytest.raises(ValueError, match="name different models"):
        TogetherEmbedding(model="BAAI/bge-base-en-v1.5", model_name="BAAI/bge-large-en-v1.5")
    same = TogetherEmbedding(model="BAAI/bge-base-en-v1.5", model_name="BAAI/bge-base-en-v1.5")
    assert same.model_name == "BAAI/bge-base-en-v1.5"


# ------------------------------------------------------------- upstream arguments


def test_max_new_tokens_is_max_tokens(emu: TogetherEmulator) -> None:
    llm = TogetherLLM("openai/gpt-oss-20b", max_new_tokens=12, transport=emu.transport())
    assert llm.max_tokens == 12 and llm.metadata.num_output == 12
    llm.complete("hi")
    assert emu.requests[-1].json["max_tokens"] == 12
    with pytest.raises(ValueError, match="max_new_tokens"):
        TogetherLLM("openai/gpt-oss-20b", max_new_tokens=12, max_tokens=30)


def test_reuse_client_false_is_warned_about() -> None:
    with pytest.warns(UserWarning, match="reuse_client=False has no effect"):
        TogetherLLM("openai/gpt-oss-20b", reuse_client=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TogetherLLM("openai/gpt-oss-20b", reuse_client=True)  # what we always do


@pytest.mark.parametrize(
    ("cls", "kwargs", "hint"),
    [
        (TogetherLLM, {"temprature": 0.2}, "additional_kwargs"),
        (TogetherEmbedding, {"batch_size": 5}, "additional_kwargs"),
        (TogetherRerank, {"top_k": 5}, ""),
    ],
)
def test_unknown_arguments_warn_instead_of_vanishing(
    cls: type, kwargs: dict[str, object], hint: str
) -> None:
    with pytest.warns(UserWarning, match=f"ignores unknown argument.*{next(iter(kwargs))}") as w:
        cls(api_key="tgp_v1_k", **kwargs)
    assert hint in str(w[0].message)


def test_should_use_structured_outputs_overrides_the_catalog(emu: TogetherEmulator) -> None:
    # The catalog says gemma takes no json_schema: unset, the reply is parsed from text.
    forced = TogetherLLM(
        "google/gemma-3n-E4B-it", should_use_structured_outputs=True, transport=emu.transport()
    )
    assert isinstance(forced.structured_predict(City, PromptTemplate("A city")), City)
    assert emu.requests[-1].json["response_format"]["type"] == "json_schema"
    never = TogetherLLM(
        "openai/gpt-oss-20b", should_use_structured_outputs=False, transport=emu.transport()
    )
    assert isinstance(never.structured_predict(City, PromptTemplate("A city")), City)
    sent = emu.requests[-1].json
    assert "response_format" not in sent and sent["tool_choice"]  # forced tool call instead


class WordTokenizer:
    def encode(self, text: str) -> list[str]:
        return text.split()


def test_tokenizer_sizes_max_tokens_on_language_models(emu: TogetherEmulator) -> None:
    llm = TogetherLLM(LANGUAGE_MODEL, tokenizer=WordTokenizer(), transport=emu.transport())
    llm.complete("one two three", formatted=True)
    assert emu.requests[-1].json["max_tokens"] == 32_768 - 3
    capped = TogetherLLM(
        LANGUAGE_MODEL, tokenizer=WordTokenizer(), context_window=3, transport=emu.transport()
    )
    with pytest.raises(ValueError, match="leaves nothing"):
        capped.complete("one two three", formatted=True)
    assert "tokenizer" not in llm.to_dict()


def test_tokenizer_on_a_chat_model_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "together_integrations"):
        TogetherLLM("openai/gpt-oss-20b", tokenizer=WordTokenizer())
    assert "tokenizer= has no effect" in caplog.text


@pytest.mark.skipif(importlib.util.find_spec("transformers") is not None, reason="installed")
def test_a_tokenizer_name_without_transformers_is_an_import_error() -> None:
    with pytest.raises(ImportError, match="pip install transformers"):
        TogetherLLM(LANGUAGE_MODEL, tokenizer="gpt2")


# ------------------------------------------------------------------ capabilities


def test_dimensions_allowed_for_a_model_the_catalog_does_not_know(emu: TogetherEmulator) -> None:
    model = "acme/matryoshka-embed-v2"
    emu.models[model] = {"type": "embedding", "dims": 64, "matryoshka": True}
    embed = TogetherEmbedding(model, dimensions=32, transport=emu.transport())
    assert len(embed.get_query_embedding("hi")) == 32
    assert emu.requests[-1].json["dimensions"] == 32
    with pytest.raises(ValueError, match="does not accept `dimensions`"):
        TogetherEmbedding("BAAI/bge-base-en-v1.5", dimensions=32)  # known: it does not


def test_unknown_models_are_logged_once_and_overridable(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "together_integrations"):
        guessed = TogetherLLM("acme/brand-new-chat")
        TogetherLLM("acme/brand-new-chat")
        TogetherEmbedding("acme/brand-new-embed")
        TogetherRerank(model="acme/brand-new-rerank")
    messages = [r.getMessage() for r in caplog.records]
    about_llm = [m for m in messages if "acme/brand-new-chat" in m]
    assert len(about_llm) == 1 and "context_window=" in about_llm[0]
    assert "is_function_calling_model=" in about_llm[0] and "guessed" in about_llm[0]
    assert any("acme/brand-new-embed" in m for m in messages)
    assert any("acme/brand-new-rerank" in m for m in messages)
    assert guessed.metadata.context_window == 32_768 and guessed.metadata.is_function_calling_model
    stated = TogetherLLM(
        "acme/other-new-chat",
        context_window=8192,
        is_chat_model=True,
        is_function_calling_model=False,
    )
    assert (stated.metadata.context_window, stated.metadata.is_function_calling_model) == (
        8192,
        False,
    )
    assert not any("acme/other-new-chat" in r.getMessage() for r in caplog.records)
