"""The langchain-tests standard suites for TogetherEmbeddings, run offline."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from together_integrations import TogetherTransport
from together_integrations.langchain import TogetherEmbeddings


def _fake_embeddings(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    data = [
        {
            "object": "embedding",
            "embedding": [b / 255.0 for b in hashlib.sha256(text.encode()).digest()[:16]],
            "index": i,
        }
        for i, text in enumerate(body["input"])
    ]
    return httpx.Response(200, json={"object": "list", "model": body["model"], "data": data})


def _offline_transport() -> TogetherTransport:
    return TogetherTransport(
        api_key="test-key",
        http_client=httpx.Client(transport=httpx.MockTransport(_fake_embeddings)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(_fake_embeddings)),
    )


class TestTogetherEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[TogetherEmbeddings]:
        return TogetherEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "intfloat/multilingual-e5-large-instruct", "api_key": "test-key"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"TOGETHER_API_KEY": "env-key"},
            {"model": "BAAI/bge-base-en-v1.5"},
            {"api_key": "env-key", "model": "BAAI/bge-base-en-v1.5"},
        )


class TestTogetherEmbeddingsIntegration(EmbeddingsIntegrationTests):
    """The integration suite against an in-process stand-in for the API (no network)."""

    @property
    def embeddings_class(self) -> type[TogetherEmbeddings]:
        return TogetherEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "BAAI/bge-base-en-v1.5", "transport": _offline_transport()}
