"""Fine-tuning (NOTES-jobs §7) on the emulator's clock.

A job goes ``pending`` → ``queued`` → ``running`` (events, checkpoints and epochs spread
over ``duration``) → ``compressing`` → ``uploading`` → ``completed``; a scripted job may
end in ``error`` part-way, and ``POST /fine-tunes/{id}/cancel`` moves a live job to
``cancel_requested`` and, :data:`CANCEL_SECONDS` later, ``cancelled``. Once completed, the
job's ``model_output_name`` answers chat and completions requests like its base model.
Each read of a job calls ``clock.poll()`` (see :class:`VirtualClock` ``auto_advance``).

Scripting, per job::

    emu.fine_tunes.script(duration=3600)                        # an hour of training
    emu.fine_tunes.script(outcome="error", error_at=0.5, error="CUDA out of memory")
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .jobs import Timeline
from .state import Predicate, take
from .wire import EmulatedRequest, EmulatedResponse, iso

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["FineTune", "FineTuneScript", "FineTunes", "register"]

FineTuneOutcome = Literal["completed", "error"]
TERMINAL = frozenset({"completed", "error", "cancelled"})
CANCEL_SECONDS = 5.0
PRICE_PER_TOKEN = 0.000003
"""Dollars per trained token in estimates and ``total_price`` (an emulator constant)."""
USER = "emulator-user"


@dataclass
class FineTuneScript:
    """How one fine-tuning job unfolds (see :meth:`FineTunes.script`)."""

    pending: float = 5.0
    queued: float = 10.0
    duration: float = 600.0
    finishing: float = 20.0
    outcome: FineTuneOutcome = "completed"
    error_at: float = 0.5
    error: str = "Training failed: CUDA out of memory"
    when: Predicate | None = None
    times: int | None = 1


@dataclass
class FineTune:
    """One job; its status is computed from :attr:`timeline` and the clock."""

    id: str
    params: dict[str, Any]
    created_at: float
    script: FineTuneScript
    timeline: Timeline
    token_count: int
    total_steps: int
    model_output_name: str
    deleted: bool = False
    registered: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, now: float) -> str:
        return self.timeline.state(now)

    def running_window(self, now: float) -> tuple[float, float] | None:
        """When training ran: from its start to its end, cancel or error (capped at now)."""
        start = self.timeline.entered("running", now)
        if start is None:
            return None
        later = [at for at, _ in self.timeline.steps if at > start]
        return start, min(now, later[0] if later else now)

    def checkpoint_times(self, now: float) -> list[tuple[float, int]]:
        window = self.running_window(now)
        if window is None:
            return []
        start, stop = window
        count = max(1, int(self.params.get("n_checkpoints") or 1))
        out = []
        for i in range(count):
            at = start + self.script.duration * (i + 1) / count
            if at <= stop + 1e-6:  # the last one lands exactly on the end of training
                out.append((at, self.total_steps * (i + 1) // count))
        return out

    def events(self, now: float) -> list[dict[str, Any]]:
        def event(at: float, kind: str, message: str, **extra: Any) -> tuple[float, dict[str, Any]]:
            return at, {
                "object": "fine-tune-event",
                "created_at": iso(at),
                "level": extra.pop("level", "info"),
                "message": message,
                "type": kind,
                "param_count": 0,
                "token_count": self.token_count,
                "total_steps": self.total_steps,
                "wandb_url": "",
                "step": extra.pop("step", 0),
                "checkpoint_path": extra.pop("checkpoint_path", ""),
                "model_path": extra.pop("model_path", ""),
                "training_offset": 0,
                "hash": "",
            }

        found = [event(self.created_at, "job_pending", "Fine tune request created")]
        window = self.running_window(now)
        if window is not None:
            start, stop = window
            found += [
                event(start, "job_start", "Job started"),
                event(start, "model_downloading", "Downloading model"),
                event(start, "model_download_complete", "Model downloaded"),
                event(start, "training_data_downloading", "Downloading training data"),
                event(start, "training_data_download_complete", "Training data downloaded"),
                event(start, "training_start", "Training started"),
            ]
            epochs = max(1, int(self.params.get("n_epochs") or 1))
            for e in range(epochs):
                at = start + self.script.duration * (e + 1) / epochs
                if at <= stop + 1e-6:
                    found.append(
                        event(
                            at,
                            "epoch_complete",
                            f"Epoch {e + 1}/{epochs} completed",
                            step=self.total_steps * (e + 1) // epochs,
                        )
                    )
            for at, step in self.checkpoint_times(now):
                found.append(
                    event(
                        at,
                        "checkpoint_save",
                        f"Checkpoint saved at step {step}",
                        step=step,
                        checkpoint_path=self.checkpoint_path(step),
                    )
                )
        steps = {name: at for at, name in self.timeline.steps if at <= now}
        if "compressing" in steps:
            at = steps["compressing"]
            found += [
                event(at, "training_complete", "Training completed", step=self.total_steps),
                event(at, "model_compressing", "Compressing model"),
            ]
        if "uploading" in steps:
            at = steps["uploading"]
            found += [
                event(at, "model_compression_complete", "Model compressed"),
                event(at, "model_uploading", "Uploading model"),
            ]
        if "completed" in steps:
            at = steps["completed"]
            found += [
                event(at, "model_upload_complete", "Model uploaded"),
                event(
                    at,
                    "job_complete",
                    "Job finished",
                    model_path=self.model_output_name,
                    step=self.total_steps,
                ),
            ]
        if "error" in steps:
            found.append(event(steps["error"], "job_error", self.script.error, level="error"))
        if "cancel_requested" in steps:
            found.append(event(steps["cancel_requested"], "cancel_requested", "Cancel requested"))
        if "cancelled" in steps:
            found.append(event(steps["cancelled"], "job_stopped", "Job cancelled"))
        found.sort(key=lambda pair: pair[0])
        return [e for _, e in found]

    def checkpoint_path(self, step: int) -> str:
        return f"s3://together-emulator/finetune/{self.id}/checkpoint-{step}"

    def checkpoints(self, now: float) -> list[dict[str, Any]]:
        items = [
            {
                "step": step,
                "created_at": iso(at),
                "path": self.checkpoint_path(step),
                "checkpoint_type": "Intermediate",
            }
            for at, step in self.checkpoint_times(now)
        ]
        done = self.timeline.entered("completed", now)
        if done is not None:
            items.append(
                {
                    "step": self.total_steps,
                    "created_at": iso(done),
                    "path": f"s3://together-emulator/finetune/{self.id}/final",
                    "checkpoint_type": "Final",
                }
            )
        return items

    def wire(self, now: float, *, with_events: bool = True) -> dict[str, Any]:
        status = self.status(now)
        running = self.timeline.entered("running", now)
        last_change = (
            max(at for at, _ in self.timeline.steps if at <= now)
            if any(at <= now for at, _ in self.timeline.steps)
            else self.created_at
        )
        remaining = 0
        if status in ("pending", "queued", "running", "compressing", "uploading"):
            end = self.timeline.when("completed") or self.timeline.when("error") or now
            remaining = max(0, math.ceil(end - now))
        payload: dict[str, Any] = {
            "id": self.id,
            "status": status,
            "created_at": iso(self.created_at),
            "updated_at": iso(last_change),
            "started_at": None if running is None else iso(running),
            "user_id": USER,
            "owner_address": USER,
            "total_price": round(self.token_count * PRICE_PER_TOKEN * 100),
            "token_count": self.token_count,
            "events": self.events(now) if with_events else [],
            **self.params,
            "model_output_name": self.model_output_name,
            "progress": {
                "estimate_available": status == "running",
                "seconds_remaining": remaining,
            },
        }
        return payload


class FineTunes:
    """The fine-tuning family's state and scripting API (``emu.fine_tunes``).

    Attributes:
        default: The script of jobs no queued script matched.
    """

    def __init__(self, emulator: TogetherEmulator) -> None:
        self._emu = emulator
        self._jobs: dict[str, FineTune] = {}
        self._scripts: list[FineTuneScript] = []
        self._lock: threading.RLock = emulator._lock
        self.default = FineTuneScript()

    def script(
        self,
        *,
        pending: float = 5.0,
        queued: float = 10.0,
        duration: float = 600.0,
        finishing: float = 20.0,
        outcome: FineTuneOutcome = "completed",
        error_at: float = 0.5,
        error: str = "Training failed: CUDA out of memory",
        when: Predicate | None = None,
        times: int | None = 1,
    ) -> FineTunes:
        """Script how the next created fine-tuning job(s) unfold.

        Args:
            pending: Seconds ``pending``.
            queued: Seconds ``queued``.
            duration: Seconds ``running``; epochs, checkpoints and events spread over it.
            finishing: Seconds ``compressing`` plus ``uploading`` (half each).
            outcome: ``"completed"`` or ``"error"``.
            error_at: For ``"error"``: the share of ``duration`` (0-1) after which it fails.
            error: The ``job_error`` event's message.
            when: A predicate on the ``POST /fine-tunes`` body; such scripts match first.
            times: How many jobs this script applies to; None for all.

        Returns:
            The family, for chaining.
        """
        if outcome not in ("completed", "error"):
            raise ValueError(f"Unknown fine-tune outcome {outcome!r}.")
        if not 0.0 <= error_at <= 1.0:
            raise ValueError("error_at is a share of the duration, between 0 and 1.")
        if min(pending, queued, duration, finishing) < 0:
            raise ValueError("Durations are non-negative seconds.")
        with self._lock:
            self._scripts.append(
                FineTuneScript(
                    pending, queued, duration, finishing, outcome, error_at, error, when, times
                )
            )
        return self

    def get(self, job_id: str) -> FineTune | None:
        """The job (None when unknown or deleted); a completed job's model is registered."""
        job = self._jobs.get(job_id)
        if job is None or job.deleted:
            return None
        self._register(job)
        return job

    def __iter__(self) -> Iterator[FineTune]:
        return iter([job for job_id in list(self._jobs) if (job := self.get(job_id))])

    def sync(self) -> None:
        """Register the output models of jobs that have completed by now."""
        for _ in self:
            pass

    def _register(self, job: FineTune) -> None:
        if job.registered or job.status(self._emu.clock.now()) != "completed":
            return
        base = self._emu.models.get(str(job.params["model"]), {"type": "chat"})
        self._emu.models[job.model_output_name] = dict(base)
        job.registered = True

    def create(self, body: dict[str, Any], lines: int, size: int) -> FineTune:
        script = take(self._scripts, body, self._lock) or self.default
        wire = self._emu.wire
        now = self._emu.clock.now()
        epochs = int(body.get("n_epochs") or 1)
        batch = body.get("batch_size")
        batch_size = batch if isinstance(batch, int) and batch > 0 else 8
        job_id = "ft-" + wire.uuid()
        base = str(body["model"]).split("/")[-1]
        suffix = f"-{body['suffix']}" if body.get("suffix") else ""
        output = f"{USER}/{base}{suffix}-{job_id[3:11]}"
        if script.outcome == "completed":
            phases = [
                ("pending", script.pending),
                ("queued", script.queued),
                ("running", script.duration),
                ("compressing", script.finishing / 2),
                ("uploading", script.finishing / 2),
            ]
            timeline = Timeline.plan(now, phases, "completed")
        else:
            phases = [
                ("pending", script.pending),
                ("queued", script.queued),
                ("running", script.duration * script.error_at),
            ]
            timeline = Timeline.plan(now, phases, "error")
        params = {
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file") or "",
            "model": body["model"],
            "suffix": body.get("suffix") or "",
            "packing": body.get("packing", True),
            "max_seq_length": body.get("max_seq_length") or 8192,
            "n_epochs": epochs,
            "n_evals": int(body.get("n_evals") or 0),
            "n_checkpoints": int(body.get("n_checkpoints") or 1),
            "batch_size": batch if batch is not None else "max",
            "learning_rate": body.get("learning_rate", 0.00001),
            "lr_scheduler": body.get("lr_scheduler")
            or {"lr_scheduler_type": "linear", "lr_scheduler_args": {"min_lr_ratio": 0.0}},
            "warmup_ratio": body.get("warmup_ratio", 0.0),
            "max_grad_norm": body.get("max_grad_norm", 1.0),
            "weight_decay": body.get("weight_decay", 0.0),
            "random_seed": body.get("random_seed"),
            "training_type": body.get("training_type")
            or {
                "type": "Lora",
                "lora_r": 8,
                "lora_alpha": 8,
                "lora_dropout": 0.0,
                "lora_trainable_modules": "all-linear",
            },
            "training_method": body.get("training_method")
            or {"method": "sft", "train_on_inputs": "auto"},
            "wandb_project_name": body.get("wandb_project_name"),
            "wandb_name": body.get("wandb_name"),
            "from_checkpoint": body.get("from_checkpoint"),
            "from_hf_model": body.get("from_hf_model"),
            "hf_model_revision": body.get("hf_model_revision"),
        }
        job = FineTune(
            id=job_id,
            params=params,
            created_at=now,
            script=script,
            timeline=timeline,
            token_count=_tokens(size) * epochs,
            total_steps=max(1, math.ceil(lines / batch_size)) * epochs,
            model_output_name=output,
        )
        self._jobs[job.id] = job
        return job


