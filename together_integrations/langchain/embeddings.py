"""LangChain ``Embeddings`` for Together, built on the shared :class:`EmbeddingBatcher`."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from together_integrations._constants import API_KEY_ENV
from together_integrations._embeddings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_TOKENS_PER_BATCH,
    EmbeddingBatcher,
)
from together_integrations._transport import RequestOptions, TogetherTransport

__all__ = ["TogetherEmbeddings"]

DEFAULT_EMBEDDING_MODEL = "intfloat/multilingual-e5-large-instruct"


class _ClientSettings(BaseModel):
    """Connection settings shared by the non-chat LangChain classes.

    Instances with the same key and base URL share one :class:`TogetherTransport` (one
    connection pool); ``timeout`` and ``max_retries`` travel per request, so they can differ
    between instances without splitting the pool.
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True, populate_by_name=True, protected_namespaces=()
    )

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(API_KEY_ENV, default=None),
        alias="together_api_key",
    )
    """Together API key. Defaults to ``TOGETHER_API_KEY``."""
    base_url: str | None = None
    """API base URL. Defaults to ``TOGETHER_BASE_URL``, then ``https://api.together.xyz/v1``."""
    timeout: float | None = None
    """Seconds to wait for a response (default 600)."""
    max_retries: int | None = None
    """Retries for connection errors, timeouts, 408/409/429 and 5xx (default 2)."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request."""
    transport: TogetherTransport | None = Field(default=None, exclude=True, repr=False)
    """An explicit transport (its key and base URL win over the fields above)."""

    def __getstate__(self) -> dict[Any, Any]:
        # As with TogetherTransport, the key never travels in a pickle: an unpickled
        # instance reads TOGETHER_API_KEY in the process that loads it.
        state = super().__getstate__()
        fields = {k: v for k, v in state["__dict__"].items() if k != "_shared_transport_cache"}
        state["__dict__"] = {**fields, "api_key": None}
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        if self.api_key is None:
            self.__dict__["api_key"] = secret_from_env(API_KEY_ENV, default=None)()

    def _get_transport(self) -> TogetherTransport:
        if self.transport is not None:
            return self.transport
        # Resolved once per instance (the registry lookup is not free on every call).
        shared = self.__dict__.get("_shared_transport_cache")
        if shared is None or shared[0] != (self.api_key, self.base_url):
            transport = TogetherTransport.shared(api_key=self.api_key, base_url=self.base_url)
            shared = ((self.api_key, self.base_url), transport)
            object.__setattr__(self, "_shared_transport_cache", shared)
        result: TogetherTransport = shared[1]
        return result

    def _request_options(self) -> RequestOptions | None:
        if self.timeout is None and self.max_retries is None and not self.default_headers:
            return None
        return RequestOptions(
            timeout=self.timeout,
            max_retries=self.max_retries,
            extra_headers=self.default_headers or None,
        )


class TogetherEmbeddings(_ClientSettings, Embeddings):
    """Together embedding models.

    Many texts become few requests: ``embed_documents`` packs up to ``batch_size`` texts
    and about ``max_tokens_per_batch`` tokens into each ``POST /embeddings`` and keeps up to
    ``max_concurrency`` requests in flight, returning vectors in input order.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherEmbeddings

            embeddings = TogetherEmbeddings(
                model="intfloat/multilingual-e5-large-instruct",
                # batch_size=128, max_concurrency=4, show_progress=False,
                # api_key="...", timeout=60, max_retries=2,
            )

    Embed:
        .. code-block:: python

            vectors = embeddings.embed_documents(["Together serves open models.", "Hi"])
            query = embeddings.embed_query("Who serves open models?")
            # async: await embeddings.aembed_documents([...]), await embeddings.aembed_query(...)

    Empty strings raise ``ValueError`` before any request (the API rejects them); long texts
    are never truncated here, the server's answer is raised as is. Building an instance does
    no I/O.
    """

    model: str = DEFAULT_EMBEDDING_MODEL
    """Embedding model id."""
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1)
    """Maximum texts per request."""
    max_tokens_per_batch: int = Field(default=DEFAULT_MAX_TOKENS_PER_BATCH, ge=1)
    """Maximum estimated tokens per request (UTF-8 bytes / 4); a larger text goes alone."""
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, ge=1)
    """Maximum requests in flight per call."""
    dimensions: int | None = Field(default=None, ge=1)
    """Output size, only for models that accept it (Matryoshka models)."""
    show_progress: bool = False
    """Show a tqdm progress bar (when tqdm is installed)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra JSON fields sent with every request."""

    @model_validator(mode="after")
    def _validate_batcher_settings(self) -> TogetherEmbeddings:
        # Fail at construction (no I/O) on settings the batcher refuses, e.g. dimensions
        # for a model without them, rather than at the first embed call.
        self._batcher()
        return self

    def _batcher(self) -> EmbeddingBatcher:
        return EmbeddingBatcher(
            self._get_transport(),
            self.model,
            batch_size=self.batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
            max_concurrency=self.max_concurrency,
            dimensions=self.dimensions,
            options=self._request_options(),
            show_progress=self.show_progress,
            extra_body=self.model_kwargs,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents: one vector per text, in order (``[]`` sends nothing)."""
        return self._batcher().embed(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text."""
        return self._batcher().embed([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`."""
        return await self._batcher().aembed(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        return (await self._batcher().aembed([text]))[0]
