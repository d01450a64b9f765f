"""The core fine-tuning helper on the emulator with virtual time: training-file checks,
upload, create with every parameter (the W&B key kept secret), events, checkpoints, price,
download, failure, cancel, and dedicated endpoints with the non-serverless hint."""

from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from together_integrations import (
    BadRequestError,
    JobFailedError,
    JobTimeoutError,
    TogetherConfigError,
    get_model_capabilities,
)
from together_integrations.fine_tuning import (
    NonServerlessModelError,
    TogetherDedicatedEndpoints,
    TogetherFineTuning,
    TrainingFileError,
    build_request,
    endpoint_hints,
    is_non_serverless,
    output_model_of,
    validate_training_file,
    with_endpoint_hint,
)
from together_integrations.testing import TogetherEmulator, VirtualClock

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
WANDB = "wandb-secret-0123456789abcdef"


def conversation(i: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": f"answer {i}"},
        ]
    }


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def train(tmp_path: Path) -> Path:
    return write(tmp_path / "train.jsonl", [conversation(i) for i in range(16)])


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


@pytest.fixture
def ft(emu: TogetherEmulator, clock: VirtualClock) -> TogetherFineTuning:
    return TogetherFineTuning(emu.transport(), clock=clock, poll_interval=30)


# ------------------------------------------------------------------ training-file checks


@pytest.mark.parametrize(
    ("rows", "kind"),
    [
        ([conversation(0)], "conversation"),
        (
            [
                {
                    "messages": [
                        {"role": "user", "content": "weather in Paris?"},
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "c1",
                                    "type": "function",
                                    "function": {"name": "weather", "arguments": "{}"},
                                }
                            ],
                        },
                        {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
                        {"role": "assistant", "content": "Sunny."},
                    ],
                    "tools": [{"type": "function", "function": {"name": "weather"}}],
                }
            ],
            "conversation",
        ),
        ([{"prompt": "2+2=", "completion": "4"}] * 3, "instruction"),
        ([{"text": "Once upon a time"}], "general"),
        (
            [
                {
                    "input": {"messages": [{"role": "user", "content": "hi"}]},
                    "preferred_output": [{"role": "assistant", "content": "Hello!"}],
                    "non_preferred_output": [{"role": "assistant", "content": "go away"}],
                }
            ],
            "preference",
        ),
    ],
)
def test_each_accepted_format_passes(tmp_path: Path, rows: list[Any], kind: str) -> None:
    report = validate_training_file(write(tmp_path / "t.jsonl", rows))
    assert report.format == kind and report.samples == len(rows) and report.size > 0


BAD = [
    ("{not json", 2, "not valid JSON"),
    ("[1, 2]", 2, "expected a JSON object, got a list"),
    ({"question": "q", "answer": "a"}, 2, "no known format"),
    ({"prompt": "p", "completion": "c"}, 2, "is instruction format but line 1 is conversation"),
    ({"messages": []}, 2, "'messages' must be a non-empty list"),
    ({"messages": [{"role": "bot", "content": "x"}]}, 2, "'messages'[0] has role 'bot'"),
    ({"messages": [{"role": "user"}]}, 2, "'messages'[0] has no 'content'"),
    ({"messages": [{"role": "user", "content": 3}]}, 2, "'content' must be a string"),
    ({"messages": [{"role": "user", "content": "q"}]}, 2, "no assistant message"),
    ({**conversation(1), "tools": [{"type": "function"}]}, 2, "'tools'[0] must be"),
    (
        {"messages": [{"role": "assistant", "content": "a", "weight": 5}]},
        2,
        "'weight' must be 0 or 1",
    ),
]


@pytest.mark.parametrize(("row", "line", "what"), BAD)
def test_a_bad_line_names_its_number_and_what_is_wrong(
    tmp_path: Path, row: Any, line: int, what: str
) -> None:
    path = write(tmp_path / "train.jsonl", [conversation(0), row, conversation(2)])
    with pytest.raises(TrainingFileError) as caught:
        validate_training_file(path)
    assert [p.line for p in caught.value.problems] == [line]
    assert f"line {line}: " in str(caught.value) and what in str(caught.value)
    assert isinstance(caught.value, TogetherConfigError)