def _tokens(size: int) -> int:
    return max(1, size // 4)


# ------------------------------------------------------------------ handlers


def register(router: Router) -> None:
    router.add("POST", "/v1/fine-tunes", create)
    router.add("GET", "/v1/fine-tunes", list_jobs)
    router.add("POST", "/v1/fine-tunes/estimate-price", estimate_price)
    router.add("GET", "/v1/fine-tunes/models/supported", supported_models)
    router.add("GET", "/v1/fine-tunes/models/limits", model_limits)
    router.add("GET", "/v1/fine-tunes/{ft_id}", retrieve)
    router.add("DELETE", "/v1/fine-tunes/{ft_id}", delete)
    router.add("GET", "/v1/fine-tunes/{ft_id}/events", events)
    router.add("GET", "/v1/fine-tunes/{ft_id}/checkpoints", checkpoints)
    router.add("POST", "/v1/fine-tunes/{ft_id}/cancel", cancel)
    router.add("GET", "/v1/finetune/download", download)


def _trainable(emu: TogetherEmulator, model: Any) -> bool:
    info = emu.models.get(model) if isinstance(model, str) else None
    return info is not None and info.get("type") in ("chat", "language", "code")


def _training_file(
    emu: TogetherEmulator, body: dict[str, Any]
) -> tuple[int, int] | EmulatedResponse:
    file_id = body.get("training_file")
    if not isinstance(file_id, str) or not file_id:
        return emu.wire.error(400, "training_file is required", param="training_file")
    stored = emu.files.get(file_id)
    if stored is None or stored.data is None:
        return emu.wire.error(
            400, f"Training file {file_id} not found", param="training_file", code="not_found"
        )
    lines = sum(1 for raw in stored.data.splitlines() if raw.strip())
    return lines, len(stored.data)


def create(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    found = _training_file(emu, body)
    if isinstance(found, EmulatedResponse):
        return found
    model = body.get("model")
    if not model:
        return wire.error(400, "model is required", param="model")
    if not _trainable(emu, model):
        return wire.error(
            400,
            f"Model {model} is not supported for fine-tuning",
            param="model",
            code="model_not_available",
        )
    epochs = body.get("n_epochs", 1)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        return wire.error(400, "n_epochs must be a positive integer", param="n_epochs")
    rate = body.get("learning_rate", 0.00001)
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
        return wire.error(400, "learning_rate must be positive", param="learning_rate")
    batch = body.get("batch_size")
    if batch is not None and batch != "max" and (not isinstance(batch, int) or batch < 1):
        return wire.error(400, "batch_size must be a positive integer or 'max'", param="batch_size")
    lines, size = found
    job = emu.fine_tunes.create(body, lines, size)
    return wire.json(job.wire(emu.clock.now(), with_events=False))


def _job(emu: TogetherEmulator, request: EmulatedRequest) -> FineTune | EmulatedResponse:
    job = emu.fine_tunes.get(request.params["ft_id"])
    if job is None:
        return emu.wire.error(
            404, f"Fine-tune job {request.params['ft_id']} not found", code="not_found"
        )
    return job


def list_jobs(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    now = emu.clock.now()
    return emu.wire.json({"data": [job.wire(now, with_events=False) for job in emu.fine_tunes]})


def retrieve(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    emu.clock.poll()
    job = _job(emu, request)
    if isinstance(job, EmulatedResponse):
        return job
    return emu.wire.json(job.wire(emu.clock.now()))


def events(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    job = _job(emu, request)
    if isinstance(job, EmulatedResponse):
        return job
    return emu.wire.json({"data": job.events(emu.clock.now())})


def checkpoints(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    job = _job(emu, request)
    if isinstance(job, EmulatedResponse):
        return job
    return emu.wire.json({"data": job.checkpoints(emu.clock.now())})


def cancel(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    job = _job(emu, request)
    if isinstance(job, EmulatedResponse):
        return job
    now = emu.clock.now()
    status = job.status(now)
    if status in TERMINAL or status == "cancel_requested":
        return emu.wire.error(400, f"Fine-tune job {job.id} is {status} and cannot be cancelled")
    job.timeline.redirect(now, [("cancel_requested", CANCEL_SECONDS)], "cancelled")
    return emu.wire.json(job.wire(now, with_events=False))


def delete(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    job = _job(emu, request)
    if isinstance(job, EmulatedResponse):
        return job
    job.deleted = True
    return emu.wire.json({"message": f"Fine-tune job {job.id} deleted"})


def estimate_price(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    found = _training_file(emu, body)
    if isinstance(found, EmulatedResponse):
        return found
    epochs = int(body.get("n_epochs") or 1)
    train_tokens = _tokens(found[1]) * epochs
    eval_tokens = 0
    validation = body.get("validation_file")
    stored = emu.files.get(validation) if isinstance(validation, str) else None
    if stored is not None and stored.data is not None:
        eval_tokens = _tokens(len(stored.data)) * int(body.get("n_evals") or 0)
    price = round((train_tokens + eval_tokens) * PRICE_PER_TOKEN, 6)
    return emu.wire.json(
        {
            "estimated_total_price": price,
            "allowed_to_proceed": True,
            "user_limit": 1000.0,
            "estimated_train_token_count": train_tokens,
            "estimated_eval_token_count": eval_tokens,
        }
    )


def supported_models(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    return emu.wire.json({"models": [m for m in emu.models if _trainable(emu, m)]})


LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def model_limits(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    """``GET /fine-tunes/models/limits?model_name=``: the hyperparameter bounds of one
    trainable model (NOTES-jobs §7; the field set of the official SDK's response type)."""
    name = request.query_params().get("model_name", "")
    if not name:
        return emu.wire.error(400, "model_name is required", param="model_name")
    if not _trainable(emu, name):
        return emu.wire.error(
            404, f"Model {name} is not available for fine-tuning", code="model_not_available"
        )
    info = emu.models[name]
    context = int(info.get("context_length") or 8192)
    big = context >= 65536
    return emu.wire.json(
        {
            "model_name": name,
            "max_num_epochs": 20,
            "max_num_checkpoints": 20,
            "max_num_evals": 100,
            "min_learning_rate": 1e-6,
            "max_learning_rate": 1e-2,
            "default_gradient_accumulation_steps": 1,
            "min_max_seq_length": 512,
            "max_seq_length_sft": min(context, 131072),
            "max_seq_length_dpo": min(context, 131072) // 2,
            "merge_output_lora": True,
            "supports_full_training": not big,
            "supports_vision": bool(info.get("vision")),
            "supports_tools": bool(info.get("tools")),
            "supports_reasoning": bool(info.get("reasoning")),
            "lora_training": {
                "min_batch_size": 8,
                "max_batch_size": 32 if big else 128,
                "max_batch_size_dpo": 16 if big else 64,
                "max_rank": 64,
                "target_modules": list(LORA_MODULES),
            },
            # Full training off: the limits are reported as zero (the SDK's docstring).
            "full_training": {
                "min_batch_size": 0 if big else 8,
                "max_batch_size": 0 if big else 64,
                "max_batch_size_dpo": 0 if big else 32,
            },
        }
    )


def download(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    query = request.query_params()
    job = emu.fine_tunes.get(query.get("ft_id", ""))
    if job is None:
        return emu.wire.error(
            404, f"Fine-tune job {query.get('ft_id')} not found", code="not_found"
        )
    if job.status(emu.clock.now()) != "completed":
        return emu.wire.error(400, f"Fine-tune job {job.id} has not completed")
    kind = query.get("checkpoint") or "merged"
    step = query.get("checkpoint_step") or str(job.total_steps)
    manifest = json.dumps({"ft_id": job.id, "checkpoint": kind, "step": step}).encode()
    data = b"TOGETHER-EMULATOR-MODEL\n" + manifest + b"\n" + hashlib.sha256(manifest).digest() * 64
    disposition = f'attachment; filename="{job.id}-{kind}.tar.zst"'
    return emu.wire.binary(data, "application/octet-stream", {"content-disposition": disposition})
