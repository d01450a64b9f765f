"""The media tools' framework-neutral core: extra request fields under the tool's arguments
(never silently dropped), checks on what is sent, and refusals before the transport is even
resolved."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from together_integrations import TogetherTransport
from together_integrations._media_catalog import MediaInputError
from together_integrations._media_tools import ImageCore, VideoCore
from together_integrations._transport import RequestOptions
from together_integrations.testing import TogetherEmulator


class Client:
    """The two methods a core sends with, over an emulator transport."""

    def __init__(self, transport: TogetherTransport | None) -> None:
        self.transport = transport

    def _get_transport(self) -> TogetherTransport:
        if self.transport is None:
            raise AssertionError("the transport was resolved")
        return self.transport

    def _request_options(self) -> RequestOptions | None:
        return None


def test_extra_fields_stay_unless_an_argument_is_given(mode: str) -> None:
    emu = TogetherEmulator()
    core = ImageCore(client=Client(emu.transport()), model="black-forest-labs/FLUX.1-schnell",
                     extra={"width": 64, "height": 64, "guidance_scale": 2.0})  # fmt: skip
    given: dict[str, Any] = {"height": 128}
    if mode == "sync":
        (image,) = core.generate("a fox", **given)
    else:
        (image,) = asyncio.run(core.agenerate("a fox", **given))
    (sent,) = [r for r in emu.requests if r.path == "/v1/images/generations"]
    assert (sent.json["width"], sent.json["height"], sent.json["guidance_scale"]) == (64, 128, 2.0)
    assert (image.width, image.height) == (64, 128)


@pytest.mark.parametrize(
    ("core", "allowed"),
    [
        (ImageCore(client=Client(None), model="black-forest-labs/FLUX.1-schnell",
                   extra={"width": 1001}), "multiples of 8"),
        (VideoCore(client=Client(None), model="google/veo-3.0",
                   extra={"width": 640, "height": 480}), "1280x720"),
    ],
)  # fmt: skip
def test_what_would_be_sent_is_checked_before_the_transport_is_resolved(
    core: ImageCore | VideoCore, allowed: str
) -> None:
    with pytest.raises(MediaInputError, match=allowed):
        core.run("a fox")
