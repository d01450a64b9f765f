"""Where a run remembers itself: one manifest per run, written atomically.

A manifest holds ids, counts, hashes and states, enough to resume a run from another
process, and **never** a prompt, an output or the API key: what a run sent is in its input
files on the server, what it got back is in the output and error files there.

The one exception lives *beside* the manifest, never in it: the answers of the few items a
run sent through the online endpoint instead of a follow-up job (``online_fallback``) exist
on no server file, so a store that implements :class:`BatchResultStore` keeps them (a
:class:`DirectoryStore` in ``<run_key>.online.jsonl``, mode 0600), one record per item as
it is answered. That is what lets a resumed run give them back without paying for them
twice. ``delete`` removes both files.

Each job moves ``planned → uploaded (file id) → create_sent → created (batch id) →
done | failed``. ``create_sent`` is saved *before* the paid ``POST /batches`` goes out, so a
process that dies before it saves the id knows a job may exist and looks it up by its input
file instead of creating a second one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._errors import BatchManifestError

__all__ = [
    "BatchResultStore",
    "BatchStore",
    "DirectoryStore",
    "JobRecord",
    "JobState",
    "LockingStore",
    "MemoryStore",
    "OnlineRecord",
    "RunManifest",
    "default_store_dir",
]

MANIFEST_VERSION = 1
_RUN_KEY = re.compile(r"^[0-9a-f]{8,64}$")


class JobState(str, Enum):
    """Where one job of a run is (see the module docstring)."""

    PLANNED = "planned"
    UPLOADED = "uploaded"
    CREATE_SENT = "create_sent"
    CREATED = "created"
    DONE = "done"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class JobRecord(_Model):
    """One job's ids, counts, hash and state.

    Attributes:
        key: ``r<round>-<number>``, unique within the run.
        round: 0 for the first submission, 1 for the follow-up of retryable items.
        spans: The input positions the job carries, as ``[start, stop)`` ranges.
        lines: Requests in its input file.
        size: Bytes of its input file.
        sha256: The input file's sha256 (a plan that no longer matches is refused).
        state: See :class:`JobState`.
        file_id: The uploaded input file.
        batch_id: The batch job.
        status: The batch's last server status (``IN_PROGRESS``, ``COMPLETED``...).
        progress: The batch's last progress, 0-1.
        output_file_id: The output file, once terminal.
        error_file_id: The error file, once terminal.
        reason: The server's reason for a job that failed as a whole.
        succeeded: Items with a result, once the files were read.
        failed: Items without one, once the files were read.
    """

    key: str
    round: int = 0
    spans: list[tuple[int, int]]
    lines: int
    size: int
    sha256: str
    state: JobState = JobState.PLANNED
    file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    progress: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    reason: str | None = None
    succeeded: int | None = None
    failed: int | None = None

    def indices(self) -> list[int]:
        """The input positions, in file order."""
        return [i for start, stop in self.spans for i in range(start, stop)]

    @property
    def terminal(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)


class OnlineRecord(_Model):
    """The items a run sent through the online endpoint instead of a follow-up job.

    Attributes:
        spans: Their input positions, as ``[start, stop)`` ranges.
        state: ``sending`` (saved before the first request) or ``done``.
        succeeded: Items answered, once done.
        failed: Items that got an error, once done.
    """

    spans: list[tuple[int, int]]
    state: Literal["sending", "done"] = "sending"
    succeeded: int | None = None
    failed: int | None = None

    def indices(self) -> list[int]:
        """The input positions, in order."""
        return [i for start, stop in self.spans for i in range(start, stop)]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunManifest(_Model):
    """A run: what it is and where each of its jobs stands.

    Attributes:
        run_key: Derived from the requests (:func:`~together_integrations.batch.plan_batch`).
        endpoint: The endpoint every line targets.
        model_id: The ``model_id`` sent with each create, if any.
        inputs: How many inputs.
        max_lines, max_bytes: The limits the jobs were cut by.
        retry: Whether retryable items are sent again once, in a follow-up job.
        online_fallback: At most this many retryable items go through the online endpoint
            instead of a follow-up job (0: never).
        followup_planned: The follow-up round was decided (its jobs are in ``jobs``, if any,
            or its items in ``online``).
        online: The items sent online, if the follow-up round went that way.
        cancelled: :meth:`BatchRun.cancel` was called; nothing more is submitted.
    """

    version: int = MANIFEST_VERSION
    run_key: str
    endpoint: str
    model_id: str | None = None
    inputs: int
    max_lines: int
    max_bytes: int
    retry: bool = True
    online_fallback: int = 0  # manifests written before the fallback existed: never
    followup_planned: bool = False
    online: OnlineRecord | None = None
    cancelled: bool = False
    created_at: str = Field(default_factory=_now)
    updated_at: str = Field(default_factory=_now)
    jobs: list[JobRecord] = Field(default_factory=list)

    def job(self, key: str) -> JobRecord:
        """The job named ``key``."""
        for job in self.jobs:
            if job.key == key:
                return job
        raise KeyError(key)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, *, source: str = "manifest") -> RunManifest:
        try:
            manifest = cls.model_validate_json(data)
        except ValidationError as exc:
            raise BatchManifestError(f"The batch manifest {source} is unreadable: {exc}") from exc
        if manifest.version != MANIFEST_VERSION:
            raise BatchManifestError(
                f"The batch manifest {source} has version {manifest.version}; this release "
                f"reads version {MANIFEST_VERSION}."
            )
        return manifest


@runtime_checkable
class BatchStore(Protocol):
    """Where manifests live. ``save`` must be atomic: a reader sees the old manifest or the
    new one, never a mix, even when the process dies while saving."""

    def load(self, run_key: str) -> RunManifest | None:
        """The manifest of ``run_key``, or None when there is none."""
        ...

    def save(self, manifest: RunManifest) -> None:
        """Store ``manifest`` under its run key, replacing any earlier one."""
        ...

    def delete(self, run_key: str) -> None:
        """Forget ``run_key`` (no error when it is unknown)."""
        ...


@runtime_checkable
class BatchResultStore(Protocol):
    """A store that also keeps the answers of items sent online (see the module docstring).
    Without it, a run sends no item online: its retries go into a follow-up job.

    Records are JSON objects; ``append_result`` must be durable when it returns, and
    ``load_results`` must skip a record cut short by a crash."""

    def append_result(self, run_key: str, record: Mapping[str, Any]) -> None:
        """Add one record to the run's results."""
        ...

    def load_results(self, run_key: str) -> list[dict[str, Any]]:
        """Every record of the run, in the order they were added (empty when none)."""
        ...