def test_bad_preference_and_instruction_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dpo.jsonl",
        [
            {"input": "hi", "preferred_output": [], "non_preferred_output": []},
            {
                "input": {"messages": [{"role": "user", "content": "hi"}]},
                "preferred_output": [{"role": "user", "content": "x"}],
                "non_preferred_output": [{"role": "assistant", "content": "y"}],
            },
        ],
    )
    with pytest.raises(TrainingFileError) as caught:
        validate_training_file(path)
    text = str(caught.value)
    assert "line 1: 'input' must be an object with 'messages'" in text
    assert "line 2: 'preferred_output'[0] has role 'user'; expected one of assistant" in text
    instr = write(tmp_path / "i.jsonl", [{"prompt": 1, "completion": "c"}])
    with pytest.raises(TrainingFileError, match="line 1: 'prompt' must be a string, got int"):
        validate_training_file(instr)


def test_every_bad_line_is_reported_and_the_list_is_capped(tmp_path: Path) -> None:
    path = write(tmp_path / "train.jsonl", ["{oops"] * 25)
    with pytest.raises(TrainingFileError) as caught:
        validate_training_file(path)
    assert [p.line for p in caught.value.problems] == list(range(1, 21))
    assert "25 problems" in str(caught.value) and "... and 5 more." in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert again.problems == caught.value.problems


def test_empty_wrong_suffix_too_large_and_missing(tmp_path: Path) -> None:
    with pytest.raises(TrainingFileError, match="no samples: a training file needs at least 1"):
        validate_training_file(write(tmp_path / "empty.jsonl", []))
    with pytest.raises(TrainingFileError, match=r"must be JSON Lines named \*\.jsonl, not \.json"):
        validate_training_file(write(tmp_path / "t.json", [conversation(0)]))
    with pytest.raises(TrainingFileError, match="the limit is 10"):
        validate_training_file(write(tmp_path / "big.jsonl", [conversation(0)]), max_bytes=10)
    with pytest.raises(TrainingFileError, match="is not a file"):
        validate_training_file(tmp_path / "nowhere.jsonl")
    with pytest.raises(TrainingFileError, match="line 1: is general format but the expected"):
        validate_training_file(
            write(tmp_path / "g.jsonl", [{"text": "x"}]), expected_format="conversation"
        )


def test_a_missing_local_path_is_not_sent_as_a_file_id(
    ft: TogetherFineTuning, emu: TogetherEmulator, tmp_path: Path
) -> None:
    with pytest.raises(TrainingFileError, match="is not a file"):
        ft.create("no-such-train.jsonl", model=BASE)
    with pytest.raises(TrainingFileError, match="is not a file"):
        ft.create(str(tmp_path / "missing"), model=BASE)
    assert emu.requests == []


def test_a_bad_file_is_never_uploaded(
    ft: TogetherFineTuning, emu: TogetherEmulator, tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad.jsonl", [{"messages": [{"role": "user", "content": "q"}]}])
    with pytest.raises(TrainingFileError):
        ft.create(bad, model=BASE)
    assert not [r for r in emu.requests if r.path.startswith("/v1/files")]
    assert not [r for r in emu.requests if r.path.startswith("/v1/fine-tunes")]


# ------------------------------------------------------------------------- parameters


def test_every_spec_parameter_and_the_sdk_shortcuts_reach_the_body() -> None:
    request = build_request(
        "file-1",
        BASE,
        {
            "n_epochs": 3,
            "n_checkpoints": 2,
            "n_evals": 1,
            "batch_size": "max",
            "learning_rate": 2e-5,
            "lr_scheduler": {"lr_scheduler_type": "cosine", "lr_scheduler_args": {"num_cycles": 1}},
            "warmup_ratio": 0.1,
            "max_grad_norm": 1.0,
            "weight_decay": 0.01,
            "random_seed": 7,
            "suffix": "support",
            "packing": False,
            "max_seq_length": 4096,
            "lora_r": 16,
            "lora_dropout": 0.05,
            "training_method": "dpo",
            "dpo_beta": 0.2,
            "wandb_api_key": WANDB,
            "wandb_project_name": "proj",
            "from_checkpoint": "ft-abc:10",
            "extra_body": {"future_field": 1},
        },
    )
    wire = request.to_wire()
    assert wire["training_type"] == {
        "type": "Lora", "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
    }  # fmt: skip
    assert wire["training_method"] == {"method": "dpo", "dpo_beta": 0.2}
    assert wire["wandb_api_key"] == WANDB and wire["future_field"] == 1
    assert (wire["n_epochs"], wire["batch_size"], wire["suffix"]) == (3, "max", "support")
    assert WANDB not in repr(request) and WANDB not in str(request.model_dump())
    full = build_request("file-1", BASE, {"lora": False, "training_method": "sft",
                                          "train_on_inputs": "auto"}).to_wire()  # fmt: skip
    assert full["training_type"] == {"type": "Full"}
    assert full["training_method"] == {"method": "sft", "train_on_inputs": "auto"}
    assert "train_on_inputs" not in full


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_epoch": 3}, "Unknown fine-tuning parameter(s) n_epoch"),
        ({"lora": False, "lora_r": 8}, "takes no lora_* settings"),
        ({"lora_alpha": 8}, "need lora_r"),
        ({"training_method": "ppo"}, "must be 'sft' or 'dpo'"),
        ({"training_method": "sft", "dpo_beta": 0.1}, "only apply to DPO"),
        ({"n_epochs": "many", "wandb_api_key": WANDB}, "n_epochs"),
    ],
)
def test_bad_parameters_raise_before_any_request(params: dict[str, Any], message: str) -> None:
    with pytest.raises(TogetherConfigError) as caught:
        build_request("file-1", BASE, params)
    assert message in str(caught.value) and WANDB not in str(caught.value)


