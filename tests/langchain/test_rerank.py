"""TogetherRerank: wire format, top_n, rank_fields, copies not mutations, errors, secrets."""

from __future__ import annotations

import asyncio
import json
import pickle
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.documents import Document

from together_integrations import (
    APIResponseValidationError,
    RateLimitError,
    TogetherTransport,
)
from together_integrations.langchain import TogetherRerank

KEY = "tk-rerank-secret-0123456789"


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


class FakeRerankAPI:
    """``POST /rerank`` (NOTES §6): scores are query-word overlap, best first."""

    def __init__(self, reply: Callable[[dict[str, Any]], httpx.Response] | None = None) -> None:
        self.reply = reply
        self.requests: list[httpx.Request] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        if self.reply is not None:
            return self.reply(body)
        query = words(body["query"])
        fields = body.get("rank_fields")

        def text(doc: Any) -> str:
            if isinstance(doc, str):
                return doc
            return " ".join(str(doc[f]) for f in fields or doc)

        scores = [len(query & words(text(d))) / (len(query) or 1) for d in body["documents"]]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[: body.get("top_n")]
        return httpx.Response(
            200,
            json={
                "id": "oGs6Zt9-62bZhn-99529372487b1b0a",
                "object": "rerank",
                "model": body["model"],
                "results": [
                    {"index": i, "relevance_score": scores[i], "document": {}} for i in order
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 0, "total_tokens": 10},
            },
        )

    def transport(self) -> TogetherTransport:
        return TogetherTransport(
            api_key=KEY,
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
        )


DOCS = [
    Document(page_content="Bananas are yellow fruit.", metadata={"source": "a"}, id="d0"),
    Document(page_content="Paris is the capital of France.", metadata={"source": "b"}, id="d1"),
    Document(page_content="The capital city hosts the government.", metadata={"source": "c"}),
    Document(page_content="Cats sleep a lot.", metadata={"source": "d"}),
]
QUERY = "What is the capital of France?"

Call = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Call:
    def run(reranker: TogetherRerank, method: str, *args: Any, **kwargs: Any) -> Any:
        if request.param == "sync":
            return getattr(reranker, method)(*args, **kwargs)
        return asyncio.run(getattr(reranker, "a" + method)(*args, **kwargs))

    return run


def test_compress_sends_texts_and_keeps_top_n_best_first(call: Call) -> None:
    api = FakeRerankAPI()
    reranker = TogetherRerank(transport=api.transport(), top_n=2)
    out = call(reranker, "compress_documents", DOCS, QUERY)
    assert api.bodies == [
        {
            "model": "Salesforce/Llama-Rank-V1",
            "query": QUERY,
            "documents": [d.page_content for d in DOCS],
            "top_n": 2,
        }
    ]
    assert [d.page_content for d in out] == [DOCS[1].page_content, DOCS[2].page_content]
    scores = [d.metadata["relevance_score"] for d in out]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert out[0].metadata["source"] == "b" and out[0].id == "d1"


def test_inputs_are_copied_not_mutated(call: Call) -> None:
    docs = [d.model_copy(deep=True) for d in DOCS]
    before = [d.model_dump() for d in docs]
    out = call(
        TogetherRerank(transport=FakeRerankAPI().transport()), "compress_documents", docs, QUERY
    )
    assert [d.model_dump() for d in docs] == before
    assert all("relevance_score" not in d.metadata for d in docs)
    assert all(o.metadata is not d.metadata for o in out for d in docs)


def test_default_top_n_is_3_and_capped_at_the_document_count(call: Call) -> None:
    api = FakeRerankAPI()
    reranker = TogetherRerank(transport=api.transport())
    assert len(call(reranker, "compress_documents", DOCS, QUERY)) == 3
    call(reranker, "compress_documents", DOCS[:2], QUERY)
    assert [b["top_n"] for b in api.bodies] == [3, 2]


def test_top_n_none_returns_every_document_reordered(call: Call) -> None:
    api = FakeRerankAPI()
    out = call(
        TogetherRerank(transport=api.transport(), top_n=None), "compress_documents", DOCS, QUERY
    )
    assert "top_n" not in api.bodies[0]
    assert len(out) == len(DOCS) and out[0].page_content == DOCS[1].page_content


def test_plain_rerank_returns_indices_and_scores(call: Call) -> None:
    api = FakeRerankAPI()
    reranker = TogetherRerank(transport=api.transport())
    ranking = call(reranker, "rerank", QUERY, ["cats", "capital of France", "France"], top_n=None)
    assert [r["index"] for r in ranking] == [1, 2, 0]
    assert set(ranking[0]) == {"index", "relevance_score"}
    assert "top_n" not in api.bodies[0]


