"""Emulator state: scripted replies (and the order they are consumed in) and the file store."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

__all__ = [
    "FILE_PURPOSES",
    "FILE_TYPES",
    "Dialect",
    "FileStore",
    "LogprobsFormat",
    "Predicate",
    "Reply",
    "StoredFile",
    "ToolCallStyle",
    "take",
]

Dialect = Literal["modern", "legacy", "openai"]
ToolCallStyle = Literal["delta", "choice_level", "finish_per_call"]
LogprobsFormat = Literal["together", "openai"]
Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Reply:
    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    dialect: Dialect | None = None
    tool_call_style: ToolCallStyle | None = None
    logprobs_format: LogprobsFormat | None = None
    when: Predicate | None = None
    times: int | None = 1


class _Scripted(Protocol):
    when: Any
    times: int | None


T = TypeVar("T", bound=_Scripted)


def take(queue: list[T], body: dict[str, Any], lock: threading.RLock) -> T | None:
    """Consume the first item matching ``body``: predicate items first, then FIFO."""
    with lock:
        ordered = [x for x in queue if x.when is not None] + [x for x in queue if x.when is None]
        for item in ordered:
            if item.when is None or item.when(body):
                if item.times is not None:
                    item.times -= 1
                    if item.times <= 0:
                        queue.remove(item)
                return item
    return None


FILE_PURPOSES = frozenset(
    {
        "fine-tune",
        "eval",
        "eval-sample",
        "eval-output",
        "eval-summary",
        "batch-generated",
        "batch-api",
    }
)
FILE_TYPES = frozenset({"jsonl", "csv", "parquet"})


@dataclass
class StoredFile:
    """One file of the emulator's store.

    Attributes:
        id: ``file-<uuid>``.
        filename: The name it was uploaded under.
        purpose: One of :data:`FILE_PURPOSES`.
        file_type: ``jsonl``, ``csv`` or ``parquet``.
        created_at: Unix seconds, from the emulator's clock.
        checksum: The sha256 hex digest the client declared (None when it declared none).
        data: The bytes; None until the presigned PUT arrives.
        processed: True once ``POST /files/{id}/preprocess`` (or ``/files/upload``) ran.
        upload_token: The signature of its presigned URL.
    """

    id: str
    filename: str
    purpose: str
    file_type: str
    created_at: int
    checksum: str | None = None
    data: bytes | None = None
    processed: bool = False
    upload_token: str = ""

    def response(self) -> dict[str, Any]:
        """The ``FileResponse`` wire shape (note the capitalised ``FileType``/``Processed``)."""
        return {
            "id": self.id,
            "object": "file",
            "created_at": self.created_at,
            "filename": self.filename,
            "bytes": len(self.data or b""),
            "purpose": self.purpose,
            "FileType": self.file_type,
            "Processed": self.processed,
        }


class FileStore:
    """The emulator's files, in creation order.

    Tests can seed it directly (``emu.files.create(b"...", filename="in.jsonl")``) instead
    of walking the upload flow, and read what a job wrote (``emu.files.get(id).data``).
    """

    def __init__(self, new_id: Callable[[], str], now: Callable[[], int]) -> None:
        self._files: dict[str, StoredFile] = {}
        self._new_id = new_id
        self._now = now

    def create(
        self,
        data: bytes | None = None,
        *,
        filename: str = "input.jsonl",
        purpose: str = "batch-api",
        file_type: str | None = None,
        checksum: str | None = None,
        processed: bool = True,
    ) -> StoredFile:
        """Add a file (``data=None``: waiting for its upload) and return it."""
        stored = StoredFile(
            id=self._new_id(),
            filename=filename,
            purpose=purpose,
            file_type=file_type or guess_file_type(filename),
            created_at=self._now(),
            checksum=checksum,
            data=data,
            processed=processed and data is not None,
        )
        self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file, or None when unknown or deleted."""
        return self._files.get(file_id)

    def delete(self, file_id: str) -> bool:
        """Forget a file; False when it was not there."""
        return self._files.pop(file_id, None) is not None

    def with_checksum(self, checksum: str) -> StoredFile | None:
        """An uploaded file whose bytes hash to ``checksum`` (sha256 hex), if any."""
        wanted = checksum.lower()
        for stored in self._files.values():
            if stored.data is not None and hashlib.sha256(stored.data).hexdigest() == wanted:
                return stored
        return None

    def __iter__(self) -> Iterator[StoredFile]:
        return iter(list(self._files.values()))

    def __len__(self) -> int:
        return len(self._files)

    def clear(self) -> None:
        self._files.clear()


def guess_file_type(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return suffix if suffix in FILE_TYPES else "jsonl"
