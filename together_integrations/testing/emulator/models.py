"""The model table (from the package catalog) and ``GET /v1/models`` (a bare array, NOTES §6)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from together_integrations._catalog import ModelCapabilities, ModelCatalog

from .wire import EmulatedRequest, EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["DEFAULT_MODELS", "MEDIA_MODELS", "list_models", "model_entry", "register"]

MEDIA_MODELS: dict[str, dict[str, Any]] = {
    "black-forest-labs/FLUX.1-schnell": {"type": "image", "context_length": 0},
    "black-forest-labs/FLUX.1-kontext-pro": {"type": "image", "context_length": 0},
    "openai/whisper-large-v3": {"type": "transcribe", "context_length": 0},
    "cartesia/sonic": {"type": "audio", "context_length": 0},
    "canopylabs/orpheus-3b-0.1-ft": {"type": "audio", "context_length": 0},
    "google/veo-3.0": {"type": "video", "context_length": 0},
    "minimax/hailuo-02": {"type": "video", "context_length": 0},
}
"""Image, audio, transcription and video models the package catalog does not list (it covers
the text families the adapters profile); the emulator answers them too."""


def model_entry(caps: ModelCapabilities) -> dict[str, Any]:
    """The emulator's view of one catalogued model.

    Keys: ``type``, ``context_length``; ``vision`` (accepts image parts), ``tools`` (accepts
    tools), ``reasoning`` (produces reasoning), ``dims`` (embedding size) and ``matryoshka``
    (honours ``dimensions``) when they apply.
    """
    entry: dict[str, Any] = {"type": caps.type, "context_length": caps.context_window}
    if caps.image_input:
        entry["vision"] = True
    if caps.tool_calling and caps.type == "chat":
        entry["tools"] = True
    if caps.reasoning:
        entry["reasoning"] = True
    if caps.embedding_dimensions:
        entry["dims"] = caps.embedding_dimensions
    if caps.supports_dimensions:
        entry["matryoshka"] = True
    return entry


DEFAULT_MODELS: dict[str, dict[str, Any]] = {
    **{caps.id: model_entry(caps) for caps in ModelCatalog()},
    **MEDIA_MODELS,
}
"""Model id → ``{"type", "context_length", ...}``: every model of the package catalog
(``together_integrations._catalog``) plus :data:`MEDIA_MODELS`."""


def register(router: Router) -> None:
    router.add("GET", "/v1/models", list_models)


def list_models(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    items = [
        {
            "id": model_id,
            "object": "model",
            "created": 0,
            "type": info.get("type", "chat"),
            "running": False,
            "display_name": model_id.split("/")[-1].replace("-", " "),
            "organization": model_id.split("/")[0],
            "link": f"https://huggingface.co/{model_id}",
            "license": "other",
            "context_length": info.get("context_length", 0),
            "config": {"chat_template": None, "stop": [], "bos_token": None, "eos_token": None},
            "pricing": {"hourly": 0, "input": 0.2, "output": 0.6, "base": 0, "finetune": 0},
        }
        for model_id, info in emu.models.items()
    ]
    if "dedicated=true" in request.query:
        items = []
    return EmulatedResponse(200, {"content-type": "application/json"}, json.dumps(items).encode())