# ---------------------------------------------------------------------- the lifecycle


def test_the_whole_lifecycle_on_virtual_time(
    ft: TogetherFineTuning, emu: TogetherEmulator, clock: VirtualClock, train: Path, tmp_path: Path
) -> None:
    emu.fine_tunes.script(duration=3 * 3600)
    report = ft.validate(train)
    assert (report.format, report.samples) == ("conversation", 16)
    uploaded = ft.upload(train)
    estimate = ft.estimate_price(uploaded.id, model=BASE, n_epochs=2)
    assert estimate.estimated_total_price and estimate.estimated_total_price > 0
    job = ft.create(uploaded, model=BASE, n_epochs=2, suffix="support", wandb_api_key=WANDB)
    assert job.status == "pending" and WANDB not in repr(job)
    body = next(r for r in emu.requests if r.path == "/v1/fine-tunes" and r.method == "POST")
    assert body.body["wandb_api_key"] == WANDB  # sent, and only in the body
    with pytest.raises(TogetherConfigError, match="not completed"):
        ft.output_model(job)
    seen: list[str] = []
    started = clock.now()
    done = ft.wait(job, on_progress=lambda j: seen.append(str(j.status)))
    assert clock.now() - started >= 3 * 3600
    assert done.status == "completed" and seen[0] == "pending" and seen[-1] == "completed"
    assert "running" in seen
    kinds = [e.type for e in ft.events(job)]
    assert kinds[0] == "job_pending" and kinds[-1] == "job_complete"
    assert "epoch_complete" in kinds
    assert [c.checkpoint_type for c in ft.checkpoints(job)][-1] == "Final"
    model = ft.output_model(job.id)
    assert model == done.model_output_name and "support" in model
    caps = get_model_capabilities(model)
    assert caps.known and caps.context_window == get_model_capabilities(BASE).context_window
    emu.reply(text="fine-tuned answer")
    answer = ft.transport.chat.create(
        {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert answer.choices[0].message.content == "fine-tuned answer"
    out = ft.download(job, tmp_path / "model.tar.zst", checkpoint="adapter")
    assert out.read_bytes().startswith(b"TOGETHER-EMULATOR-MODEL")
    assert [j.id for j in ft.list()] == [job.id]
    ft.delete(job)
    assert ft.list() == []


def test_the_lifecycle_async_from_a_path(
    emu: TogetherEmulator, clock: VirtualClock, train: Path
) -> None:
    async def run() -> str:
        ft = TogetherFineTuning(emu.transport(), clock=clock)
        job = await ft.acreate(train, model=BASE, validation_file=train, n_evals=1)
        assert job.training_file and job.training_file.startswith("file-")
        assert job.validation_file and job.validation_file.startswith("file-")
        price = await ft.aestimate_price(job.training_file, model=BASE)
        assert price.allowed_to_proceed is True
        done = await ft.await_until_done(job, poll_interval=60)
        assert (await ft.aretrieve(job)).status == "completed"
        assert (await ft.aevents(job))[-1].type == "job_complete"
        assert await ft.acheckpoints(job) and await ft.alist()
        return output_model_of(done)

    model = asyncio.run(run())
    assert get_model_capabilities(model).known


def test_a_failed_job_raises_at_once_with_the_servers_reason(
    ft: TogetherFineTuning, emu: TogetherEmulator, clock: VirtualClock, train: Path
) -> None:
    emu.fine_tunes.script(outcome="error", duration=1000, error_at=0.5, error="CUDA out of memory")
    job = ft.create(train, model=BASE)
    looks_before = len([r for r in emu.requests if r.method == "GET"])
    with pytest.raises(JobFailedError) as caught:
        ft.wait(job)
    assert caught.value.reason == "CUDA out of memory" and caught.value.status == "error"
    assert caught.value.job_id == job.id
    looks = len([r for r in emu.requests if r.method == "GET"]) - looks_before
    # At once: the first look after the failure raised (no loop on the terminal state).
    assert clock.now() - 1_800_000_000 < 5 + 10 + 500 + 120
    assert looks < 40
    with pytest.raises(TogetherConfigError, match="is error, not completed"):
        ft.output_model(job)


def test_cancel_ends_the_wait_with_cancelled(
    ft: TogetherFineTuning, emu: TogetherEmulator, train: Path
) -> None:
    job = ft.create(train, model=BASE)
    assert ft.cancel(job).status == "cancel_requested"
    with pytest.raises(JobFailedError) as caught:
        ft.wait(job)
    assert caught.value.status == "cancelled"
    assert ft.events(job)[-1].type == "job_stopped"
    with pytest.raises(BadRequestError, match="cannot be cancelled"):
        ft.cancel(job)


def test_a_wait_that_runs_out_keeps_the_job(
    ft: TogetherFineTuning, emu: TogetherEmulator, train: Path
) -> None:
    emu.fine_tunes.script(duration=7200)
    job = ft.create(train, model=BASE)
    with pytest.raises(JobTimeoutError) as caught:
        ft.wait(job, timeout=600)
    assert caught.value.job_id == job.id and caught.value.status in ("running", "queued")
    assert ft.wait(job).status == "completed"


def test_no_key_in_reprs(ft: TogetherFineTuning, emu: TogetherEmulator) -> None:
    assert "emulator-key" not in repr(ft)
    assert "emulator-key" not in repr(TogetherDedicatedEndpoints(emu.transport()))


# ---------------------------------------------------------------- dedicated endpoints


def test_endpoint_lifecycle_and_the_non_serverless_hint(
    emu: TogetherEmulator, clock: VirtualClock, train: Path
) -> None:
    ft = TogetherFineTuning(emu.transport(), clock=clock)
    model = output_model_of(ft.wait(ft.create(train, model=BASE)))
    endpoints = TogetherDedicatedEndpoints(emu.transport(), clock=clock)
    assert "2x_nvidia_h100_80gb_sxm" in [h.id for h in endpoints.hardware(model)]
    endpoint = endpoints.create(model, hardware="2x_nvidia_h100_80gb_sxm", wait=False)
    assert endpoint.name and get_model_capabilities(endpoint.name).known
    request = {"model": endpoint.name, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(BadRequestError) as caught:
        ft.transport.chat.create(request)
    assert is_non_serverless(caught.value)
    hinted = with_endpoint_hint(caught.value)
    assert isinstance(hinted, NonServerlessModelError) and isinstance(hinted, BadRequestError)
    assert "transport.endpoints.create(" in hinted.hint
    assert hinted.message.startswith(caught.value.message) and hinted.code == "model_not_available"
    assert hinted.status_code == 400 and hinted.request_id == caught.value.request_id
    assert pickle.loads(pickle.dumps(hinted)).hint == hinted.hint
    with pytest.raises(NonServerlessModelError, match=r"endpoints\.create"), endpoint_hints():
        ft.transport.chat.create(request)
    started = endpoints.wait(endpoint.id)
    assert started.state == "STARTED" and [e.id for e in endpoints.list()] == [endpoint.id]
    assert ft.transport.chat.create(request).model == endpoint.name
    assert endpoints.stop(endpoint.id).state == "STOPPED"
    assert endpoints.start(endpoint.id).state == "STARTED"
    assert endpoints.retrieve(endpoint.id).state == "STARTED"
    endpoints.delete(endpoint.id)
    assert endpoints.list() == []


def test_other_errors_keep_their_own_class(emu: TogetherEmulator) -> None:
    transport = emu.transport()
    with pytest.raises(BadRequestError) as caught:
        transport.fine_tuning.create({"training_file": "file-nope", "model": BASE})
    assert not is_non_serverless(caught.value) and with_endpoint_hint(caught.value) is caught.value
    with pytest.raises(BadRequestError) as again, endpoint_hints():
        transport.fine_tuning.create({"training_file": "file-nope", "model": BASE})
    assert type(again.value) is BadRequestError
    plain = ValueError("x")
    assert with_endpoint_hint(plain) is plain


def test_an_endpoint_that_fails_to_start_raises(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.endpoints.script(outcome="error")
    endpoints = TogetherDedicatedEndpoints(emu.transport(), clock=clock)
    with pytest.raises(JobFailedError) as caught:
        endpoints.create(BASE, hardware="1x_nvidia_h100_80gb_sxm")
    assert caught.value.status == "ERROR"


def test_endpoints_async(emu: TogetherEmulator, clock: VirtualClock) -> None:
    async def run() -> list[str]:
        endpoints = TogetherDedicatedEndpoints(emu.transport(), clock=clock)
        assert await endpoints.ahardware(BASE)
        endpoint = await endpoints.acreate(BASE, hardware="1x_nvidia_h100_80gb_sxm")
        states = [str(endpoint.state)]
        states.append(str((await endpoints.astop(endpoint.id)).state))
        states.append(str((await endpoints.astart(endpoint.id, wait=False)).state))
        states.append(str((await endpoints.await_until_done(endpoint.id)).state))
        states.append(str((await endpoints.aretrieve(endpoint.id)).state))
        assert [e.id for e in await endpoints.alist()] == [endpoint.id]
        await endpoints.adelete(endpoint.id)
        assert await endpoints.alist() == []
        return states

    assert asyncio.run(run()) == ["STARTED", "STOPPED", "STARTING", "STARTED", "STARTED"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_replicas": 2, "max_replicas": 1}, "min_replicas <= max_replicas"),
        ({"min_replicas": -1}, "min_replicas <= max_replicas"),
        ({"max_replicas": 0, "min_replicas": 0}, "max_replicas >= 1"),
        ({"autoscaling": {"min_replicas": 1}}, "instead of autoscaling"),
    ],
)
def test_bad_endpoint_replicas_are_refused_before_the_paid_create(
    emu: TogetherEmulator, kwargs: dict[str, Any], message: str
) -> None:
    endpoints = TogetherDedicatedEndpoints(emu.transport())
    with pytest.raises(TogetherConfigError, match=message):
        endpoints.create(BASE, hardware="1x_nvidia_h100_80gb_sxm", **kwargs)
    with pytest.raises(TogetherConfigError, match=message):
        asyncio.run(endpoints.acreate(BASE, hardware="1x_nvidia_h100_80gb_sxm", **kwargs))
    assert not [r for r in emu.requests if r.path == "/v1/endpoints"]


def test_an_endpoint_create_can_adopt_the_one_it_would_duplicate(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    endpoints = TogetherDedicatedEndpoints(emu.transport(), clock=clock)
    first = endpoints.create(BASE, hardware="1x_nvidia_h100_80gb_sxm", max_replicas=2)
    again = endpoints.create(
        BASE, hardware="1x_nvidia_h100_80gb_sxm", max_replicas=2, adopt_existing=True
    )
    assert again.id == first.id  # the script ran again: no second paid endpoint
    other = asyncio.run(
        endpoints.acreate(
            BASE, hardware="1x_nvidia_h100_80gb_sxm", max_replicas=3, adopt_existing=True
        )
    )
    assert other.id != first.id  # other replica bounds: a new endpoint
    endpoints.stop(first.id)
    revived = endpoints.create(
        BASE, hardware="1x_nvidia_h100_80gb_sxm", max_replicas=2, adopt_existing=True
    )
    assert revived.id not in (first.id, other.id)  # a stopped one is not taken over
    creates = [r for r in emu.requests if r.method == "POST" and r.path == "/v1/endpoints"]
    assert len(creates) == 3
