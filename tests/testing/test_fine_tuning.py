"""Fine-tuning on virtual time: status order, events, checkpoints, the output model answering
chat, errors, cancel, delete, list, price estimates and downloads."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from together_integrations.testing import TogetherEmulator, VirtualClock
from together_integrations.testing.emulator.fine_tuning import CANCEL_SECONDS, PRICE_PER_TOKEN

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
TRAIN = b"".join(
    json.dumps(
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
    ).encode()
    + b"\n"
    for i in range(64)
)
TERMINAL = ("completed", "error", "cancelled")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


def create(emu: TogetherEmulator, client: httpx.Client, **body: Any) -> dict[str, Any]:
    stored = emu.files.create(TRAIN, filename="train.jsonl", purpose="fine-tune")
    r = client.post("/fine-tunes", json={"training_file": stored.id, "model": BASE, **body})
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


def get(client: httpx.Client, job_id: str) -> dict[str, Any]:
    r = client.get(f"/fine-tunes/{job_id}")
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


def ask(client: httpx.Client, model: str) -> httpx.Response:
    return client.post(
        "/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]}
    )


def test_the_status_order(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.fine_tunes.script(pending=5, queued=10, duration=100, finishing=20)
    with emu.http_client() as client:
        job = create(emu, client, suffix="demo", n_epochs=2, n_checkpoints=4, batch_size=16)
        assert job["id"].startswith("ft-") and job["status"] == "pending"
        assert job["created_at"] == "2027-01-15T08:00:00.000Z" and job["started_at"] is None
        assert job["model_output_name"].startswith(
            "emulator-user/Meta-Llama-3.1-8B-Instruct-Turbo-demo-"
        )
        assert (job["n_epochs"], job["n_checkpoints"], job["batch_size"]) == (2, 4, 16)
        assert job["token_count"] == len(TRAIN) // 4 * 2
        statuses = []
        for step in (4, 2, 10, 50, 48, 2, 10, 10):
            clock.advance(step)
            statuses.append(get(client, job["id"])["status"])
    assert statuses == [
        "pending", "queued", "running", "running", "running", "compressing", "uploading", "completed",
    ]  # fmt: skip


def test_events_and_checkpoints_accumulate(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.fine_tunes.script(pending=0, queued=0, duration=100, finishing=10)
    with emu.http_client() as client:
        job = create(emu, client, n_epochs=2, n_checkpoints=4, batch_size=16)
        clock.advance(60)
        middle = get(client, job["id"])
        mid_checkpoints = client.get(f"/fine-tunes/{job['id']}/checkpoints").json()["data"]
        assert middle["progress"] == {"estimate_available": True, "seconds_remaining": 50}
        clock.advance(100)
        events = client.get(f"/fine-tunes/{job['id']}/events").json()["data"]
        checkpoints = client.get(f"/fine-tunes/{job['id']}/checkpoints").json()["data"]
        done = get(client, job["id"])
    assert [c["step"] for c in mid_checkpoints] == [2, 4]  # 4 steps per epoch, 8 in all
    assert [c["step"] for c in checkpoints] == [2, 4, 6, 8, 8]
    assert [c["checkpoint_type"] for c in checkpoints] == ["Intermediate"] * 4 + ["Final"]
    assert set(checkpoints[0]) == {"step", "created_at", "path", "checkpoint_type"}
    kinds = [e["type"] for e in events]
    assert kinds[0] == "job_pending" and kinds[-1] == "job_complete"
    assert kinds.count("checkpoint_save") == 4 and kinds.count("epoch_complete") == 2
    assert (
        kinds.index("training_start")
        < kinds.index("training_complete")
        < kinds.index("model_uploading")
    )
    assert all(e["object"] == "fine-tune-event" and e["total_steps"] == 8 for e in events)
    assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)
    assert events[-1]["model_path"] == done["model_output_name"]
    assert len([e for e in middle["events"] if e["type"] == "checkpoint_save"]) == 2
    assert done["progress"]["seconds_remaining"] == 0


def test_the_output_model_answers_chat_once_completed(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    emu.fine_tunes.script(duration=3600)
    with emu.http_client() as client:
        name = create(emu, client, suffix="mine")["model_output_name"]
        assert ask(client, name).status_code == 404
        clock.advance(2 * 3600)  # nobody polls the job: the chat request alone must see it
        r = ask(client, name)
    assert r.status_code == 200 and r.json()["model"] == name


def test_a_fine_tune_completes_without_real_waiting(
    emu: TogetherEmulator, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "sleep", _no_real_sleep)
    emu.fine_tunes.script(pending=60, queued=600, duration=4 * 3600, finishing=300)
    with emu.http_client() as client:
        job = create(emu, client)
        polls = 0
        while job["status"] not in TERMINAL:
            clock.sleep(60)  # a poller's sleep, in virtual time
            job = get(client, job["id"])
            polls += 1
        answered = ask(client, job["model_output_name"]).status_code
    assert job["status"] == "completed" and polls == 256 and answered == 200


def test_a_scripted_error(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.fine_tunes.script(
        pending=0, queued=0, duration=100, outcome="error", error_at=0.3, error="OOM"
    )
    with emu.http_client() as client:
        job = create(emu, client, n_checkpoints=10, batch_size=64)
        clock.advance(29)
        assert get(client, job["id"])["status"] == "running"
        clock.advance(1000)
        failed = get(client, job["id"])
        checkpoints = client.get(f"/fine-tunes/{job['id']}/checkpoints").json()["data"]
        assert ask(client, job["model_output_name"]).status_code == 404
    assert failed["status"] == "error"
    assert failed["events"][-1]["type"] == "job_error" and failed["events"][-1]["level"] == "error"
    assert failed["events"][-1]["message"] == "OOM"
    assert len(checkpoints) == 3 and all(
        c["checkpoint_type"] == "Intermediate" for c in checkpoints
    )


def test_cancel(emu: TogetherEmulator, clock: VirtualClock) -> None:
    with emu.http_client() as client:
        job = create(emu, client)
        clock.advance(100)
        r = client.post(f"/fine-tunes/{job['id']}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancel_requested"
        assert client.post(f"/fine-tunes/{job['id']}/cancel").status_code == 400
        clock.advance(CANCEL_SECONDS)
        done = get(client, job["id"])
        clock.advance(10_000)
        assert get(client, job["id"])["status"] == "cancelled"  # the old plan is forgotten
    assert done["status"] == "cancelled"
    assert [e["type"] for e in done["events"]][-2:] == ["cancel_requested", "job_stopped"]


def test_a_completed_job_cannot_be_cancelled(emu: TogetherEmulator, clock: VirtualClock) -> None:
    with emu.http_client() as client:
        job = create(emu, client)
        clock.advance(100_000)
        r = client.post(f"/fine-tunes/{job['id']}/cancel")
    assert r.status_code == 400 and "completed" in r.json()["error"]["message"]


def test_list_delete_and_404(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        a, b = create(emu, client), create(emu, client)
        listed = client.get("/fine-tunes").json()
        assert [j["id"] for j in listed["data"]] == [a["id"], b["id"]]
        assert client.delete(f"/fine-tunes/{a['id']}").json() == {
            "message": f"Fine-tune job {a['id']} deleted"
        }
        assert client.get(f"/fine-tunes/{a['id']}").status_code == 404
        assert [j["id"] for j in client.get("/fine-tunes").json()["data"]] == [b["id"]]
        assert client.get("/fine-tunes/ft-nope/events").status_code == 404


def test_estimate_price(emu: TogetherEmulator) -> None:
    stored = emu.files.create(TRAIN, purpose="fine-tune")
    with emu.http_client() as client:
        r = client.post(
            "/fine-tunes/estimate-price",
            json={"training_file": stored.id, "model": BASE, "n_epochs": 3},
        )
        created = create(emu, client, n_epochs=3)
    estimate = r.json()
    tokens = len(TRAIN) // 4 * 3
    assert estimate == {
        "estimated_total_price": round(tokens * PRICE_PER_TOKEN, 6),
        "allowed_to_proceed": True,
        "user_limit": 1000.0,
        "estimated_train_token_count": tokens,
        "estimated_eval_token_count": 0,
    }
    assert created["token_count"] == tokens


def test_download(emu: TogetherEmulator, clock: VirtualClock) -> None:
    with emu.http_client() as client:
        job = create(emu, client)
        early = client.get("/finetune/download", params={"ft_id": job["id"]})
        clock.advance(100_000)
        r = client.get("/finetune/download", params={"ft_id": job["id"], "checkpoint": "adapter"})
        missing = client.get("/finetune/download", params={"ft_id": "ft-none"})
    assert early.status_code == 400 and missing.status_code == 404
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.content.startswith(b"TOGETHER-EMULATOR-MODEL\n") and b'"adapter"' in r.content
    assert job["id"] in r.headers["content-disposition"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"training_file": None}, "training_file"),
        ({"training_file": "file-missing"}, "training_file"),
        ({"model": "BAAI/bge-base-en-v1.5"}, "model"),
        ({"model": "acme/unknown"}, "model"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"batch_size": "lots"}, "batch_size"),
    ],
)
def test_invalid_requests(emu: TogetherEmulator, body: dict[str, Any], param: str) -> None:
    stored = emu.files.create(TRAIN, purpose="fine-tune")
    with emu.http_client() as client:
        r = client.post("/fine-tunes", json={"training_file": stored.id, "model": BASE, **body})
    assert r.status_code == 400 and r.json()["error"]["param"] == param


def test_supported_models(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        models = client.get("/fine-tunes/models/supported").json()["models"]
    assert BASE in models and "mistralai/Mixtral-8x7B-v0.1" in models
    assert "BAAI/bge-base-en-v1.5" not in models


def test_model_limits(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        small = client.get("/fine-tunes/models/limits", params={"model_name": BASE}).json()
        vision = client.get(
            "/fine-tunes/models/limits",
            params={"model_name": "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8"},
        )
        reasoning = client.get(
            "/fine-tunes/models/limits", params={"model_name": "openai/gpt-oss-20b"}
        ).json()
        missing = client.get("/fine-tunes/models/limits")
        embedding = client.get(
            "/fine-tunes/models/limits", params={"model_name": "BAAI/bge-base-en-v1.5"}
        )
    assert small["model_name"] == BASE
    assert small["min_learning_rate"] < small["max_learning_rate"]
    assert small["max_seq_length_sft"] == emu.models[BASE]["context_length"]
    lora = small["lora_training"]
    assert lora["min_batch_size"] <= lora["max_batch_size"] and lora["max_rank"] > 0
    assert lora["target_modules"] and small["supports_tools"] is True
    assert small["supports_vision"] is False and small["supports_reasoning"] is False
    assert vision.json()["supports_vision"] is True
    assert reasoning["supports_reasoning"] is True
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model_name"
    assert embedding.status_code == 404
    assert embedding.json()["error"]["code"] == "model_not_available"


@pytest.mark.network
def test_a_loopback_client_polls_a_fine_tune() -> None:
    emu = TogetherEmulator(clock=VirtualClock(auto_advance=120))
    emu.fine_tunes.script(pending=60, queued=60, duration=3600, finishing=120)
    stored = emu.files.create(TRAIN, purpose="fine-tune")
    with emu.serve() as server, httpx.Client(base_url=server.base_url) as client:
        job = client.post("/fine-tunes", json={"training_file": stored.id, "model": BASE}).json()
        seen = []
        while job["status"] not in TERMINAL:
            job = get(client, job["id"])
            seen.append(job["status"])
        answered = ask(client, job["model_output_name"]).status_code
    assert seen[-1] == "completed" and len(seen) == 32 and answered == 200
    # 120 s per poll: queued ends on the first poll, uploading falls between two polls.
    assert list(dict.fromkeys(seen)) == ["running", "compressing", "completed"]


def _no_real_sleep(seconds: float) -> None:
    raise AssertionError(f"a real sleep of {seconds} s: virtual time should have been used")
