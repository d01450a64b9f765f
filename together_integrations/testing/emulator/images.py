"""``POST /v1/images/generations`` (NOTES §6, NOTES-jobs §1).

``response_format: "base64"`` puts the image in ``b64_json``; ``"url"`` (the default, as
the FLUX recordings show) hands out a short link on the origin the client used,
``/shrt/<slug>``, which this emulator serves: like Together's CDN it needs no key and
refuses a blank ``User-Agent`` with 403. Images are valid files of the requested size:
a greyscale baseline JPEG (``output_format: "jpeg"``, the default) or an RGB PNG, both
derived from the prompt, seed and index.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from .content import jpeg, png
from .wire import EmulatedRequest, EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["images", "register"]

MAX_SIDE = 2048
SHORT_PREFIX = "/shrt"


def register(router: Router) -> None:
    router.add("POST", "/v1/images/generations", images, needs_model=True)
    router.add("GET", SHORT_PREFIX + "/{slug}", short_link, public=True)


def _side(value: Any, name: str) -> int | str:
    if value is None:
        return 1024
    if not isinstance(value, int) or isinstance(value, bool) or not 8 <= value <= MAX_SIDE:
        return f"{name} must be an integer between 8 and {MAX_SIDE}"
    return value


def images(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return wire.error(400, "Input validation error", param="prompt")
    fmt = body.get("response_format") or "url"
    if fmt not in ("url", "base64"):
        return wire.error(
            400, f"Invalid response_format {fmt!r}; use 'url' or 'base64'", param="response_format"
        )
    output = body.get("output_format") or "jpeg"
    if output not in ("jpeg", "png"):
        return wire.error(400, "output_format must be 'jpeg' or 'png'", param="output_format")
    width, height = _side(body.get("width"), "width"), _side(body.get("height"), "height")
    for side, name in ((width, "width"), (height, "height")):
        if isinstance(side, str):
            return wire.error(400, side, param=name)
    assert isinstance(width, int) and isinstance(height, int)
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= 4:
        return wire.error(400, "n must be between 1 and 4", param="n")
    request_id = wire.id() + "-SEA"
    data: list[dict[str, Any]] = []
    for i in range(n):
        key = f"{body['model']}|{prompt}|{body.get('seed')}|{i}"
        image = png(key, width, height) if output == "png" else jpeg(key, width, height)
        if fmt == "base64":
            data.append(
                {
                    "timings": {"inference": 0.11},
                    "index": i,
                    "b64_json": base64.b64encode(image).decode(),
                }
            )
        else:
            slug = hashlib.sha256(key.encode() + request_id.encode()).hexdigest()[:16]
            ctype = "image/png" if output == "png" else "image/jpeg"
            emu.media[slug] = (image, ctype)
            data.append(
                {
                    "index": i,
                    "url": f"{request.origin}{SHORT_PREFIX}/{slug}",
                    "timings": {"inference": 0.11},
                }
            )
    payload = {"id": request_id, "model": body["model"], "object": "list", "data": data}
    return wire.ok(request_id, payload, {"x-image-version": "v2"})


def short_link(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    if not request.headers.get("user-agent", "").strip():
        return EmulatedResponse(403, {"content-type": "text/plain"}, b"error code: 1010")
    found = emu.media.get(request.params["slug"])
    if found is None:
        return emu.wire.error(404, f"No image at {request.path}", code="not_found")
    return emu.wire.binary(found[0], found[1])
