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

Precision. ``precision="exact"`` (the default) stores a vector as float32 when that is
lossless for every value, otherwise as float64, which is always exact (a JSON number parses
to a float64): a rerun returns bit for bit what the first call returned. Servers that print
float32 values as short decimals send numbers that are *not* float32 values once parsed, so
expect float64 (8 bytes a value) in this mode. ``precision="float32"`` halves that: every
vector is narrowed to float32 and :meth:`EmbeddingJournal.record` returns the narrowed
vectors, which the batcher hands back on the first call too, so the first call and every
rerun agree exactly (and differ from the server's decimals by under 1e-7, relative).

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
import mmap
import os
import secrets
import struct
import sys
import threading
import time
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "EmbeddingJournal",
    "JournalLike",
    "JournalSetting",
    "ResumePlan",
    "SupportsEmbeddingJournal",
    "check_journal",
    "journal_setting",
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
_MAX_READERS = 32  # open segment files at once: every crashed run leaves one more segment


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

    def record(
        self, namespace: str, entries: Sequence[tuple[bytes, Sequence[float]]]
    ) -> Sequence[list[float]] | None:
        """Store ``(digest, vector)`` pairs durably before returning.

        Returns:
            None when each vector will be read back exactly as given; otherwise the vectors
            as they will be read back (one per entry, e.g. narrowed to float32), which the
            caller then returns instead, so a first call and a rerun agree.
        """
        ...


JournalLike: TypeAlias = SupportsEmbeddingJournal | str | os.PathLike[str] | Mapping[str, Any]
"""What ``journal=`` accepts: a directory path, an :class:`EmbeddingJournal` or any
:class:`SupportsEmbeddingJournal`, or ``{"path": ..., "fsync": ..., "precision": ...}``."""


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


Precision = Literal["exact", "float32"]
_PRECISIONS = ("exact", "float32")


def _is_float32(value: float) -> bool:
    try:
        return bool(struct.unpack("<f", struct.pack("<f", value))[0] == value)
    except OverflowError:
        return False


def _pack(vector: Sequence[float], precision: Precision) -> tuple[bytes, bytes]:
    # struct converts a list in C; array(typecode, list) goes value by value, 3x slower.
    n = len(vector)
    if precision == "float32" or (n and _is_float32(vector[0])):  # a cheap first look
        try:
            narrow = struct.pack(f"<{n}f", *vector)
        except OverflowError:  # beyond float32's range: not narrowed, in either mode
            return b"d", struct.pack(f"<{n}d", *vector)
        if precision == "float32":
            return b"f", narrow
        wide = struct.pack(f"<{n}d", *vector)
        # Lossless only if widening the float32 values gives back the very same bits.
        if struct.pack(f"<{n}d", *struct.unpack(f"<{n}f", narrow)) == wide:
            return b"f", narrow
        return b"d", wide
    return b"d", struct.pack(f"<{n}d", *vector)


def _unpack(dtype: bytes, data: bytes) -> list[float]:
    values: array[float] = array("f") if dtype == b"f" else array("d")
    values.frombytes(data)
    if _SWAP:
        values.byteswap()
    return values.tolist()


def _frame(namespace: bytes, digest: bytes, dtype: bytes, data: bytes) -> bytes:
    if len(digest) != _DIGEST:
        raise ValueError(f"A text digest is {_DIGEST} bytes (SHA-256), got {len(digest)}.")
    body = namespace + digest + dtype + data
    lengths = _LENGTHS.pack(len(body), zlib.crc32(body))
    return lengths + struct.pack("<I", zlib.crc32(lengths)) + body


# Where a record is, packed into one int to keep the index small (about 150 bytes an entry):
# segment number, byte offset in it (below 1 TiB) and body length.
_OFFSET_BITS = 40
_LENGTH_BITS = 32


def _location(segment: int, offset: int, length: int) -> int:
    return (((segment << _OFFSET_BITS) | offset) << _LENGTH_BITS) | length


def _unlocation(where: int) -> tuple[int, int, int]:
    length = where & ((1 << _LENGTH_BITS) - 1)
    rest = where >> _LENGTH_BITS
    return rest >> _OFFSET_BITS, rest & ((1 << _OFFSET_BITS) - 1), length


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
        precision: ``"exact"``: float32 where that is lossless, else float64; reruns
            return exactly what the API sent. ``"float32"``: always float32 (half the space);
            the first call returns the narrowed values too (see the module docstring).

    Raises:
        NotADirectoryError: ``path`` exists and is not a directory.
        ValueError: ``precision`` is neither ``"exact"`` nor ``"float32"``.

    Example:
        >>> journal = EmbeddingJournal("/data/embeddings-journal")  # doctest: +SKIP
        >>> embeddings = TogetherEmbeddings(journal=journal)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = True,
        precision: Precision = "exact",
    ) -> None:
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be 'exact' or 'float32', got {precision!r}.")
        self.path = Path(path).absolute()
        self.fsync = fsync
        self.precision: Precision = precision
        self._lock = threading.RLock()
        self._index: dict[bytes, dict[bytes, int]] = {}  # namespace -> text digest -> where
        self._segments: list[Path] = []
        self._readers: OrderedDict[int, IO[bytes]] = OrderedDict()  # opened on demand
        self._writer: int | None = None
        self._writer_segment: int | None = None
        self._closed = False
        self._pid = os.getpid()
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(
                f"{str(self.path)!r} is a file; a journal is a directory. Pass a new or "
                "existing directory path."
            )
        if not self.path.is_dir():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.mkdir(mode=0o700, exist_ok=True)  # vectors are the user's data
        for segment in sorted(self.path.glob("*" + SUFFIX)):
            self._scan(segment)

    # ----------------------------------------------------------- open / close

    _open: dict[tuple[Path, bool, str], EmbeddingJournal] = {}
    _open_lock = threading.Lock()

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, fsync: bool = True, precision: Precision = "exact"
    ) -> EmbeddingJournal:
        """The journal at ``path``, opened once per process and shared (what a path given
        as ``journal=`` resolves to), so it is scanned once however many clients use it."""
        key = (Path(path).absolute(), fsync, precision)
        with cls._open_lock:
            journal = cls._open.get(key)
            if journal is None or journal._closed:
                journal = cls._open[key] = cls(key[0], fsync=fsync, precision=precision)
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
        return (_reopen, (str(self.path), self.fsync, self.precision))

    def __repr__(self) -> str:
        return f"EmbeddingJournal({str(self.path)!r}, entries={len(self)})"

    def __len__(self) -> int:
        """Distinct (namespace, text) entries found on open or recorded since."""
        return sum(len(entries) for entries in self._index.values())

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
        self._keep_reader(number, reader)
        offset = len(MAGIC)
        # Mapped, so only headers and digests are touched (no read call per frame).
        with mmap.mmap(reader.fileno(), size, access=mmap.ACCESS_READ) as data:
            while offset + _HEADER.size <= size:
                length, _, check = _HEADER.unpack_from(data, offset)
                end = offset + _HEADER.size + length
                if zlib.crc32(data[offset : offset + 8]) != check or length < _BODY_FIXED:
                    break
                if end > size:
                    break
                start = offset + _HEADER.size
                name = data[start : start + _DIGEST]
                space = self._index.get(name)
                if space is None:
                    space = self._index[name] = {}
                space[data[start + _DIGEST : start + 2 * _DIGEST]] = _location(
                    number, offset, length
                )
                offset = end
        if offset != size:
            logger.warning(
                "Embedding journal: ignored the last %d bytes of %s (a write cut short by a "
                "crash, or damage); the texts they held will be embedded again.",
                size - offset,
                path,
            )

    # ----------------------------------------------------------------- read

    def _keep_reader(self, number: int, reader: IO[bytes]) -> None:
        self._readers[number] = reader
        while len(self._readers) > _MAX_READERS:
            self._readers.popitem(last=False)[1].close()

    def _reader(self, number: int) -> IO[bytes]:
        reader = self._readers.get(number)
        if reader is None:
            reader = self._segments[number].open("rb")
            self._keep_reader(number, reader)
        else:
            self._readers.move_to_end(number)
        return reader

    def _read(self, space: bytes, digest: bytes, where: int) -> list[float] | None:
        segment, offset, length = _unlocation(where)
        try:
            reader = self._reader(segment)
            reader.seek(offset)
            frame = reader.read(_HEADER.size + length)
        except OSError:  # the segment was removed or cannot be read any more
            frame = b""
        body = frame[_HEADER.size :]
        crc = _HEADER.unpack_from(frame)[1] if len(frame) >= _HEADER.size else -1
        dtype = body[2 * _DIGEST : _BODY_FIXED]
        size = _SIZES.get(dtype, 0)
        if (
            len(body) != length
            or zlib.crc32(body) != crc
            or body[:_DIGEST] != space
            or body[_DIGEST : 2 * _DIGEST] != digest
            or not size
            or (length - _BODY_FIXED) % size
        ):
            logger.warning(
                "Embedding journal: a damaged record in %s at byte %d is ignored; its text "
                "will be embedded again.",
                self._segments[segment],
                offset,
            )
            return None
        return _unpack(dtype, body[_BODY_FIXED:])

    def lookup(self, namespace: str, digests: Sequence[bytes]) -> list[list[float] | None]:
        """The vector recorded for each text digest in ``namespace``, or None (in order)."""
        space = bytes.fromhex(namespace)
        out: list[list[float] | None] = []
        with self._lock:
            self._check_open()
            entries = self._index.get(space, {})
            for digest in digests:
                where = entries.get(digest)
                vector = None if where is None else self._read(space, digest, where)
                if vector is None and where is not None:
                    del entries[digest]  # damaged: the next record of it replaces it
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
        except BaseException:
            os.close(fd)
            raise
        number = len(self._segments)
        self._segments.append(path)
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

    def record(
        self, namespace: str, entries: Sequence[tuple[bytes, Sequence[float]]]
    ) -> list[list[float]] | None:
        """Append ``(text digest, vector)`` pairs in ``namespace``; durable on return.

        Returns:
            None with ``precision="exact"``; with ``"float32"``, the narrowed vectors (what
            :meth:`lookup` will return for them).

        Raises:
            OSError: The write or fsync failed (the next call starts a new segment, so
                a half-written frame is never followed by good ones).
        """
        if not entries:
            return None
        space = bytes.fromhex(namespace)
        packed = [_pack(vector, self.precision) for _, vector in entries]
        frames = [
            _frame(space, digest, dtype, data)
            for (digest, _), (dtype, data) in zip(entries, packed, strict=True)
        ]
        with self._lock:
            self._check_open()
            if self._writer is None:
                self._new_segment()
            fd, segment = self._writer, self._writer_segment
            if fd is None or segment is None:  # pragma: no cover - _new_segment sets both
                raise RuntimeError("The journal has no segment to write to.")
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                self._write_all(fd, b"".join(frames))
                if self.fsync:
                    os.fsync(fd)
            except BaseException:
                os.close(fd)
                self._writer = self._writer_segment = None
                raise
            index = self._index.setdefault(space, {})
            offset = start
            for (digest, _), frame in zip(entries, frames, strict=True):
                index[digest] = _location(segment, offset, len(frame) - _HEADER.size)
                offset += len(frame)
        if self.precision == "exact":
            return None
        return [_unpack(dtype, data) for dtype, data in packed]

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self!r} is closed.")
        if self._pid != os.getpid():
            # A forked child (multiprocessing workers): the inherited files share their
            # offsets with the parent, and the parent's segment is the parent's to append
            # to. Read through files of our own; write a segment of our own.
            self._pid = os.getpid()
            for reader in self._readers.values():
                reader.close()  # our copies; reopened on demand
            self._readers.clear()
            if self._writer is not None:
                os.close(self._writer)  # our copy of the descriptor only
            self._writer = self._writer_segment = None


