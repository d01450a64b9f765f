"""Wire models of the job, file and media families (NOTES-jobs §2-§8): statuses in any case,
ISO or epoch timestamps, envelopes and bare arrays, unknown keys kept, secrets kept out of
repr, and the poller interface every job model offers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import SecretStr

from together_integrations.schemas import (
    Autoscaling,
    BatchCreateRequest,
    BatchInputLine,
    BatchJob,
    BatchOutputLine,
    BatchStatus,
    DedicatedEndpoint,
    DPOTrainingMethod,
    EndpointCreateRequest,
    EndpointList,
    EndpointState,
    EndpointUpdateRequest,
    FileDeleted,
    FileList,
    FileObject,
    FineTuneCheckpoint,
    FineTuneCheckpointList,
    FineTuneDeleted,
    FineTuneEventList,
    FineTuneJob,
    FineTuneList,
    FineTunePriceEstimate,
    FineTunePriceEstimateRequest,
    FineTuneRequest,
    FineTuneStatus,
    FullTrainingType,
    Hardware,
    HardwareList,
    LoraTrainingType,
    LRScheduler,
    LRSchedulerArgs,
    ModelVoices,
    SFTTrainingMethod,
    TranscriptionRequest,
    TranslationRequest,
    VideoCreateRequest,
    VideoJob,
    VideoStatus,
    Voice,
    VoiceList,
    parse_batch_create,
    parse_batch_list,
)
from together_integrations.schemas.batches import (
    BATCH_CUSTOM_ID_MAX,
    BATCH_ENDPOINTS,
    BATCH_MAX_BYTES,
    BATCH_MAX_LINES,
)
from together_integrations.schemas.files import LenientStrEnum, Timestamp
from together_integrations.schemas.videos import AudioRef, VideoFrameImage, VideoMedia, VideoRef

UTC = timezone.utc
T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
T0_EPOCH = int(T0.timestamp())


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


# --------------------------------------------------------------------------- shared pieces


@pytest.mark.parametrize(
    "raw",
    [
        T0_EPOCH,
        float(T0_EPOCH),
        T0_EPOCH * 1000,
        str(T0_EPOCH),
        "2024-01-15T14:30:00Z",
        "2024-01-15T14:30:00+00:00",
        "2024-01-15T16:30:00+02:00",
        "2024-01-15T14:30:00.000000000Z",
        "2024-01-15 14:30:00",
    ],
)
def test_timestamps_read_epoch_and_iso_as_the_same_aware_instant(raw: Any) -> None:
    parsed = FileObject.model_validate({"id": "file-1", "created_at": raw}).created_at
    assert parsed == T0
    assert parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize("raw", [None, "", "  ", 0, "0001-01-01T00:00:00Z", "soon", [1]])
def test_unset_or_unreadable_timestamps_become_none(raw: Any) -> None:
    assert FileObject.model_validate({"id": "file-1", "created_at": raw}).created_at is None


def test_timestamp_alias_is_usable_in_other_models() -> None:
    from pydantic import TypeAdapter

    assert TypeAdapter(Timestamp).validate_python("2024-01-15T14:30:00Z") == T0


class _Colour(LenientStrEnum):
    DARK_RED = "DARK_RED"
    CANCELLED = "cancelled"


@pytest.mark.parametrize("raw", ["DARK_RED", "dark_red", "Dark-Red", " dark red "])
def test_lenient_enum_matches_case_and_separators(raw: str) -> None:
    assert _Colour.parse(raw) is _Colour.DARK_RED


def test_lenient_enum_accepts_the_american_spelling() -> None:
    assert _Colour.parse("CANCELED") is _Colour.CANCELLED


def test_lenient_enum_keeps_an_unknown_value_as_text() -> None:
    value = _Colour.parse("Paused")
    assert value == "Paused" and not isinstance(value, _Colour)
    assert _Colour.parse(None) == ""
    assert str(_Colour.DARK_RED) == "DARK_RED" and f"{_Colour.CANCELLED}" == "cancelled"


# --------------------------------------------------------------------------- files


def _file(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "file-6f4a1c2e",
        "object": "file",
        "created_at": T0_EPOCH,
        "filename": "train.jsonl",
        "bytes": 2048,
        "purpose": "fine-tune",
        "FileType": "jsonl",
        "Processed": True,
    }
    body.update(overrides)
    return body


def test_file_reads_the_capitalised_spec_keys() -> None:
    f = FileObject.model_validate_json(dumps(_file()))
    assert (f.file_type, f.processed, f.bytes, f.created_at) == ("jsonl", True, 2048, T0)
    assert f.model_extra == {}


def test_file_reads_lower_case_keys_too() -> None:
    body = _file(file_type="parquet", processed=False, processing_status="done")
    del body["FileType"], body["Processed"]
    f = FileObject.model_validate(body)
    assert (f.file_type, f.processed, f.processing_status) == ("parquet", False, "done")


def test_file_keeps_unknown_keys_and_unknown_purposes() -> None:
    f = FileObject.model_validate(_file(purpose="eval-judge", LineCount=12))
    assert f.purpose == "eval-judge"
    assert f.model_extra == {"LineCount": 12}


def test_file_created_at_accepts_iso() -> None:
    assert FileObject.model_validate(_file(created_at="2024-01-15T14:30:00Z")).created_at == T0


@pytest.mark.parametrize(
    "body",
    [{"object": "list", "data": [_file(), _file(id="file-2")]}, [_file(), _file(id="file-2")]],
)
def test_file_list_reads_envelope_or_bare_array(body: Any) -> None:
    listed = FileList.model_validate_json(dumps(body))
    assert [f.id for f in listed.data] == ["file-6f4a1c2e", "file-2"]


def test_file_list_null_data_is_empty() -> None:
    assert FileList.model_validate({"data": None}).data == []


def test_file_deleted() -> None:
    d = FileDeleted.model_validate_json(b'{"id": "file-1", "deleted": true}')
    assert d.id == "file-1" and d.deleted is True


# --------------------------------------------------------------------------- batches


def _batch(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "3f0e2b7c-1a44-4c1e-9d0b-5be2a1c0ffee",
        "user_id": "user_abc",
        "input_file_id": "file-in",
        "file_size_bytes": 4096,
        "status": "IN_PROGRESS",
        "job_deadline": "2024-01-16T14:30:00Z",
        "created_at": "2024-01-15T14:30:00Z",
        "endpoint": "/v1/chat/completions",
        "progress": 42.5,
        "model_id": "Qwen/Qwen2.5-7B-Instruct-Turbo",
        "output_file_id": None,
        "error_file_id": None,
        "error": None,
        "completed_at": None,
    }
    body.update(overrides)
    return body


def test_batch_job_reads_every_documented_field() -> None:
    job = BatchJob.model_validate_json(dumps(_batch()))
    assert job.status is BatchStatus.IN_PROGRESS
    assert job.created_at == T0
    assert job.job_deadline == datetime(2024, 1, 16, 14, 30, tzinfo=UTC)
    assert (job.file_size_bytes, job.progress, job.model_id) == (
        4096,
        42.5,
        "Qwen/Qwen2.5-7B-Instruct-Turbo",
    )
    assert job.completed_at is None and job.model_extra == {}


def test_batch_job_reads_epoch_timestamps() -> None:
    job = BatchJob.model_validate(_batch(created_at=T0_EPOCH, completed_at=T0_EPOCH + 60))
    assert job.created_at == T0
    assert job.completed_at == datetime(2024, 1, 15, 14, 31, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["completed", "COMPLETED", "Completed", " completed "])
def test_batch_status_in_any_case(raw: str) -> None:
    assert BatchJob.model_validate(_batch(status=raw)).status is BatchStatus.COMPLETED


def test_batch_unknown_status_is_text_and_not_terminal() -> None:
    job = BatchJob.model_validate(_batch(status="PAUSED", progress=None))
    assert job.status == "PAUSED" and not isinstance(job.status, BatchStatus)
    assert (job.is_terminal, job.is_failed, job.status_text) == (False, False, "PAUSED")
    assert job.progress_fraction is None


def test_batch_missing_status_is_not_terminal() -> None:
    body = _batch()
    del body["status"]
    job = BatchJob.model_validate(body)
    assert job.status == "" and not job.is_terminal


def test_batch_unknown_fields_are_kept() -> None:
    job = BatchJob.model_validate(_batch(request_counts={"total": 3}))
    assert job.model_extra == {"request_counts": {"total": 3}}


@pytest.mark.parametrize(
    ("status", "terminal", "failed"),
    [
        ("VALIDATING", False, False),
        ("IN_PROGRESS", False, False),
        ("CANCELING", False, False),
        ("COMPLETED", True, False),
        ("FAILED", True, True),
        ("EXPIRED", True, True),
        ("CANCELLED", True, True),
    ],
)
def test_batch_poller_interface(status: str, terminal: bool, failed: bool) -> None:
    job = BatchJob.model_validate(_batch(status=status.lower()))
    assert (job.is_terminal, job.is_failed, job.status_text) == (terminal, failed, status)


def test_every_batch_status_is_classified() -> None:
    # A new member must be placed on purpose: terminal or not, failed or not.
    assert {s.value for s in BatchStatus} == {
        "VALIDATING",
        "IN_PROGRESS",
        "COMPLETED",
        "FAILED",
        "EXPIRED",
        "CANCELLED",
        "CANCELING",
    }
    assert BatchJob.FAILED_STATUSES < BatchJob.TERMINAL_STATUSES


def test_batch_progress_fraction() -> None:
    assert BatchJob.model_validate(_batch(progress=42.5)).progress_fraction == pytest.approx(0.425)
    assert BatchJob.model_validate(_batch(progress=250)).progress_fraction == 1.0
    assert BatchJob.model_validate(_batch(progress=None)).progress_fraction is None
    done = BatchJob.model_validate(_batch(status="COMPLETED", progress=None))
    assert done.progress_fraction == 1.0


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ("model not available for batch", "model not available for batch"),
        ({"message": "input file invalid", "code": "bad_file"}, "input file invalid"),
        (None, None),
        ("", None),
    ],
)
def test_batch_failure_message(error: Any, message: str | None) -> None:
    job = BatchJob.model_validate(_batch(status="FAILED", error=error))
    assert job.failure_message == message


def test_batch_create_reads_job_and_warning() -> None:
    created = parse_batch_create(
        dumps({"job": _batch(status="VALIDATING"), "warning": "no discount for this model"})
    )
    assert created.job.status is BatchStatus.VALIDATING
    assert created.warning == "no discount for this model"


def test_batch_create_accepts_a_bare_job() -> None:
    created = parse_batch_create(dumps(_batch(status="VALIDATING")))
    assert created.job.id == "3f0e2b7c-1a44-4c1e-9d0b-5be2a1c0ffee" and created.warning is None


def test_batch_create_without_a_job_fails_loudly() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        parse_batch_create(b'{"warning": "odd"}')


@pytest.mark.parametrize(
    "body",
    [
        [_batch(), _batch(id="b-2", status="FAILED")],
        {"object": "list", "data": [_batch(), _batch(id="b-2", status="FAILED")]},
    ],
)
def test_batch_list_reads_bare_array_or_envelope(body: Any) -> None:
    jobs = parse_batch_list(dumps(body))
    assert [j.id for j in jobs] == ["3f0e2b7c-1a44-4c1e-9d0b-5be2a1c0ffee", "b-2"]
    assert jobs[1].is_failed


@pytest.mark.parametrize("body", [[], {"data": []}, {"data": None}, {}])
def test_batch_list_empty_forms(body: Any) -> None:
    assert parse_batch_list(dumps(body)) == []


def test_batch_create_request_defaults_the_window_and_drops_unset() -> None:
    req = BatchCreateRequest(endpoint="/v1/chat/completions", input_file_id="file-in")
    assert req.to_wire() == {
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in",
        "completion_window": "24h",
    }
    full = BatchCreateRequest(
        endpoint="/v1/chat/completions", input_file_id="f", priority=1, model_id="m"
    )
    assert json.loads(full.to_wire_json())["priority"] == 1


def test_batch_constants() -> None:
    assert BATCH_MAX_LINES == 50_000
    assert BATCH_MAX_BYTES == 100_000_000 < 100 * 1024 * 1024
    assert BATCH_CUSTOM_ID_MAX == 64
    assert "/v1/audio/translations" in BATCH_ENDPOINTS and len(BATCH_ENDPOINTS) == 3


def test_batch_input_line_serialises_one_compact_json_line() -> None:
    line = BatchInputLine(custom_id="req-1", body={"model": "m", "messages": []})
    raw = line.to_wire_json()
    assert b"\n" not in raw
    assert json.loads(raw) == {"custom_id": "req-1", "body": {"model": "m", "messages": []}}
    audio = BatchInputLine(custom_id="a", body={"file": "https://x/a.mp3"}, method="FILE")
    assert audio.to_wire()["method"] == "FILE"


@pytest.mark.parametrize("custom_id", ["", "x" * 65])
def test_batch_input_line_rejects_bad_custom_ids(custom_id: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        BatchInputLine(custom_id=custom_id, body={})


def test_batch_input_line_accepts_the_longest_custom_id() -> None:
    assert BatchInputLine(custom_id="x" * 64, body={}).custom_id == "x" * 64


def test_batch_output_line_success() -> None:
    raw = {
        "custom_id": "req-2",
        "response": {
            "status_code": 200,
            "request_id": "req_abc",
            "body": {"object": "chat.completion", "choices": []},
        },
    }
    line = BatchOutputLine.model_validate_json(dumps(raw))
    assert line.ok and line.error_message is None
    assert line.response is not None and line.response.request_id == "req_abc"
    assert line.response.body == {"object": "chat.completion", "choices": []}


def test_batch_output_line_error() -> None:
    line = BatchOutputLine.model_validate(
        {"custom_id": "req-3", "error": {"message": "context too long", "code": "invalid_request"}}
    )
    assert not line.ok and line.response is None
    assert line.error is not None and line.error.code == "invalid_request"
    assert line.error_message == "context too long"


def test_batch_output_line_error_as_text_or_code_only() -> None:
    assert (
        BatchOutputLine.model_validate({"custom_id": "a", "error": "boom"}).error_message == "boom"
    )
    coded = BatchOutputLine.model_validate({"custom_id": "a", "error": {"code": 500}})
    assert coded.error_message == "500"


def test_batch_output_line_non_2xx_response_is_a_failure() -> None:
    line = BatchOutputLine.model_validate(
        {
            "custom_id": "req-4",
            "response": {"status_code": 400, "body": {"error": {"message": "bad model"}}},
        }
    )
    assert not line.ok and line.error_message == "bad model"
    bare = BatchOutputLine.model_validate({"custom_id": "r", "response": {"status_code": 503}})
    assert bare.error_message == "status 503"


# --------------------------------------------------------------------------- fine-tuning

WANDB_KEY = "wandb-0123456789abcdef-not-real"
HF_TOKEN = "hf_fake_token_for_tests_only"


def _ft(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "ft-01234567890123456789",
        "status": "running",
        "created_at": "2024-01-15T14:30:00.000Z",
        "updated_at": "2024-01-15T14:31:00.000Z",
        "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "model_output_name": "me/Meta-Llama-3.1-8B-Instruct-Reference-abc123",
        "training_file": "file-train",
        "n_epochs": 4,
        "batch_size": "max",
        "learning_rate": 1e-5,
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "lr_scheduler": {"lr_scheduler_type": "linear", "lr_scheduler_args": {"min_lr_ratio": 0}},
        "events": [],
        "token_count": 850000,
        "total_price": 1500,
        "progress": {"estimate_available": True, "seconds_remaining": 120},
    }
    body.update(overrides)
    return body


def _event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object": "fine-tune-event",
        "created_at": "2024-01-15T14:30:00Z",
        "level": "info",
        "message": "Job started",
        "type": "job_start",
        "step": 0,
    }
    body.update(overrides)
    return body


def test_fine_tune_job_reads_the_spec_shape() -> None:
    job = FineTuneJob.model_validate_json(dumps(_ft()))
    assert job.status is FineTuneStatus.RUNNING and job.created_at == T0
    assert isinstance(job.training_type, LoraTrainingType) and job.training_type.lora_r == 8
    assert isinstance(job.training_method, SFTTrainingMethod)
    assert job.training_method.train_on_inputs == "auto"
    assert isinstance(job.lr_scheduler, LRScheduler)
    assert job.batch_size == "max" and job.total_price == 1500
    assert job.progress is not None and job.progress.seconds_remaining == 120
    assert job.model_extra == {}


def test_fine_tune_job_reads_epoch_timestamps_and_keeps_unknown_keys() -> None:
    job = FineTuneJob.model_validate(_ft(created_at=T0_EPOCH, owner_tier="pro"))
    assert job.created_at == T0 and job.model_extra == {"owner_tier": "pro"}


def test_fine_tune_job_tolerates_unfamiliar_hyperparameters() -> None:
    job = FineTuneJob.model_validate(
        _ft(
            training_type={"type": "QLoRA", "bits": 4},
            training_method={"method": "dpo", "dpo_beta": 0.2},
            lr_scheduler={"lr_scheduler_type": "constant"},
        )
    )
    assert job.training_type == {"type": "QLoRA", "bits": 4}
    assert isinstance(job.training_method, DPOTrainingMethod)
    assert job.training_method.dpo_beta == 0.2
    assert job.lr_scheduler == {"lr_scheduler_type": "constant"}


@pytest.mark.parametrize(
    ("status", "terminal", "failed"),
    [
        ("pending", False, False),
        ("queued", False, False),
        ("running", False, False),
        ("compressing", False, False),
        ("uploading", False, False),
        ("cancel_requested", False, False),
        ("cancelled", True, True),
        ("error", True, True),
        ("completed", True, False),
    ],
)
def test_fine_tune_poller_interface(status: str, terminal: bool, failed: bool) -> None:
    job = FineTuneJob.model_validate(_ft(status=status.upper()))
    assert (job.is_terminal, job.is_failed, job.status_text) == (terminal, failed, status)
    assert {s.value for s in FineTuneStatus} >= {status}


def test_fine_tune_every_status_is_covered() -> None:
    assert len(FineTuneStatus) == 9
    assert FineTuneJob.FAILED_STATUSES < FineTuneJob.TERMINAL_STATUSES


def test_fine_tune_unknown_status_is_not_terminal() -> None:
    job = FineTuneJob.model_validate(_ft(status="evaluating"))
    assert job.status == "evaluating" and not job.is_terminal and not job.is_failed


def test_fine_tune_failure_message_is_the_last_error_event() -> None:
    events = [
        _event(level="error", type="job_error", message="first error"),
        _event(level="info", message="retrying"),
        _event(level="error", type="job_error", message="Training file has no valid samples"),
        _event(level="info", type="job_stopped", message="stopped"),
    ]
    job = FineTuneJob.model_validate(_ft(status="error", events=events))
    assert job.failure_message == "Training file has no valid samples"


def test_fine_tune_failure_message_from_job_error_type_or_error_field() -> None:
    typed = FineTuneJob.model_validate(
        _ft(status="error", events=[_event(level=None, type="job_error", message="OOM")])
    )
    assert typed.failure_message == "OOM"
    direct = FineTuneJob.model_validate(_ft(status="error", error={"message": "billing limit"}))
    assert direct.failure_message == "billing limit"
    quiet = FineTuneJob.model_validate(_ft(status="cancelled", events=[_event()]))
    assert quiet.failure_message is None


def test_fine_tune_progress_fraction() -> None:
    assert FineTuneJob.model_validate(_ft(epochs_completed=1)).progress_fraction == 0.25
    assert FineTuneJob.model_validate(_ft()).progress_fraction is None
    assert FineTuneJob.model_validate(_ft(status="completed")).progress_fraction == 1.0


def test_fine_tune_lists_read_envelopes_and_bare_arrays() -> None:
    listed = FineTuneList.model_validate_json(dumps({"data": [_ft(), _ft(id="ft-2")]}))
    assert [j.id for j in listed.data] == ["ft-01234567890123456789", "ft-2"]
    assert len(FineTuneList.model_validate([_ft()]).data) == 1
    events = FineTuneEventList.model_validate_json(dumps({"data": [_event(), _event(step=7)]}))
    assert events.data[1].step == 7 and events.data[0].created_at == T0
    checkpoints = FineTuneCheckpointList.model_validate_json(
        dumps(
            {
                "data": [
                    {
                        "step": 100,
                        "created_at": "2024-01-15T14:30:00Z",
                        "path": "s3://bucket/ckpt-100",
                        "checkpoint_type": "intermediate",
                    }
                ]
            }
        )
    )
    ckpt = checkpoints.data[0]
    assert isinstance(ckpt, FineTuneCheckpoint)
    assert (ckpt.step, ckpt.path, ckpt.created_at) == (100, "s3://bucket/ckpt-100", T0)


def _ft_request() -> FineTuneRequest:
    return FineTuneRequest(
        training_file="file-train",
        model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        wandb_api_key=WANDB_KEY,
        hf_api_token=HF_TOKEN,
        training_type=LoraTrainingType(lora_r=8, lora_alpha=16),
        training_method=DPOTrainingMethod(dpo_beta=0.1),
        lr_scheduler=LRScheduler(
            lr_scheduler_type="cosine", lr_scheduler_args=LRSchedulerArgs(num_cycles=0.5)
        ),
        batch_size="max",
    )


def test_fine_tune_request_secrets_stay_out_of_repr_str_and_dumps() -> None:
    req = _ft_request()
    for text in (repr(req), str(req), req.model_dump_json(), repr(req.model_dump())):
        assert WANDB_KEY not in text and HF_TOKEN not in text
    assert isinstance(req.wandb_api_key, SecretStr)


def test_fine_tune_request_secrets_are_in_the_body() -> None:
    req = _ft_request()
    body = req.to_wire()
    assert body["wandb_api_key"] == WANDB_KEY and body["hf_api_token"] == HF_TOKEN
    assert json.loads(req.to_wire_json()) == body
    assert body["training_type"] == {"type": "Lora", "lora_r": 8, "lora_alpha": 16}
    assert body["training_method"] == {"method": "dpo", "dpo_beta": 0.1}
    assert body["lr_scheduler"] == {
        "lr_scheduler_type": "cosine",
        "lr_scheduler_args": {"num_cycles": 0.5},
    }
    assert "validation_file" not in body and body["batch_size"] == "max"


def test_fine_tune_request_without_secrets_sends_none_of_them() -> None:
    body = FineTuneRequest(training_file="f", model="m").to_wire()
    assert body == {"training_file": "f", "model": "m"}


def test_fine_tune_request_errors_do_not_echo_secrets() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        FineTuneRequest.model_validate({"training_file": "f", "wandb_api_key": WANDB_KEY})
    assert WANDB_KEY not in str(info.value) and WANDB_KEY not in repr(info.value)


def test_fine_tune_request_picks_the_training_kinds_from_dicts() -> None:
    req = FineTuneRequest.model_validate(
        {
            "training_file": "f",
            "model": "m",
            "training_type": {"type": "Full"},
            "training_method": {"method": "sft", "train_on_inputs": True},
        }
    )
    assert isinstance(req.training_type, FullTrainingType)
    assert isinstance(req.training_method, SFTTrainingMethod)
    assert req.to_wire()["training_method"] == {"method": "sft", "train_on_inputs": True}


def test_fine_tune_job_masks_an_echoed_secret() -> None:
    job = FineTuneJob.model_validate(_ft(wandb_api_key=WANDB_KEY))
    assert WANDB_KEY not in repr(job) and WANDB_KEY not in job.model_dump_json()


def test_fine_tune_price_estimate_and_delete() -> None:
    req = FineTunePriceEstimateRequest(training_file="f", model="m", n_epochs=2)
    assert req.to_wire() == {"training_file": "f", "model": "m", "n_epochs": 2}
    est = FineTunePriceEstimate.model_validate_json(
        b'{"estimated_total_price": 12.5, "allowed_to_proceed": true, "user_limit": 100,'
        b' "estimated_train_token_count": 2000000, "estimated_eval_token_count": 0,'
        b' "currency": "USD"}'
    )
    assert (est.estimated_total_price, est.allowed_to_proceed) == (12.5, True)
    assert est.model_extra == {"currency": "USD"}
    assert FineTuneDeleted.model_validate({"message": "deleted"}).message == "deleted"


# --------------------------------------------------------------------------- videos


def _video_spec(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "video_7c1d",
        "object": "video",
        "model": "google/veo-3.0",
        "status": "in_progress",
        "created_at": T0_EPOCH,
        "completed_at": None,
        "size": "1280x720",
        "seconds": "8",
    }
    body.update(overrides)
    return body


def _video_docs() -> dict[str, Any]:
    return {
        "id": "video_9a2b",
        "model": "minimax/video-01",
        "status": "completed",
        "created_at": "2024-01-15T14:30:00Z",
        "claimed_at": "2024-01-15T14:30:05Z",
        "done_at": "2024-01-15T14:32:00Z",
        "info": {"errors": []},
        "inputs": {"prompt": "a cat surfing", "seconds": "6"},
        "outputs": {"cost": 0.28, "video_url": "https://cdn.example/v.mp4"},
    }


def test_video_job_reads_the_spec_shape() -> None:
    job = VideoJob.model_validate_json(dumps(_video_spec()))
    assert job.status is VideoStatus.IN_PROGRESS and job.created_at == T0
    assert (job.seconds, job.size, job.video_url) == ("8", "1280x720", None)
    assert not job.is_terminal and job.progress_fraction is None


def test_video_job_reads_the_docs_shape() -> None:
    job = VideoJob.model_validate_json(dumps(_video_docs()))
    assert job.created_at == T0 and job.done_at == datetime(2024, 1, 15, 14, 32, tzinfo=UTC)
    assert job.outputs is not None and job.outputs.cost == pytest.approx(0.28)
    assert job.video_url == "https://cdn.example/v.mp4"
    assert job.inputs == {"prompt": "a cat surfing", "seconds": "6"}
    assert job.is_terminal and not job.is_failed and job.failure_message is None
    assert job.progress_fraction == 1.0


def test_video_job_keeps_unknown_fields_and_reads_numeric_seconds() -> None:
    job = VideoJob.model_validate(_video_spec(seconds=8, fps_used=24))
    assert job.seconds == "8" and job.model_extra == {"fps_used": 24}


@pytest.mark.parametrize(
    ("status", "terminal", "failed"),
    [
        ("queued", False, False),
        ("in_progress", False, False),
        ("completed", True, False),
        ("failed", True, True),
        ("cancelled", True, True),
    ],
)
def test_video_poller_interface(status: str, terminal: bool, failed: bool) -> None:
    job = VideoJob.model_validate(_video_spec(status=status.upper()))
    assert (job.is_terminal, job.is_failed, job.status_text) == (terminal, failed, status)


def test_video_statuses_are_all_classified_and_unknown_is_not_terminal() -> None:
    assert len(VideoStatus) == 5
    assert VideoJob.FAILED_STATUSES < VideoJob.TERMINAL_STATUSES
    job = VideoJob.model_validate(_video_spec(status="moderating"))
    assert job.status_text == "moderating" and not job.is_terminal and not job.is_failed


def test_video_failure_message_from_error_or_info_errors() -> None:
    spec = VideoJob.model_validate(
        _video_spec(status="failed", error={"code": "content_policy", "message": "prompt refused"})
    )
    assert spec.failure_message == "prompt refused"
    code_only = VideoJob.model_validate(_video_spec(status="failed", error={"code": "timeout"}))
    assert code_only.failure_message == "timeout"
    docs = VideoJob.model_validate(
        {
            **_video_docs(),
            "status": "failed",
            "outputs": None,
            "info": {"errors": ["GPU preempted", {"message": "retry budget spent"}]},
        }
    )
    assert docs.failure_message == "GPU preempted; retry budget spent"
    assert VideoJob.model_validate(_video_spec(status="failed", error="boom")).failure_message == (
        "boom"
    )


@pytest.mark.parametrize(("given", "sent"), [(5, "5"), ("5", "5"), (5.0, "5"), (7.5, "7.5")])
def test_video_request_sends_seconds_as_a_string(given: Any, sent: str) -> None:
    req = VideoCreateRequest(model="m", prompt="a cat", seconds=given)
    assert req.seconds == sent
    assert json.loads(req.to_wire_json())["seconds"] == sent
    assert VideoCreateRequest.model_validate(req.to_wire()).seconds == sent


def test_video_request_nests_media_and_drops_unset() -> None:
    req = VideoCreateRequest(
        model="m",
        prompt="a cat",
        output_format="webm",
        media=VideoMedia(
            frame_images=[
                VideoFrameImage(input_image="https://x/first.png", frame=0),
                VideoFrameImage(input_image="https://x/last.png", frame="last"),
            ],
            source_video=VideoRef(video="https://x/in.mp4"),
            audio_inputs=["https://x/a.mp3", AudioRef(audio="https://x/b.mp3")],
        ),
    )
    assert req.to_wire() == {
        "model": "m",
        "prompt": "a cat",
        "output_format": "WEBM",
        "media": {
            "frame_images": [
                {"input_image": "https://x/first.png", "frame": 0},
                {"input_image": "https://x/last.png", "frame": "last"},
            ],
            "source_video": {"video": "https://x/in.mp4"},
            "audio_inputs": ["https://x/a.mp3", {"audio": "https://x/b.mp3"}],
        },
    }


@pytest.mark.parametrize("bad", [{"prompt": ""}, {"steps": 5}, {"steps": 51}, {"seconds": True}])
def test_video_request_rejects_out_of_range_values(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        VideoCreateRequest.model_validate({"model": "m", **bad})


# --------------------------------------------------------------------------- dedicated endpoints


def _endpoint(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "object": "endpoint",
        "id": "endpoint-d23901de-ef8f-44bf-b3e7-de9c1ca8f2d7",
        "name": "devuser/Qwen/Qwen3-8B-a32b82a1",
        "display_name": "My Qwen endpoint",
        "model": "Qwen/Qwen3-8B",
        "hardware": "1x_nvidia_h100_80gb_sxm",
        "type": "dedicated",
        "owner": "devuser",
        "state": "STARTING",
        "autoscaling": {"min_replicas": 1, "max_replicas": 2},
        "created_at": "2024-01-15T14:30:00.000Z",
    }
    body.update(overrides)
    return body


def test_endpoint_reads_the_spec_shape() -> None:
    ep = DedicatedEndpoint.model_validate_json(dumps(_endpoint()))
    assert ep.state is EndpointState.STARTING and ep.created_at == T0
    assert isinstance(ep.autoscaling, Autoscaling) and ep.autoscaling.max_replicas == 2
    assert ep.name == "devuser/Qwen/Qwen3-8B-a32b82a1" and ep.model_extra == {}


def test_endpoint_list_reads_serverless_items_and_bare_arrays() -> None:
    serverless = {
        "object": "endpoint",
        "id": "endpoint-s1",
        "name": "allenai/OLMo-7B",
        "model": "allenai/OLMo-7B",
        "type": "serverless",
        "owner": "together",
        "state": "STARTED",
        "created_at": T0_EPOCH,
    }
    listed = EndpointList.model_validate_json(dumps({"object": "list", "data": [serverless]}))
    assert listed.data[0].autoscaling is None and listed.data[0].created_at == T0
    assert EndpointList.model_validate([_endpoint()]).data[0].state is EndpointState.STARTING


@pytest.mark.parametrize(
    ("state", "terminal", "failed"),
    [
        ("PENDING", False, False),
        ("STARTING", False, False),
        ("STARTED", True, False),
        ("STOPPING", False, False),
        ("STOPPED", True, False),
        ("ERROR", True, True),
    ],
)
def test_endpoint_poller_interface(state: str, terminal: bool, failed: bool) -> None:
    ep = DedicatedEndpoint.model_validate(_endpoint(state=state.lower()))
    assert (ep.is_terminal, ep.is_failed, ep.status_text) == (terminal, failed, state)
    assert ep.progress_fraction is None


def test_endpoint_states_are_all_classified_and_unknown_is_not_terminal() -> None:
    assert len(EndpointState) == 6
    assert DedicatedEndpoint.FAILED_STATUSES < DedicatedEndpoint.TERMINAL_STATUSES
    ep = DedicatedEndpoint.model_validate(_endpoint(state="SCALING"))
    assert ep.state == "SCALING" and not ep.is_terminal and not ep.is_failed


def test_endpoint_failure_message_from_an_attached_error() -> None:
    failed = DedicatedEndpoint.model_validate(_endpoint(state="ERROR", error="no capacity"))
    assert failed.failure_message == "no capacity"
    assert DedicatedEndpoint.model_validate(_endpoint(state="ERROR")).failure_message is None


def test_endpoint_requests() -> None:
    create = EndpointCreateRequest(
        model="Qwen/Qwen3-8B",
        hardware="1x_nvidia_h100_80gb_sxm",
        autoscaling=Autoscaling(min_replicas=1, max_replicas=2),
        inactive_timeout=60,
    )
    assert create.to_wire() == {
        "model": "Qwen/Qwen3-8B",
        "hardware": "1x_nvidia_h100_80gb_sxm",
        "autoscaling": {"min_replicas": 1, "max_replicas": 2},
        "inactive_timeout": 60,
    }
    assert EndpointUpdateRequest(state="STOPPED").to_wire() == {"state": "STOPPED"}
    assert EndpointUpdateRequest(inactive_timeout=0).to_wire() == {"inactive_timeout": 0}


def test_endpoint_create_requires_autoscaling_and_a_known_state() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        EndpointCreateRequest.model_validate({"model": "m", "hardware": "h"})
    with pytest.raises(ValidationError):
        EndpointUpdateRequest.model_validate({"state": "PAUSED"})


def test_hardware_list() -> None:
    body = {
        "object": "list",
        "data": [
            {
                "object": "hardware",
                "id": "2x_nvidia_a100_80gb_sxm",
                "pricing": {"cents_per_minute": 5.42},
                "specs": {
                    "gpu_type": "a100-80gb",
                    "gpu_link": "sxm",
                    "gpu_memory": 80,
                    "gpu_count": 2,
                },
                "availability": {"status": "available"},
                "updated_at": "2024-01-15T14:30:00Z",
            }
        ],
    }
    hw = HardwareList.model_validate_json(dumps(body)).data[0]
    assert isinstance(hw, Hardware) and hw.updated_at == T0
    assert hw.pricing is not None and hw.pricing.cents_per_minute == 5.42
    assert hw.specs is not None and (hw.specs.gpu_count, hw.specs.gpu_memory) == (2, 80.0)
    assert hw.availability is not None and hw.availability.status == "available"


# --------------------------------------------------------------------------- audio additions


def test_voice_list() -> None:
    body = {
        "data": [
            {
                "model": "cartesia/sonic-2",
                "voices": [
                    {"id": "v-1", "name": "helpful woman"},
                    {"id": "v-2", "name": "narrator"},
                ],
            },
            {
                "model": "hexgrad/Kokoro-82M",
                "voices": [{"id": "af_alloy", "name": "af_alloy", "lang": "en"}],
            },
        ]
    }
    listed = VoiceList.model_validate_json(dumps(body))
    assert [m.model for m in listed.data] == ["cartesia/sonic-2", "hexgrad/Kokoro-82M"]
    first = listed.data[0]
    assert isinstance(first, ModelVoices) and isinstance(first.voices[0], Voice)
    assert [v.name for v in first.voices] == ["helpful woman", "narrator"]
    assert listed.data[1].voices[0].model_extra == {"lang": "en"}


def test_translation_request_form_has_no_diarization() -> None:
    req = TranslationRequest(
        model="openai/whisper-large-v3",
        response_format="verbose_json",
        temperature=0.0,
        timestamp_granularities=["segment", "word"],
    )
    assert req.to_form() == [
        ("model", "openai/whisper-large-v3"),
        ("response_format", "verbose_json"),
        ("temperature", "0.0"),
        ("timestamp_granularities", "segment"),
        ("timestamp_granularities", "word"),
    ]
    assert "diarize" not in TranslationRequest.model_fields
    assert TranslationRequest().to_form() == []


def test_transcription_request_still_sends_diarization_fields() -> None:
    form = TranscriptionRequest(diarize=True, min_speakers=2).to_form()
    assert form == [("diarize", "true"), ("min_speakers", "2")]
