"""``POST /v1/embeddings``: deterministic word-hash vectors (see :func:`embed_text`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .content import embed_text
from .wire import EmulatedRequest, EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["embeddings", "register"]


def register(router: Router) -> None:
    router.add("POST", "/v1/embeddings", embeddings, needs_model=True)


def embeddings(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    texts = body.get("input")
    items = [texts] if isinstance(texts, str) else texts
    if (
        not isinstance(items, list)
        or not items
        or any(not isinstance(t, str) or not t for t in items)
    ):
        return wire.error(400, "Input validation error", param="input")
    model = body["model"]
    info = emu.models[model]
    if info.get("type", "embedding") != "embedding":
        return wire.error(400, f"Model {model} is not an embedding model", param="model")
    dims = int(info.get("dims", 768))
    if "dimensions" in body:
        wanted = body["dimensions"]
        if not info.get("matryoshka"):
            return wire.error(
                400,
                f"Model {model} does not support the dimensions parameter",
                param="dimensions",
            )
        if not isinstance(wanted, int) or isinstance(wanted, bool) or not 1 <= wanted <= dims:
            return wire.error(400, f"dimensions must be between 1 and {dims}", param="dimensions")
        dims = wanted
    limit = int(info.get("context_length") or 0)
    for text in items:
        if limit and len(text) // 4 > limit:
            return wire.error(
                400,
                f"Input validation error: `inputs` must have less than {limit} tokens. "
                f"Given: {len(text) // 4}",
            )
    data = [
        {"object": "embedding", "embedding": embed_text(t, dims), "index": i}
        for i, t in enumerate(items)
    ]
    return wire.ok(wire.id(), {"object": "list", "model": model, "data": data})
