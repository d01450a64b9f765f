"""A batch client that dies on purpose: ``python crash_child.py CONFIG_JSON``.

Run by ``test_crash.py`` in a subprocess against a loopback emulator. ``crash`` names the
point where the process ends with ``os._exit(CRASH_EXIT)`` (no cleanup, no flush, as a
kill would): ``uploaded`` (the upload returned, its file id not yet saved),
``before_create`` (``create_sent`` saved, the create not sent), ``after_create`` (the create
reached the server, its id not yet saved), ``polling`` (during the second look at the jobs),
``downloading`` (after the first line of a result file), or ``none``. Without a crash, the
answers are written to ``out`` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

from together_integrations import TogetherTransport
from together_integrations.batch import (
    BatchItemError,
    BatchLimits,
    BatchRun,
    DirectoryStore,
    plan_batch,
)
from together_integrations.resources.batches import Batches
from together_integrations.resources.files import Files
from together_integrations.testing import VirtualClock

CRASH_EXIT = 70
MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def die() -> None:
    sys.stdout.flush()
    os._exit(CRASH_EXIT)


def install(crash: str) -> None:
    upload, aupload = Files.upload, Files.aupload
    create, acreate = Batches.create, Batches.acreate
    retrieve, aretrieve = Batches.retrieve, Batches.aretrieve
    iter_lines, aiter_lines = Files.iter_lines, Files.aiter_lines
    looks = [0]

    if crash == "uploaded":

        def upload_then_die(self: Files, *a: Any, **k: Any) -> Any:
            upload(self, *a, **k)
            die()

        async def aupload_then_die(self: Files, *a: Any, **k: Any) -> Any:
            await aupload(self, *a, **k)
            die()

        Files.upload, Files.aupload = upload_then_die, aupload_then_die  # type: ignore[method-assign]
    elif crash in ("before_create", "after_create"):

        def create_and_die(self: Batches, *a: Any, **k: Any) -> Any:
            if crash == "after_create":
                create(self, *a, **k)
            die()

        async def acreate_and_die(self: Batches, *a: Any, **k: Any) -> Any:
            if crash == "after_create":
                await acreate(self, *a, **k)
            die()

        Batches.create, Batches.acreate = create_and_die, acreate_and_die  # type: ignore[method-assign]
    elif crash == "polling":

        def look(self: Batches, *a: Any, **k: Any) -> Any:
            looks[0] += 1
            job = retrieve(self, *a, **k)
            if looks[0] == 2:
                die()
            return job

        async def alook(self: Batches, *a: Any, **k: Any) -> Any:
            looks[0] += 1
            job = await aretrieve(self, *a, **k)
            if looks[0] == 2:
                die()
            return job

        Batches.retrieve, Batches.aretrieve = look, alook  # type: ignore[method-assign]
    elif crash == "downloading":

        def lines(self: Files, *a: Any, **k: Any) -> Iterator[str]:
            for n, line in enumerate(iter_lines(self, *a, **k)):
                if n == 1:
                    die()
                yield line

        async def alines(self: Files, *a: Any, **k: Any) -> AsyncIterator[str]:
            n = 0
            async for line in aiter_lines(self, *a, **k):
                if n == 1:
                    die()
                n += 1
                yield line

        Files.iter_lines, Files.aiter_lines = lines, alines  # type: ignore[method-assign]
    elif crash != "none":
        raise SystemExit(f"unknown crash point {crash!r}")


def main(config: dict[str, Any]) -> None:
    install(config["crash"])
    requests = [
        {"model": MODEL, "messages": [{"role": "user", "content": f"row {i}"}]}
        for i in range(config["inputs"])
    ]
    plan = plan_batch(requests, limits=BatchLimits(max_lines=config["max_lines"]))
    transport = TogetherTransport(api_key="emulator-key", base_url=config["base_url"])
    run = BatchRun(
        plan,
        transport=transport,
        store=DirectoryStore(config["store"]),
        clock=VirtualClock(),  # the child never really sleeps; the server moves on each look
        poll_interval=60,
    )
    if config["mode"] == "sync":
        results = run.results(return_exceptions=True)
    else:
        results = asyncio.run(run.aresults(return_exceptions=True))
    answers = [
        repr(r) if isinstance(r, BatchItemError) else r["choices"][0]["message"]["content"]
        for r in results
    ]
    with open(config["out"], "w") as out:
        json.dump({"answers": answers, "batch_ids": run.status().batch_ids}, out)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
