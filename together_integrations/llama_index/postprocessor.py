"""LlamaIndex node postprocessor for Together rerank: ``TogetherRerank``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index_instrumentation import get_dispatcher

from together_integrations._catalog import get_model_capabilities
from together_integrations._exceptions import APIResponseValidationError
from together_integrations.llama_index._common import (
    ClientSettingsMixin,
    log_guessed_capabilities,
)
from together_integrations.schemas import RerankRequest, RerankResponse

__all__ = ["TogetherRerank"]

dispatcher = get_dispatcher(__name__)

DEFAULT_RERANK_MODEL = "Salesforce/Llama-Rank-V1"


class _Outcome:
    """Where the sync and async paths leave the reranked nodes for the shared event code."""

    nodes: list[NodeWithScore]

    def __init__(self) -> None:
        self.nodes = []


class TogetherRerank(ClientSettingsMixin, BaseNodePostprocessor):
    """Reorder retrieved nodes with a Together rerank model and keep the ``top_n`` best.

    Each returned node's ``score`` is the rerank relevance score; with
    ``keep_retrieval_score=True`` the retriever's score is kept in
    ``node.metadata["retrieval_score"]``. One ``POST /rerank`` per call (none for no nodes).
    Emits ``ReRankStartEvent``/``ReRankEndEvent`` to the instrumentation dispatcher and a
    ``CBEventType.RERANKING`` callback event, sync and async alike.

    Example:
        .. code-block:: python

            from together_integrations.llama_index import TogetherRerank

            engine = index.as_query_engine(
                similarity_top_k=10, node_postprocessors=[TogetherRerank(top_n=3)]
            )
    """

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="Together rerank model id.")
    top_n: int = Field(default=3, gt=0, description="Nodes to keep, best first.")
    keep_retrieval_score: bool = Field(
        default=False, description="Keep the retriever's score in metadata['retrieval_score']."
    )

    def __init__(self, top_n: int | None = None, model: str | None = None, **kwargs: Any) -> None:
        # Positional (top_n, model), as LlamaIndex's other rerankers take them.
        if top_n is not None:
            kwargs["top_n"] = top_n
        if model is not None:
            kwargs["model"] = model
        super().__init__(**kwargs)
        caps = get_model_capabilities(self.model)
        log_guessed_capabilities(
            caps, f"a rerank model with a {caps.context_window:,}-token window"
        )

    @classmethod
    def class_name(cls) -> str:
        return "TogetherRerank"

    # ------------------------------------------------------------ I/O-free parts

    def _request(self, nodes: list[NodeWithScore], query_bundle: QueryBundle) -> RerankRequest:
        return RerankRequest(
            model=self.model,
            query=query_bundle.query_str,
            documents=[n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
            top_n=min(self.top_n, len(nodes)),
        )

    def _apply(self, nodes: list[NodeWithScore], response: RerankResponse) -> list[NodeWithScore]:
        bad = [r.index for r in response.results if not 0 <= r.index < len(nodes)]
        if bad:
            raise APIResponseValidationError(
                f"Sent {len(nodes)} documents to /rerank but the ranking names indices "
                f"{bad[:10]}. Retry; if it persists, report it to Together.",
                status_code=200,
                body=f"model={response.model!r}, indices={[r.index for r in response.results]}",
                method="POST",
                url="/rerank",
            )
        # The server ranks best first; a stable sort makes that a guarantee here.
        ranked = sorted(response.results, key=lambda r: -r.relevance_score)[: self.top_n]
        out: list[NodeWithScore] = []
        for result in ranked:
            original = nodes[result.index]
            if self.keep_retrieval_score:
                original.node.metadata["retrieval_score"] = original.score
            out.append(NodeWithScore(node=original.node, score=result.relevance_score))
        return out

    @contextmanager
    def _events(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Iterator[tuple[RerankRequest, _Outcome] | None]:
        """Validate, emit the start events, yield the request (``None``: nothing to rank),
        then emit the end events with what the caller stored in the outcome."""
        if query_bundle is None:
            raise ValueError(
                "TogetherRerank needs the query: call postprocess_nodes(nodes, "
                "query_bundle=QueryBundle(query)) or query_str=... (query engines pass it)."
            )
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle, nodes=nodes, top_n=self.top_n, model_name=self.model
            )
        )
        outcome = _Outcome()
        if not nodes:
            yield None
        else:
            payload: dict[str, Any] = {
                EventPayload.NODES: nodes,
                EventPayload.MODEL_NAME: self.model,
                EventPayload.QUERY_STR: query_bundle.query_str,
                EventPayload.TOP_K: self.top_n,
            }
            with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
                yield self._request(nodes, query_bundle), outcome
                event.on_end(payload={EventPayload.NODES: outcome.nodes})
        dispatcher.event(ReRankEndEvent(nodes=outcome.nodes))

    # ------------------------------------------------------------------- I/O

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._events(nodes, query_bundle) as started:
            if started is None:
                return []
            request, outcome = started
            response = self._get_transport().rerank.create(request, self._request_options())
            outcome.nodes = self._apply(nodes, response)
        return outcome.nodes

    @dispatcher.span  # the base class wraps only the sync method in a span
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._events(nodes, query_bundle) as started:
            if started is None:
                return []
            request, outcome = started
            response = await self._get_transport().rerank.acreate(request, self._request_options())
            outcome.nodes = self._apply(nodes, response)
        return outcome.nodes
