"""BatchRun on the in-process emulator and virtual time, each test over the sync and the
async twins: request counts, order, partial failure, expiry, all-error and failed jobs,
cancellation, resuming, and what the manifest may hold."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from together_integrations import APIConnectionError, BadRequestError, JobTimeoutError
from together_integrations.batch import (
    BatchItemError,
    BatchJobFailedError,
    BatchLimits,
    BatchManifestError,
    BatchResultsError,
    BatchRun,
    BatchRunNotFoundError,
    BatchRunStatus,
    DirectoryStore,
    JobState,
    MemoryStore,
    plan_batch,
)
from together_integrations.resources.batches import Batches
from together_integrations.testing import TogetherEmulator, VirtualClock

from .conftest import MODEL, answer, chat_requests, count, drive

BATCHES = "/v1/batches"
CHAT = "/v1/chat/completions"


def make_run(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    requests: list[dict[str, Any]],
    **kwargs: Any,
) -> BatchRun:
    kwargs.setdefault("poll_interval", 60)
    return BatchRun(
        plan_batch(requests), transport=emu.transport(), store=store, clock=clock, **kwargs
    )


def test_1000_inputs_take_fewer_than_10_requests_and_come_back_in_input_order(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    emu.batches.script(duration=120)
    run = make_run(emu, clock, store, chat_requests(1000))
    results = drive(run, mode, "results")
    assert len(emu.requests) < 10, [(r.method, r.path) for r in emu.requests]
    assert [answer(r) for r in results] == [f"You said: row {i}" for i in range(1000)]
    (job,) = emu.batches
    assert job.output_file_id is not None
    output = emu.files.get(job.output_file_id)
    assert output is not None and output.data is not None
    served = [json.loads(line)["custom_id"] for line in output.data.splitlines()]
    assert served != sorted(served, key=lambda c: int(c.split("-")[0]))  # really shuffled
    manifest = run.manifest
    assert [j.state for j in manifest.jobs] == [JobState.DONE]
    assert (manifest.jobs[0].succeeded, manifest.jobs[0].failed) == (1000, 0)


def test_partial_failure_retries_the_retryable_once_and_types_the_rest(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    requests = chat_requests(20)
    requests[5]["model"] = "nobody/no-such-model"  # not retryable: the model does not exist
    plan = plan_batch(requests)
    emu.batches.script(
        fail_items={plan.custom_ids[3]: "upstream timeout", plan.custom_ids[11]: "boom"}
    )
    run = BatchRun(
        plan,
        transport=emu.transport(),
        store=store,
        clock=clock,
        poll_interval=60,
        online_fallback=0,  # the follow-up job path, whatever the count
    )
    results = drive(run, mode, "results", return_exceptions=True)
    assert count(emu, "POST", BATCHES) == 2  # the first job and one follow-up
    follow_up = run.manifest.jobs[1]
    assert follow_up.round == 1 and follow_up.indices() == [3, 11]
    error = results[5]
    assert isinstance(error, BatchItemError) and not error.retryable
    assert error.code == "model_not_available" and "nobody/no-such-model" in error.message
    assert error.index == 5 and error.custom_id == plan.custom_ids[5]
    assert [answer(results[i]) for i in (3, 11)] == ["You said: row 3", "You said: row 11"]
    assert all(not isinstance(r, BatchItemError) for i, r in enumerate(results) if i != 5)


def test_without_retry_retryable_failures_come_back_as_retryable_errors(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    plan = plan_batch(chat_requests(6))
    emu.batches.script(fail_items={plan.custom_ids[2]: "upstream timeout"})
    run = BatchRun(plan, transport=emu.transport(), store=store, clock=clock, retry=False)
    with pytest.raises(BatchResultsError) as info:
        drive(run, mode, "results")
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", CHAT) == 0  # nor online
    err = info.value
    assert (
        list(err.errors) == [2] and err.errors[2].retryable and err.errors[2].code == "server_error"
    )
    assert err.errors[2].message == "upstream timeout" and err.results[2] is err.errors[2]
    assert [answer(err.results[i]) for i in (0, 1, 3, 4, 5)] == [
        f"You said: row {i}" for i in (0, 1, 3, 4, 5)
    ]


@pytest.mark.parametrize("retry", [True, False])
def test_a_job_that_expires_at_60_percent(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str, retry: bool
) -> None:
    emu.batches.script(outcome="expired", expire_at=0.6, duration=1000)
    run = make_run(emu, clock, store, chat_requests(100), retry=retry)
    results = drive(run, mode, "results", return_exceptions=True)
    first = run.manifest.jobs[0]
    assert first.status == "EXPIRED" and (first.succeeded, first.failed) == (60, 40)
    failed = [r for r in results if isinstance(r, BatchItemError)]
    if retry:
        assert count(emu, "POST", BATCHES) == 2 and run.manifest.jobs[1].lines == 40
        assert failed == [] and [answer(r) for r in results] == [
            f"You said: row {i}" for i in range(100)
        ]
    else:
        assert count(emu, "POST", BATCHES) == 1
        assert len(failed) == 40 and all(e.code == "batch_expired" and e.retryable for e in failed)


def test_an_all_error_job_with_no_output_file(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    run = make_run(emu, clock, store, chat_requests(8, model="nobody/no-such-model"))
    results = drive(run, mode, "results", return_exceptions=True)
    (job,) = run.manifest.jobs
    assert job.output_file_id is None and job.error_file_id is not None
    assert all(isinstance(r, BatchItemError) and r.code == "model_not_available" for r in results)
    assert [r.index for r in results] == list(range(8))
    assert count(emu, "POST", BATCHES) == 1  # nothing retryable: no follow-up


def test_a_job_that_fails_as_a_whole_gives_its_reason_at_every_position(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    # The catalog would refuse this model while planning: let the server judge it.
    plan = plan_batch(chat_requests(4, model="deepseek-ai/DeepSeek-R1"), check_models=False)
    run = BatchRun(plan, transport=emu.transport(), store=store, clock=clock, poll_interval=60)
    with pytest.raises(BatchResultsError) as info:
        drive(run, mode, "results")
    errors = info.value.errors
    assert sorted(errors) == [0, 1, 2, 3]
    for error in errors.values():
        assert isinstance(error, BatchJobFailedError) and not error.retryable
        assert error.status == "FAILED" and error.reason is not None
        assert "not available for batch" in error.reason and error.batch_id
    assert run.manifest.jobs[0].state is JobState.FAILED
    assert count(emu, "POST", BATCHES) == 1


def test_many_jobs_one_progress_and_the_same_run_found_again(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    emu.batches.script(duration=600, times=None)
    requests = chat_requests(30)
    plan = plan_batch(requests, limits=BatchLimits(max_lines=10))
    run = BatchRun(plan, transport=emu.transport(), store=store, clock=clock, poll_interval=60)
    seen: list[BatchRunStatus] = []
    status = drive(run, mode, "wait", on_progress=seen.append)
    assert status.finished and len(status.batch_ids) == 3
    fractions = [s.progress_fraction or 0.0 for s in seen]
    assert (
        fractions == sorted(fractions)
        and fractions[-1] == 1.0
        and 0 < fractions[len(fractions) // 2] < 1
    )
    results = drive(run, mode, "results")
    # the same inputs, run again (another object, the same store): nothing is sent again
    before = len(emu.requests)
    again = BatchRun(
        plan_batch(requests, limits=BatchLimits(max_lines=10)),
        transport=emu.transport(),
        store=store,
        clock=clock,
    )
    assert again.run_key == run.run_key
    assert drive(again, mode, "results") == results
    sent = [(r.method, r.path) for r in emu.requests[before:]]
    assert (
        all(method == "GET" and path.endswith("/content") for method, path in sent)
        and len(sent) == 3
    )


def test_load_resumes_from_the_store_alone(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    requests = chat_requests(12)
    run = make_run(emu, clock, store, requests)
    drive(run, mode, "submit")
    other = BatchRun.load(
        run.run_key, store=DirectoryStore(store.path), transport=emu.transport(), clock=clock
    )
    assert drive(other, mode, "status").jobs[0].state is JobState.CREATED
    assert [answer(r) for r in drive(other, mode, "results")] == [
        f"You said: row {i}" for i in range(12)
    ]
    assert count(emu, "POST", BATCHES) == 1
    with pytest.raises(BatchRunNotFoundError):
        BatchRun.load("f" * 32, store=store, transport=emu.transport())


def test_a_loaded_run_rebuilds_its_follow_up_from_its_own_input_files(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    emu.batches.script(outcome="expired", expire_at=0.5, duration=100)
    run = make_run(emu, clock, store, chat_requests(10), online_fallback=0)
    drive(run, mode, "submit")
    input_file = run.manifest.jobs[0].file_id
    loaded = BatchRun.load(run.run_key, store=store, transport=emu.transport(), clock=clock)
    results = drive(loaded, mode, "results")
    assert [answer(r) for r in results] == [f"You said: row {i}" for i in range(10)]
    assert count(emu, "GET", f"/v1/files/{input_file}/content") == 1
    assert count(emu, "POST", BATCHES) == 2


def test_a_plan_that_is_never_uploaded_cannot_resume_without_its_requests(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    run = make_run(emu, clock, store, chat_requests(3))
    loaded = BatchRun.load(run.run_key, store=store, transport=emu.transport(), clock=clock)
    with pytest.raises(BatchManifestError, match="never uploaded"):
        drive(loaded, mode, "submit")


def test_cancel_keeps_what_finished_and_submits_nothing_more(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    emu.batches.script(duration=1000, validating=0)
    run = make_run(emu, clock, store, chat_requests(10), poll_interval=60)
    drive(run, mode, "submit")
    clock.advance(450)  # 4 of 10 lines done
    status = drive(run, mode, "cancel")
    assert status.finished and status.jobs[0].status == "CANCELLED"
    results = drive(run, mode, "results", return_exceptions=True)
    done = [r for r in results if not isinstance(r, BatchItemError)]
    cancelled = [r for r in results if isinstance(r, BatchItemError)]
    assert len(done) == 4 and len(cancelled) == 6
    assert all(e.code == "batch_cancelled" and e.retryable for e in cancelled)
    assert count(emu, "POST", BATCHES) == 1  # a cancelled run is not resubmitted


def test_a_create_cut_after_sending_is_adopted_not_sent_twice(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_create, real_acreate = Batches.create, Batches.acreate

    def cut(self: Batches, *args: Any, **kwargs: Any) -> Any:
        real_create(self, *args, **kwargs)
        raise APIConnectionError("The connection broke after the request was sent.")

    async def acut(self: Batches, *args: Any, **kwargs: Any) -> Any:
        await real_acreate(self, *args, **kwargs)
        raise APIConnectionError("The connection broke after the request was sent.")

    monkeypatch.setattr(Batches, "create", cut)
    monkeypatch.setattr(Batches, "acreate", acut)
    run = make_run(emu, clock, store, chat_requests(5))
    with pytest.raises(APIConnectionError):
        drive(run, mode, "submit")
    assert (
        run.manifest.jobs[0].state is JobState.CREATE_SENT and run.manifest.jobs[0].batch_id is None
    )
    monkeypatch.undo()
    results = drive(run, mode, "results")
    assert (
        len(results) == 5 and count(emu, "POST", BATCHES) == 1 and count(emu, "GET", BATCHES) == 1
    )


def test_a_refused_create_can_be_sent_again(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    emu.fail(
        "status", status=400, message="Invalid request", when=lambda body: "input_file_id" in body
    )
    run = make_run(emu, clock, store, chat_requests(3))
    with pytest.raises(BadRequestError):
        drive(run, mode, "submit")
    assert run.manifest.jobs[0].state is JobState.UPLOADED  # a 4xx made no job
    assert len(drive(run, mode, "results")) == 3 and count(emu, "POST", BATCHES) == 2


def test_a_wait_that_runs_out_resumes(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    emu.batches.script(duration=3600)
    run = make_run(emu, clock, store, chat_requests(3))
    with pytest.raises(JobTimeoutError) as info:
        drive(run, mode, "wait", timeout=600)
    assert info.value.job_id == run.run_key
    assert not drive(run, mode, "status").finished
    assert len(drive(run, mode, "results")) == 3


def test_the_manifest_holds_no_prompt_output_or_key(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path, mode: str
) -> None:
    store = DirectoryStore(tmp_path / "runs")
    key = "tgp_v1_" + "k" * 40
    emu.api_key = key
    run = BatchRun(
        plan_batch(chat_requests(5, prefix="confidential prompt")),
        transport=emu.transport(api_key=key),
        store=store,
        clock=clock,
        poll_interval=60,
    )
    assert answer(drive(run, mode, "results")[0]) == "You said: confidential prompt 0"
    (path,) = (tmp_path / "runs").glob("*.json")
    (lock,) = (tmp_path / "runs").glob("*.lock")
    assert lock.read_bytes() == b""  # only a lock: nothing written in it
    text = path.read_text()
    assert "confidential" not in text and "You said" not in text and key not in text
    assert "kkkk" not in repr(run) and "confidential" not in repr(run)
    assert json.loads(text)["jobs"][0]["batch_id"]


def test_a_stored_run_that_does_not_match_the_requests_is_refused(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore
) -> None:
    requests = chat_requests(4)
    run = make_run(emu, clock, store, requests)
    manifest = run.manifest
    manifest.jobs[0].sha256 = "0" * 64
    store.save(manifest)
    with pytest.raises(BatchManifestError, match="does not match"):
        make_run(emu, clock, store, requests)


def test_an_empty_run_has_nothing_to_do(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    assert drive(make_run(emu, clock, store, []), mode, "results") == []
    assert emu.requests == []


def test_model_id_is_sent_with_the_create(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore
) -> None:
    make_run(emu, clock, store, chat_requests(2)).submit()
    (create,) = [r for r in emu.requests if r.method == "POST" and r.path == BATCHES]
    assert create.body["model_id"] == MODEL and create.body["endpoint"] == "/v1/chat/completions"


def test_show_progress_draws_one_bar_over_every_request(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    mode: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu.batches.script(duration=600, times=None)
    plan = plan_batch(chat_requests(25), limits=BatchLimits(max_lines=10))
    run = BatchRun(plan, transport=emu.transport(), store=store, clock=clock, poll_interval=60)
    drive(run, mode, "results", show_progress=True)
    err = capsys.readouterr().err
    assert "Batch" in err and "25/25" in err and "3/3 jobs ended" in err


def test_show_progress_without_tqdm_says_what_to_install(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    run = make_run(emu, clock, store, chat_requests(2))
    with pytest.raises(ImportError, match="pip install tqdm"):
        run.wait(show_progress=True)
    assert emu.requests == []  # refused before anything was sent


@pytest.mark.parametrize("store_kind", ["directory", "memory"])
def test_two_submitters_of_the_same_run_create_its_job_once(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path, mode: str, store_kind: str
) -> None:
    # Two processes (here threads, or tasks) start the same run at the same moment; the
    # create is slow, so without a lock both would be past the lookup before either saved.
    emu.fail("slow_first_byte", delay=0.3, when=lambda body: "input_file_id" in body, times=None)
    memory = MemoryStore()

    def new_run() -> BatchRun:
        store = DirectoryStore(tmp_path / "runs") if store_kind == "directory" else memory
        return BatchRun(
            plan_batch(chat_requests(4)), transport=emu.transport(), store=store, clock=clock
        )

    if mode == "sync":
        runs = [new_run(), new_run()]
        threads = [threading.Thread(target=run.submit) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:

        async def both() -> None:
            await asyncio.gather(new_run().asubmit(), new_run().asubmit())

        asyncio.run(both())
    assert count(emu, "POST", "/v1/batches") == 1
    assert len(list(emu.batches)) == 1
