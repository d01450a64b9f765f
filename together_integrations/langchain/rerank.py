"""LangChain document compressor backed by Together's ``POST /rerank``."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field

from together_integrations._exceptions import APIError, APIResponseValidationError
from together_integrations.langchain._common import TogetherClientSettings, validate_request
from together_integrations.langchain._errors import to_langchain_error
from together_integrations.schemas import RerankRequest, RerankResponse

__all__ = ["TogetherRerank"]

DEFAULT_RERANK_MODEL = "Salesforce/Llama-Rank-V1"

RerankInput = str | Mapping[str, Any] | Document


class _Unset(enum.Enum):
    UNSET = 0


_UNSET = _Unset.UNSET


def _field_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _structured(doc: RerankInput, rank_fields: Sequence[str], position: int) -> dict[str, Any]:
    """One document as the object ``rank_fields`` select from (see ``TogetherRerank``)."""
    if isinstance(doc, Mapping):
        base: dict[str, Any] = dict(doc)
        metadata: Mapping[str, Any] = {}
    elif isinstance(doc, Document):
        parsed = _json_object(doc.page_content)
        base = parsed if parsed is not None else {"text": doc.page_content}
        metadata = doc.metadata
    else:
        parsed = _json_object(doc)
        base = parsed if parsed is not None else {"text": doc}
        metadata = {}
    out = {key: _field_value(value) for key, value in base.items()}
    for field in rank_fields:
        if field in out:
            continue
        if field not in metadata:
            raise ValueError(
                f"Document {position} has no field {field!r} to rank on: it is neither a key "
                "of its JSON page_content nor of its metadata. Add it, or change rank_fields."
            )
        out[field] = _field_value(metadata[field])
    return out


def _json_object(text: str) -> dict[str, Any] | None:
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _wire_documents(
    documents: Sequence[RerankInput], rank_fields: Sequence[str] | None
) -> list[str] | list[dict[str, Any]]:
    if rank_fields:
        return [_structured(doc, rank_fields, i) for i, doc in enumerate(documents)]
    texts: list[str] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, Document):
            texts.append(doc.page_content)
        elif isinstance(doc, str):
            texts.append(doc)
        else:
            raise TypeError(
                f"Document {i} is a {type(doc).__name__}; without rank_fields, rerank takes "
                "strings or Documents. Pass rank_fields=[...] to rank structured documents."
            )
    return texts


def _ranking(response: RerankResponse, count: int) -> list[dict[str, Any]]:
    results = [{"index": r.index, "relevance_score": r.relevance_score} for r in response.results]
    bad = [r["index"] for r in results if not 0 <= r["index"] < count]
    if bad:
        raise APIResponseValidationError(
            f"Sent {count} documents to /rerank but the ranking names indices {bad[:10]}. "
            "Retry; if it persists, report it to Together.",
            status_code=200,
            body=f"model={response.model!r}, results={results[:50]}",
            method="POST",
            url="/rerank",
        )
    # The server ranks best first; sorting (stably) makes that a guarantee of this API.
    return sorted(results, key=lambda r: -r["relevance_score"])


class TogetherRerank(TogetherClientSettings, BaseDocumentCompressor):
    """Rerank documents with a Together reranker, as a LangChain document compressor.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``
        (``TOGETHER_API_BASE`` or ``TOGETHER_BASE_URL`` for another host).

    Key init args:
        model: Rerank model id (also ``model_name``).
        top_n (also ``top_k``), rank_fields, model_kwargs.
        api_key (also ``together_api_key``, ``openai_api_key``), base_url (also
        ``together_api_base``, ``openai_api_base``), timeout (also ``request_timeout``),
        max_retries, default_headers, default_query, transport, http_client /
        http_async_client.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherRerank

            reranker = TogetherRerank(model="Salesforce/Llama-Rank-V1", top_n=3)

    Invoke (compress retrieved documents):
        .. code-block:: python

            docs = reranker.compress_documents(retrieved_docs, "Who serves open models?")
            docs[0].metadata["relevance_score"]  # best first; inputs are not modified

    Async:
        .. code-block:: python

            await reranker.acompress_documents(retrieved_docs, query)
            await reranker.arerank("query", ["doc a", "doc b"])

    Pipelines:
        It plugs into ``ContextualCompressionRetriever(base_compressor=reranker,
        base_retriever=...)`` (``langchain_classic.retrievers``) or any pipeline that calls
        ``compress_documents(documents, query)``.

    Plain ranking:
        .. code-block:: python

            reranker.rerank("query", ["doc a", "doc b"])
            # [{"index": 1, "relevance_score": 0.91}, {"index": 0, "relevance_score": 0.12}]

    Structured documents (``rank_fields``):
        Without ``rank_fields`` each document is sent as its text. With
        ``rank_fields=["title", "text"]`` each document is sent as a JSON object and the model
        ranks on those keys. The object is built as follows: a ``dict`` is used as is; a
        ``Document`` (or string) whose ``page_content`` is a JSON object is parsed; otherwise
        the text becomes ``{"text": page_content}``. Every rank field still missing is taken
        from the ``Document``'s metadata; a field found nowhere raises ``ValueError`` naming the
        document. Non-string values are sent as JSON text.

    Errors:
        The library's typed errors, each also the matching ``langchain_core.exceptions``
        class (a 429 is both ``RateLimitError`` and ``ModelRateLimitError``).
    """

    _ALIASES: ClassVar[dict[str, str]] = {"top_k": "top_n"}
    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "query", "documents"})

    model: str = DEFAULT_RERANK_MODEL
    """Rerank model id (also ``model_name``)."""
    top_n: int | None = Field(default=3, ge=1)
    """How many documents to keep (best first; also ``top_k``); ``None`` keeps all,
    reordered."""
    rank_fields: list[str] | None = None
    """Keys to rank structured documents on (see the class docstring)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra JSON fields sent with every request."""

    def _request(
        self,
        query: str,
        documents: Sequence[RerankInput],
        top_n: int | None,
        rank_fields: Sequence[str] | None,
    ) -> RerankRequest:
        if not isinstance(query, str) or not query:
            raise ValueError("query must be a non-empty string to rank documents against.")
        body: dict[str, Any] = {
            **self.model_kwargs,
            "model": self.model,
            "query": query,
            "documents": _wire_documents(documents, rank_fields),
        }
        if top_n is not None:
            body["top_n"] = min(top_n, len(documents))
        if rank_fields:
            body["rank_fields"] = list(rank_fields)
        return validate_request(RerankRequest, body, type(self).__name__)

    def _resolve(
        self, top_n: int | _Unset | None, rank_fields: Sequence[str] | None
    ) -> tuple[int | None, Sequence[str] | None]:
        return (
            self.top_n if top_n is _UNSET else top_n,
            self.rank_fields if rank_fields is None else rank_fields,
        )

    def rerank(
        self,
        query: str,
        documents: Sequence[RerankInput],
        *,
        top_n: int | _Unset | None = _UNSET,
        rank_fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rank ``documents`` (strings, dicts or Documents) by relevance to ``query``.

        Returns ``[{"index": i, "relevance_score": s}, ...]`` best first, ``index`` being the
        position in ``documents``. ``top_n`` and ``rank_fields`` default to the instance's.
        No request is sent for an empty list.
        """
        n, fields = self._resolve(top_n, rank_fields)
        if not documents:
            return []
        request = self._request(query, documents, n, fields)
        try:
            response = self._get_transport().rerank.create(request, self._request_options())
            return _ranking(response, len(documents))
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    async def arerank(
        self,
        query: str,
        documents: Sequence[RerankInput],
        *,
        top_n: int | _Unset | None = _UNSET,
        rank_fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Async :meth:`rerank`."""
        n, fields = self._resolve(top_n, rank_fields)
        if not documents:
            return []
        request = self._request(query, documents, n, fields)
        try:
            response = await self._get_transport().rerank.acreate(request, self._request_options())
            return _ranking(response, len(documents))
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    def _get_ls_params(self, **kwargs: Any) -> dict[str, Any]:
        """LangSmith's standard parameters (LangChain's compressors have no hook of their
        own)."""
        return {
            "ls_provider": "together",
            "ls_model_name": kwargs.get("model", self.model),
            "ls_model_type": "rerank",
        }

    @staticmethod
    def _scored(documents: Sequence[Document], ranking: list[dict[str, Any]]) -> list[Document]:
        out: list[Document] = []
        for item in ranking:
            doc = documents[item["index"]]
            metadata = {**doc.metadata, "relevance_score": item["relevance_score"]}
            out.append(doc.model_copy(update={"metadata": metadata}, deep=False))
        return out

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Keep the ``top_n`` documents most relevant to ``query``, best first, each a copy
        with ``metadata["relevance_score"]`` set."""
        return self._scored(documents, self.rerank(query, documents))

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents`."""
        return self._scored(documents, await self.arerank(query, documents))
