"""LlamaIndex embedding model for Together: ``TogetherEmbedding``, batched for real.

LlamaIndex's ``BaseEmbedding`` cuts a list into chunks of ``embed_batch_size`` and hands each
chunk to :meth:`TogetherEmbedding._get_text_embeddings`; here each chunk goes through the
shared :class:`~together_integrations._embeddings.EmbeddingBatcher`, which also splits it by a
token budget, so one chunk is one request unless its texts are long. The base class keeps
doing what it already does well: ``embeddings_cache``, ``rate_limiter``, progress bars,
instrumentation events and callbacks.

Its async path starts every chunk at once (``asyncio.gather``), so concurrency is bounded
here instead: at most ``max_concurrency`` requests per instance are in flight on one event
loop, however many chunks or concurrent calls there are.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field, PrivateAttr, model_validator

from together_integrations._catalog import get_model_capabilities
from together_integrations._embeddings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_TOKENS_PER_BATCH,
    EmbeddingBatcher,
)
from together_integrations.llama_index._common import ClientSettingsMixin

__all__ = ["TogetherEmbedding"]

DEFAULT_EMBEDDING_MODEL = "intfloat/multilingual-e5-large-instruct"


class _LoopSemaphores:
    """One ``asyncio.Semaphore`` per event loop (a semaphore must not cross loops), forgotten
    with the loop. Copies and pickles start empty: semaphores belong to the running process."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._by_loop = weakref.WeakKeyDictionary()

    def for_running_loop(self, limit: int) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(limit)
        return semaphore

    def __reduce__(self) -> tuple[type[_LoopSemaphores], tuple[()]]:
        return (_LoopSemaphores, ())


class TogetherEmbedding(ClientSettingsMixin, BaseEmbedding):
    """Together embedding models for LlamaIndex.

    ``get_text_embedding_batch`` sends up to ``embed_batch_size`` texts (and about
    ``max_tokens_per_batch`` tokens) per request; the async methods keep at most
    ``max_concurrency`` requests in flight. Vectors come back in input order. A 429 or 5xx
    is retried ``max_retries`` times by the shared transport (honouring ``retry-after``),
    then raised as a typed error (``RateLimitError``...). Empty strings raise ``ValueError``
    before any request: Together rejects them and a made-up vector would corrupt an index.

    Constructing one does no I/O; the key comes from ``api_key`` or ``TOGETHER_API_KEY`` and
    is needed at the first request.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from together_integrations.llama_index import TogetherEmbedding

            Settings.embed_model = TogetherEmbedding(model_name="BAAI/bge-base-en-v1.5")
            # or the default e5 instruct model, with its query instruction:
            # TogetherEmbedding(query_instruction="Instruct: <task>\nQuery:")
            vectors = Settings.embed_model.get_text_embedding_batch(
                ["first text", "second text"], show_progress=True
            )
    """

    model_name: str = Field(
        default=DEFAULT_EMBEDDING_MODEL, description="Together embedding model id."
    )
    embed_batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE, gt=0, le=2048, description="Texts per request, at most."
    )
    max_tokens_per_batch: int = Field(
        default=DEFAULT_MAX_TOKENS_PER_BATCH,
        gt=0,
        description="Estimated tokens per request, at most; a longer single text goes alone.",
    )
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY,
        gt=0,
        description="Embedding requests in flight at once (async: per instance and event loop).",
    )
    dimensions: int | None = Field(
        default=None, gt=0, description="Output size, for models that accept `dimensions`."
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra JSON fields sent with every request."
    )
    query_instruction: str | None = Field(
        default=None,
        description="Prefix for queries (instruction-tuned models such as e5-*-instruct), "
        "joined with a space: 'Instruct: <task>\\nQuery:' gives 'Instruct: <task>\\nQuery: <q>'.",
    )
    text_instruction: str | None = Field(
        default=None, description="Prefix for documents, joined with a space."
    )
    _slots: _LoopSemaphores = PrivateAttr(default_factory=_LoopSemaphores)

    @model_validator(mode="after")
    def _check_dimensions(self) -> TogetherEmbedding:
        if (
            self.dimensions is not None
            and not get_model_capabilities(self.model_name).supports_dimensions
        ):
            raise ValueError(
                f"{self.model_name!r} does not accept `dimensions` (the catalog does not list "
                "it as a Matryoshka model). Leave dimensions unset or choose a model that "
                "supports it; to send it anyway, use additional_kwargs={'dimensions': ...}."
            )
        return self

    @classmethod
    def class_name(cls) -> str:
        return "TogetherEmbedding"

    def _batcher(self, max_concurrency: int | None = None) -> EmbeddingBatcher:
        # Cheap to build (no I/O); built per call so field changes always apply.
        return EmbeddingBatcher(
            self._get_transport(),
            self.model_name,
            batch_size=self.embed_batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
            max_concurrency=max_concurrency or self.max_concurrency,
            dimensions=self.dimensions,
            options=self._request_options(),
            extra_body=self.additional_kwargs,
        )

    async def _aembed(self, texts: list[str]) -> list[list[float]]:
        # One slot covers the whole chunk; a chunk the token budget splits further is sent
        # one request after another, so the bound holds per request.
        async with self._slots.for_running_loop(self.max_concurrency):
            return await self._batcher(max_concurrency=1).aembed(texts)

    @staticmethod
    def _with(instruction: str | None, texts: list[str]) -> list[str]:
        # An empty text stays empty, so the batcher still rejects it instead of embedding
        # the bare instruction.
        if not instruction:
            return texts
        return [f"{instruction} {t}" if t else t for t in texts]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._batcher().embed(self._with(self.query_instruction, [query]))[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._aembed(self._with(self.query_instruction, [query])))[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._batcher().embed(self._with(self.text_instruction, texts))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._aembed(self._with(self.text_instruction, texts))
