"""TogetherTransport against raw httpx on a loopback server, in one run.

    python benchmarks/bench_transport.py              # table; exit 1 if a target is missed
    python benchmarks/bench_transport.py --profile    # also cProfile our two hot paths

Targets:
* (a) a non-streamed chat call through ``TogetherTransport.chat.create`` costs at most
  10% more than ``httpx.Client.post(...).json()`` with the same pool settings (ratio of the
  per-call medians);
* (b) reading a streamed chat answer through ``chat.stream`` costs at most 5 µs
  more per chunk than ``iter_lines()`` + ``json.loads`` (absolute difference of medians);
* (c) 50 sequential streams, each read to its end, open 1 connection;
* (d) 1,000 concurrent async calls on one ``ChatTogether`` from a cold pool take at most 1.2x
  the wall time of the same calls made behind an ``asyncio.Semaphore`` sized to the pool
  (the ratio to raw httpx behind the same semaphore is printed beside it);
* (e) decoding one 20 MiB SSE line costs at most 2x httpx ``iter_lines`` on the same bytes.

Both contenders of a measure run in the same process against the same server, interleaved in
shuffled order over several rounds after a warm-up; each round keeps the median of its
calls, and the result is the median over rounds. The async twins are reported for
information (no target).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Report, interleaved
from _server import CHAT_MODEL, KEY, BenchServer

from together_integrations import TogetherTransport
from together_integrations._constants import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_KEEPALIVE,
    DEFAULT_TIMEOUT,
)

CALL_RATIO_TARGET = 1.10
CHUNK_EXTRA_TARGET_US = 5.0
PAYLOAD: dict[str, Any] = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]}
STREAM_PAYLOAD = {**PAYLOAD, "stream": True}


def pool_settings() -> dict[str, Any]:
    """The transport's own pool settings, so raw httpx gets the same."""
    return {
        "timeout": httpx.Timeout(DEFAULT_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT),
        "limits": httpx.Limits(
            max_connections=DEFAULT_MAX_CONNECTIONS,
            max_keepalive_connections=DEFAULT_MAX_KEEPALIVE,
        ),
        "follow_redirects": False,
    }


def raw_stream_reader(client: httpx.Client, url: str, headers: dict[str, str]) -> Callable[[], int]:
    def read() -> int:
        n = 0
        with client.stream("POST", url, json=STREAM_PAYLOAD, headers=headers) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    return read


def our_stream_reader(transport: TogetherTransport) -> Callable[[], int]:
    def read() -> int:
        n = 0
        for _ in transport.chat.stream(STREAM_PAYLOAD):
            n += 1
        return n

    return read


