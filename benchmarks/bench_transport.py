"""TogetherTransport against raw httpx on a loopback server, in one run.

    python benchmarks/bench_transport.py              # table; exit 1 if a target is missed
    python benchmarks/bench_transport.py --profile    # also cProfile our two hot paths

Targets:
* (a) a non-streamed chat call through ``TogetherTransport.chat_completions`` costs at most
  10% more than ``httpx.Client.post(...).json()`` with the same pool settings (ratio of the
  per-call medians);
* (b) reading a streamed chat answer through ``chat_completions_stream`` costs at most 5 µs
  more per chunk than ``iter_lines()`` + ``json.loads`` (absolute difference of medians).

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
    report.add("wall time", f"{time.perf_counter() - started:.1f} s", "< 60 s", None)
    return report


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
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    report = run(args)
    report.print()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
