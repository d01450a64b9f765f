"""The manifest store: round trips, atomic replacement, refusals, the default directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from together_integrations.batch import BatchManifestError
from together_integrations.batch._store import (
    BatchResultStore,
    BatchStore,
    DirectoryStore,
    JobRecord,
    JobState,
    MemoryStore,
    RunManifest,
    default_store_dir,
)

KEY = "0123456789abcdef0123456789abcdef"


def manifest(state: JobState = JobState.PLANNED, **job: object) -> RunManifest:
    record = JobRecord(key="r0-0", spans=[(0, 3)], lines=3, size=120, sha256="ab" * 32, state=state)
    for name, value in job.items():
        setattr(record, name, value)
    return RunManifest(
        run_key=KEY,
        endpoint="/v1/chat/completions",
        inputs=3,
        max_lines=50_000,
        max_bytes=100_000_000,
        jobs=[record],
    )


@pytest.mark.parametrize("kind", ["directory", "memory"])
def test_a_manifest_round_trips(tmp_path: Path, kind: str) -> None:
    store: BatchStore = DirectoryStore(tmp_path / "runs") if kind == "directory" else MemoryStore()
    assert isinstance(store, BatchStore)
    assert store.load(KEY) is None
    saved = manifest(JobState.CREATED, file_id="file-1", batch_id="b-1")
    store.save(saved)
    loaded = store.load(KEY)
    assert loaded is not None and loaded.job("r0-0").batch_id == "b-1"
    assert loaded.job("r0-0").state is JobState.CREATED and loaded.job("r0-0").indices() == [
        0,
        1,
        2,
    ]
    store.delete(KEY)
    store.delete(KEY)  # forgetting twice is fine
    assert store.load(KEY) is None


def test_the_directory_holds_one_private_file_per_run(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "runs")
    store.save(manifest())
    store.save(manifest(JobState.UPLOADED, file_id="file-1"))
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [f"{KEY}.json"]
    assert store.run_keys() == [KEY]
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "runs" / f"{KEY}.json").stat().st_mode) == 0o600


def test_a_save_that_dies_leaves_the_old_manifest_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DirectoryStore(tmp_path)
    store.save(manifest(JobState.UPLOADED, file_id="file-1"))

    def crash(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        store.save(manifest(JobState.CREATE_SENT, file_id="file-1"))
    monkeypatch.undo()
    loaded = store.load(KEY)
    assert loaded is not None and loaded.job("r0-0").state is JobState.UPLOADED
    assert [p.name for p in tmp_path.iterdir()] == [f"{KEY}.json"]  # no temp file left


@pytest.mark.parametrize("key", ["../../etc/passwd", "ABCDEF0123", "short", ""])
def test_keys_that_are_not_run_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(BatchManifestError, match="not a run key"):
        DirectoryStore(tmp_path).load(key)


def test_an_unreadable_or_foreign_manifest_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / f"{KEY}.json").write_text("{not json")
    with pytest.raises(BatchManifestError, match="unreadable"):
        DirectoryStore(tmp_path).load(KEY)
    future = manifest()
    future.version = 99
    (tmp_path / f"{KEY}.json").write_bytes(future.to_json())
    with pytest.raises(BatchManifestError, match="version 99"):
        DirectoryStore(tmp_path).load(KEY)


def test_the_default_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_BATCH_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_store_dir() == tmp_path / "cache" / "together-integrations" / "batches"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert (
        DirectoryStore().path == tmp_path / "home" / ".cache" / "together-integrations" / "batches"
    )
    monkeypatch.setenv("TOGETHER_BATCH_DIR", str(tmp_path / "explicit"))
    assert DirectoryStore().path == tmp_path / "explicit"


@pytest.mark.parametrize("kind", ["directory", "memory"])
def test_results_are_kept_per_run_and_a_record_cut_short_is_skipped(
    tmp_path: Path, kind: str
) -> None:
    store: DirectoryStore | MemoryStore = (
        DirectoryStore(tmp_path) if kind == "directory" else MemoryStore()
    )
    assert isinstance(store, BatchResultStore) and store.load_results(KEY) == []
    store.append_result(KEY, {"index": 4, "body": {"text": "héllo"}})
    store.append_result(KEY, {"index": 9, "error": {"message": "boom", "code": "server_error"}})
    store.append_result("f" * 32, {"index": 0, "body": None})
    if kind == "directory":
        with open(tmp_path / f"{KEY}.online.jsonl", "ab") as out:
            out.write(b'{"index": 5, "bo')  # a crash mid-write
    assert store.load_results(KEY) == [
        {"index": 4, "body": {"text": "héllo"}},
        {"index": 9, "error": {"message": "boom", "code": "server_error"}},
    ]
    store.delete(KEY)
    assert store.load_results(KEY) == [] and len(store.load_results("f" * 32)) == 1
    with pytest.raises(BatchManifestError):
        store.append_result("../escape", {"index": 0})
