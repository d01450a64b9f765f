"""``POST /v1/images/generations`` (NOTES §6): ``b64_json`` or ``url`` items with ``timings``."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from .content import image_bytes
from .wire import EmulatedRequest, EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["images", "register"]


def register(router: Router) -> None:
    router.add("POST", "/v1/images/generations", images, needs_model=True)


def images(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return wire.error(400, "Input validation error", param="prompt")
    request_id = wire.id() + "-SEA"
    n = int(body.get("n") or 1)
    as_png = body.get("output_format") == "png"
    data: list[dict[str, Any]] = []
    for i in range(n):
        if body.get("response_format") == "base64":
            image = image_bytes(f"{prompt}|{body.get('seed')}|{i}", as_png)
            data.append(
                {
                    "timings": {"inference": 0.11},
                    "index": i,
                    "b64_json": base64.b64encode(image).decode(),
                }
            )
        else:
            slug = hashlib.sha256(f"{prompt}|{i}".encode()).hexdigest()[:16]
            data.append(
                {
                    "index": i,
                    "url": f"https://api.together.ai/shrt/{slug}",
                    "timings": {"inference": 0.11},
                }
            )
    payload = {"id": request_id, "model": body["model"], "object": "list", "data": data}
    return wire.ok(request_id, payload, {"x-image-version": "v2"})
