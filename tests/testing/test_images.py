"""Images: both response formats, valid JPEG/PNG files of the requested size, and URLs the
emulator serves itself (no key; a blank User-Agent is refused like Together's CDN)."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from typing import Any

import httpx
import pytest

from together_integrations.testing import TogetherEmulator

FLUX = "black-forest-labs/FLUX.1-schnell"


def generate(emu: TogetherEmulator, **body: Any) -> httpx.Response:
    with emu.http_client() as client:
        return client.post("/images/generations", json={"model": FLUX, "prompt": "a cat", **body})


def png_size(data: bytes) -> tuple[int, int]:
    """Walk the chunks, checking every CRC and that IDAT inflates to the right size."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, width, height, idat = 8, 0, 0, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + payload) & 0xFFFFFFFF == crc
        if kind == b"IHDR":
            width, height = struct.unpack(">II", payload[:8])
        elif kind == b"IDAT":
            idat += payload
        offset += 12 + length
    assert kind == b"IEND"
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)
    return width, height


def test_base64_png_is_a_valid_file(emu: TogetherEmulator) -> None:
    r = generate(emu, response_format="base64", output_format="png", width=64, height=32)
    (item,) = r.json()["data"]
    assert "url" not in item
    assert png_size(base64.b64decode(item["b64_json"])) == (64, 32)


def test_the_default_is_a_url_to_a_jpeg_the_emulator_serves(emu: TogetherEmulator) -> None:
    r = generate(emu, width=128, height=64, n=2)
    urls = [item["url"] for item in r.json()["data"]]
    assert all("b64_json" not in item for item in r.json()["data"])
    assert len(set(urls)) == 2 and all(u.startswith("https://api.together.xyz/shrt/") for u in urls)
    with emu.http_client() as client:
        first = client.get(urls[0])
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    data = first.content
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    sof = data.index(b"\xff\xc0")
    assert struct.unpack(">HH", data[sof + 5 : sof + 9]) == (64, 128)  # height, width


@pytest.mark.parametrize("output_format", ["jpeg", "png"])
def test_images_decode_with_pillow(emu: TogetherEmulator, output_format: str) -> None:
    image_module = pytest.importorskip("PIL.Image")
    r = generate(emu, response_format="base64", output_format=output_format, width=40, height=24)
    image = image_module.open(io.BytesIO(base64.b64decode(r.json()["data"][0]["b64_json"])))
    image.load()
    assert image.size == (40, 24) and image.format == output_format.upper()


def test_same_prompt_same_image_other_prompt_other_image(emu: TogetherEmulator) -> None:
    def image(prompt: str) -> bytes:
        r = generate(emu, prompt=prompt, response_format="base64", seed=1, width=16, height=16)
        return base64.b64decode(r.json()["data"][0]["b64_json"])

    assert image("a cat") == image("a cat") != image("a dog")


def test_short_links_need_no_key_but_a_user_agent() -> None:
    emu = TogetherEmulator(api_key="right-key")
    with emu.http_client(headers={"Authorization": "Bearer right-key"}) as client:
        url = client.post("/images/generations", json={"model": FLUX, "prompt": "x"}).json()[
            "data"
        ][0]["url"]
    with emu.http_client() as anonymous:
        assert anonymous.get(url).status_code == 200
        blank = anonymous.get(url, headers={"User-Agent": ""})
        missing = anonymous.get("https://api.together.xyz/shrt/0000000000000000")
    assert blank.status_code == 403 and missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"response_format": "b64_json"}, "response_format"),
        ({"output_format": "gif"}, "output_format"),
        ({"width": 4}, "width"),
        ({"height": 99999}, "height"),
        ({"n": 9}, "n"),
        ({"prompt": ""}, "prompt"),
    ],
)
def test_invalid_requests(emu: TogetherEmulator, body: dict[str, Any], param: str) -> None:
    r = generate(emu, **body)
    assert r.status_code == 400 and r.json()["error"]["param"] == param


@pytest.mark.network
def test_a_loopback_url_points_at_the_server(emu: TogetherEmulator) -> None:
    with emu.serve() as server, httpx.Client(base_url=server.base_url) as client:
        url = client.post("/images/generations", json={"model": FLUX, "prompt": "x"}).json()[
            "data"
        ][0]["url"]
        image = client.get(url)
    assert url.startswith(f"http://127.0.0.1:{server.port}/shrt/")
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
