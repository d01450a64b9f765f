"""Mapping result lines back to inputs, and the retry rule."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from together_integrations.batch import (
    BatchItemError,
    BatchRun,
    DirectoryStore,
    JobState,
    MemoryStore,
    is_retryable,
    plan_batch,
)
from together_integrations.testing import TogetherEmulator, VirtualClock

from .conftest import answer, chat_requests, count, drive


def ok_line(custom_id: str, text: str) -> str:
    body = {"choices": [{"message": {"role": "assistant", "content": text}}]}
    return json.dumps({"custom_id": custom_id, "response": {"status_code": 200, "body": body}})


def error_line(custom_id: str, message: str, code: Any) -> str:
    return json.dumps({"custom_id": custom_id, "error": {"message": message, "code": code}})


def test_lines_map_back_by_custom_id_whatever_their_order() -> None:
    plan = plan_batch(chat_requests(50))
    run = BatchRun(plan, transport=None, store=MemoryStore())  # type: ignore[arg-type]
    job = run.manifest.jobs[0]
    job.state, job.status, job.batch_id = JobState.DONE, "COMPLETED", "b-1"
    ids = plan.custom_ids
    lines = [ok_line(ids[i], f"answer {i}") for i in range(50) if i not in (7, 8, 9)]
    lines.append(error_line(ids[7], "Invalid request: bad temperature", "invalid_request_error"))
    lines.append(error_line(ids[8], "Rate limit reached", "rate_limit"))
    lines.append(ok_line("someone-else", "not ours"))  # a foreign line is ignored
    lines.append(ok_line(ids[0] + "-r1", "a later round's line"))  # as is another round's
    lines.append(ok_line("5-" + "0" * 16, "right index, wrong hash"))  # and a lookalike
    lines.append(error_line(ids[1], "late duplicate", "server_error"))  # the success stands
    lines.append("")
    random.Random(3).shuffle(lines)
    found = run._outcome_of(job, lines)
    assert [answer(found[i]) for i in range(7)] == [f"answer {i}" for i in range(7)]
    bad, limited, missing = found[7], found[8], found[9]
    assert (
        isinstance(bad, BatchItemError)
        and not bad.retryable
        and bad.code == "invalid_request_error"
    )
    assert bad.message == "Invalid request: bad temperature" and bad.batch_id == "b-1"
    assert isinstance(limited, BatchItemError) and limited.retryable
    assert isinstance(missing, BatchItemError) and missing.code == "missing" and missing.retryable
    assert missing.custom_id == ids[9]
    assert (job.succeeded, job.failed) == (47, 3)


def test_a_non_2xx_response_line_is_an_item_error_with_its_status() -> None:
    plan = plan_batch(chat_requests(1))
    run = BatchRun(plan, transport=None, store=MemoryStore())  # type: ignore[arg-type]
    job = run.manifest.jobs[0]
    job.state, job.status = JobState.DONE, "COMPLETED"
    body = {"error": {"message": "upstream overloaded", "type": "server_error"}}
    line = json.dumps(
        {"custom_id": plan.custom_ids[0], "response": {"status_code": 503, "body": body}}
    )
    (error,) = run._outcome_of(job, [line]).values()
    assert isinstance(error, BatchItemError)
    assert (error.status_code, error.code, error.retryable) == (503, "server_error", True)
    assert error.message == "upstream overloaded" and error.body == body


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        ("server_error", None, "boom", True),
        ("rate_limit", None, "", True),
        ("batch_expired", None, "", True),
        ("batch_cancelled", None, "", True),
        ("missing", None, "", True),
        (None, 500, None, True),
        (None, 429, None, True),
        (None, 408, None, True),
        (504, None, None, True),
        ("invalid_request_error", None, "upstream timeout while loading", True),
        ("invalid_request_error", 400, "bad temperature", False),
        ("model_not_available", 404, "no such model", False),
        (None, None, None, False),
    ],
)
def test_the_retry_rule(code: Any, status: int | None, message: str | None, expected: bool) -> None:
    assert is_retryable(code, status, message) is expected


@pytest.mark.parametrize("retry", [True, False])
def test_an_item_in_neither_file_is_missing(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str, retry: bool
) -> None:
    emu.batches.script(duration=60)
    run = BatchRun(
        plan_batch(chat_requests(6)),
        transport=emu.transport(),
        store=store,
        clock=clock,
        retry=retry,
        online_fallback=0,
    )
    drive(run, mode, "submit")
    clock.advance(3600)
    assert drive(run, mode, "status").is_terminal
    (job,) = emu.batches
    stored = emu.files.get(str(job.output_file_id))
    assert stored is not None and stored.data is not None
    stored.data = b"".join(line + b"\n" for line in stored.data.splitlines() if b'"4-' not in line)
    results = drive(run, mode, "results", return_exceptions=True)
    if retry:
        assert answer(results[4]) == "You said: row 4" and count(emu, "POST", "/v1/batches") == 2
    else:
        assert isinstance(results[4], BatchItemError) and results[4].code == "missing"
        assert results[4].retryable and count(emu, "POST", "/v1/batches") == 1
    assert [answer(results[i]) for i in (0, 1, 2, 3, 5)] == [
        f"You said: row {i}" for i in (0, 1, 2, 3, 5)
    ]


def test_item_errors_compare_and_pickle() -> None:
    import pickle

    error = BatchItemError("boom", index=3, custom_id="3-abc", code="server_error", retryable=True)
    copy = pickle.loads(pickle.dumps(error))
    assert copy == error and copy.retryable and str(copy) == str(error)
    assert error != BatchItemError("boom", index=4, custom_id="3-abc", code="server_error")
