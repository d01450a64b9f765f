"""Rerank: ``POST /rerank`` (NOTES §6)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import RequestModel, WireModel
from .common import Usage


class RerankRequest(RequestModel):
    """A ``POST /rerank`` body. ``documents`` are strings or objects (with ``rank_fields``)."""

    model: str
    query: str
    documents: list[str] | list[dict[str, Any]]
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool | None = None
    rank_fields: list[str] | None = None


class RerankResult(WireModel):
    """One ranked document: its index in the request and its score.

    ``document`` is ``{}`` unless ``return_documents`` was set.
    """

    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class RerankResponse(WireModel):
    """The ranking, best first."""

    id: str = ""
    object: str = "rerank"
    model: str = ""
    results: list[RerankResult] = Field(default_factory=list)
    usage: Usage | None = None
