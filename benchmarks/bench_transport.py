"""The transport against raw httpx on a loopback server, in one run (issue #2 targets).

    python benchmarks/bench_transport.py        # exits 1 if a target is missed

* a non-streamed chat call through ``TogetherTransport.chat_completions`` costs at most 10%
  more than ``httpx.Client.post(...).json()`` (ratio of medians);
* decoding a streamed chunk costs at most 5 µs more than ``iter_lines`` + ``json.loads``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_frameworks import KEY, MODEL, Report, _interleaved, _Server

from together_integrations import TogetherTransport


def main() -> int:
    server = _Server(stream_chunks=500, embed_delay=0.0)
    report = Report()
    try:
        url = server.base_url + "/chat/completions"
        headers = {"Authorization": f"Bearer {KEY}"}
        payload = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
        raw = httpx.Client()
        ours = TogetherTransport(api_key=KEY, base_url=server.base_url)
        t = _interleaved(
            {
                "raw": lambda: raw.post(url, json=payload, headers=headers).json(),
                "ours": lambda: ours.chat_completions(payload),
            },
            rounds=7,
            repeat=50,
        )
        ratio = t["ours"] / t["raw"]
        report.add(
            "chat call vs httpx post + json()",
            f"{t['ours'] * 1e6:.0f} µs vs {t['raw'] * 1e6:.0f} µs ({ratio:.3f})",
            "ratio <= 1.10",
            ratio <= 1.10,
        )

        stream_payload = {**payload, "stream": True}

        def raw_stream() -> None:
            with raw.stream("POST", url, json=stream_payload, headers=headers) as r:
                for line in r.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        json.loads(line[6:])

        def our_stream() -> None:
            for _ in ours.chat_completions_stream(stream_payload):
                pass

        chunks = server.stream.count(b"data: ") - 1
        s = _interleaved({"raw": raw_stream, "ours": our_stream}, rounds=7, repeat=5)
        extra = (s["ours"] - s["raw"]) / chunks
        per = {name: value / chunks for name, value in s.items()}
        report.add(
            "stream decode per chunk vs iter_lines + json.loads",
            f"{extra * 1e6:+.2f} µs ({per['ours'] * 1e6:.2f} vs {per['raw'] * 1e6:.2f})",
            "<= +5 µs",
            extra <= 5e-6,
        )
    finally:
        server.stop()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
