"""A loopback HTTP server for benchmarks: realistic Together answers, a configurable delay,
request counts. Stdlib only (``http.server``), HTTP/1.1 keep-alive, one daemon thread.

    from _server import BenchServer

    with BenchServer(stream_chunks=200, delay=0.0, delays={"/embeddings": 0.02}) as server:
        server.base_url          # http://127.0.0.1:<port>/v1
        server.count("/chat/completions")

Routes (POST unless noted): ``/chat/completions`` (JSON, or SSE when ``"stream": true``),
``/completions``, ``/embeddings`` (one vector per input), ``/rerank``, GET ``/models``.
Bodies follow Together's real wire format (NOTES §3-§6): ``prompt: []``, ``tool_calls: []``,
a seed above 2**63, Together-native stream chunks with usage in the finish chunk.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["CHAT_MODEL", "EMBED_MODEL", "KEY", "BenchServer", "chat_body", "stream_body"]

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
EMBED_MODEL = "intfloat/multilingual-e5-large-instruct"
KEY = "bench-key"
_ID = "oBench01-4YNCb4-a04673c1cf22a2b4"


def chat_body(words: int = 60) -> bytes:
    """A non-streamed chat completion of about ``words`` words."""
    return json.dumps(
        {
            "id": _ID,
            "object": "chat.completion",
            "created": 1786077875,
            "model": CHAT_MODEL,
            "prompt": [],
            "choices": [
                {
                    "finish_reason": "stop",
                    "seed": 12479678939117453000,
                    "index": 0,
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "content": " ".join(["word"] * words),
                        "tool_calls": [],
                    },
                }
            ],
            "usage": {
                "prompt_tokens": 40,
                "completion_tokens": words,
                "total_tokens": 40 + words,
                "cached_tokens": 0,
            },
        }
    ).encode()


def stream_body(chunks: int) -> bytes:
    """An SSE chat stream of ``chunks`` chunks (the last one finishes, with usage), then
    ``data: [DONE]``: the Together-native (legacy engine) chunk shape."""
    events = []
    for i in range(chunks):
        last = i == chunks - 1
        token = "" if last else " tok"
        events.append(
            {
                "id": _ID,
                "object": "chat.completion.chunk",
                "created": 1786077875,
                "choices": [
                    {
                        "index": 0,
                        "text": token,
                        "logprobs": None,
                        "finish_reason": "eos" if last else None,
                        "seed": 9313781139405380000 if last else None,
                        "delta": {
                            "token_id": 128009 if last else 17,
                            "role": "assistant",
                            "content": token,
                            "tool_calls": None,
                        },
                    }
                ],
                "model": CHAT_MODEL,
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": chunks,
                    "total_tokens": 10 + chunks,
                }
                if last
                else None,
            }
        )
    text = "".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events)
    return (text + "data: [DONE]\n\n").encode()


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # 1,000 concurrent clients may connect at once
    daemon_threads = True


class BenchServer:
    """The server; start on construction, ``stop()`` or use as a context manager.

    Args:
        stream_chunks: Chunks in a streamed chat answer.
        delay: Seconds to wait before answering every request (simulated inference time).
        delays: Per-path delays (``{"/embeddings": 0.02}``), overriding ``delay``.
        embedding_dims: Length of each returned vector.
    """

    def __init__(
        self,
        *,
        stream_chunks: int = 200,
        delay: float = 0.0,
        delays: dict[str, float] | None = None,
        embedding_dims: int = 8,
    ) -> None:
        self.chat = chat_body()
        self.stream = stream_body(stream_chunks)
        self.stream_chunks = stream_chunks
        self.delay = delay
        self.delays = dict(delays or {})
        self.embedding_dims = embedding_dims
        self.counts: Counter[str] = Counter()
        self.connections = 0
        """TCP connections accepted (a client that reuses its pool opens one)."""
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def count(self, path: str | None = None) -> int:
        """Requests served for ``path`` (relative to ``/v1``), or in all."""
        with self._lock:
            return self.counts[path] if path is not None else sum(self.counts.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()

    def _record(self, path: str) -> float:
        with self._lock:
            self.counts[path] += 1
        return self.delays.get(path, self.delay)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- answers

    def answer(self, method: str, path: str, body: Any) -> tuple[int, bytes, str]:
        if method == "GET" and path == "/models":
            models = [
                {"id": CHAT_MODEL, "object": "model", "type": "chat", "context_length": 131072}
            ]
            return 200, json.dumps(models).encode(), "application/json"
        if path == "/chat/completions":
            if body.get("stream"):
                return 200, self.stream, "text/event-stream;charset=utf-8"
            return 200, self.chat, "application/json; charset=utf-8"
        if path == "/completions":
            payload = {
                "id": _ID,
                "object": "text.completion",
                "created": 1,
                "model": body.get("model", ""),
                "prompt": [],
                "choices": [{"index": 0, "text": " text", "finish_reason": "length", "seed": None}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            return 200, json.dumps(payload).encode(), "application/json"
        if path == "/embeddings":
            texts = body["input"] if isinstance(body.get("input"), list) else [body.get("input")]
            vector = [round(0.01 * i, 4) for i in range(self.embedding_dims)]
            data = [
                {"object": "embedding", "embedding": vector, "index": i} for i in range(len(texts))
            ]
            payload = {"object": "list", "model": body.get("model"), "data": data}
            return 200, json.dumps(payload).encode(), "application/json"
        if path == "/rerank":
            docs = body.get("documents") or []
            results = [
                {"index": i, "relevance_score": 1.0 / (i + 1), "document": {}}
                for i in range(len(docs))
            ][: body.get("top_n") or None]
            payload = {
                "id": _ID,
                "object": "rerank",
                "model": body.get("model"),
                "results": results,
            }
            return 200, json.dumps(payload).encode(), "application/json"
        error = {
            "id": _ID,
            "error": {"message": f"no route {method} {path}", "type": "invalid_request_error"},
        }
        return 404, json.dumps(error).encode(), "application/json"


def _make_handler(server: BenchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the clients reuse one connection
        # Without this, headers and body leave in two segments and the second waits ~40 ms
        # for a delayed ACK, which hides every difference being measured.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server.connections += 1

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            path = path[3:] if path.startswith("/v1") else path
            delay = server._record(path)
            if delay:
                time.sleep(delay)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            status, payload, ctype = server.answer(self.command, path, body)
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(payload)))
            self.send_header("x-request-id", _ID)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler
