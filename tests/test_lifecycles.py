"""The core's job families against the emulator: the same client code in-process and over
loopback, on virtual time (a 24-hour batch completes in well under a second)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from together_integrations import JobFailedError, TogetherTransport
from together_integrations.testing import TogetherEmulator, VirtualClock

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def batch_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "batch.jsonl"
    with path.open("w") as out:
        for i in range(n):
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"row {i}"}]}
            out.write(json.dumps({"custom_id": f"row-{i}", "body": body}) + "\n")
    return path


def run_batch(transport: TogetherTransport, path: Path, clock: VirtualClock) -> dict[str, str]:
    uploaded = transport.files.upload(path, purpose="batch-api")
    job = transport.batches.create(uploaded.id)
    done = transport.batches.wait_until_done(job.id, clock=clock, poll_interval=60)
    assert done.output_file_id
    results: dict[str, str] = {}
    for line in transport.files.iter_lines(done.output_file_id):
        if line:
            item = json.loads(line)
            results[item["custom_id"]] = item["response"]["body"]["choices"][0]["message"][
                "content"
            ]
    return results


def test_a_day_long_batch_in_process(tmp_path: Path) -> None:
    clock = VirtualClock()
    emu = TogetherEmulator(clock=clock)
    emu.batches.script(duration=23 * 3600)  # inside the 24 h window
    emu.reply(text="scripted answer")
    transport = emu.transport()
    started = clock.now()
    results = run_batch(transport, batch_file(tmp_path, 300), clock)
    assert clock.now() - started >= 23 * 3600  # the day passed on the virtual clock only
    assert len(results) == 300 and set(results) == {f"row-{i}" for i in range(300)}
    put = next(r for r in emu.requests if r.method == "PUT")
    assert "authorization" not in {k.lower() for k in put.headers}


@pytest.mark.network
def test_the_same_client_code_over_loopback(tmp_path: Path) -> None:
    clock = VirtualClock()
    emu = TogetherEmulator(clock=clock)
    emu.batches.script(duration=3600)
    with emu.serve() as server:
        transport = TogetherTransport(api_key="emulator-key", base_url=server.base_url)
        results = run_batch(transport, batch_file(tmp_path, 50), clock)
        transport.close()
    assert len(results) == 50


def test_a_failed_batch_raises_with_its_reason(tmp_path: Path) -> None:
    clock = VirtualClock()
    emu = TogetherEmulator(clock=clock)
    emu.batches.script(outcome="failed", error="model not available for batch")
    transport = emu.transport()
    uploaded = transport.files.upload(batch_file(tmp_path, 3), purpose="batch-api")
    job = transport.batches.create(uploaded.id)
    with pytest.raises(JobFailedError, match="not available"):
        transport.batches.wait_until_done(job.id, clock=clock)


def test_async_upload_batch_and_download(tmp_path: Path) -> None:
    clock = VirtualClock()
    emu = TogetherEmulator(clock=clock)
    emu.batches.script(duration=600)

    async def run() -> Path:
        transport = emu.transport()
        uploaded = await transport.files.aupload(batch_file(tmp_path, 20), purpose="batch-api")
        job = await transport.batches.acreate(uploaded.id)
        done = await transport.batches.await_until_done(job.id, clock=clock)
        assert done.output_file_id
        return await transport.files.adownload(done.output_file_id, tmp_path / "out.jsonl")

    out = asyncio.run(run())
    assert len(out.read_text().splitlines()) == 20
