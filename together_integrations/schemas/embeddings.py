"""Embeddings: ``POST /embeddings`` (NOTES §6)."""

from __future__ import annotations

from pydantic import Field

from ._base import RequestModel, WireModel
from .common import Usage


class EmbeddingRequest(RequestModel):
    """A ``POST /embeddings`` body."""

    model: str
    input: str | list[str]
    dimensions: int | None = None


class Embedding(WireModel):
    """One embedding; ``index`` is its position in the request's ``input``."""

    object: str = "embedding"
    embedding: list[float]
    index: int = 0


class EmbeddingResponse(WireModel):
    """A list of embeddings. The spec has no ``usage``; it is read when sent."""

    object: str = "list"
    model: str = ""
    data: list[Embedding] = Field(default_factory=list)
    usage: Usage | None = None
