"""The emulator on a real loopback HTTP server (stdlib, a daemon thread, HTTP/1.1 keep-alive).

Used by benchmarks, notebooks, the demo and end-to-end tests; cassettes are recorded through
it, since vcrpy intercepts real httpx transports only.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import TogetherEmulator

__all__ = ["EmulatorServer"]


class EmulatorServer:
    """A running loopback server; a context manager that stops it on exit.

    Attributes:
        base_url: ``http://127.0.0.1:<port>/v1``, to pass as ``base_url``.
    """

    def __init__(self, emulator: TogetherEmulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        handler = _make_handler(emulator)
        self._httpd = _QuietServer((host, port), handler)
        self._httpd.daemon_threads = True
        address = self._httpd.server_address
        self.host = str(address[0])
        self.port = int(address[1])
        self.base_url = f"http://{self.host}:{self.port}/v1"
        # A short poll interval: stop() returns within ~20 ms instead of serve_forever's 0.5 s.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="together-emulator",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __repr__(self) -> str:
        return f"EmulatorServer(base_url={self.base_url!r})"

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (a test leaving a stream early) are normal, not errors.
        pass


def _make_handler(emulator: TogetherEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms stalls

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def version_string(self) -> str:
            return "cloudflare"

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            body = self._read_body()
            # URLs the emulator hands out must lead back here, whatever name the client used.
            bound: Any = self.server.server_address
            host = self.headers.get("host") or f"{bound[0]!s}:{bound[1]!s}"
            answer = emulator.handle(
                self.command, self.path, dict(self.headers.items()), body, origin=f"http://{host}"
            )
            if answer.delay_first:
                time.sleep(answer.delay_first)
            if answer.reset_before_headers:
                self._reset()
                return
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                # send_response wrote the server header; the length is framed below.
                if key.lower() not in ("server", "content-length"):
                    self.send_header(key, value)
            if answer.chunks is None:
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)
                return
            # Streams go out chunk by chunk, each flushed, as the real server's SSE does; a
            # sliced fixed-length body (a slow or cut download) keeps its content-length.
            framed = answer.declared_length is None
            if framed:
                self.send_header("transfer-encoding", "chunked")
            else:
                self.send_header("content-length", str(answer.declared_length))
            self.end_headers()
            self.wfile.flush()
            for piece in answer.chunks:
                if answer.delay_each:
                    time.sleep(answer.delay_each)
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if framed else piece)
                    self.wfile.flush()
            if answer.reset_after is not None:
                self._reset()
                return
            if framed:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _reset(self) -> None:
            self.wfile.flush()
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.close_connection = True
            self.connection.close()

        do_GET = _serve
        do_POST = _serve
        do_DELETE = _serve
        do_PUT = _serve
        do_PATCH = _serve
        do_HEAD = _serve

    return Handler
