"""EmbeddingJournal: exact round trips, crash safety on disk, keys, sharing, the protocol.

The on-disk layout these tests cut into is the one documented in ``_journal``'s docstring:
an 8-byte magic, then frames of a 12-byte header and a body of two 32-byte digests, a dtype
byte and the values.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import threading
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from together_integrations import EmbeddingJournal, SupportsEmbeddingJournal
from together_integrations import _journal as journal_module
from together_integrations._embeddings import EmbeddingBatcher
from together_integrations._journal import (
    ResumePlan,
    check_journal,
    request_namespace,
    resolve_journal,
    text_digest,
)
from together_integrations.testing import TogetherEmulator

NS = request_namespace({"model": "BAAI/bge-base-en-v1.5"})
MAGIC = 8
HEADER = 12
FIXED = 65


def float32_exact(n: int, seed: int) -> list[float]:
    return array(
        "f", [((seed * 7919 + i * 104729) % 2001 - 1000) / 1024 for i in range(n)]
    ).tolist()


def float64_only(n: int, seed: int) -> list[float]:
    # Six decimals, as many servers print them: not representable in float32.
    return [round(((seed * 31 + i * 17) % 1999 - 999) / 1000.3, 6) for i in range(n)]


def frame_size(n: int, width: int) -> int:
    return HEADER + FIXED + n * width


def only_segment(path: Path) -> Path:
    (segment,) = sorted(path.glob("*.tej"))
    return segment


def test_vectors_come_back_bit_for_bit_in_float32_only_when_that_is_lossless(
    tmp_path: Path,
) -> None:
    narrow, wide = float32_exact(16, 1), float64_only(16, 2)
    assert array("f", wide).tolist() != wide  # the wide one really needs float64
    with EmbeddingJournal(tmp_path) as journal:
        journal.record(NS, [(text_digest("narrow"), narrow), (text_digest("wide"), wide)])
        assert journal.lookup(NS, [text_digest("narrow"), text_digest("wide")]) == [narrow, wide]
    reopened = EmbeddingJournal(tmp_path)
    got = reopened.lookup(NS, [text_digest("wide"), text_digest("narrow")])
    assert [struct.pack("<16d", *v) for v in got if v] == [
        struct.pack("<16d", *wide),
        struct.pack("<16d", *narrow),
    ]
    size = only_segment(tmp_path).stat().st_size
    assert size == MAGIC + frame_size(16, 4) + frame_size(16, 8)
    reopened.close()


def test_float32_precision_returns_what_it_stores(tmp_path: Path) -> None:
    wide = float64_only(16, 3)
    narrowed = array("f", wide).tolist()
    with EmbeddingJournal(tmp_path, precision="float32") as journal:
        assert journal.record(NS, [(text_digest("w"), wide)]) == [narrowed]
        assert journal.lookup(NS, [text_digest("w")]) == [narrowed]
    assert only_segment(tmp_path).stat().st_size == MAGIC + frame_size(16, 4)
    assert EmbeddingJournal(tmp_path).lookup(NS, [text_digest("w")]) == [narrowed]
    with pytest.raises(ValueError, match="precision"):
        EmbeddingJournal(tmp_path, precision="float16")  # type: ignore[arg-type]


def test_entries_are_keyed_by_namespace_and_text_digest(tmp_path: Path) -> None:
    other = request_namespace({"model": "BAAI/bge-base-en-v1.5", "dimensions": 256})
    with EmbeddingJournal(tmp_path) as journal:
        journal.record(NS, [(text_digest("a"), [1.0, 2.0])])
        journal.record(other, [(text_digest("a"), [3.0])])
        assert journal.lookup(NS, [text_digest("a"), text_digest("b")]) == [[1.0, 2.0], None]
        assert journal.lookup(other, [text_digest("a")]) == [[3.0]]
        assert len(journal) == 2
    data = only_segment(tmp_path).read_bytes()
    assert b"BAAI" not in data  # the namespace is a digest, the text too
    assert text_digest("a") in data


def test_namespace_covers_every_request_field_but_input() -> None:
    base = {"model": "m", "input": ["x"]}
    assert request_namespace(base) == request_namespace({"model": "m", "input": ["other"]})
    assert request_namespace(base) == request_namespace({"input": "z", "model": "m"})
    variants = [
        {"model": "m2"},
        {"model": "m", "dimensions": 256},
        {"model": "m", "input_type": "query"},
        {"model": "m", "dimensions": 512},
    ]
    names = {request_namespace(v) for v in variants} | {request_namespace(base)}
    assert len(names) == len(variants) + 1


def write_three(path: Path) -> list[list[float]]:
    vectors = [float64_only(8, i) for i in range(3)]
    with EmbeddingJournal(path) as journal:
        journal.record(NS, [(text_digest(f"t{i}"), v) for i, v in enumerate(vectors[:2])])
        journal.record(NS, [(text_digest("t2"), vectors[2])])
    return vectors


FRAME = frame_size(8, 8)


def tear(segment: Path, how: str) -> None:
    data = bytearray(segment.read_bytes())
    last = MAGIC + 2 * FRAME
    if how == "cut_in_header":
        del data[last + 5 :]
    elif how == "cut_in_body":
        del data[-3:]
    elif how == "zero_filled_tail":  # what some filesystems leave after a crash
        data[last:] = bytes(len(data) - last)
    elif how == "flipped_header_byte":
        data[last + 1] ^= 0x40
    segment.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how", ["cut_in_header", "cut_in_body", "zero_filled_tail", "flipped_header_byte"]
)
def test_a_torn_or_damaged_last_record_is_ignored_and_the_rest_is_kept(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = write_three(tmp_path)
    tear(only_segment(tmp_path), how)
    with caplog.at_level(logging.WARNING, "together_integrations"):
        journal = EmbeddingJournal(tmp_path)
    assert "ignored the last" in caplog.text
    found = journal.lookup(NS, [text_digest(f"t{i}") for i in range(3)])
    assert found == [vectors[0], vectors[1], None]
    # Re-fetched, it is recorded in a fresh segment and found by the next process.
    journal.record(NS, [(text_digest("t2"), vectors[2])])
    journal.close()
    assert EmbeddingJournal(tmp_path).lookup(NS, [text_digest("t2")]) == [vectors[2]]


def test_a_damaged_length_ends_the_scan_instead_of_reading_out_of_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = write_three(tmp_path)
    segment = only_segment(tmp_path)
    data = bytearray(segment.read_bytes())
    data[MAGIC + FRAME] ^= 0x04  # t1's length, still within the file: frames would misalign
    segment.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, "together_integrations"):
        journal = EmbeddingJournal(tmp_path)
    assert f"ignored the last {2 * FRAME} bytes" in caplog.text
    assert len(journal) == 1  # no entries made up from misread bytes
    found = journal.lookup(NS, [text_digest(f"t{i}") for i in range(3)])
    assert found == [vectors[0], None, None]
    journal.close()


def test_a_damaged_body_is_a_miss_never_a_wrong_vector(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = write_three(tmp_path)
    segment = only_segment(tmp_path)
    data = bytearray(segment.read_bytes())
    data[MAGIC + FRAME + HEADER + FIXED + 3] ^= 0x01  # one bit of t1's first value
    segment.write_bytes(bytes(data))
    journal = EmbeddingJournal(tmp_path)
    with caplog.at_level(logging.WARNING, "together_integrations"):
        found = journal.lookup(NS, [text_digest(f"t{i}") for i in range(3)])
    assert found == [vectors[0], None, vectors[2]]
    assert "damaged record" in caplog.text
    fixed = [v + 1 for v in vectors[1]]
    journal.record(NS, [(text_digest("t1"), fixed)])
    journal.close()
    # The later, intact record wins over the damaged one.
    assert EmbeddingJournal(tmp_path).lookup(NS, [text_digest("t1")]) == [fixed]


def test_a_failed_write_is_never_followed_by_good_frames_in_the_same_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = EmbeddingJournal(tmp_path)
    journal.record(NS, [(text_digest("before"), [1.0])])
    real_write = os.write
    calls = {"n": 0}

    def half_then_fail(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(journal_module.os, "write", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        journal.record(NS, [(text_digest("lost"), float64_only(32, 1))])
    journal.record(NS, [(text_digest("after"), [2.0])])
    monkeypatch.undo()
    journal.close()
    assert len(list(tmp_path.glob("*.tej"))) == 2
    again = EmbeddingJournal(tmp_path)
    digests = [text_digest(t) for t in ("before", "lost", "after")]
    assert again.lookup(NS, digests) == [[1.0], None, [2.0]]


def test_every_writer_has_its_own_segment_and_a_new_reader_sees_all(tmp_path: Path) -> None:
    first, second = EmbeddingJournal(tmp_path), EmbeddingJournal(tmp_path)
    first.record(NS, [(text_digest("one"), [1.0])])
    second.record(NS, [(text_digest("two"), [2.0])])
    assert len(list(tmp_path.glob("*.tej"))) == 2
    assert first.lookup(NS, [text_digest("two")]) == [None]  # scanned before it existed
    reader = EmbeddingJournal(tmp_path)
    assert reader.lookup(NS, [text_digest("one"), text_digest("two")]) == [[1.0], [2.0]]
    for journal in (first, second, reader):
        journal.close()


def test_a_new_directory_gets_no_file_until_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "journal"
    journal = EmbeddingJournal(path)
    assert path.is_dir() and list(path.iterdir()) == []
    journal.record(NS, [])
    assert list(path.iterdir()) == []
    journal.close()
    with pytest.raises(ValueError, match="closed"):
        journal.lookup(NS, [text_digest("x")])
    (tmp_path / "a-file").write_text("")
    with pytest.raises(NotADirectoryError, match="a journal is a directory"):
        EmbeddingJournal(tmp_path / "a-file")


def test_threads_recording_at_once_lose_nothing(tmp_path: Path) -> None:
    journal = EmbeddingJournal(tmp_path, fsync=False)

    def work(worker: int) -> None:
        for i in range(40):
            journal.record(NS, [(text_digest(f"{worker}-{i}"), [float(worker), float(i)])])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    reopened = EmbeddingJournal(tmp_path)
    digests = [text_digest(f"{w}-{i}") for w in range(6) for i in range(40)]
    assert reopened.lookup(NS, digests) == [
        [float(w), float(i)] for w in range(6) for i in range(40)
    ]


def test_a_pickled_journal_reopens_its_directory(tmp_path: Path) -> None:
    journal = EmbeddingJournal.open(tmp_path)
    journal.record(NS, [(text_digest("kept"), [0.5])])
    assert EmbeddingJournal.open(str(tmp_path)) is journal  # one per directory and process
    copy = pickle.loads(pickle.dumps(journal))
    assert copy.path == journal.path
    assert copy.lookup(NS, [text_digest("kept")]) == [[0.5]]
    journal.close()
    fresh = EmbeddingJournal.open(tmp_path)  # a closed one is not handed out again
    assert fresh is not journal and fresh.lookup(NS, [text_digest("kept")]) == [[0.5]]
    fresh.close()


def test_journal_arguments_are_checked_without_io(tmp_path: Path) -> None:
    target = tmp_path / "not-yet"
    assert check_journal(str(target)) == str(target.absolute())
    assert check_journal(Path("relative")) == str(Path("relative").absolute())
    assert not target.exists()
    for bad in (3, b"bytes", ""):
        with pytest.raises(TypeError, match="journal must be"):
            check_journal(bad)
    options = {"path": "rel", "precision": "float32", "fsync": False}
    assert check_journal(options) == {**options, "path": str(Path("rel").absolute())}
    for bad_options in ({"path": "x", "compress": True}, {"fsync": False}):
        with pytest.raises(ValueError, match="takes 'path'"):
            check_journal(bad_options)
    with pytest.raises(ValueError, match="precision"):
        check_journal({"path": "x", "precision": "half"})
    store = DictJournal()
    assert check_journal(store) is store and resolve_journal(store) is store
    assert resolve_journal(None) is None


def test_plan_sends_each_missing_text_once_and_gives_every_position_its_own_list() -> None:
    store = DictJournal()
    store.record(NS, [(text_digest("known"), [9.0])])
    plan = ResumePlan.start(store, NS, ["new", "known", "new", "other", "known"])
    assert plan.todo == ["new", "other"]
    assert plan.hits == 3
    out = plan.finish([[1.0], [2.0]])
    assert out == [[1.0], [9.0], [1.0], [2.0], [9.0]]
    assert out[0] is not out[2] and out[1] is not out[4]


class DictJournal:
    """A journal kept in a dict: what a plug-in (a database, an object store) looks like."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, bytes], list[float]] = {}
        self.lookups = 0

    def lookup(self, namespace: str, digests: Sequence[bytes]) -> list[list[float] | None]:
        self.lookups += 1
        return [self.data.get((namespace, d)) for d in digests]

    def record(self, namespace: str, entries: Sequence[tuple[bytes, Sequence[float]]]) -> None:
        for digest, vector in entries:
            self.data[(namespace, digest)] = list(vector)


