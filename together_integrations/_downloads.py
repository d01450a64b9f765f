"""Resumable downloads, without I/O: where to resume and what the server's answer means.

A download that breaks off is resumed with ``Range: bytes=<offset>-`` (the byte after the
last one handed out). A server that ignores the range and sends the whole body again
(``200``) is handled by skipping what was already handed out, so a consumer iterating the
bytes never sees a byte twice or a gap.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DOWNLOAD_RESUMES", "ResumePlan", "split_lines"]

DOWNLOAD_RESUMES = 5
"""How many times a cut download is resumed before the error is raised."""


class ResumePlan:
    """State of one download across its resumed attempts."""

    __slots__ = ("offset", "resumes", "skip", "total")

    def __init__(self, max_resumes: int = DOWNLOAD_RESUMES) -> None:
        self.offset = 0
        self.total: int | None = None
        self.resumes = max_resumes
        self.skip = 0

    def request_headers(self) -> dict[str, str]:
        # identity: a Range applies to the bytes on the wire, which must be the file's bytes.
        headers = {"Accept-Encoding": "identity"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        return headers

    def on_response(self, status: int, headers: Mapping[str, str]) -> None:
        """Read the answer to a (possibly ranged) request."""
        lower = {k.lower(): v for k, v in headers.items()}
        self.skip = 0
        if status == 206:
            start, total = _content_range(lower.get("content-range", ""))
            if start is not None and start != self.offset:
                # A range that does not start where we are: skip forward, never go back.
                self.skip = self.offset - start if start < self.offset else 0
                if start > self.offset:
                    raise ValueError(
                        f"The server resumed the download at byte {start}, after byte "
                        f"{self.offset}: bytes would be missing."
                    )
            if total is not None:
                self.total = total
        else:
            self.skip = self.offset  # the whole body again: drop what was handed out
            length = lower.get("content-length")
            if length is not None and length.isdigit():
                self.total = int(length)

    def take(self, chunk: bytes) -> bytes:
        """The part of ``chunk`` that is new to the consumer."""
        if self.skip:
            cut = min(self.skip, len(chunk))
            self.skip -= cut
            chunk = chunk[cut:]
        self.offset += len(chunk)
        return chunk

    @property
    def complete(self) -> bool:
        return self.total is None or self.offset >= self.total

    def can_resume(self) -> bool:
        if self.resumes <= 0:
            return False
        self.resumes -= 1
        return True


def _content_range(value: str) -> tuple[int | None, int | None]:
    # "bytes 100-199/1000" or "bytes 100-199/*"
    try:
        unit, _, spec = value.strip().partition(" ")
        if unit.lower() != "bytes":
            return None, None
        span, _, total = spec.partition("/")
        start = int(span.partition("-")[0])
        return start, (int(total) if total.strip().isdigit() else None)
    except ValueError:
        return None, None


class split_lines:
    """Incremental line splitter: feed byte chunks, get complete lines (without ``\\n``).

    Linear: a partial line is kept as pieces and joined once when it ends.
    """

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        end = chunk.rfind(b"\n")
        if end < 0:
            if chunk:
                self._parts.append(chunk)
            return []
        head, rest = chunk[: end + 1], chunk[end + 1 :]
        if self._parts:
            self._parts.append(head)
            head = b"".join(self._parts)
        self._parts = [rest] if rest else []
        lines = head.split(b"\n")
        lines.pop()
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def flush(self) -> list[bytes]:
        if not self._parts:
            return []
        tail = b"".join(self._parts)
        self._parts = []
        return [tail[:-1] if tail.endswith(b"\r") else tail] if tail else []