@runtime_checkable
class LockingStore(Protocol):
    """A store that can hold a run for one submitter at a time: two processes (or threads)
    running the same run at once then never both create its jobs. Without it, a run relies
    on looking a job up by its input file, which a job created a moment ago may escape."""

    def lock(self, run_key: str) -> contextlib.AbstractContextManager[None]:
        """Held while a run uploads and creates its jobs; blocks until it is free."""
        ...


def _encode_record(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _decode_records(data: bytes) -> list[dict[str, Any]]:
    records = []
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the tail of a write a crash cut short
        if isinstance(record, dict):
            records.append(record)
    return records


def _checked(run_key: str) -> str:
    # The key names a file: refuse anything that could walk out of the directory.
    if not _RUN_KEY.match(run_key):
        raise BatchManifestError(f"{run_key!r} is not a run key (8-64 lower-case hex digits).")
    return run_key


def default_store_dir() -> Path:
    """``$TOGETHER_BATCH_DIR``, else ``$XDG_CACHE_HOME/together-integrations/batches``, else
    ``~/.cache/together-integrations/batches``."""
    explicit = os.environ.get("TOGETHER_BATCH_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "together-integrations" / "batches"


class DirectoryStore:
    """One ``<run_key>.json`` per run in a directory (created on first save, mode 0700),
    ``<run_key>.online.jsonl`` beside it for the answers of items sent online, and an empty
    ``<run_key>.lock`` that one submitter at a time holds.

    Args:
        path: The directory (default: :func:`default_store_dir`).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_dir()

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.path)!r})"

    def _file(self, run_key: str) -> Path:
        return self.path / f"{_checked(run_key)}.json"

    def load(self, run_key: str) -> RunManifest | None:
        target = self._file(run_key)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            return None
        return RunManifest.from_json(data, source=str(target))

    def save(self, manifest: RunManifest) -> None:
        target = self._file(manifest.run_key)
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        manifest.updated_at = _now()
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=self.path)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(manifest.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _sync_directory(self.path)

    def delete(self, run_key: str) -> None:
        lock = self.path / f"{_checked(run_key)}.lock"
        for path in (self._file(run_key), self._results_file(run_key), lock):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @contextlib.contextmanager
    def lock(self, run_key: str) -> Iterator[None]:
        """An exclusive ``flock`` on ``<run_key>.lock`` (POSIX; other systems fall back to
        the lookup by input file). It is released when the process dies, so a crash never
        leaves a run locked."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path / f"{_checked(run_key)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _results_file(self, run_key: str) -> Path:
        return self.path / f"{_checked(run_key)}.online.jsonl"

    def append_result(self, run_key: str, record: Mapping[str, Any]) -> None:
        target = self._results_file(run_key)
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Answers are outputs: readable by the owner only, written in one call, synced.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, _encode_record(record))
            os.fsync(fd)
        finally:
            os.close(fd)

    def load_results(self, run_key: str) -> list[dict[str, Any]]:
        try:
            data = self._results_file(run_key).read_bytes()
        except FileNotFoundError:
            return []
        return _decode_records(data)

    def run_keys(self) -> list[str]:
        """The run keys stored here, sorted."""
        if not self.path.is_dir():
            return []
        return sorted(
            p.stem for p in self.path.glob("*.json") if _RUN_KEY.match(p.stem) is not None
        )


def _sync_directory(path: Path) -> None:
    # The rename is durable only once the directory entry is; not every platform allows it.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


class MemoryStore:
    """Manifests in a dict (one process only; for tests and short-lived runs)."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._results: dict[str, list[bytes]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def lock(self, run_key: str) -> Iterator[None]:
        """One submitter per run among this process's threads."""
        with self._guard:
            held = self._locks.setdefault(_checked(run_key), threading.Lock())
        with held:
            yield

    def load(self, run_key: str) -> RunManifest | None:
        data = self._data.get(_checked(run_key))
        return None if data is None else RunManifest.from_json(data)

    def save(self, manifest: RunManifest) -> None:
        manifest.updated_at = _now()
        self._data[_checked(manifest.run_key)] = manifest.to_json()

    def delete(self, run_key: str) -> None:
        self._data.pop(run_key, None)
        self._results.pop(run_key, None)

    def append_result(self, run_key: str, record: Mapping[str, Any]) -> None:
        self._results.setdefault(_checked(run_key), []).append(_encode_record(record))

    def load_results(self, run_key: str) -> list[dict[str, Any]]:
        return _decode_records(b"".join(self._results.get(_checked(run_key), [])))
