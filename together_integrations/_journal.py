"""Resumable embeddings: a crash-safe, content-addressed journal of vectors on disk.

Together's Batch API does not take embeddings, so a large embedding job is the online
:class:`~together_integrations._embeddings.EmbeddingBatcher` made resumable: with a journal,
every successful ``POST /embeddings`` is written to disk (and fsync'd) before its vectors
are handed back, and a rerun after a crash sends only the texts that are not there yet.

Keys. An entry is addressed by two SHA-256 digests:

* the **namespace**: every request field except ``input`` (model, ``dimensions``, and any
  extra body field such as an input type), as canonical JSON (:func:`request_namespace`).
  A different model, size or option never reuses a vector. The host is not part of it: a
  model id names the same weights whichever Together base URL serves it.
* the **text**: SHA-256 of its UTF-8 bytes, exactly as sent (instruction prefix included).

Texts are never stored, only their digests; the API key is never seen by the journal.

Layout (:class:`EmbeddingJournal`). A directory of append-only segment files
``<time>-<pid>-<random>.tej``; each process writes only a segment it created, so
processes sharing a directory never interleave writes. A segment is the 8-byte magic
``TIEMBJ01`` followed by frames, all little-endian::

    u32 body_length | u32 crc32(body) | u32 crc32(the 8 bytes before)
    body = namespace digest (32) | text digest (32) | dtype (1: b"f" or b"d") | values

Values are float32 when that is lossless for the whole vector (the caller gets exactly the
values it got the first time), otherwise float64 (always exact: a JSON number parses to a
float64). ``compact=False`` always writes float64 and skips the check.

Crash safety. One ``record`` call is one ``write`` of all its frames followed by ``fsync``;
a new segment is fsync'd together with its directory. On open, every segment is scanned
frame by frame, checking each header's CRC and that the body fits in the file; the scan of
a segment stops at the first frame that fails (a torn last write, or zeros a filesystem
left after a crash), and what follows is ignored with a warning, so those texts are simply
embedded again. A body is checked against its CRC (and its digests against the key asked
for) every time it is read: a damaged record is a miss, never a wrong vector. When a key
occurs more than once, the last intact record wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import struct
import sys
import threading
import time
import zlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "EmbeddingJournal",
    "JournalLike",
    "ResumePlan",
    "SupportsEmbeddingJournal",
    "check_journal",
    "request_namespace",
    "resolve_journal",
    "text_digest",
]

logger = logging.getLogger("together_integrations")

MAGIC = b"TIEMBJ01"
SUFFIX = ".tej"
_HEADER = struct.Struct("<III")
_LENGTHS = struct.Struct("<II")
_DIGEST = 32
_BODY_FIXED = 2 * _DIGEST + 1
_SIZES = {b"f": 4, b"d": 8}
_SWAP = sys.byteorder != "little"
_NAMESPACE_VERSION = 1


@runtime_checkable
class SupportsEmbeddingJournal(Protocol):
    """What :class:`~together_integrations._embeddings.EmbeddingBatcher` needs from a
    journal; implement it to keep vectors elsewhere (a database, an object store).

    Both methods may be called from several threads at once. ``namespace`` is the hex
    string of :func:`request_namespace`; each digest is :func:`text_digest` of one text.
    """

    def lookup(self, namespace: str, digests: Sequence[bytes]) -> list[list[float] | None]:
        """The stored vector for each digest, or None where there is none (same order)."""
        ...

    def record(self, namespace: str, entries: Sequence[tuple[bytes, Sequence[float]]]) -> None:
        """Store ``(digest, vector)`` pairs durably before returning."""
        ...


JournalLike: TypeAlias = SupportsEmbeddingJournal | str | os.PathLike[str]
"""What ``journal=`` accepts: a directory path, an :class:`EmbeddingJournal`, or any
:class:`SupportsEmbeddingJournal`."""


def text_digest(text: str) -> bytes:
    """SHA-256 of ``text`` as UTF-8: the only trace of a text the journal keeps."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def request_namespace(body: Mapping[str, Any]) -> str:
    """The namespace of a ``POST /embeddings`` body: SHA-256 (hex) of every field but
    ``input``, as canonical JSON. Any field that could change the vector is in it.

    Raises:
        TypeError: A field is not JSON (it could not be sent either).
    """
    fields = {k: v for k, v in body.items() if k != "input"}
    canonical = json.dumps(
        {"v": _NAMESPACE_VERSION, "request": fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _pack(vector: Sequence[float], compact: bool) -> tuple[bytes, bytes]:
    values = array("d", vector)
    if compact:
        narrow = array("f", values)
        if narrow.tolist() == values.tolist():
            values = narrow
    if _SWAP:
        values.byteswap()
    return values.typecode.encode(), values.tobytes()


def _unpack(dtype: bytes, data: bytes) -> list[float]:
    values: array[float] = array("f") if dtype == b"f" else array("d")
    values.frombytes(data)
    if _SWAP:
        values.byteswap()
    return values.tolist()


def _frame(namespace: bytes, digest: bytes, vector: Sequence[float], compact: bool) -> bytes:
    if len(digest) != _DIGEST:
        raise ValueError(f"A text digest is {_DIGEST} bytes (SHA-256), got {len(digest)}.")
    dtype, data = _pack(vector, compact)
    body = namespace + digest + dtype + data
    lengths = _LENGTHS.pack(len(body), zlib.crc32(body))
    return lengths + struct.pack("<I", zlib.crc32(lengths)) + body


@dataclass(frozen=True)
class _Location:
    segment: int
    offset: int
    length: int  # of the body


class EmbeddingJournal:
    """Embedding vectors on disk, keyed by request fields and text digest, crash-safe.

    Pass one (or just its directory path) as ``journal=`` to ``TogetherEmbeddings``,
    ``TogetherEmbedding`` or ``EmbeddingBatcher``: texts already in it are not sent again,
    and every successful request is on disk before its vectors are returned. The directory
    format and its guarantees are described in :mod:`together_integrations._journal`.

    Args:
        path: The journal directory (created, with its parents, if missing).
        fsync: Flush every record and new segment to stable storage before returning
            (the default). ``False`` is faster, and a power loss may then lose the last
            records (never corrupt what is read back: every body is CRC-checked).
        compact: Store a vector as float32 when that is exactly the value the API sent
            (half the space), else float64. ``False`` always stores float64.

    Raises:
        NotADirectoryError: ``path`` exists and is not a directory.

    Example:
        >>> journal = EmbeddingJournal("/data/embeddings-journal")  # doctest: +SKIP
        >>> embeddings = TogetherEmbeddings(journal=journal)  # doctest: +SKIP
    """

    def __init__(
        self, path: str | os.PathLike[str], *, fsync: bool = True, compact: bool = True
    ) -> None:
        self.path = Path(path).absolute()
        self.fsync = fsync
        self.compact = compact
        self._lock = threading.RLock()
        self._index: dict[tuple[bytes, bytes], _Location] = {}
        self._segments: list[Path] = []
        self._readers: dict[int, IO[bytes]] = {}
        self._writer: int | None = None
        self._writer_segment: int | None = None
        self._closed = False
        self.path.mkdir(parents=True, exist_ok=True)
        for segment in sorted(self.path.glob("*" + SUFFIX)):
            self._scan(segment)

    # ----------------------------------------------------------- open / close

    _open: dict[tuple[Path, bool, bool], EmbeddingJournal] = {}
    _open_lock = threading.Lock()

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, fsync: bool = True, compact: bool = True
    ) -> EmbeddingJournal:
        """The journal at ``path``, opened once per process and shared (what a path given
        as ``journal=`` resolves to), so it is scanned once however many clients use it."""
        key = (Path(path).absolute(), fsync, compact)
        with cls._open_lock:
            journal = cls._open.get(key)
            if journal is None or journal._closed:
                journal = cls._open[key] = cls(key[0], fsync=fsync, compact=compact)
            return journal

    def close(self) -> None:
        """Close the files; the directory stays. Later use raises ``ValueError``."""
        with self._lock:
            self._closed = True
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
            if self._writer is not None:
                os.close(self._writer)
                self._writer = None

    def __enter__(self) -> EmbeddingJournal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy (a pickle to a worker) reopens the directory and writes its own segment.
        return (_reopen, (str(self.path), self.fsync, self.compact))

    def __repr__(self) -> str:
        return f"EmbeddingJournal({str(self.path)!r}, entries={len(self._index)})"

    def __len__(self) -> int:
        """Distinct (namespace, text) entries found on open or recorded since."""
        return len(self._index)

    @property
    def segments(self) -> list[Path]:
        """The segment files read or written by this object, in scan order."""
        return list(self._segments)

    # ----------------------------------------------------------------- scan

    def _scan(self, path: Path) -> None:
        try:
            reader = path.open("rb")
        except OSError as exc:
            logger.warning("Embedding journal: cannot read %s (%s); skipping it.", path, exc)
            return
        size = os.fstat(reader.fileno()).st_size
        if reader.read(len(MAGIC)) != MAGIC:
            reader.close()
            if size >= len(MAGIC):
                logger.warning("Embedding journal: %s is not a journal segment; skipping.", path)
            return  # shorter: a segment torn while being created
        number = len(self._segments)
        self._segments.append(path)
        self._readers[number] = reader
        offset = len(MAGIC)
        while offset + _HEADER.size <= size:
            header = reader.read(_HEADER.size)
            length, _, check = _HEADER.unpack(header)
            end = offset + _HEADER.size + length
            if zlib.crc32(header[:8]) != check or length < _BODY_FIXED or end > size:
                break
            key = reader.read(2 * _DIGEST)
            self._index[(key[:_DIGEST], key[_DIGEST:])] = _Location(number, offset, length)
            offset = end
            reader.seek(offset)
        if offset != size:
            logger.warning(
                "Embedding journal: ignored the last %d bytes of %s (a write cut short by a "
                "crash, or damage); the texts they held will be embedded again.",
                size - offset,
                path,
            )

    # ----------------------------------------------------------------- read

    def _read(self, key: tuple[bytes, bytes], where: _Location) -> list[float] | None:
        reader = self._readers[where.segment]
        reader.seek(where.offset)
        frame = reader.read(_HEADER.size + where.length)
        body = frame[_HEADER.size :]
        length, crc, _ = _HEADER.unpack_from(frame)
        dtype = body[2 * _DIGEST : _BODY_FIXED]
        size = _SIZES.get(dtype, 0)
        if (
            len(body) != length
            or zlib.crc32(body) != crc
            or body[: 2 * _DIGEST] != key[0] + key[1]
            or not size
            or (length - _BODY_FIXED) % size
        ):
            logger.warning(
                "Embedding journal: a damaged record in %s at byte %d is ignored; its text "
                "will be embedded again.",
                self._segments[where.segment],
                where.offset,
            )
            return None
        return _unpack(dtype, body[_BODY_FIXED:])

    def lookup(self, namespace: str, digests: Sequence[bytes]) -> list[list[float] | None]:
        """The vector recorded for each text digest in ``namespace``, or None (in order)."""
        space = bytes.fromhex(namespace)
        out: list[list[float] | None] = []
        with self._lock:
            self._check_open()
            for digest in digests:
                key = (space, digest)
                where = self._index.get(key)
                vector = None if where is None else self._read(key, where)
                if vector is None and where is not None:
                    del self._index[key]
                out.append(vector)
        return out

    # ---------------------------------------------------------------- write

    def _new_segment(self) -> int:
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        path = self.path / name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags, 0o600)
        try:
            self._write_all(fd, MAGIC)
            if self.fsync:
                os.fsync(fd)
                self._sync_directory()
            reader = path.open("rb")
        except BaseException:
            os.close(fd)
            raise
        number = len(self._segments)
        self._segments.append(path)
        self._readers[number] = reader
        self._writer, self._writer_segment = fd, number
        return fd

    def _sync_directory(self) -> None:
        if os.name == "nt":  # a directory cannot be opened for fsync there
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def record(self, namespace: str, entries: Sequence[tuple[bytes, Sequence[float]]]) -> None:
        """Append ``(text digest, vector)`` pairs in ``namespace``; durable on return.

        Raises:
            OSError: The write or fsync failed (the next call starts a new segment, so
                a half-written frame is never followed by good ones).
        """
        if not entries:
            return
        space = bytes.fromhex(namespace)
        frames = [_frame(space, digest, vector, self.compact) for digest, vector in entries]
        with self._lock:
            self._check_open()
            fd = self._writer if self._writer is not None else self._new_segment()
            segment = self._writer_segment
            assert segment is not None
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                self._write_all(fd, b"".join(frames))
                if self.fsync:
                    os.fsync(fd)
            except BaseException:
                os.close(fd)
                self._writer = self._writer_segment = None
                raise
            offset = start
            for (digest, _), frame in zip(entries, frames, strict=True):
                body = len(frame) - _HEADER.size
                self._index[(space, digest)] = _Location(segment, offset, body)
                offset += len(frame)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self!r} is closed.")


