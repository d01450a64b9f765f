"""LlamaIndex node postprocessor for Together rerank: ``TogetherRerank``."""

from __future__ import annotations

from typing import Any

from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index_instrumentation import get_dispatcher

from together_integrations.llama_index._common import ClientSettingsMixin
from together_integrations.schemas import RerankRequest, RerankResponse

__all__ = ["TogetherRerank"]

dispatcher = get_dispatcher(__name__)

DEFAULT_RERANK_MODEL = "Salesforce/Llama-Rank-V1"


class TogetherRerank(ClientSettingsMixin, BaseNodePostprocessor):
    """Reorder retrieved nodes with a Together rerank model and keep the ``top_n`` best.

    Example:
        .. code-block:: python

            engine = index.as_query_engine(similarity_top_k=10,
                                           node_postprocessors=[TogetherRerank(top_n=3)])
    """

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="Together rerank model id.")
    top_n: int = Field(default=3, gt=0, description="Nodes to keep.")
    keep_retrieval_score: bool = Field(
        default=False, description="Keep the retriever's score in metadata['retrieval_score']."
    )

    @classmethod
    def class_name(cls) -> str:
        return "TogetherRerank"

    def _prepare(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> RerankRequest:
        if query_bundle is None:
            raise ValueError(
                "TogetherRerank needs the query: pass a QueryBundle (query engines do)."
            )
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        return RerankRequest(
            model=self.model,
            query=query_bundle.query_str,
            documents=texts,
            top_n=min(self.top_n, len(nodes)),
        )

    def _apply(self, nodes: list[NodeWithScore], response: RerankResponse) -> list[NodeWithScore]:
        out: list[NodeWithScore] = []
        for result in sorted(response.results, key=lambda r: -r.relevance_score)[: self.top_n]:
            original = nodes[result.index]
            if self.keep_retrieval_score:
                original.node.metadata["retrieval_score"] = original.score
            out.append(NodeWithScore(node=original.node, score=result.relevance_score))
        return out

    def _begin(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> RerankRequest | None:
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle, nodes=nodes, top_n=self.top_n, model_name=self.model
            )
        )
        if not nodes:
            dispatcher.event(ReRankEndEvent(nodes=[]))
            return None
        return self._prepare(nodes, query_bundle)

    def _finish(self, nodes: list[NodeWithScore], response: RerankResponse) -> list[NodeWithScore]:
        reranked = self._apply(nodes, response)
        dispatcher.event(ReRankEndEvent(nodes=reranked))
        return reranked

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        request = self._begin(nodes, query_bundle)
        if request is None:
            return []
        payload: dict[str, Any] = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: request.query,
            EventPayload.TOP_K: self.top_n,
        }
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            reranked = self._finish(
                nodes, self._get_transport().rerank(request, self._request_options())
            )
            event.on_end(payload={EventPayload.NODES: reranked})
        return reranked

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        request = self._begin(nodes, query_bundle)
        if request is None:
            return []
        return self._finish(
            nodes, await self._get_transport().arerank(request, self._request_options())
        )
