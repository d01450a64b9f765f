"""Files, one whole batch lifecycle and one whole fine-tune lifecycle, replayed from
cassettes through the transport (no adapter wraps them; the fine-tuned model then answers
through ChatTogether and LlamaIndex's TogetherLLM).

Recorded against the emulator on virtual time: ``VirtualClock(auto_advance=...)`` moves the
job forward on every poll over loopback, so a lifecycle is a bounded number of polls; the
poller sleeps on a virtual clock too, so neither recording nor replay waits.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

from together_integrations.langchain import ChatTogether
from together_integrations.llama_index import TogetherLLM
from together_integrations.testing import VirtualClock

from ._replay import CHAT_MODEL, emulator, settings, transport

FINE_TUNE_BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


TRAIN = jsonl(
    [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(16)
    ]
)
BATCH = jsonl(
    [
        {
            "custom_id": f"req-{i}",
            "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": f"Q{i}"}]},
        }
        for i in range(4)
    ]
)


@pytest.mark.vcr
def test_file_upload_presigned(together_target: dict[str, Any]) -> None:
    """``POST /files`` → 302 to a presigned URL → ``PUT`` the bytes (no key) → preprocess."""
    with transport(together_target) as t:
        stored = t.files.upload(("train.jsonl", TRAIN), purpose="fine-tune")
        again = t.files.retrieve(stored.id)
        content = b"".join(t.files.content(stored.id))
    assert stored.id.startswith("file-") and stored.filename == "train.jsonl"
    assert stored.bytes == len(TRAIN) and stored.purpose == "fine-tune"
    assert stored.file_type == "jsonl" and stored.processed is True
    assert again.id == stored.id and content == TRAIN


def test_presigned_put_is_recorded_without_the_key_or_the_bytes() -> None:
    from .test_replay_library import load

    doc = load("test_replay_jobs/test_file_upload_presigned.yaml")
    start, put, _ = doc["interactions"][:3]
    assert start["response"]["status"]["code"] == 302
    assert put["request"]["method"] == "PUT" and "/storage/uploads/" in put["request"]["uri"]
    assert "authorization" not in {k.lower() for k in put["request"]["headers"]}
    # The presigned URL's signature is scrubbed from the 302's location and the PUT's URL.
    assert "X-Amz-Signature" not in str(doc) and "X-Amz-Algorithm" in put["request"]["uri"]
    assert put["request"]["body_binary"] == {
        "sha256": hashlib.sha256(TRAIN).hexdigest(),
        "length": len(TRAIN),
    }


@pytest.mark.vcr
def test_batch_lifecycle(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.clock = VirtualClock(auto_advance=600)
        emu.batches.script(validating=60, duration=3600, fail_items={"req-3": "Engine overloaded"})
    seen: list[str] = []
    with transport(together_target) as t:
        upload = t.files.upload(("batch.jsonl", BATCH), purpose="batch-api")
        created = t.batches.create(upload.id, endpoint="/v1/chat/completions")
        done = t.batches.wait_until_done(
            created.id,
            poll_interval=60,
            clock=VirtualClock(start=0),
            on_progress=lambda job: seen.append(str(job.status)),
        )
        outputs = [json.loads(line) for line in t.files.iter_lines(str(done.output_file_id))]
        errors = [json.loads(line) for line in t.files.iter_lines(str(done.error_file_id))]
    assert created.status == "VALIDATING" and created.input_file_id == upload.id
    assert done.status == "COMPLETED" and done.progress == 100
    assert seen[0] in ("VALIDATING", "IN_PROGRESS") and "IN_PROGRESS" in seen
    assert 3 <= len(seen) <= 12  # a bounded number of polls
    answers = {o["custom_id"]: o["response"] for o in outputs}
    assert sorted(answers) == ["req-0", "req-1", "req-2"]
    assert all(a["status_code"] == 200 for a in answers.values())
    assert answers["req-1"]["body"]["choices"][0]["message"]["content"] == "You said: Q1"
    (error,) = errors
    assert error["custom_id"] == "req-3"
    assert "Engine overloaded" in json.dumps(error)


@pytest.mark.vcr
def test_fine_tune_lifecycle(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.clock = VirtualClock(auto_advance=300)
        emu.fine_tunes.script(pending=60, queued=60, duration=1800, finishing=120)
    seen: list[str] = []
    with transport(together_target) as t:
        upload = t.files.upload(("train.jsonl", TRAIN), purpose="fine-tune")
        created = t.fine_tuning.create(
            {"training_file": upload.id, "model": FINE_TUNE_BASE, "n_epochs": 2, "suffix": "tape"}
        )
        done = t.fine_tuning.wait_until_done(
            created.id,
            poll_interval=60,
            clock=VirtualClock(start=0),
            on_progress=lambda job: seen.append(str(job.status)),
        )
        events = t.fine_tuning.events(created.id)
        checkpoints = t.fine_tuning.checkpoints(created.id)
    assert created.status == "pending" and created.training_file == upload.id
    assert done.status == "completed" and done.model_output_name
    assert "running" in seen and 3 <= len(seen) <= 16
    assert events and events[-1].created_at is not None
    assert any(e.type == "job_complete" for e in events)
    assert checkpoints and all(c.step for c in checkpoints)
    # The output model answers chat requests, through both adapters.
    output = str(done.model_output_name)
    message = ChatTogether(model=output, **settings(together_target)).invoke("Hi")
    assert message.content == "You said: Hi"
    chat = TogetherLLM(model=output, **settings(together_target))
    reply = chat.chat([ChatMessage(role="user", content="Hi")])
    assert reply.message.content == "You said: Hi"
