"""Image generation: ``POST /images/generations`` (NOTES §6).

Real responses omit the spec's ``type`` discriminator and add ``timings``; the request's
``response_format`` is ``"base64"`` or ``"url"`` (not OpenAI's ``b64_json``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import RequestModel, WireModel


class ImageGenerationRequest(RequestModel):
    """A ``POST /images/generations`` body."""

    model: str
    prompt: str
    steps: int | None = None
    seed: int | None = None
    n: int | None = None
    height: int | None = None
    width: int | None = None
    negative_prompt: str | None = None
    response_format: Literal["base64", "url"] | None = None
    output_format: Literal["jpeg", "png"] | None = None
    guidance_scale: float | None = None
    image_url: str | None = None
    image_loras: list[dict[str, Any]] | None = None
    reference_images: list[str] | None = None
    disable_safety_checker: bool | None = None


class ImageData(WireModel):
    """One generated image: ``b64_json`` or ``url``."""

    index: int = 0
    b64_json: str | None = None
    url: str | None = None
    timings: dict[str, Any] | None = None
    type: str | None = None


class ImageResponse(WireModel):
    """The generated images."""

    id: str = ""
    model: str = ""
    object: str = "list"
    data: list[ImageData] = Field(default_factory=list)
