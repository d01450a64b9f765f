"""``POST /v1/rerank``: documents ordered by word overlap (see :func:`overlap_score`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .content import overlap_score
from .wire import EmulatedRequest, EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["register", "rerank"]


def register(router: Router) -> None:
    router.add("POST", "/v1/rerank", rerank, needs_model=True)


def rerank(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    query = body.get("query")
    documents = body.get("documents")
    if not isinstance(query, str) or not query:
        return wire.error(400, "Input validation error", param="query")
    if not isinstance(documents, list) or not documents:
        return wire.error(400, "Input validation error", param="documents")
    fields = body.get("rank_fields")
    scored: list[tuple[float, int, Any]] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str):
            text = doc
        elif isinstance(doc, dict):
            text = " ".join(str(doc.get(f, "")) for f in (fields or ["text"]))
        else:
            return wire.error(400, "Input validation error", param="documents")
        scored.append((overlap_score(query, text), i, doc))
    scored.sort(key=lambda t: (-t[0], t[1]))
    top_n = body.get("top_n")
    top_n = len(scored) if not isinstance(top_n, int) or top_n <= 0 else top_n
    results = [
        {
            "index": i,
            "relevance_score": score,
            "document": ({"text": doc} if isinstance(doc, str) else doc)
            if body.get("return_documents")
            else {},
        }
        for score, i, doc in scored[:top_n]
    ]
    tokens = sum(len(json.dumps(d)) // 4 for d in documents) + max(1, len(query) // 4)
    request_id = wire.id()
    payload = {
        "id": request_id,
        "object": "rerank",
        "model": body["model"],
        "results": results,
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    }
    return wire.ok(request_id, payload)