def run(args: argparse.Namespace) -> Report:
    report = Report(f"bench_transport: {args.rounds} rounds, {args.chunks}-chunk streams")
    started = time.perf_counter()
    with BenchServer(stream_chunks=args.chunks) as server:
        url = server.base_url + "/chat/completions"
        headers = {"Authorization": f"Bearer {KEY}"}
        raw = httpx.Client(**pool_settings())
        ours = TogetherTransport(api_key=KEY, base_url=server.base_url)

        # (a) non-streamed chat call
        calls = interleaved(
            {
                "raw": lambda: raw.post(url, json=PAYLOAD, headers=headers).json(),
                "ours": lambda: ours.chat.create(PAYLOAD),
            },
            rounds=args.rounds,
            repeat=args.calls,
        )
        ratio = calls["ours"].median / calls["raw"].median
        report.add(
            "(a) chat call: ours vs httpx post().json()",
            f"{calls['ours'].median / 1e3:.0f} vs {calls['raw'].median / 1e3:.0f} µs "
            f"= {ratio:.3f}x (spread {calls['raw'].spread:.0%})",
            f"ratio <= {CALL_RATIO_TARGET:.2f}",
            ratio <= CALL_RATIO_TARGET,
        )

        # (b) streamed chunk decode
        raw_read = raw_stream_reader(raw, url, headers)
        our_read = our_stream_reader(ours)
        assert raw_read() == args.chunks and our_read() == args.chunks
        streams = interleaved(
            {"raw": raw_read, "ours": our_read}, rounds=args.rounds, repeat=args.streams, warmup=5
        )
        per_raw = streams["raw"].median / args.chunks / 1e3
        per_ours = streams["ours"].median / args.chunks / 1e3
        extra = per_ours - per_raw
        report.add(
            "(b) stream: per-chunk cost, ours - iter_lines+json.loads",
            f"{extra:+.2f} µs ({per_ours:.2f} vs {per_raw:.2f} µs/chunk)",
            f"<= +{CHUNK_EXTRA_TARGET_US:.0f} µs",
            extra <= CHUNK_EXTRA_TARGET_US,
        )

        # (c) connection reuse by streams
        server.connections = 0
        fresh = TogetherTransport(api_key=KEY, base_url=server.base_url)
        for _ in range(50):
            for _chunk in fresh.chat.stream(STREAM_PAYLOAD):
                pass
        fresh.close()
        report.add(
            "(c) connections opened by 50 sequential streams",
            str(server.connections),
            "1",
            server.connections == 1,
        )

        # async twins, for information
        async_ratio, async_extra = asyncio.run(run_async(server, args))
        report.add(
            "async chat call: ours vs AsyncClient post().json()",
            f"{async_ratio:.3f}x",
            "info",
            None,
        )
        report.add(
            "async stream per chunk: ours - aiter_lines+json.loads",
            f"{async_extra:+.2f} µs",
            "info",
            None,
        )
        report.add("requests served", str(server.count()), "info", None)
        raw.close()
        ours.close()
        if args.profile:
            profile(ours, server)
    concurrency(report, args)
    huge_line(report)
    report.add("wall time", f"{time.perf_counter() - started:.1f} s", "< 60 s", None)
    return report


def concurrency(report: Report, args: argparse.Namespace) -> None:
    """(d) over-subscription: 1,000 concurrent calls, each server answer taking 20 ms."""
    try:
        from together_integrations.langchain import ChatTogether
    except ImportError:  # pragma: no cover - the [langchain] extra is missing
        report.add("(d) 1,000 concurrent ainvoke", "skipped: no langchain-core", "-", None)
        return
    n, pool = args.concurrent, DEFAULT_MAX_CONNECTIONS

    async def adapter(gate: asyncio.Semaphore | None, base_url: str) -> float:
        llm = ChatTogether(
            model=CHAT_MODEL,
            api_key=KEY,
            base_url=base_url,
            transport=TogetherTransport(api_key=KEY, base_url=base_url, timeout=30),
        )

        async def one() -> None:
            if gate is None:
                await llm.ainvoke("Hi")
            else:
                async with gate:
                    await llm.ainvoke("Hi")

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - started

    async def raw(gate: asyncio.Semaphore, base_url: str) -> float:
        async with httpx.AsyncClient(**pool_settings()) as client:
            headers = {"Authorization": f"Bearer {KEY}"}

            async def one() -> None:
                async with gate:
                    r = await client.post(
                        base_url + "/chat/completions", json=PAYLOAD, headers=headers
                    )
                    r.json()

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            return time.perf_counter() - started

    results: dict[str, list[float]] = {"free": [], "gated": [], "raw": []}
    for _ in range(args.concurrency_rounds):
        with BenchServer(delay=0.02) as server:  # a cold pool per run
            results["free"].append(asyncio.run(adapter(None, server.base_url)))
        with BenchServer(delay=0.02) as server:
            gate = asyncio.Semaphore(pool)  # binds to the running loop on first use
            results["gated"].append(asyncio.run(adapter(gate, server.base_url)))
        with BenchServer(delay=0.02) as server:
            results["raw"].append(asyncio.run(raw(asyncio.Semaphore(pool), server.base_url)))
    free, gated, raw_time = (statistics.median(results[k]) for k in ("free", "gated", "raw"))
    ratio = free / gated
    report.add(
        f"(d) {n} concurrent ChatTogether.ainvoke, cold pool: vs behind Semaphore({pool})",
        f"{free:.2f} s vs {gated:.2f} s = {ratio:.2f}x (raw httpx gated: {raw_time:.2f} s, "
        f"{free / raw_time:.2f}x)",
        "ratio <= 1.20",
        ratio <= 1.20,
    )