def test_a_plug_in_journal_resumes_the_batcher(mode: str) -> None:
    store = DictJournal()
    assert isinstance(store, SupportsEmbeddingJournal)
    emu = TogetherEmulator()
    batcher = EmbeddingBatcher(
        emu.transport(max_retries=0), "BAAI/bge-base-en-v1.5", batch_size=2, journal=store
    )

    def embed(texts: list[str]) -> list[list[float]]:
        if mode == "sync":
            return batcher.embed(texts)
        import asyncio

        return asyncio.run(batcher.aembed(texts))

    first = embed(["a", "b", "c"])
    assert len(store.data) == 3
    emu.reset()
    assert embed(["c", "d", "a"]) == [first[2], embed(["d"])[0], first[0]]
    assert [r.body["input"] for r in emu.requests] == [["d"]]  # the last call hit the store


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_reads_and_writes_through_files_of_its_own(tmp_path: Path) -> None:
    # multiprocessing's fork start method hands workers the parent's open journal.
    journal = EmbeddingJournal(tmp_path)
    journal.record(NS, [(text_digest("parent-1"), [1.0])])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        try:
            seen = journal.lookup(NS, [text_digest("parent-1")]) == [[1.0]]
            journal.record(NS, [(text_digest("child"), [2.0])])
            os._exit(0 if seen else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    journal.record(NS, [(text_digest("parent-2"), [3.0])])
    journal.close()
    assert len(list(tmp_path.glob("*.tej"))) == 2  # the child never appended to ours
    digests = [text_digest(t) for t in ("parent-1", "child", "parent-2")]
    assert EmbeddingJournal(tmp_path).lookup(NS, digests) == [[1.0], [2.0], [3.0]]


def test_many_segments_are_read_with_a_bounded_number_of_open_files(tmp_path: Path) -> None:
    runs = journal_module._MAX_READERS + 8  # one segment per (crashed) run
    for run in range(runs):
        with EmbeddingJournal(tmp_path) as journal:
            journal.record(NS, [(text_digest(f"run {run}"), [float(run)])])
    fds = Path("/proc/self/fd")
    before = len(list(fds.iterdir())) if fds.is_dir() else 0
    journal = EmbeddingJournal(tmp_path)
    digests = [text_digest(f"run {run}") for run in range(runs)]
    assert journal.lookup(NS, digests) == [[float(run)] for run in range(runs)]
    assert journal.lookup(NS, digests[:3]) == [[0.0], [1.0], [2.0]]  # closed ones reopen
    if fds.is_dir():
        assert len(list(fds.iterdir())) - before <= journal_module._MAX_READERS
    journal.close()


def test_concurrent_calls_send_a_shared_text_once(tmp_path: Path) -> None:
    import asyncio

    emu = TogetherEmulator()
    batcher = EmbeddingBatcher(
        emu.transport(max_retries=0), "BAAI/bge-base-en-v1.5", batch_size=2, journal=tmp_path
    )

    async def both() -> list[list[list[float]]]:
        return await asyncio.gather(
            batcher.aembed(["shared", "first only", "also shared"]),
            batcher.aembed(["also shared", "second only", "shared"]),
        )

    first, second = asyncio.run(both())
    inputs = [t for r in emu.requests for t in r.body["input"]]
    assert sorted(inputs) == ["also shared", "first only", "second only", "shared"]
    assert (first[0], first[2]) == (second[2], second[0])


def test_when_the_call_fetching_a_text_fails_a_waiting_call_sends_it(tmp_path: Path) -> None:
    import asyncio

    from together_integrations import InternalServerError

    emu = TogetherEmulator()
    emu.fail("status", status=500, when=lambda body: "shared" in body.get("input", []))
    batcher = EmbeddingBatcher(
        emu.transport(max_retries=0), "BAAI/bge-base-en-v1.5", batch_size=2, journal=tmp_path
    )

    async def both() -> list[Any]:
        return await asyncio.gather(
            batcher.aembed(["shared", "first only"]),
            batcher.aembed(["second only", "shared"]),
            return_exceptions=True,
        )

    results = asyncio.run(both())
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], InternalServerError)
    (ok,) = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == 2 and all(ok)
    shared_sends = [r for r in emu.requests if "shared" in r.body["input"]]
    assert len(shared_sends) == 2  # the failed one, then the waiter's own
    reference = EmbeddingBatcher(TogetherEmulator().transport(), "BAAI/bge-base-en-v1.5")
    shared_at = results.index(ok)  # "shared" is first in call 0 and second in call 1
    assert ok[shared_at] == reference.embed(["shared"])[0]
