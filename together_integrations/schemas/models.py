"""Model listing: ``GET /models`` (NOTES §6). The real response is a bare JSON array."""

from __future__ import annotations

from typing import Any

from pydantic import Field, TypeAdapter

from ._base import WireModel


class ModelPricing(WireModel):
    """Prices in USD per million tokens (extra keys kept)."""

    input: float | None = None
    output: float | None = None
    hourly: float | None = None
    base: float | None = None
    finetune: float | None = None
    cached_input: float | None = None


class ModelInfo(WireModel):
    """One model. ``type`` is chat, language, code, image, embedding, moderation, rerank, audio,
    transcribe or video. ``created`` may be 0."""

    id: str
    object: str = "model"
    created: int | None = 0
    type: str | None = None
    display_name: str | None = None
    organization: str | None = None
    link: str | None = None
    license: str | None = None
    context_length: int | None = None
    running: bool | None = None
    config: dict[str, Any] | None = None
    pricing: ModelPricing | None = None


class _ModelListEnvelope(WireModel):
    data: list[ModelInfo] = Field(default_factory=list)


_models_adapter: TypeAdapter[list[ModelInfo] | _ModelListEnvelope] = TypeAdapter(
    list[ModelInfo] | _ModelListEnvelope
)


def parse_model_list(raw: bytes) -> list[ModelInfo]:
    """Parse ``GET /models``: a bare array (reality) or ``{"data": [...]}`` (the spec)."""
    parsed = _models_adapter.validate_json(raw)
    return parsed if isinstance(parsed, list) else parsed.data