class _Chunks(httpx.SyncByteStream):
    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def __iter__(self) -> Any:
        for i in range(0, len(self.data), self.size):
            yield self.data[i : i + self.size]


def huge_line(report: Report) -> None:
    """(e) one 20 MiB event line, arriving in 64 KiB network chunks."""
    from together_integrations._streaming import SSEDecoder

    payload = b"data: " + b"x" * (20 << 20) + b"\n\n"

    def ours() -> None:
        decoder = SSEDecoder()
        for i in range(0, len(payload), 1 << 16):
            decoder.feed(payload[i : i + (1 << 16)])

    def theirs() -> None:
        response = httpx.Response(200, stream=_Chunks(payload, 1 << 16))
        for _line in response.iter_lines():
            pass

    timings = interleaved({"ours": ours, "httpx": theirs}, rounds=5, repeat=1, warmup=1)
    ratio = timings["ours"].median / timings["httpx"].median
    report.add(
        "(e) one 20 MiB SSE line: SSEDecoder vs httpx iter_lines",
        f"{timings['ours'].median / 1e6:.0f} vs {timings['httpx'].median / 1e6:.0f} ms "
        f"= {ratio:.2f}x",
        "ratio <= 2",
        ratio <= 2.0,
    )


async def run_async(server: BenchServer, args: argparse.Namespace) -> tuple[float, float]:
    url = server.base_url + "/chat/completions"
    headers = {"Authorization": f"Bearer {KEY}"}
    raw = httpx.AsyncClient(**pool_settings())
    ours = TogetherTransport(api_key=KEY, base_url=server.base_url)

    async def raw_call() -> None:
        (await raw.post(url, json=PAYLOAD, headers=headers)).json()

    async def our_call() -> None:
        await ours.chat.acreate(PAYLOAD)

    async def raw_stream() -> None:
        async with raw.stream("POST", url, json=STREAM_PAYLOAD, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    async def our_stream() -> None:
        async for _ in await ours.chat.astream(STREAM_PAYLOAD):
            pass

    async def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
        out: list[float] = []
        for _ in range(repeat):
            start = time.perf_counter_ns()
            await fn()
            out.append(time.perf_counter_ns() - start)
        return out

    samples: dict[str, list[float]] = {k: [] for k in ("raw", "ours", "raw_s", "ours_s")}
    fns = {"raw": raw_call, "ours": our_call, "raw_s": raw_stream, "ours_s": our_stream}
    for fn in fns.values():
        await timed(fn, 5)
    for _ in range(max(3, args.rounds // 2)):
        for name, fn in fns.items():
            repeat = args.streams if name.endswith("_s") else args.calls
            samples[name].append(statistics.median(await timed(fn, repeat)))
    med = {k: statistics.median(v) for k, v in samples.items()}
    await raw.aclose()
    await ours.aclose()
    return med["ours"] / med["raw"], (med["ours_s"] - med["raw_s"]) / args.chunks / 1e3


def profile(transport: TogetherTransport, server: BenchServer) -> None:
    """Where our time goes: cProfile of 300 calls and 30 streams, top entries by own time."""
    read = our_stream_reader(transport)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(300):
        transport.chat.create(PAYLOAD)
    for _ in range(30):
        read()
    profiler.disable()
    print("\ncProfile (300 chat calls + 30 streams), top 25 by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=60, help="chat calls per round")
    parser.add_argument("--streams", type=int, default=10, help="streams per round")
    parser.add_argument("--chunks", type=int, default=200, help="chunks per stream")
    parser.add_argument("--concurrent", type=int, default=1000, help="calls in (d)")
    parser.add_argument("--concurrency-rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    report = run(args)
    report.print()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