def _reopen(path: str, fsync: bool, compact: bool) -> EmbeddingJournal:
    return EmbeddingJournal.open(path, fsync=fsync, compact=compact)


def check_journal(value: Any) -> SupportsEmbeddingJournal | str | None:
    """Validate a ``journal=`` argument without any I/O: a path becomes an absolute
    directory string (so a pickled copy finds the same directory), a journal object is kept.

    Raises:
        TypeError: Neither a path nor an object with ``lookup`` and ``record``.
    """
    if value is None or isinstance(value, SupportsEmbeddingJournal):
        return value
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if not isinstance(text, str) or not text:
            raise TypeError("journal must be a non-empty directory path.")
        return str(Path(text).absolute())
    raise TypeError(
        f"journal must be a directory path, an EmbeddingJournal or an object with lookup() "
        f"and record() (SupportsEmbeddingJournal), got {type(value).__name__}."
    )


def resolve_journal(value: JournalLike | None) -> SupportsEmbeddingJournal | None:
    """The journal object for a ``journal=`` argument (a path opens the shared
    :meth:`EmbeddingJournal.open` one)."""
    checked = check_journal(value)
    if checked is None or isinstance(checked, SupportsEmbeddingJournal):
        return checked
    return EmbeddingJournal.open(checked)


@dataclass
class ResumePlan:
    """One embed call against a journal: what it already holds, what must still be sent.

    Built by :meth:`start`; the batcher sends :attr:`todo` (each distinct missing text
    once, in first-seen order), records each answered batch with :meth:`entries`, and
    :meth:`finish` places the vectors at every position of their text.
    """

    namespace: str
    out: list[list[float] | None]
    todo: list[str] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    positions: list[list[int]] = field(default_factory=list)

    @classmethod
    def start(
        cls, journal: SupportsEmbeddingJournal, namespace: str, texts: Sequence[str]
    ) -> ResumePlan:
        first: dict[bytes, int] = {}
        groups: list[list[int]] = []
        for position, text in enumerate(texts):
            digest = text_digest(text)
            slot = first.get(digest)
            if slot is None:
                first[digest] = len(groups)
                groups.append([position])
            else:
                groups[slot].append(position)
        digests = list(first)
        found = journal.lookup(namespace, digests)
        if len(found) != len(digests):
            raise TypeError(
                f"{type(journal).__name__}.lookup returned {len(found)} results for "
                f"{len(digests)} digests; it must return one per digest."
            )
        plan = cls(namespace, [None] * len(texts))
        for digest, group, vector in zip(digests, groups, found, strict=True):
            if vector is None:
                plan.todo.append(texts[group[0]])
                plan.digests.append(digest)
                plan.positions.append(group)
            else:
                plan.place(group, vector)
        return plan

    @property
    def hits(self) -> int:
        """Positions answered from the journal or by another position's request."""
        return len(self.out) - len(self.todo)

    def place(self, group: Sequence[int], vector: list[float]) -> None:
        # Each position gets its own list: mutating one result must not change another.
        self.out[group[0]] = vector
        for position in group[1:]:
            self.out[position] = list(vector)

    def entries(
        self, todo_positions: Sequence[int], vectors: Sequence[list[float]]
    ) -> list[tuple[bytes, Sequence[float]]]:
        """The ``record`` entries for one answered batch of :attr:`todo` positions."""
        return [(self.digests[i], v) for i, v in zip(todo_positions, vectors, strict=True)]

    def finish(self, vectors: Sequence[list[float]]) -> list[list[float]]:
        """Every vector in input order, once ``vectors`` (one per :attr:`todo`) arrived."""
        for group, vector in zip(self.positions, vectors, strict=True):
            self.place(group, vector)
        missing = [i for i, v in enumerate(self.out) if v is None]
        if missing:  # a journal returned something odd; never hand back a hole
            raise RuntimeError(f"No vector for positions {missing[:10]}.")
        return [v for v in self.out if v is not None]
