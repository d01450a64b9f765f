"""Fault injection, through both front-ends (in-process and loopback), sync and async."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from together_integrations.testing import TogetherEmulator

from ._helpers import CHAT, MODEL, MSGS

BODY = {"model": MODEL, "messages": MSGS}


@dataclass
class Outcome:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    error: Exception | None = None
    first_byte: float = 0.0
    elapsed: float = 0.0

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class Runner:
    """Sends one request through a front-end and records what came back, chunk by chunk."""

    def __init__(self, emu: TogetherEmulator, loopback: bool, is_async: bool) -> None:
        self.emu, self.loopback, self.is_async = emu, loopback, is_async
        self.base_url = "https://api.together.xyz/v1"

    def client_kwargs(self, timeout: float | httpx.Timeout) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"base_url": self.base_url, "timeout": timeout}
        if not self.loopback:
            kwargs["transport"] = self.emu.httpx_transport()
        return kwargs

    def __call__(
        self,
        body: dict[str, Any] | None = None,
        timeout: float | httpx.Timeout = 5.0,
        path: str = CHAT,
    ) -> Outcome:
        body = BODY if body is None else body
        out = Outcome()
        start = time.monotonic()
        if self.is_async:
            asyncio.run(self._async(out, body, timeout, path, start))
        else:
            try:
                with (
                    httpx.Client(**self.client_kwargs(timeout)) as client,
                    client.stream("POST", path, json=body) as r,
                ):
                    out.status, out.headers = r.status_code, dict(r.headers)
                    out.first_byte = time.monotonic() - start
                    for chunk in r.iter_raw():
                        out.chunks.append(chunk)
            except httpx.HTTPError as exc:
                out.error = exc
        out.elapsed = time.monotonic() - start
        return out

    async def _async(
        self,
        out: Outcome,
        body: dict[str, Any],
        timeout: float | httpx.Timeout,
        path: str,
        start: float,
    ) -> None:
        try:
            async with (
                httpx.AsyncClient(**self.client_kwargs(timeout)) as client,
                client.stream("POST", path, json=body) as r,
            ):
                out.status, out.headers = r.status_code, dict(r.headers)
                out.first_byte = time.monotonic() - start
                async for chunk in r.aiter_raw():
                    out.chunks.append(chunk)
        except httpx.HTTPError as exc:
            out.error = exc


MODES = [
    pytest.param((False, False), id="inprocess-sync"),
    pytest.param((False, True), id="inprocess-async"),
    pytest.param((True, False), id="loopback-sync", marks=pytest.mark.network),
    pytest.param((True, True), id="loopback-async", marks=pytest.mark.network),
]


@pytest.fixture(params=MODES)
def send(request: pytest.FixtureRequest, emu: TogetherEmulator) -> Iterator[Runner]:
    loopback, is_async = request.param
    runner = Runner(emu, loopback, is_async)
    if loopback:
        with emu.serve() as server:
            runner.base_url = server.base_url
            yield runner
    else:
        yield runner


def test_429_has_the_real_body_and_headers(emu: TogetherEmulator, send: Runner) -> None:
    emu.fail("status", status=429, retry_after=1, retry_after_ms=1500)
    out = send()
    import json

    assert out.status == 429 and out.error is None
    body = json.loads(out.body)
    assert body["error"]["type"] == "rate_limit" and body["error"]["code"] is None
    assert "Your rate limits are 60 RPM (1 QPS)" in body["error"]["message"]
    assert out.headers["x-ratelimit"] == "true" and out.headers["x-ratelimit-remaining"] == "0"
    assert out.headers["retry-after"] == "1" and out.headers["retry-after-ms"] == "1500"
    assert out.headers["x-request-id"] == body["id"]
    assert send().status == 200  # consumed


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_json(emu: TogetherEmulator, send: Runner, status: int) -> None:
    import json

    emu.fail("status", status=status)
    out = send()
    assert out.status == status
    assert json.loads(out.body)["error"] == {
        "message": "Internal server error",
        "type": "server_error",
        "param": None,
        "code": None,
    }


def test_html_error_page(emu: TogetherEmulator, send: Runner) -> None:
    emu.fail("status", status=502, html=True)
    out = send()
    assert out.status == 502 and out.headers["content-type"] == "text/html"
    assert b"<title>502 Bad Gateway</title>" in out.body and b"cloudflare" in out.body


def test_connection_reset(emu: TogetherEmulator, send: Runner) -> None:
    emu.fail("connection_reset")
    out = send()
    assert out.status is None and isinstance(out.error, httpx.TransportError)
    assert send().status == 200


def test_cut_stream_stops_without_done(emu: TogetherEmulator, send: Runner) -> None:
    emu.reply("a long answer that takes many chunks to stream")
    emu.fail("cut_stream", after=2)
    out = send({**BODY, "stream": True})
    assert out.status == 200 and isinstance(out.error, httpx.TransportError)
    assert out.body.count(b"data: ") == 2 and b"[DONE]" not in out.body
    assert b'finish_reason":"stop' not in out.body


def test_cut_non_stream_body(emu: TogetherEmulator, send: Runner) -> None:
    emu.fail("cut_stream", after=1)
    out = send()
    assert out.status == 200 and isinstance(out.error, httpx.TransportError)
    assert 0 < len(out.body) <= 64


def test_invalid_json(emu: TogetherEmulator, send: Runner) -> None:
    import json

    emu.fail("invalid_json")
    out = send()
    assert out.status == 200 and out.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(out.body)


def test_slow_first_byte_delays_the_headers(emu: TogetherEmulator, send: Runner) -> None:
    emu.fail("slow_first_byte", delay=0.2)
    out = send()
    assert out.status == 200 and out.first_byte >= 0.2


def test_slow_first_byte_times_out(emu: TogetherEmulator, send: Runner) -> None:
    if not send.loopback:
        pytest.skip("in-process responses have no socket to time out on")
    emu.fail("slow_first_byte", delay=1.0)
    out = send(timeout=httpx.Timeout(5.0, read=0.1))  # a loaded machine may connect slowly
    assert isinstance(out.error, httpx.ReadTimeout)


def test_slow_stream_delays_each_chunk(emu: TogetherEmulator, send: Runner) -> None:
    emu.reply("0123456789abcdef")  # 2 content chunks + finish + usage + [DONE] = 5 chunks
    emu.fail("slow_stream", delay=0.04)
    out = send({**BODY, "stream": True})
    assert out.error is None and out.body.endswith(b"data: [DONE]\n\n")
    assert out.elapsed - out.first_byte >= 5 * 0.04 * 0.9


def test_faults_follow_predicates_times_and_order(emu: TogetherEmulator, send: Runner) -> None:
    emu.fail("status", status=503, when=lambda body: body.get("stream") is True)
    emu.fail("status", status=500, times=2)
    assert [send().status, send().status, send().status] == [500, 500, 200]
    assert send({**BODY, "stream": True}).status == 503


def test_unknown_fault_is_refused(emu: TogetherEmulator) -> None:
    with pytest.raises(ValueError, match="Unknown fault"):
        emu.fail("meteor")  # type: ignore[arg-type]


@pytest.mark.parametrize("is_async", [False, True])
def test_closing_a_stream_early_stops_it(emu: TogetherEmulator, is_async: bool) -> None:
    emu.reply("x" * 400)  # 50 content chunks
    transport = emu.httpx_transport()

    async def read_async() -> int:
        async with (
            httpx.AsyncClient(transport=transport, base_url="https://t/v1") as client,
            client.stream("POST", CHAT, json={**BODY, "stream": True}) as r,
        ):
            async for _ in r.aiter_raw():
                break
        assert transport.last_stream is not None and transport.last_stream.closed
        return transport.last_stream.sent

    def read_sync() -> int:
        with (
            httpx.Client(transport=transport, base_url="https://t/v1") as client,
            client.stream("POST", CHAT, json={**BODY, "stream": True}) as r,
        ):
            for _ in r.iter_raw():
                break
        assert transport.last_stream is not None and transport.last_stream.closed
        return transport.last_stream.sent

    sent = asyncio.run(read_async()) if is_async else read_sync()
    assert sent == 1
