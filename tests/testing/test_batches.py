"""Batches on virtual time: lifecycle, lines through the emulator's own handlers, output and
error files, scripted outcomes, cancel, input limits and the spec's ``{"error": "..."}``."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from together_integrations.testing import TogetherEmulator, VirtualClock
from together_integrations.testing.emulator.wire import iso_seconds

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
OSS = "openai/gpt-oss-20b"
CHAT = "/v1/chat/completions"
JOB_KEYS = {
    "id",
    "user_id",
    "input_file_id",
    "file_size_bytes",
    "status",
    "job_deadline",
    "created_at",
    "endpoint",
    "progress",
    "model_id",
    "output_file_id",
    "error_file_id",
    "error",
    "completed_at",
}


def line(custom_id: str, text: str = "hi", model: str = LLAMA, **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "body": {"model": model, "messages": [{"role": "user", "content": text}], **body},
    }


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def read_jsonl(client: httpx.Client, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    r = client.get(f"/files/{file_id}/content")
    assert r.status_code == 200
    return [json.loads(x) for x in r.text.splitlines()]


def start(
    emu: TogetherEmulator, client: httpx.Client, items: list[dict[str, Any]], **body: Any
) -> dict[str, Any]:
    stored = emu.files.create(jsonl(items), filename="batch.jsonl")
    r = client.post("/batches", json={"endpoint": CHAT, "input_file_id": stored.id, **body})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def get(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    r = client.get(f"/batches/{batch_id}")
    assert r.status_code == 200
    job: dict[str, Any] = r.json()
    return job


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


def test_the_lifecycle_with_rising_progress(emu: TogetherEmulator, clock: VirtualClock) -> None:
    items = [line(f"req-{i}", f"question {i}") for i in range(20)]
    emu.batches.script(validating=10, duration=100)
    with emu.http_client() as client:
        created = start(emu, client, items)
        assert set(created) == {"job"}  # a discounted model: no warning
        job = created["job"]
        assert set(job) == JOB_KEYS and job["status"] == "VALIDATING" and job["progress"] == 0
        assert job["created_at"] == "2027-01-15T08:00:00Z"
        assert job["job_deadline"] == "2027-01-16T08:00:00Z"
        assert job["completed_at"] is None and job["output_file_id"] is None
        assert job["model_id"] == LLAMA and job["file_size_bytes"] == len(jsonl(items))
        clock.advance(9)
        assert get(client, job["id"])["status"] == "VALIDATING"
        seen: list[float] = []
        for _ in range(9):
            clock.advance(10)
            current = get(client, job["id"])
            assert current["status"] == "IN_PROGRESS"
            seen.append(current["progress"])
        # 9, 19, … 89 s into the 100 s run; a line finishes every 5 s.
        assert seen == [5.0, 15.0, 25.0, 35.0, 45.0, 55.0, 65.0, 75.0, 85.0]
        clock.advance(10)
        assert get(client, job["id"])["progress"] == 95.0  # 109 s: one line left
        clock.advance(1)
        done = get(client, job["id"])
        output = read_jsonl(client, done["output_file_id"])
    assert done["status"] == "COMPLETED" and done["progress"] == 100.0
    assert done["completed_at"] == iso_seconds(1_800_000_110) and done["error_file_id"] is None
    assert sorted(o["custom_id"] for o in output) == sorted(i["custom_id"] for i in items)
    assert [o["custom_id"] for o in output] != [i["custom_id"] for i in items]  # shuffled
    for out in output:
        assert set(out) == {"custom_id", "response"}
        assert out["response"]["status_code"] == 200
        answer = out["response"]["body"]
        assert answer["object"] == "chat.completion"
        number = out["custom_id"].split("-")[1]
        assert answer["choices"][0]["message"]["content"] == f"You said: question {number}"
    assert emu.requests[-1].path.endswith("/content")  # batch lines are not client requests


def test_the_shuffle_is_seeded() -> None:
    orders = []
    for _ in range(2):
        emu = TogetherEmulator(seed=3)
        with emu.http_client() as client:
            job = start(emu, client, [line(f"r{i}") for i in range(8)])["job"]
            emu.clock.advance(3600)  # type: ignore[attr-defined]
            orders.append(
                [
                    o["custom_id"]
                    for o in read_jsonl(client, get(client, job["id"])["output_file_id"])
                ]
            )
    assert orders[0] == orders[1]


def test_a_24_hour_batch_completes_without_real_waiting(
    emu: TogetherEmulator, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", _no_real_sleep)
    emu.batches.script(validating=60, duration=24 * 3600 - 60)
    items = [line(f"r{i}") for i in range(200)]
    polls = 0
    with emu.http_client() as client:
        job = start(emu, client, items)["job"]
        while job["status"] not in ("COMPLETED", "FAILED", "EXPIRED", "CANCELLED"):
            clock.sleep(300)  # a poller's sleep, in virtual time
            job = get(client, job["id"])
            polls += 1
        output = read_jsonl(client, job["output_file_id"])
    assert job["status"] == "COMPLETED" and polls == 288 and len(output) == 200
    assert job["completed_at"] == job["job_deadline"]


def test_lines_use_scripted_replies_tools_and_dialects(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    emu.reply("Paris", when=lambda body: "France" in json.dumps(body))
    emu.reply(
        tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}],
        when=lambda b: "tool" in json.dumps(b),
    )
    emu.reply("legacy answer", dialect="legacy", when=lambda b: "old" in json.dumps(b))
    items = [line("a", "Capital of France?"), line("b", "use a tool"), line("c", "old engine")]
    with emu.http_client() as client:
        job = start(emu, client, items)["job"]
        clock.advance(3600)
        output = {
            o["custom_id"]: o["response"]["body"]
            for o in read_jsonl(client, get(client, job["id"])["output_file_id"])
        }
    assert output["a"]["choices"][0]["message"]["content"] == "Paris"
    (call,) = output["b"]["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"arguments": '{"city": "Oslo"}', "name": "weather"}
    assert output["b"]["choices"][0]["finish_reason"] == "tool_calls"
    assert output["c"]["choices"][0]["finish_reason"] == "eos"
    assert emu.pending_replies == 0


def test_failing_lines_go_to_the_error_file(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.fail("status", status=500, when=lambda body: body.get("temperature") == 0.5)
    emu.fail("status", status=429, when=lambda body: body.get("temperature") == 0.6)
    emu.batches.script(fail_items={"forced": "upstream timeout"})
    items = [
        line("ok"),
        {
            "custom_id": "bad-role",
            "body": {"model": LLAMA, "messages": [{"role": "robot", "content": "x"}]},
        },
        line("no-model", model="acme/none"),
        line("boom", temperature=0.5),
        line("limited", temperature=0.6),
        line("forced"),
    ]
    with emu.http_client() as client:
        job = start(emu, client, items)["job"]
        clock.advance(3600)
        done = get(client, job["id"])
        output = read_jsonl(client, done["output_file_id"])
        errors = {e["custom_id"]: e["error"] for e in read_jsonl(client, done["error_file_id"])}
    assert done["status"] == "COMPLETED"  # a completed batch can hold failed lines
    assert [o["custom_id"] for o in output] == ["ok"]
    assert {k: v["code"] for k, v in errors.items()} == {
        "bad-role": "invalid_request_error",
        "no-model": "model_not_available",
        "boom": "server_error",
        "limited": "rate_limit",
        "forced": "server_error",
    }
    assert "invalid role" in errors["bad-role"]["message"]
    assert errors["forced"]["message"] == "upstream timeout"
    assert all(set(e) == {"message", "code"} for e in errors.values())


def test_expiry_part_way(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.batches.script(duration=100, validating=0, outcome="expired", expire_at=0.6)
    with emu.http_client() as client:
        job = start(emu, client, [line(f"r{i}") for i in range(10)], model_id=OSS)
        assert "warning" in job and OSS in job["warning"]  # not a discounted model
        clock.advance(59)
        assert get(client, job["job"]["id"])["status"] == "IN_PROGRESS"
        clock.advance(1000)
        done = get(client, job["job"]["id"])
        output = read_jsonl(client, done["output_file_id"])
        errors = read_jsonl(client, done["error_file_id"])
    assert done["status"] == "EXPIRED" and done["progress"] == 60.0
    assert done["completed_at"] == iso_seconds(1_800_000_060)
    assert len(output) == 6 and len(errors) == 4
    assert {e["error"]["code"] for e in errors} == {"batch_expired"}
    assert {o["custom_id"] for o in output} | {e["custom_id"] for e in errors} == {
        f"r{i}" for i in range(10)
    }


def test_a_batch_past_its_deadline_expires_there(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    emu.batches.script(duration=30 * 3600)
    with emu.http_client() as client:
        job = start(emu, client, [line("a"), line("b")])["job"]
        clock.advance(40 * 3600)
        done = get(client, job["id"])
    assert done["status"] == "EXPIRED" and done["completed_at"] == done["job_deadline"]


def test_a_scripted_failure(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.batches.script(outcome="failed", error="Input file could not be processed")
    with emu.http_client() as client:
        job = start(emu, client, [line("a")])["job"]
        clock.advance(3)
        assert get(client, job["id"])["status"] == "VALIDATING"
        clock.advance(60)
        done = get(client, job["id"])
    assert done["status"] == "FAILED" and done["error"] == "Input file could not be processed"
    assert done["output_file_id"] is None and done["error_file_id"] is None


def test_a_model_batches_cannot_use_fails(emu: TogetherEmulator, clock: VirtualClock) -> None:
    with emu.http_client() as client:
        job = start(emu, client, [line("a", model="deepseek-ai/DeepSeek-R1")])["job"]
        clock.advance(3600)
        done = get(client, job["id"])
    assert done["status"] == "FAILED" and "not available for batch" in done["error"]


def test_scripts_follow_predicates_and_times(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.batches.script(duration=1000, when=lambda body: body.get("priority") == "low", times=None)
    with emu.http_client() as client:
        fast = start(emu, client, [line("a")])["job"]
        slow = start(emu, client, [line("a")], priority="low")["job"]
        clock.advance(100)
        assert get(client, fast["id"])["status"] == "COMPLETED"
        assert get(client, slow["id"])["status"] == "IN_PROGRESS"


def test_cancel_keeps_finished_lines(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.batches.script(duration=100, validating=0)
    with emu.http_client() as client:
        job = start(emu, client, [line(f"r{i}") for i in range(4)])["job"]
        clock.advance(50)
        r = client.post(f"/batches/{job['id']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
        clock.advance(1000)
        done = get(client, job["id"])
        again = client.post(f"/batches/{job['id']}/cancel")
        output = read_jsonl(client, done["output_file_id"])
        errors = read_jsonl(client, done["error_file_id"])
    assert done["status"] == "CANCELLED" and done["completed_at"] == iso_seconds(1_800_000_050)
    assert len(output) == 2 and {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    assert again.status_code == 400 and set(again.json()) == {"error"}


def test_list_is_a_bare_array_and_unknown_ids_are_404(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        a = start(emu, client, [line("a")])["job"]
        b = start(emu, client, [line("b")])["job"]
        listed = client.get("/batches").json()
        missing = client.get("/batches/nope")
        cancel_missing = client.post("/batches/nope/cancel")
    assert isinstance(listed, list) and [j["id"] for j in listed] == [a["id"], b["id"]]
    assert missing.status_code == 404 and set(missing.json()) == {"error"}
    assert isinstance(missing.json()["error"], str) and cancel_missing.status_code == 404


def _create(emu: TogetherEmulator, data: bytes, **body: Any) -> httpx.Response:
    stored = emu.files.create(data)
    with emu.http_client() as client:
        return client.post("/batches", json={"endpoint": CHAT, "input_file_id": stored.id, **body})


@pytest.mark.parametrize(
    ("data", "body", "message"),
    [
        (jsonl([line("a")]), {"endpoint": "/v1/embeddings"}, "Invalid endpoint"),
        (jsonl([line("a")]), {"endpoint": "/v1/completions"}, "Invalid endpoint"),
        (jsonl([line("a")]), {"input_file_id": "file-missing"}, "not found"),
        (jsonl([line("a")]), {"completion_window": "1h"}, "completion_window"),
        (jsonl([line("a"), line("a")]), {}, "duplicate custom_id"),
        (jsonl([line("x" * 65)]), {}, "exceeds 64"),
        (jsonl([{"body": {}}]), {}, "custom_id is required"),
        (b"{not json\n", {}, "not valid JSON"),
        (b"\n\n", {}, "no requests"),
        (jsonl([{"custom_id": "a", "body": "text"}]), {}, "body must be"),
    ],
)
def test_invalid_input_is_the_spec_error_shape(
    emu: TogetherEmulator, data: bytes, body: dict[str, Any], message: str
) -> None:
    r = _create(emu, data, **body)
    assert r.status_code == 400 and list(r.json()) == ["error"]
    assert isinstance(r.json()["error"], str) and message in r.json()["error"]


def test_the_limits(emu: TogetherEmulator) -> None:
    assert _create(emu, jsonl([line("x" * 64)])).status_code == 201
    tiny = b'{"custom_id":"%d","body":{}}\n'
    at_limit = b"".join(tiny % i for i in range(50_000))
    assert _create(emu, at_limit).status_code == 201
    over = _create(emu, at_limit + tiny % 50_000)
    assert over.status_code == 400 and "50000 requests" in over.json()["error"]
    padding = b" " * (100 * 1024 * 1024 - len(at_limit[:30]) + 1)
    huge = _create(emu, at_limit[:30] + padding)
    assert huge.status_code == 400 and "maximum size" in huge.json()["error"]


def test_transcription_lines(emu: TogetherEmulator, clock: VirtualClock) -> None:
    stored = emu.files.create(
        jsonl(
            [
                {
                    "custom_id": "audio-1",
                    "method": "FILE",
                    "body": {
                        "model": "openai/whisper-large-v3",
                        "file": "https://example.com/a.wav",
                        "prompt": "hello there",
                    },
                }
            ]
        )
    )
    with emu.http_client() as client:
        r = client.post(
            "/batches",
            json={"endpoint": "/v1/audio/transcriptions", "input_file_id": stored.id},
        )
        assert r.status_code == 201 and "warning" not in r.json()
        clock.advance(3600)
        (out,) = read_jsonl(client, get(client, r.json()["job"]["id"])["output_file_id"])
    assert out["response"]["body"] == {"text": "hello there"}


def test_auto_advance_moves_jobs_on_each_poll() -> None:
    clock = VirtualClock(start=0, auto_advance=30)
    emu = TogetherEmulator(clock=clock)
    emu.batches.script(validating=30, duration=270)
    with emu.http_client() as client:
        job = start(emu, client, [line("a"), line("b")])["job"]
        statuses = [get(client, job["id"])["status"] for _ in range(10)]
    assert statuses == ["IN_PROGRESS"] * 9 + ["COMPLETED"]
    assert clock.now() == 300


@pytest.mark.network
def test_a_loopback_client_polls_a_batch_to_completion() -> None:
    """A client that cannot reach the clock (another process) just polls."""
    emu = TogetherEmulator(clock=VirtualClock(auto_advance=600))
    emu.batches.script(validating=60, duration=6 * 3600)
    stored = emu.files.create(jsonl([line(f"r{i}") for i in range(5)]))
    with emu.serve() as server, httpx.Client(base_url=server.base_url) as client:
        created = client.post("/batches", json={"endpoint": CHAT, "input_file_id": stored.id})
        job = created.json()["job"]
        polls = 0
        while job["status"] not in ("COMPLETED", "FAILED", "EXPIRED", "CANCELLED"):
            job = get(client, job["id"])
            polls += 1
        output = read_jsonl(client, job["output_file_id"])
    assert created.status_code == 201 and job["status"] == "COMPLETED"
    assert polls == 37 and len(output) == 5


def _no_real_sleep(seconds: float) -> None:
    raise AssertionError(f"a real sleep of {seconds} s: virtual time should have been used")