def _reopen(path: str, fsync: bool, precision: Precision) -> EmbeddingJournal:
    return EmbeddingJournal.open(path, fsync=fsync, precision=precision)


JournalSetting: TypeAlias = SupportsEmbeddingJournal | str | dict[str, Any]


def _checked_path(value: Any) -> str:
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text:
        raise TypeError(f"journal must be a non-empty directory path, got {value!r}.")
    return str(Path(text).absolute())


def check_journal(value: Any) -> JournalSetting | None:
    """Validate a ``journal=`` argument without any I/O.

    A path becomes an absolute directory string (so a pickled copy finds the same
    directory); a journal object is kept; ``{"path": ..., "fsync": ..., "precision": ...}``
    (how a settings dump carries an :class:`EmbeddingJournal` with non-default options) is
    checked and kept.

    Raises:
        TypeError: Not a path, a journal object or such a mapping.
        ValueError: The mapping has unknown keys or a bad precision.
    """
    if value is None or isinstance(value, SupportsEmbeddingJournal):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"path", "fsync", "precision"})
        if unknown or "path" not in value:
            raise ValueError(
                f"A journal mapping takes 'path' and optionally 'fsync' and 'precision'; got "
                f"keys {sorted(value)}."
            )
        precision = value.get("precision", "exact")
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be 'exact' or 'float32', got {precision!r}.")
        return {
            "path": _checked_path(value["path"]),
            "fsync": bool(value.get("fsync", True)),
            "precision": precision,
        }
    if isinstance(value, (str, os.PathLike)):
        return _checked_path(value)
    raise TypeError(
        f"journal must be a directory path, an EmbeddingJournal or an object with lookup() "
        f"and record() (SupportsEmbeddingJournal), got {type(value).__name__}."
    )


