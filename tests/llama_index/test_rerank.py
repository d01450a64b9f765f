"""LlamaIndex TogetherRerank on the in-process emulator (word-overlap relevance): ranking,
top_n, retrieval scores, instrumentation and callback events, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index_instrumentation import get_dispatcher
from llama_index_instrumentation.event_handlers import BaseEventHandler

from together_integrations import (
    APIResponseValidationError,
    NotFoundError,
    RateLimitError,
    TogetherTransport,
)
from together_integrations._catalog import get_model_capabilities
from together_integrations.llama_index import TogetherRerank
from together_integrations.testing import TogetherEmulator
from together_integrations.testing.emulator import overlap_score

KEY = "tgp_v1_RerankSecretKey0123456789"
QUERY = "how do rerank models order documents"
TEXTS = [
    "bananas are yellow",  # no word in common with the query
    "rerank models order documents",  # four
    "documents are stored on disk",  # one
    "rerank models",  # two
]

Post = Callable[..., list[NodeWithScore]]


@pytest.fixture(params=["sync", "async"])
def post(request: pytest.FixtureRequest) -> Post:
    """``postprocess_nodes`` or its async twin, as one callable."""

    def run(rerank: TogetherRerank, nodes: list[NodeWithScore], **kwargs: Any) -> Any:
        if request.param == "sync":
            return rerank.postprocess_nodes(nodes, **kwargs)
        return asyncio.run(rerank.apostprocess_nodes(nodes, **kwargs))

    return run


class Recorder(BaseEventHandler):
    events: list[Any] = []

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if isinstance(event, ReRankStartEvent | ReRankEndEvent):
            self.events.append(event)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    handler.events = []
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers.remove(handler)


def make_nodes(scores: list[float] | None = None) -> list[NodeWithScore]:
    scores = scores or [0.9, 0.4, 0.7, 0.5]
    return [
        NodeWithScore(node=TextNode(text=t), score=s) for t, s in zip(TEXTS, scores, strict=True)
    ]


def rerank_requests(emu: TogetherEmulator) -> list[dict[str, Any]]:
    return [r.json for r in emu.requests if r.path.endswith("/rerank")]


def test_base_class_name_and_defaults() -> None:
    assert BaseNodePostprocessor.__name__ in [b.__name__ for b in TogetherRerank.__mro__]
    assert TogetherRerank.class_name() == "TogetherRerank"
    rerank = TogetherRerank(api_key=KEY)
    assert (rerank.model, rerank.top_n, rerank.keep_retrieval_score) == (
        "Salesforce/Llama-Rank-V1",
        3,
        False,
    )
    assert get_model_capabilities(rerank.model).type == "rerank"
    with pytest.raises(ValueError):
        TogetherRerank(top_n=0)


def test_top_n_order_and_scores(emu: TogetherEmulator, post: Post) -> None:
    rerank = TogetherRerank(transport=emu.transport())
    nodes = make_nodes()
    out = post(rerank, nodes, query_bundle=QueryBundle(QUERY))
    assert [n.node.get_content() for n in out] == [TEXTS[1], TEXTS[3], TEXTS[2]]
    assert [n.score for n in out] == [overlap_score(QUERY, TEXTS[i]) for i in (1, 3, 2)]
    assert out[0].node is nodes[1].node  # the same node, scored anew
    assert "retrieval_score" not in out[0].node.metadata
    (sent,) = rerank_requests(emu)
    assert sent == {
        "model": "Salesforce/Llama-Rank-V1",
        "query": QUERY,
        "documents": TEXTS,
        "top_n": 3,
    }


def test_top_n_above_the_node_count_keeps_all(emu: TogetherEmulator, post: Post) -> None:
    rerank = TogetherRerank(
        top_n=10, model="mixedbread-ai/Mxbai-Rerank-Large-V2", transport=emu.transport()
    )
    out = post(rerank, make_nodes(), query_str=QUERY)
    assert len(out) == 4 and out[-1].node.get_content() == TEXTS[0]
    scores = [n.score or 0.0 for n in out]
    assert scores == sorted(scores, reverse=True)
    assert rerank_requests(emu)[0]["top_n"] == 4
    assert rerank_requests(emu)[0]["model"] == "mixedbread-ai/Mxbai-Rerank-Large-V2"


def test_keep_retrieval_score(emu: TogetherEmulator, post: Post) -> None:
    rerank = TogetherRerank(top_n=2, keep_retrieval_score=True, transport=emu.transport())
    out = post(rerank, make_nodes([0.11, 0.22, 0.33, 0.44]), query_str=QUERY)
    assert [n.node.metadata["retrieval_score"] for n in out] == [0.22, 0.44]
    assert [n.score for n in out] != [0.22, 0.44]


def test_documents_include_embed_metadata_only(emu: TogetherEmulator) -> None:
    node = TextNode(
        text="rerank body",
        metadata={"title": "Ranking guide", "internal_id": "doc-42"},
        excluded_embed_metadata_keys=["internal_id"],
    )
    TogetherRerank(transport=emu.transport()).postprocess_nodes(
        [NodeWithScore(node=node, score=1.0)], query_str="ranking"
    )
    (document,) = rerank_requests(emu)[0]["documents"]
    assert "Ranking guide" in document and "rerank body" in document
    assert "doc-42" not in document


def test_missing_query_raises_before_any_request_or_event(
    emu: TogetherEmulator, post: Post, recorder: Recorder
) -> None:
    rerank = TogetherRerank(transport=emu.transport())
    with pytest.raises(ValueError, match="needs the query"):
        post(rerank, make_nodes())
    assert emu.requests == [] and recorder.events == []


def test_no_nodes_no_request(emu: TogetherEmulator, post: Post, recorder: Recorder) -> None:
    rerank = TogetherRerank(transport=emu.transport())
    assert post(rerank, [], query_str=QUERY) == []
    assert emu.requests == []
    assert [type(e) for e in recorder.events] == [ReRankStartEvent, ReRankEndEvent]


def test_instrumentation_events(emu: TogetherEmulator, post: Post, recorder: Recorder) -> None:
    rerank = TogetherRerank(top_n=2, transport=emu.transport())
    nodes = make_nodes()
    out = post(rerank, nodes, query_str=QUERY)
    start, end = recorder.events
    assert isinstance(start, ReRankStartEvent) and isinstance(end, ReRankEndEvent)
    assert start.model_name == "Salesforce/Llama-Rank-V1" and start.top_n == 2
    assert isinstance(start.query, QueryBundle) and start.query.query_str == QUERY
    assert start.nodes == nodes
    assert [n.node.node_id for n in end.nodes] == [n.node.node_id for n in out]
    assert start.span_id is not None and start.span_id == end.span_id  # one span per call


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_callback_reranking_event(emu: TogetherEmulator, mode: str) -> None:
    debug = LlamaDebugHandler()
    rerank = TogetherRerank(
        top_n=1, transport=emu.transport(), callback_manager=CallbackManager([debug])
    )
    nodes = make_nodes()
    if mode == "sync":
        out = rerank.postprocess_nodes(nodes, query_str=QUERY)
    else:
        out = asyncio.run(rerank.apostprocess_nodes(nodes, query_str=QUERY))
    ((start, end),) = debug.get_event_pairs(CBEventType.RERANKING)
    assert start.payload is not None and end.payload is not None
    assert start.payload["query_str"] == QUERY and start.payload["model_name"] == rerank.model
    assert start.payload["top_k"] == 1 and start.payload["nodes"] == nodes
    assert end.payload["nodes"] == out


def test_429_is_retried_a_bounded_number_of_times(emu: TogetherEmulator, post: Post) -> None:
    rerank = TogetherRerank(transport=emu.transport(max_retries=1))
    emu.fail("status", status=429, retry_after_ms=1, times=None)
    with pytest.raises(RateLimitError):
        post(rerank, make_nodes(), query_str=QUERY)
    assert len(emu.requests) == 2
    emu.reset()
    emu.fail("status", status=429, retry_after_ms=1, times=1)
    assert len(post(rerank, make_nodes(), query_str=QUERY)) == 3
    assert len(emu.requests) == 2


def test_unknown_model_is_a_typed_error(emu: TogetherEmulator, post: Post) -> None:
    rerank = TogetherRerank(model="acme/no-such-rerank", transport=emu.transport())
    with pytest.raises(NotFoundError, match="acme/no-such-rerank"):
        post(rerank, make_nodes(), query_str=QUERY)


def test_out_of_range_index_from_the_server_is_a_validation_error(post: Post) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "r1",
                "object": "rerank",
                "model": "Salesforce/Llama-Rank-V1",
                "results": [{"index": 7, "relevance_score": 0.9, "document": {}}],
            },
        )

    mock = httpx.MockTransport(handler)
    transport = TogetherTransport(
        api_key="k",
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
    )
    rerank = TogetherRerank(transport=transport)
    with pytest.raises(APIResponseValidationError, match=r"indices \[7\]"):
        post(rerank, make_nodes(), query_str=QUERY)
