"""The online fallback: a few retryable items go through ``chat.create`` instead of a
follow-up job, their answers kept beside the manifest so a resumed run never re-sends them."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from together_integrations.batch import (
    BatchItemError,
    BatchRun,
    DirectoryStore,
    JobState,
    MemoryStore,
    RunManifest,
    plan_batch,
)
from together_integrations.resources.chat import Chat
from together_integrations.testing import TogetherEmulator, VirtualClock

from .conftest import answer, chat_requests, count, drive

BATCHES = "/v1/batches"
CHAT = "/v1/chat/completions"
FAILING = (3, 11, 17)


def failing_run(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: Any,
    n: int = 20,
    failing: tuple[int, ...] = FAILING,
    **kwargs: Any,
) -> BatchRun:
    plan = plan_batch(chat_requests(n))
    emu.batches.script(fail_items={plan.custom_ids[i]: "upstream timeout" for i in failing})
    transport = emu.transport(max_retries=0)  # an online 5xx is final at once
    return BatchRun(plan, transport=transport, store=store, clock=clock, poll_interval=60, **kwargs)


def test_a_few_retryable_items_go_online_once_and_land_at_their_positions(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    run = failing_run(emu, clock, store)
    results = drive(run, mode, "results")
    assert [answer(r) for r in results] == [f"You said: row {i}" for i in range(20)]
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", CHAT) == len(FAILING)
    online = run.manifest.online
    assert online is not None and online.indices() == list(FAILING)
    assert (online.state, online.succeeded, online.failed) == ("done", 3, 0)
    assert [j.key for j in run.manifest.jobs] == ["r0-0"]  # no follow-up job
    assert drive(run, mode, "status").finished


def test_the_answers_live_beside_the_manifest_never_in_it(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path, mode: str
) -> None:
    store = DirectoryStore(tmp_path / "runs")
    run = failing_run(emu, clock, store)
    drive(run, mode, "results")
    manifest = (tmp_path / "runs" / f"{run.run_key}.json").read_text()
    assert "You said" not in manifest and "row 3" not in manifest
    results_file = tmp_path / "runs" / f"{run.run_key}.online.jsonl"
    records = [json.loads(line) for line in results_file.read_text().splitlines()]
    assert [r["index"] for r in records] == list(FAILING)
    assert answer(records[0]["body"]) == "You said: row 3"
    assert stat.S_IMODE(results_file.stat().st_mode) == 0o600
    assert store.run_keys() == [run.run_key]
    store.delete(run.run_key)
    assert not results_file.exists()


def test_a_resumed_run_gives_the_online_answers_back_without_sending_them(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    run = failing_run(emu, clock, store)
    first = drive(run, mode, "results")
    before = len(emu.requests)
    again = BatchRun(plan_batch(chat_requests(20)), transport=emu.transport(), store=store)
    loaded = BatchRun.load(run.run_key, transport=emu.transport(), store=DirectoryStore(store.path))
    assert drive(again, mode, "results") == first
    assert drive(loaded, mode, "results") == first
    sent = [(r.method, r.path) for r in emu.requests[before:]]
    assert all(method == "GET" and path.endswith("/content") for method, path in sent), sent


class Killed(BaseException):
    """The process dies (not an API error: nothing catches it)."""


def test_a_run_killed_while_sending_online_sends_only_the_unanswered_items(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_create, real_acreate = Chat.create, Chat.acreate
    calls = [0]

    def dies_second(self: Chat, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise Killed
        return real_create(self, *args, **kwargs)

    async def adies_second(self: Chat, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise Killed
        return await real_acreate(self, *args, **kwargs)

    monkeypatch.setattr(Chat, "create", dies_second)
    monkeypatch.setattr(Chat, "acreate", adies_second)
    run = failing_run(emu, clock, store)
    with pytest.raises(Killed):
        drive(run, mode, "results")
    saved = store.load(run.run_key)
    assert saved is not None and saved.online is not None and saved.online.state == "sending"
    assert not drive(run, mode, "status").finished
    monkeypatch.undo()
    resumed = BatchRun.load(run.run_key, transport=emu.transport(), store=store, clock=clock)
    results = drive(resumed, mode, "results")
    assert [answer(r) for r in results] == [f"You said: row {i}" for i in range(20)]
    assert count(emu, "POST", CHAT) == len(FAILING)  # item 3 once, 11 and 17 once each
    assert count(emu, "POST", BATCHES) == 1


def test_online_failures_are_final_and_typed(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    def asks_for(row: str) -> Any:
        return lambda body: body.get("messages", [{}])[-1].get("content") == row

    emu.fail("status", status=400, message="Invalid temperature", when=asks_for("row 3"))
    emu.fail("status", status=503, message="Overloaded", when=asks_for("row 11"), times=None)
    run = failing_run(emu, clock, store)
    results = drive(run, mode, "results", return_exceptions=True)
    bad, busy = results[3], results[11]
    assert isinstance(bad, BatchItemError) and not bad.retryable
    assert (bad.status_code, bad.index, bad.batch_id) == (400, 3, None)
    assert "Invalid temperature" in bad.message
    assert bad.custom_id == plan_batch(chat_requests(20)).custom_ids[3]
    assert isinstance(busy, BatchItemError) and busy.retryable and busy.status_code == 503
    assert answer(results[17]) == "You said: row 17"
    online = run.manifest.online
    assert online is not None and (online.succeeded, online.failed) == (1, 2)
    assert count(emu, "POST", BATCHES) == 1  # no job for what failed online
    again = BatchRun.load(run.run_key, transport=emu.transport(), store=store, clock=clock)
    before = count(emu, "POST", CHAT)
    assert drive(again, mode, "results", return_exceptions=True) == results
    assert count(emu, "POST", CHAT) == before


@pytest.mark.parametrize(("threshold", "online"), [(3, True), (2, False), (0, False)])
def test_above_the_threshold_the_items_go_into_a_follow_up_job(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    threshold: int,
    online: bool,
) -> None:
    run = failing_run(emu, clock, store, online_fallback=threshold)
    results = run.results()
    assert [answer(r) for r in results] == [f"You said: row {i}" for i in range(20)]
    assert count(emu, "POST", CHAT) == (len(FAILING) if online else 0)
    assert count(emu, "POST", BATCHES) == (1 if online else 2)
    assert (run.manifest.online is not None) is online


class ManifestsOnly:
    """A store that keeps manifests but no results (the bare BatchStore protocol)."""

    def __init__(self) -> None:
        self._inner = MemoryStore()

    def load(self, run_key: str) -> RunManifest | None:
        return self._inner.load(run_key)

    def save(self, manifest: RunManifest) -> None:
        self._inner.save(manifest)

    def delete(self, run_key: str) -> None:
        self._inner.delete(run_key)


def test_a_store_that_cannot_keep_answers_uses_a_follow_up_job(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    run = failing_run(emu, clock, ManifestsOnly())
    assert len(run.results()) == 20
    assert count(emu, "POST", CHAT) == 0 and count(emu, "POST", BATCHES) == 2
    assert [j.state for j in run.manifest.jobs] == [JobState.DONE, JobState.DONE]


def test_online_fallback_is_a_count() -> None:
    plan = plan_batch(chat_requests(1))
    for bad, error in ((-1, ValueError), (True, TypeError), (2.5, TypeError)):
        with pytest.raises(error, match="online_fallback"):
            BatchRun(plan, transport=None, store=MemoryStore(), online_fallback=bad)  # type: ignore[arg-type]
