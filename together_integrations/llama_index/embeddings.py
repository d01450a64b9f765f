"""LlamaIndex embedding model for Together: ``TogetherEmbedding``, batched for real."""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field

from together_integrations._embeddings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_TOKENS_PER_BATCH,
    EmbeddingBatcher,
)
from together_integrations.llama_index._common import ClientSettingsMixin

__all__ = ["TogetherEmbedding"]

DEFAULT_EMBEDDING_MODEL = "intfloat/multilingual-e5-large-instruct"


class TogetherEmbedding(ClientSettingsMixin, BaseEmbedding):
    """Together embedding models for LlamaIndex.

    ``get_text_embedding_batch`` sends up to ``embed_batch_size`` texts (and about
    ``max_tokens_per_batch`` tokens) per request, ``max_concurrency`` requests at a time, in
    order. A 429 is retried a bounded number of times by the shared transport, then raised.

    Example:
        .. code-block:: python

            from together_integrations.llama_index import TogetherEmbedding

            embed = TogetherEmbedding(model_name="intfloat/multilingual-e5-large-instruct")
            vectors = embed.get_text_embedding_batch(["a", "b"], show_progress=True)
    """

    model_name: str = Field(
        default=DEFAULT_EMBEDDING_MODEL, description="Together embedding model id."
    )
    embed_batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE, gt=0, description="Texts per request."
    )
    max_tokens_per_batch: int = Field(default=DEFAULT_MAX_TOKENS_PER_BATCH, gt=0)
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, gt=0)
    dimensions: int | None = Field(
        default=None, description="Output size, for models that support it."
    )

    @classmethod
    def class_name(cls) -> str:
        return "TogetherEmbedding"

    def _batcher(self, show_progress: bool = False) -> EmbeddingBatcher:
        return EmbeddingBatcher(
            self._get_transport(),
            self.model_name,
            batch_size=self.embed_batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
            max_concurrency=self.max_concurrency,
            dimensions=self.dimensions,
            options=self._request_options(),
            show_progress=show_progress,
        )

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._batcher().embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._batcher().aembed([query]))[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._batcher().embed([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._batcher().aembed([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._batcher().embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._batcher().aembed(texts)
