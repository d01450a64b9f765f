"""File uploads, without I/O of the API: the source of the bytes and the presigned-URL rules.

The upload flow (as the official SDK ships it): ``POST /files`` with the name, purpose, type
and sha256 answers ``302`` to a presigned URL; the bytes are ``PUT`` there; then
``POST /files/{id}/preprocess`` returns the file. The presigned URL is another host: the
``PUT`` carries no API key and none of the default headers, only ``Content-Length``. The
bytes stream from disk in blocks; a file is never read whole into memory.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from ._base_transport import is_loopback
from ._exceptions import APIStatusError, TogetherConfigError

__all__ = ["UploadSource", "check_presigned_url", "existing_file_id", "file_type_for"]

BLOCK = 1 << 20
FILE_TYPES = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}

UploadInput = str | Path | bytes | tuple[str, bytes] | IO[bytes]


@dataclass(frozen=True, slots=True)
class UploadSource:
    """Where the bytes come from, with their size and sha256 (computed in one streamed pass)."""

    name: str
    size: int
    sha256: str
    path: Path | None = None
    data: bytes | None = None
    handle: Any = None
    start: int = 0

    @classmethod
    def of(cls, file: UploadInput, file_name: str | None = None) -> UploadSource:
        if isinstance(file, tuple):
            name, data = file
            return cls._from_bytes(file_name or name, data)
        if isinstance(file, bytes | bytearray):
            if not file_name:
                raise TogetherConfigError(
                    "Uploading bytes needs a file_name (e.g. file_name='train.jsonl'): the "
                    "server reads the file type from it."
                )
            return cls._from_bytes(file_name, bytes(file))
        if isinstance(file, str | Path):
            path = Path(file)
            if not path.is_file():
                raise TogetherConfigError(f"File not found: {str(path)!r}.")
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(BLOCK), b""):
                    digest.update(block)
            return cls(file_name or path.name, path.stat().st_size, digest.hexdigest(), path=path)
        if hasattr(file, "read") and hasattr(file, "seek"):
            start = file.tell()
            digest, size = hashlib.sha256(), 0
            for block in iter(lambda: file.read(BLOCK), b""):
                digest.update(block)
                size += len(block)
            file.seek(start)
            name = file_name or Path(str(getattr(file, "name", ""))).name
            if not name:
                raise TogetherConfigError("Uploading a file object needs a file_name.")
            return cls(name, size, digest.hexdigest(), handle=file, start=start)
        raise TypeError(
            "file must be a path, bytes with file_name, a (name, bytes) pair or a seekable binary "
            f"file object; got {type(file).__name__}."
        )

    @classmethod
    def _from_bytes(cls, name: str, data: bytes) -> UploadSource:
        return cls(name, len(data), hashlib.sha256(data).hexdigest(), data=data)

    def open(self) -> IO[bytes] | io.RawIOBase:
        """A fresh reader positioned at the start (one per attempt)."""
        if self.path is not None:
            return self.path.open("rb")
        if self.data is not None:
            return io.BytesIO(self.data)
        self.handle.seek(self.start)
        return _Unclosable(self.handle)

    def chunks(self) -> Iterator[bytes]:
        with self.open() as reader:
            yield from iter(lambda: reader.read(BLOCK), b"")

    async def achunks(self) -> AsyncIterator[bytes]:
        # Block-sized local reads: short enough not to stall the loop noticeably.
        with self.open() as reader:
            for block in iter(lambda: reader.read(BLOCK), b""):
                yield block


class _Unclosable(io.RawIOBase):
    """A caller's file object, read by us but left open (we close only what we opened)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._handle.read(size)
        return data

    def close(self) -> None:  # the caller's file stays open
        super().close()


def file_type_for(name: str, file_type: str | None = None) -> str:
    """The ``file_type`` form field: given, or from the name's suffix."""
    if file_type is not None:
        return file_type
    found = FILE_TYPES.get(Path(name).suffix.lower())
    if found is None:
        raise TogetherConfigError(
            f"Cannot tell the type of {name!r}: name it .jsonl, .csv or .parquet, or pass "
            "file_type=."
        )
    return found


def check_presigned_url(url: str | None, *, allow_insecure_http: bool) -> str:
    """Refuse a redirect target that could leak the file: https only (http on loopback)."""
    if not url:
        raise TogetherConfigError(
            "The upload redirect had no Location header; the server did not give an upload URL."
        )
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host and (allow_insecure_http or is_loopback(host)):
        return url
    raise TogetherConfigError(
        f"Refusing to upload to {parts.scheme}://{host}: presigned upload URLs must be https."
    )


_FILE_ID = re.compile(r"\bfile-[A-Za-z0-9-]+")


def existing_file_id(error: APIStatusError) -> str | None:
    """The id of the file a 409 says already exists (header, body field or message)."""
    header = {k.lower(): v for k, v in error.headers.items()}.get("x-together-file-id")
    if header:
        return header
    body = error.body
    if isinstance(body, dict):
        for key in ("id", "file_id"):
            value = body.get(key)
            if isinstance(value, str) and value.startswith("file-"):
                return value
    found = _FILE_ID.search(f"{error.server_message or ''} {body if isinstance(body, str) else ''}")
    return found.group(0) if found else None