def test_ranking_is_sorted_even_if_the_server_is_not(call: Call) -> None:
    def unsorted(body: dict[str, Any]) -> httpx.Response:
        results = [{"index": 0, "relevance_score": 0.1}, {"index": 1, "relevance_score": 0.9}]
        return httpx.Response(200, json={"object": "rerank", "results": results})

    reranker = TogetherRerank(transport=FakeRerankAPI(unsorted).transport())
    assert [r["index"] for r in call(reranker, "rerank", "q", ["a", "b"])] == [1, 0]


def test_out_of_range_index_is_a_validation_error(call: Call) -> None:
    def bogus(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            200, json={"object": "rerank", "results": [{"index": 7, "relevance_score": 1.0}]}
        )

    reranker = TogetherRerank(transport=FakeRerankAPI(bogus).transport())
    with pytest.raises(APIResponseValidationError, match=r"indices \[7\]"):
        call(reranker, "rerank", "q", ["a", "b"])


def test_no_documents_no_request(call: Call) -> None:
    api = FakeRerankAPI()
    reranker = TogetherRerank(transport=api.transport())
    assert list(call(reranker, "compress_documents", [], QUERY)) == []
    assert call(reranker, "rerank", QUERY, []) == []
    assert api.requests == []


def test_empty_query_is_refused(call: Call) -> None:
    with pytest.raises(ValueError, match="query must be a non-empty string"):
        call(TogetherRerank(transport=FakeRerankAPI().transport()), "rerank", "", ["a"])


# ------------------------------------------------------------------- rank_fields


def test_rank_fields_build_objects_from_json_content_and_metadata(call: Call) -> None:
    api = FakeRerankAPI()
    docs = [
        Document(page_content=json.dumps({"title": "Cats", "body": "sleep"}), metadata={"year": 1}),
        Document(page_content="Paris is in France", metadata={"title": "France", "year": 2024}),
    ]
    reranker = TogetherRerank(transport=api.transport(), rank_fields=["title", "year"])
    out = call(reranker, "compress_documents", docs, "France")
    assert api.bodies[0]["rank_fields"] == ["title", "year"]
    assert api.bodies[0]["documents"] == [
        {"title": "Cats", "body": "sleep", "year": "1"},
        {"text": "Paris is in France", "title": "France", "year": "2024"},
    ]
    assert out[0].page_content == "Paris is in France"  # the original content comes back


def test_rank_fields_on_plain_dicts_per_call(call: Call) -> None:
    api = FakeRerankAPI()
    reranker = TogetherRerank(transport=api.transport())
    docs = [{"title": "Cats", "text": "sleep"}, {"title": "France", "text": "Paris"}]
    ranking = call(reranker, "rerank", "France", docs, rank_fields=["title"], top_n=1)
    assert ranking[0]["index"] == 1
    assert api.bodies[0]["documents"] == docs and api.bodies[0]["rank_fields"] == ["title"]


def test_missing_rank_field_names_the_document(call: Call) -> None:
    api = FakeRerankAPI()
    reranker = TogetherRerank(transport=api.transport(), rank_fields=["title"])
    docs = [Document(page_content="x", metadata={"title": "t"}), Document(page_content="y")]
    with pytest.raises(ValueError, match="Document 1 has no field 'title'"):
        call(reranker, "compress_documents", docs, "q")
    assert api.requests == []


def test_dicts_without_rank_fields_are_a_type_error(call: Call) -> None:
    reranker = TogetherRerank(transport=FakeRerankAPI().transport())
    with pytest.raises(TypeError, match="Pass rank_fields"):
        call(reranker, "rerank", "q", [{"title": "t"}])


# ------------------------------------------------------------------ errors, secrets


def test_api_errors_are_typed(call: Call) -> None:
    def limited(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            429,
            headers={"retry-after": "2", "x-ratelimit-limit": "1"},
            json={"id": "o48", "error": {"message": "Request was rejected", "type": "rate_limit"}},
        )

    reranker = TogetherRerank(transport=FakeRerankAPI(limited).transport())
    with pytest.raises(RateLimitError) as info:
        call(reranker, "compress_documents", DOCS, QUERY)
    assert info.value.status_code == 429


def test_settings_travel_per_request() -> None:
    api = FakeRerankAPI()
    reranker = TogetherRerank(
        transport=api.transport(),
        timeout=7,
        default_headers={"X-App": "r"},
        model_kwargs={"return_documents": False},
    )
    reranker.rerank("q", ["a"])
    assert api.requests[0].headers["x-app"] == "r"
    assert api.requests[0].extensions["timeout"]["read"] == 7
    assert api.bodies[0]["return_documents"] is False


def test_bad_top_n_is_refused() -> None:
    with pytest.raises(ValueError, match="top_n"):
        TogetherRerank(top_n=0, api_key=KEY)


def test_key_is_never_shown_or_pickled() -> None:
    reranker = TogetherRerank(api_key=KEY)
    assert reranker.api_key is not None and reranker.api_key.get_secret_value() == KEY
    assert KEY not in repr(reranker) and KEY not in str(reranker)
    assert KEY.encode() not in pickle.dumps(reranker)