def journal_setting(value: Any) -> Any:
    """A ``journal`` field as a settings dump carries it: an :class:`EmbeddingJournal` as
    its directory, with its options when they are not the defaults (loading the dump
    reopens it with them); anything else as it is."""
    if not isinstance(value, EmbeddingJournal):
        return value
    if value.fsync and value.precision == "exact":
        return str(value.path)
    return {"path": str(value.path), "fsync": value.fsync, "precision": value.precision}


def resolve_journal(value: Any) -> SupportsEmbeddingJournal | None:
    """The journal object for a ``journal=`` argument (a path, or a mapping with options,
    opens the shared :meth:`EmbeddingJournal.open` one)."""
    checked = check_journal(value)
    if checked is None or isinstance(checked, SupportsEmbeddingJournal):
        return checked
    if isinstance(checked, str):
        return EmbeddingJournal.open(checked)
    return EmbeddingJournal.open(
        checked["path"], fsync=checked["fsync"], precision=checked["precision"]
    )


@dataclass
class ResumePlan:
    """One embed call against a journal: what it already holds, what must still be sent.

    Built by :meth:`start`; the batcher sends :attr:`todo` (each distinct missing text
    once, in first-seen order), records each answered batch with :meth:`record`, and
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

    def record(
        self,
        journal: SupportsEmbeddingJournal,
        todo_positions: Sequence[int],
        vectors: list[list[float]],
    ) -> list[list[float]]:
        """Record one answered batch of :attr:`todo` positions; returns the vectors to hand
        back: as given, or as the journal will read them back (see ``record``)."""
        entries = [(self.digests[i], v) for i, v in zip(todo_positions, vectors, strict=True)]
        stored = journal.record(self.namespace, entries)
        if stored is None:
            return vectors
        stored = list(stored)
        if len(stored) != len(vectors):
            raise TypeError(
                f"{type(journal).__name__}.record returned {len(stored)} vectors for "
                f"{len(vectors)} entries; it must return None or one per entry."
            )
        return stored

    def finish(self, vectors: Sequence[list[float]]) -> list[list[float]]:
        """Every vector in input order, once ``vectors`` (one per :attr:`todo`) arrived."""
        for group, vector in zip(self.positions, vectors, strict=True):
            self.place(group, vector)
        missing = [i for i, v in enumerate(self.out) if v is None]
        if missing:  # a journal returned something odd; never hand back a hole
            raise RuntimeError(f"No vector for positions {missing[:10]}.")
        return [v for v in self.out if v is not None]
