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
from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)

from together_integrations._catalog import ModelCapabilities, get_model_capabilities
from together_integrations._embeddings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_TOKENS_PER_BATCH,
    EmbeddingBatcher,
    estimate_tokens,
)
from together_integrations._journal import check_journal, journal_setting
from together_integrations.llama_index._common import (
    ClientSettingsMixin,
    log_guessed_capabilities,
)

__all__ = ["DEFAULT_EMBEDDING_MODEL", "TogetherEmbedding", "check_input_window"]

# An 8,192-token window: LlamaIndex's default chunks (Settings.chunk_size = 1,024) fit.
DEFAULT_EMBEDDING_MODEL = "Alibaba-NLP/gte-modernbert-base"

# The estimate (UTF-8 bytes / 4) runs high for many texts, so only a text clearly over the
# window is refused here; one near the limit is left to the server to judge.
_WINDOW_SLACK = 1.5


def check_input_window(texts: list[str], caps: ModelCapabilities) -> None:
    """Refuse, before any request, texts far longer than the model's input window, with the
    fix a LlamaIndex user needs (smaller chunks). Models the catalog does not know are not
    checked: their window is only a guess."""
    if not caps.known or caps.context_window <= 0:
        return
    limit = caps.context_window * _WINDOW_SLACK
    for position, text in enumerate(texts):
        tokens = estimate_tokens(text)
        if tokens > limit:
            raise ValueError(
                f"Text {position} is about {tokens:,} tokens long, far more than the "
                f"{caps.context_window:,}-token input window of {caps.id!r}, which would "
                "reject it. Split documents into smaller chunks (Settings.chunk_size = "
                f"{caps.context_window // 2}, or SentenceSplitter(chunk_size=...) in the "
                "transformations; LlamaIndex's default chunk_size is 1,024), or choose a model "
                f"with a larger window such as {DEFAULT_EMBEDDING_MODEL!r}."
            )


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

    A text far longer than the model's input window raises ``ValueError`` before any request,
    naming ``chunk_size`` (the default model's 8,192-token window fits LlamaIndex's default
    1,024-token chunks). ``model=`` is accepted as well as upstream's ``model_name=``, and the
    model id may be given positionally.

    ``journal=`` (a directory path, or an ``EmbeddingJournal``) makes large jobs resumable
    (Together's Batch API does not take embeddings): texts already journaled for this
    model and these request fields are not sent, and every answered request is on disk
    before its vectors are returned, so a rerun after a crash sends only what is missing.
    Unlike LlamaIndex's ``embeddings_cache``, it is crash-safe, keeps no texts (only their
    SHA-256) and is read once per process. A text repeated in a batch is sent once, in the
    async path too, where chunks are embedded concurrently (a chunk waits for a text another
    chunk is fetching, and sends it itself if that chunk fails).

    Constructing one does no I/O; the key comes from ``api_key`` or ``TOGETHER_API_KEY`` and
    is needed at the first request.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from together_integrations.llama_index import TogetherEmbedding

            Settings.embed_model = TogetherEmbedding(model_name="BAAI/bge-base-en-v1.5")
            # an instruction-tuned model, with its query instruction:
            # TogetherEmbedding("intfloat/multilingual-e5-large-instruct",
            #                   query_instruction="Instruct: <task>\nQuery:")
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
    journal: Any = Field(
        default=None,
        description="Make embedding resumable: a directory path (opened at the first call) "
        "or an EmbeddingJournal / SupportsEmbeddingJournal. Journaled texts (same model, "
        "dimensions, additional_kwargs and instruction) are not sent again; every answered "
        "request is on disk before it is returned. Serialised as its directory path.",
    )
    _slots: _LoopSemaphores = PrivateAttr(default_factory=_LoopSemaphores)

    def __init__(
        self,
        model_name: str | None = None,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Upstream's positional order (model_name, api_key, api_base); ``model=`` is the
        # spelling of every other LlamaIndex class, so it must not pick another model.
        model = kwargs.pop("model", None)
        if model is not None and model_name is not None and model != model_name:
            raise ValueError(
                f"model={model!r} and model_name={model_name!r} name different models; "
                "pass one of them."
            )
        model_name = model_name if model_name is not None else model
        if model_name is not None:
            kwargs["model_name"] = model_name
        if api_base is not None:
            kwargs["api_base"] = api_base
        super().__init__(api_key=api_key, **kwargs)
        caps = get_model_capabilities(self.model_name)
        log_guessed_capabilities(
            caps,
            f"an embedding model with a {caps.context_window:,}-token input window (so inputs "
            "are not checked against it, and dimensions= is sent as given)",
        )

    @model_validator(mode="after")
    def _check_dimensions(self) -> TogetherEmbedding:
        caps = get_model_capabilities(self.model_name)
        # A model the catalog does not know may well accept it: the server decides.
        if self.dimensions is not None and caps.known and not caps.supports_dimensions:
            raise ValueError(
                f"{self.model_name!r} does not accept `dimensions` (the catalog does not list "
                "it as a Matryoshka model). Leave dimensions unset or choose a model that "
                "supports it; to send it anyway, use additional_kwargs={'dimensions': ...}."
            )
        return self

    @field_validator("journal", mode="before")
    @classmethod
    def _check_journal(cls, value: Any) -> Any:
        return check_journal(value)

    @field_serializer("journal")
    def _journal_path(self, value: Any) -> Any:
        # to_dict / to_json carry the directory; from_dict reopens it. A custom journal
        # object is left as is (JSON then refuses it, rather than it silently vanishing).
        return journal_setting(value)

    @classmethod
    def class_name(cls) -> str:
        return "TogetherEmbedding"

    def _prepared(self, instruction: str | None, texts: list[str]) -> list[str]:
        out = self._with(instruction, texts)
        check_input_window(out, get_model_capabilities(self.model_name))
        return out

    def _batcher(self, max_concurrency: int | None = None) -> EmbeddingBatcher:
        # Cheap to build (no I/O); built per call so field changes always apply.
        extra = self.additional_kwargs
        dimensions = self.dimensions
        if dimensions is not None and not get_model_capabilities(self.model_name).known:
            # The batcher refuses dimensions for any model the catalog does not list as
            # Matryoshka; for an uncatalogued model the server is the one to decide.
            extra, dimensions = {**extra, "dimensions": dimensions}, None
        return EmbeddingBatcher(
            self._get_transport(),
            self.model_name,
            batch_size=self.embed_batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
            max_concurrency=max_concurrency or self.max_concurrency,
            dimensions=dimensions,
            options=self._request_options(),
            extra_body=extra,
            journal=self.journal,
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
        return self._batcher().embed(self._prepared(self.query_instruction, [query]))[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._aembed(self._prepared(self.query_instruction, [query])))[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._batcher().embed(self._prepared(self.text_instruction, texts))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._aembed(self._prepared(self.text_instruction, texts))
