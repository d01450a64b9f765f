"""LangChain ``Embeddings`` for Together, built on the shared :class:`EmbeddingBatcher`."""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.embeddings import Embeddings
from pydantic import Field, field_serializer, field_validator, model_validator

from together_integrations._catalog import get_model_capabilities
from together_integrations._embeddings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_TOKENS_PER_BATCH,
    EmbeddingBatcher,
)
from together_integrations._exceptions import APIError, TogetherConfigError
from together_integrations._journal import check_journal, journal_setting
from together_integrations.langchain._common import TogetherClientSettings
from together_integrations.langchain._errors import to_langchain_error

__all__ = ["TogetherEmbeddings"]

DEFAULT_EMBEDDING_MODEL = "intfloat/multilingual-e5-large-instruct"


class TogetherEmbeddings(TogetherClientSettings, Embeddings):
    """Together embedding models.

    Many texts become few requests: ``embed_documents`` packs up to ``batch_size`` texts
    and about ``max_tokens_per_batch`` tokens into each ``POST /embeddings`` and keeps up to
    ``max_concurrency`` requests in flight, returning vectors in input order.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``
        (``TOGETHER_API_BASE`` or ``TOGETHER_BASE_URL`` for another host).

    Key init args:
        model: Embedding model id (also ``model_name``).
        batch_size (also ``chunk_size``), max_tokens_per_batch, max_concurrency,
        show_progress (also ``show_progress_bar``), dimensions, model_kwargs, journal.
        api_key (also ``together_api_key``, ``openai_api_key``), base_url (also
        ``together_api_base``, ``openai_api_base``), timeout (also ``request_timeout``),
        max_retries, default_headers, default_query, transport, http_client /
        http_async_client.
        OpenAIEmbeddings' tokenizer options (``embedding_ctx_length``,
        ``tiktoken_model_name``, ``allowed_special``...) are dropped with a warning.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherEmbeddings

            embeddings = TogetherEmbeddings(model="intfloat/multilingual-e5-large-instruct")

    Embed:
        .. code-block:: python

            vectors = embeddings.embed_documents(["Together serves open models.", "Hi"])
            query = embeddings.embed_query("Who serves open models?")

    Async:
        .. code-block:: python

            await embeddings.aembed_documents([...])
            await embeddings.aembed_query("...")

    Resume (large jobs; Together's Batch API does not take embeddings):
        .. code-block:: python

            embeddings = TogetherEmbeddings(journal="./embeddings-journal")
            vectors = embeddings.embed_documents(corpus)  # interrupted? run it again:
            vectors = embeddings.embed_documents(corpus)  # sends only what is missing

        A text repeated within a call is sent once. Vectors are stored exactly (float64
        unless float32 is lossless); ``journal=EmbeddingJournal(path, precision="float32")``
        halves the space and returns the float32 values on the first call too.

    Empty strings raise ``ValueError`` before any request (the API rejects them); long texts
    are never truncated here, the server's answer is raised as is. Errors are the library's
    typed errors, each also the matching ``langchain_core.exceptions`` class. Building an
    instance does no I/O.
    """

    _ALIASES: ClassVar[dict[str, str]] = {
        "chunk_size": "batch_size",
        "show_progress_bar": "show_progress",
    }
    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "input"})

    model: str = DEFAULT_EMBEDDING_MODEL
    """Embedding model id (also ``model_name``)."""
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1)
    """Maximum texts per request (also ``chunk_size``, the langchain-together and
    OpenAIEmbeddings spelling)."""
    max_tokens_per_batch: int = Field(default=DEFAULT_MAX_TOKENS_PER_BATCH, ge=1)
    """Maximum estimated tokens per request (UTF-8 bytes / 4); a larger text goes alone."""
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, ge=1)
    """Maximum requests in flight per call."""
    dimensions: int | None = Field(default=None, ge=1)
    """Output size, for models that accept it: sent when the catalog says the model is a
    Matryoshka model, or does not know the model (the server decides); refused at
    construction for a catalogued model that does not take it."""
    show_progress: bool = False
    """Show a tqdm progress bar when tqdm is installed (also ``show_progress_bar``)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra JSON fields sent with every request."""
    journal: Any = None
    """Make embedding resumable: a directory path (kept as an absolute path, opened at the
    first call) or an ``EmbeddingJournal`` / any ``SupportsEmbeddingJournal``. Texts already
    journaled for this model, ``dimensions`` and ``model_kwargs`` are not sent again, a text
    repeated within one call is sent once, and every answered request is on disk before it
    is returned. Only SHA-256 digests of texts and the vectors are stored."""

    @field_validator("journal", mode="before")
    @classmethod
    def _check_journal(cls, value: Any) -> Any:
        return check_journal(value)

    @field_serializer("journal")
    def _journal_path(self, value: Any) -> Any:
        return journal_setting(value)  # a dump carries the directory, not open files

    @model_validator(mode="after")
    def _validate_batcher_settings(self) -> TogetherEmbeddings:
        # Fail at construction (no I/O) on settings the batcher refuses, e.g. dimensions
        # for a model without them, rather than at the first embed call.
        self._batcher()
        return self

    def _batcher(self) -> EmbeddingBatcher:
        dimensions, extra = self.dimensions, self.model_kwargs
        if dimensions is not None:
            caps = get_model_capabilities(self.model)
            if not caps.known:
                # A model the catalog has not seen: the server decides (a typed 400 if it
                # does not take dimensions), rather than a refusal based on a guess.
                dimensions, extra = None, {**extra, "dimensions": dimensions}
            elif not caps.supports_dimensions:
                size = caps.embedding_dimensions
                vectors = f" (its vectors have {size} values)" if size else ""
                raise TogetherConfigError(
                    f"{self.model!r} does not accept `dimensions`{vectors}"
                    ": only Matryoshka models can shorten their vectors. Leave dimensions unset, "
                    "or choose a model whose catalog entry has supports_dimensions."
                )
        return EmbeddingBatcher(
            self._get_transport(),
            self.model,
            batch_size=self.batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
            max_concurrency=self.max_concurrency,
            dimensions=dimensions,
            options=self._request_options(),
            show_progress=self.show_progress,
            extra_body=extra,
            journal=self.journal,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents: one vector per text, in order (``[]`` sends nothing)."""
        try:
            return self._batcher().embed(texts)
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`."""
        try:
            return await self._batcher().aembed(texts)
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        return (await self.aembed_documents([text]))[0]

    def _get_ls_params(self, **kwargs: Any) -> dict[str, Any]:
        """LangSmith's standard parameters (LangChain's Embeddings has no hook of its own)."""
        return {
            "ls_provider": "together",
            "ls_model_name": kwargs.get("model", self.model),
            "ls_model_type": "embedding",
        }
