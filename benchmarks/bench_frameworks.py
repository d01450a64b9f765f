"""Side-by-side benchmark of the framework adapters against the packages they replace.

One process, one loopback server, contenders interleaved over several rounds; medians and
ratios only (the machines are shared and noisy, so absolute numbers mean little).

    pip install -e ".[all]" -r benchmarks/requirements.txt
    python benchmarks/bench_frameworks.py            # exits 1 if a target is missed

Targets (issues #4 and #5):
* invoke/chat overhead over a raw httpx call: at most 1/4 of the replaced package's;
* streaming overhead per chunk: at most 1/4 of the replaced package's;
* import: at most 150 ms more than the framework's own base import;
* constructing a ChatTogether: under 1 ms;
* embedding 10,000 short texts against a server taking 20 ms per request: at least 50x fewer
  requests and 20x less wall time. The replaced packages send one request per text, so they
  are timed on a sample (``--embed-sample``) and their per-text cost is scaled to 10,000;
  the request count is exact by construction (one per text) and is also measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
EMBED_MODEL = "intfloat/multilingual-e5-large-instruct"
KEY = "bench-key"


# ----------------------------------------------------------------------------- server


def _chat_body() -> bytes:
    return json.dumps(
        {
            "id": "oBench01-abcdef-0123456789abcdef",
            "object": "chat.completion",
            "created": 1786077875,
            "model": MODEL,
            "prompt": [],
            "choices": [
                {
                    "finish_reason": "stop",
                    "seed": 12479678939117453000,
                    "index": 0,
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "content": "Hello there! " * 20,
                        "tool_calls": [],
                    },
                }
            ],
            "usage": {
                "prompt_tokens": 40,
                "completion_tokens": 60,
                "total_tokens": 100,
                "cached_tokens": 0,
            },
        }
    ).encode()


def _stream_body(chunks: int) -> bytes:
    out = []
    for i in range(chunks):
        last = i == chunks - 1
        out.append(
            {
                "id": "oBench02-abcdef-0123456789abcdef",
                "object": "chat.completion.chunk",
                "created": 1786077875,
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "text": "" if last else " tok",
                        "logprobs": None,
                        "finish_reason": "stop" if last else None,
                        "seed": None,
                        "delta": {
                            "token_id": 17,
                            "role": "assistant",
                            "content": "" if last else " tok",
                            "tool_calls": None,
                        },
                    }
                ],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": chunks,
                    "total_tokens": 10 + chunks,
                }
                if last
                else None,
            }
        )
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in out) + "data: [DONE]\n\n"
    return text.encode()


class _Server:
    """Fixed answers on loopback; counts requests; optional delay for /embeddings."""

    def __init__(self, stream_chunks: int, embed_delay: float) -> None:
        self.chat = _chat_body()
        self.stream = _stream_body(stream_chunks)
        self.embed_delay = embed_delay
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?")[0]
                with server.lock:
                    server.counts[path] = server.counts.get(path, 0) + 1
                if path.endswith("/chat/completions"):
                    if body.get("stream"):
                        self._send(server.stream, "text/event-stream;charset=utf-8")
                    else:
                        self._send(server.chat, "application/json; charset=utf-8")
                elif path.endswith("/embeddings"):
                    time.sleep(server.embed_delay)
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    data = [
                        {"object": "embedding", "embedding": [0.1, 0.2, 0.3, 0.4], "index": i}
                        for i in range(len(texts))
                    ]
                    payload = {"object": "list", "model": body.get("model"), "data": data}
                    self._send(json.dumps(payload).encode(), "application/json")
                else:
                    self.send_error(404)

            def _send(self, payload: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(payload)))
                self.send_header("x-request-id", "oBench")
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()


# ------------------------------------------------------------------------- helpers


def _median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _interleaved(
    contenders: dict[str, Callable[[], Any]], rounds: int, repeat: int
) -> dict[str, float]:
    for fn in contenders.values():  # warm-up: pools, imports, caches
        for _ in range(3):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            samples[name].append(_median_time(fn, repeat))
    return {name: statistics.median(values) for name, values in samples.items()}


def _import_time(code: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, bool | None]] = []

    def add(self, name: str, value: str, target: str, ok: bool | None) -> None:
        self.rows.append((name, value, target, ok))
        mark = {True: "ok", False: "MISSED", None: "skipped"}[ok]
        print(f"{name:<48} {value:<34} {target:<24} {mark}", flush=True)

    @property
    def failed(self) -> bool:
        return any(ok is False for *_, ok in self.rows)


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------- benchmarks


def bench_langchain(server: _Server, report: Report, rounds: int, embed_sample: int) -> None:
    from together_integrations.langchain import ChatTogether, TogetherEmbeddings

    raw = httpx.Client()
    headers = {"Authorization": f"Bearer {KEY}"}
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    ours = ChatTogether(model=MODEL, api_key=KEY, base_url=server.base_url)
    contenders: dict[str, Callable[[], Any]] = {
        "raw": lambda: raw.post(
            server.base_url + "/chat/completions", json=payload, headers=headers
        ).json(),
        "ours": lambda: ours.invoke("Hi"),
    }
    stream_payload = {**payload, "stream": True}

    def raw_stream() -> None:
        with raw.stream(
            "POST", server.base_url + "/chat/completions", json=stream_payload, headers=headers
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    streams: dict[str, Callable[[], Any]] = {
        "raw": raw_stream,
        "ours": lambda: list(ours.stream("Hi")),
    }
    theirs_mod = _have("langchain_together")
    if theirs_mod:
        from langchain_together import ChatTogether as TheirChat

        theirs = TheirChat(model=MODEL, api_key=KEY, base_url=server.base_url)  # type: ignore[call-arg]
        contenders["theirs"] = lambda: theirs.invoke("Hi")
        streams["theirs"] = lambda: list(theirs.stream("Hi"))
    t = _interleaved(contenders, rounds, 20)
    chunks = server.stream.count(b"data: ") - 1
    s = _interleaved(streams, rounds, 3)
    if theirs_mod:
        ov_ours, ov_theirs = t["ours"] - t["raw"], t["theirs"] - t["raw"]
        ratio = ov_ours / ov_theirs if ov_theirs > 0 else float("inf")
        report.add(
            "LangChain invoke overhead vs langchain-together",
            f"{ov_ours * 1e6:.0f} µs vs {ov_theirs * 1e6:.0f} µs ({ratio:.2f})",
            "ratio <= 0.25",
            ratio <= 0.25,
        )
        pc_ours = (s["ours"] - s["raw"]) / chunks
        pc_theirs = (s["theirs"] - s["raw"]) / chunks
        ratio = pc_ours / pc_theirs if pc_theirs > 0 else float("inf")
        report.add(
            "LangChain stream overhead per chunk",
            f"{pc_ours * 1e6:.1f} µs vs {pc_theirs * 1e6:.1f} µs ({ratio:.2f})",
            "ratio <= 0.25",
            ratio <= 0.25,
        )
    else:
        report.add(
            "LangChain invoke/stream vs langchain-together", "not installed", "ratio <= 0.25", None
        )

    base = _import_time("import langchain_core.language_models")
    mine = _import_time("import together_integrations.langchain")
    report.add(
        "import together_integrations.langchain",
        f"{mine * 1000:.0f} ms vs {base * 1000:.0f} ms base",
        "<= base + 150 ms",
        mine <= base + 0.150,
    )
    base = _import_time("from langchain_core.language_models import BaseChatModel")
    mine = _import_time("from together_integrations.langchain import ChatTogether")
    report.add(
        "from ... import ChatTogether (vs BaseChatModel)",
        f"{mine * 1000:.0f} ms vs {base * 1000:.0f} ms",
        "informational",
        None,
    )
    build = _median_time(
        lambda: ChatTogether(model=MODEL, api_key=KEY, base_url=server.base_url), 200
    )
    report.add("construct ChatTogether", f"{build * 1e6:.0f} µs", "< 1 ms", build < 0.001)

    texts = [f"short text number {i}" for i in range(10_000)]
    server.counts.clear()
    emb = TogetherEmbeddings(model=EMBED_MODEL, api_key=KEY, base_url=server.base_url)
    wall_ours = _median_time(lambda: emb.embed_documents(texts), 1)
    req_ours = server.counts.get("/v1/embeddings", 0)
    if _have("langchain_together"):
        from langchain_together import TogetherEmbeddings as TheirEmb

        theirs_emb = TheirEmb(model=EMBED_MODEL, api_key=KEY, base_url=server.base_url)  # type: ignore[call-arg]
        server.counts.clear()
        wall_sample = _median_time(lambda: theirs_emb.embed_documents(texts[:embed_sample]), 1)
        req_theirs = server.counts.get("/v1/embeddings", 0) * len(texts) / embed_sample
        wall_theirs = wall_sample * len(texts) / embed_sample
        report.add(
            "LangChain embed 10k texts: requests",
            f"{req_ours} vs {req_theirs:.0f} ({req_theirs / max(req_ours, 1):.0f}x)",
            ">= 50x fewer",
            req_theirs / max(req_ours, 1) >= 50,
        )
        report.add(
            "LangChain embed 10k texts: wall time",
            f"{wall_ours:.2f} s vs {wall_theirs:.1f} s ({wall_theirs / wall_ours:.0f}x)",
            ">= 20x less",
            wall_theirs / wall_ours >= 20,
        )
    else:
        report.add(
            "LangChain embed 10k texts",
            f"{req_ours} requests, {wall_ours:.2f} s",
            "vs langchain-together",
            None,
        )


def bench_llama_index(server: _Server, report: Report, rounds: int, embed_sample: int) -> None:
    from llama_index.core.llms import ChatMessage

    from together_integrations.llama_index import TogetherEmbedding, TogetherLLM

    raw = httpx.Client()
    headers = {"Authorization": f"Bearer {KEY}"}
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    messages = [ChatMessage(role="user", content="Hi")]
    ours = TogetherLLM(model=MODEL, api_key=KEY, base_url=server.base_url)
    contenders: dict[str, Callable[[], Any]] = {
        "raw": lambda: raw.post(
            server.base_url + "/chat/completions", json=payload, headers=headers
        ).json(),
        "ours": lambda: ours.chat(messages),
    }
    stream_payload = {**payload, "stream": True}

    def raw_stream() -> None:
        with raw.stream(
            "POST", server.base_url + "/chat/completions", json=stream_payload, headers=headers
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    streams: dict[str, Callable[[], Any]] = {
        "raw": raw_stream,
        "ours": lambda: list(ours.stream_chat(messages)),
    }
    theirs_mod = _have("llama_index.llms.together")
    if theirs_mod:
        from llama_index.llms.together import TogetherLLM as TheirLLM

        theirs = TheirLLM(model=MODEL, api_key=KEY, api_base=server.base_url)
        contenders["theirs"] = lambda: theirs.chat(messages)
        streams["theirs"] = lambda: list(theirs.stream_chat(messages))
    t = _interleaved(contenders, rounds, 20)
    chunks = server.stream.count(b"data: ") - 1
    s = _interleaved(streams, rounds, 3)
    if theirs_mod:
        ov_ours, ov_theirs = t["ours"] - t["raw"], t["theirs"] - t["raw"]
        ratio = ov_ours / ov_theirs if ov_theirs > 0 else float("inf")
        report.add(
            "LlamaIndex chat overhead vs llama-index-llms-together",
            f"{ov_ours * 1e6:.0f} µs vs {ov_theirs * 1e6:.0f} µs ({ratio:.2f})",
            "ratio <= 0.25",
            ratio <= 0.25,
        )
        pc_ours = (s["ours"] - s["raw"]) / chunks
        pc_theirs = (s["theirs"] - s["raw"]) / chunks
        ratio = pc_ours / pc_theirs if pc_theirs > 0 else float("inf")
        report.add(
            "LlamaIndex stream_chat overhead per chunk",
            f"{pc_ours * 1e6:.1f} µs vs {pc_theirs * 1e6:.1f} µs ({ratio:.2f})",
            "ratio <= 0.25",
            ratio <= 0.25,
        )
    else:
        report.add(
            "LlamaIndex chat/stream vs llama-index-llms-together",
            "not installed",
            "ratio <= 0.25",
            None,
        )

    base = _import_time("import llama_index.core")
    mine = _import_time("import together_integrations.llama_index")
    report.add(
        "import together_integrations.llama_index",
        f"{mine * 1000:.0f} ms vs {base * 1000:.0f} ms base",
        "<= base + 150 ms",
        mine <= base + 0.150,
    )
    mine = _import_time("from together_integrations.llama_index import TogetherLLM")
    report.add(
        "from ... import TogetherLLM (vs llama_index.core)",
        f"{mine * 1000:.0f} ms vs {base * 1000:.0f} ms",
        "informational",
        None,
    )

    texts = [f"short text number {i}" for i in range(10_000)]
    server.counts.clear()
    emb = TogetherEmbedding(model_name=EMBED_MODEL, api_key=KEY, base_url=server.base_url)
    wall_ours = _median_time(lambda: emb.get_text_embedding_batch(texts), 1)
    req_ours = server.counts.get("/v1/embeddings", 0)
    if _have("llama_index.embeddings.together"):
        from llama_index.embeddings.together import TogetherEmbedding as TheirEmb

        theirs_emb = TheirEmb(model_name=EMBED_MODEL, api_key=KEY, api_base=server.base_url)
        server.counts.clear()
        wall_sample = _median_time(
            lambda: theirs_emb.get_text_embedding_batch(texts[:embed_sample]), 1
        )
        req_theirs = server.counts.get("/v1/embeddings", 0) * len(texts) / embed_sample
        wall_theirs = wall_sample * len(texts) / embed_sample
        report.add(
            "LlamaIndex embed 10k texts: requests",
            f"{req_ours} vs {req_theirs:.0f} ({req_theirs / max(req_ours, 1):.0f}x)",
            ">= 50x fewer",
            req_theirs / max(req_ours, 1) >= 50,
        )
        report.add(
            "LlamaIndex embed 10k texts: wall time",
            f"{wall_ours:.2f} s vs {wall_theirs:.1f} s ({wall_theirs / wall_ours:.0f}x)",
            ">= 20x less",
            wall_theirs / wall_ours >= 20,
        )
    else:
        report.add(
            "LlamaIndex embed 10k texts",
            f"{req_ours} requests, {wall_ours:.2f} s",
            "vs llama-index-embeddings-together",
            None,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stream-chunks", type=int, default=200)
    parser.add_argument("--embed-delay", type=float, default=0.020)
    parser.add_argument("--embed-sample", type=int, default=250)
    parser.add_argument("--only", choices=["langchain", "llama-index"])
    args = parser.parse_args()
    os.environ.pop("TOGETHER_API_KEY", None)
    server = _Server(args.stream_chunks, args.embed_delay)
    report = Report()
    print(f"{'measure':<48} {'ours vs theirs':<34} {'target':<24} result")
    try:
        if args.only in (None, "langchain"):
            bench_langchain(server, report, args.rounds, args.embed_sample)
        if args.only in (None, "llama-index"):
            bench_llama_index(server, report, args.rounds, args.embed_sample)
    finally:
        server.stop()
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
