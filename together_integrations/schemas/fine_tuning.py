"""Fine-tuning: ``/fine-tunes`` (create, list, retrieve, events, checkpoints, cancel, delete,
price estimate), NOTES-jobs §7.

Nothing here was recorded; shapes follow the spec. Create, list and cancel answer the truncated
job (no events); retrieve answers the full one. Both parse as :class:`FineTuneJob`.

``wandb_api_key`` and ``hf_api_token`` are :class:`~pydantic.SecretStr`: hidden in ``repr``,
``str`` and ``model_dump``, revealed only in :meth:`FineTuneRequest.to_wire` (the request body).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, PlainValidator, SecretStr

from ._base import RequestModel, WireModel
from .errors import error_message_text
from .files import JobModel, LenientStrEnum, ListEnvelope, Timestamp, _clamp_fraction


class FineTuneStatus(LenientStrEnum):
    """Job status; ``cancelled``, ``error`` and ``completed`` are terminal."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPRESSING = "compressing"
    UPLOADING = "uploading"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    ERROR = "error"
    COMPLETED = "completed"


FineTuneStatusValue = Annotated[FineTuneStatus | str, PlainValidator(FineTuneStatus.parse)]


# --------------------------------------------------------------------------- request parts


class LoraTrainingType(RequestModel):
    """LoRA training (the server's default when ``training_type`` is omitted)."""

    type: Literal["Lora"] = "Lora"
    lora_r: int
    lora_alpha: int
    lora_dropout: float | None = None
    lora_trainable_modules: str | None = None


class FullTrainingType(RequestModel):
    """Full-parameter training."""

    type: Literal["Full"] = "Full"


class SFTTrainingMethod(RequestModel):
    """Supervised fine-tuning. ``train_on_inputs`` is a bool or ``"auto"``."""

    method: Literal["sft"] = "sft"
    train_on_inputs: bool | Literal["auto"] | None = None


class DPOTrainingMethod(RequestModel):
    """Direct preference optimisation."""

    method: Literal["dpo"] = "dpo"
    dpo_beta: float | None = None
    rpo_alpha: float | None = None
    dpo_normalize_logratios_by_length: bool | None = None
    dpo_reference_free: bool | None = None
    simpo_gamma: float | None = None


class LRSchedulerArgs(RequestModel):
    """Scheduler arguments: ``min_lr_ratio`` (both kinds), ``num_cycles`` (cosine)."""

    min_lr_ratio: float | None = None
    num_cycles: float | None = None


class LRScheduler(RequestModel):
    """How the learning rate changes during training."""

    lr_scheduler_type: Literal["linear", "cosine"] = "linear"
    lr_scheduler_args: LRSchedulerArgs | None = None


class MultimodalParams(RequestModel):
    """Options for multimodal base models."""

    train_vision: bool | None = None


TrainingType = Annotated[LoraTrainingType | FullTrainingType, Field(discriminator="type")]
TrainingMethod = Annotated[SFTTrainingMethod | DPOTrainingMethod, Field(discriminator="method")]

_SECRET_FIELDS = ("wandb_api_key", "hf_api_token")


class FineTuneRequest(RequestModel):
    """A ``POST /fine-tunes`` body. Unset fields are left to the server's defaults.

    Validation errors do not echo the input (it may hold the secrets).
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    training_file: str
    model: str
    validation_file: str | None = None
    packing: bool | None = None
    max_seq_length: int | None = None
    n_epochs: int | None = None
    n_checkpoints: int | None = None
    n_evals: int | None = None
    batch_size: int | Literal["max"] | None = None
    learning_rate: float | None = None
    lr_scheduler: LRScheduler | None = None
    warmup_ratio: float | None = None
    max_grad_norm: float | None = None
    weight_decay: float | None = None
    random_seed: int | None = None
    suffix: str | None = None
    train_on_inputs: bool | Literal["auto"] | None = Field(
        default=None, description="Deprecated: use training_method.train_on_inputs."
    )
    wandb_api_key: SecretStr | None = None
    wandb_base_url: str | None = None
    wandb_project_name: str | None = None
    wandb_name: str | None = None
    wandb_entity: str | None = None
    training_method: TrainingMethod | None = None
    training_type: TrainingType | None = None
    multimodal_params: MultimodalParams | None = None
    from_checkpoint: str | None = None
    from_hf_model: str | None = None
    hf_model_revision: str | None = None
    hf_api_token: SecretStr | None = None
    hf_output_repo_name: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready body, with the secrets' real values (and nowhere else)."""
        body = super().to_wire()
        for name in _SECRET_FIELDS:
            secret = getattr(self, name)
            if isinstance(secret, SecretStr):
                body[name] = secret.get_secret_value()
        return body

    def to_wire_json(self) -> bytes:
        """The body as compact JSON bytes, with the secrets' real values."""
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":")).encode()


class FineTunePriceEstimateRequest(RequestModel):
    """A ``POST /fine-tunes/estimate-price`` body."""

    training_file: str
    model: str | None = None
    validation_file: str | None = None
    n_epochs: int | None = None
    n_evals: int | None = None
    training_method: TrainingMethod | None = None
    training_type: TrainingType | None = None
    from_checkpoint: str | None = None


# --------------------------------------------------------------------------- responses


class FineTuneEvent(WireModel):
    """One entry of a job's event log (``type`` such as ``job_start``, ``checkpoint_save``,
    ``job_error``; ``level`` such as ``info``, ``warning``, ``error``)."""

    object: str = "fine-tune-event"
    created_at: Timestamp = None
    level: str | None = None
    message: str | None = None
    type: str | None = None
    param_count: int | None = None
    token_count: int | None = None
    total_steps: int | None = None
    wandb_url: str | None = None
    step: int | None = None
    checkpoint_path: str | None = None
    model_path: str | None = None
    training_offset: int | None = None
    hash: str | None = None

    @property
    def is_error(self) -> bool:
        """True for an error-level event or a ``job_error``."""
        level = (self.level or "").lower()
        return level in ("error", "legacy_ierror") or (self.type or "").lower() == "job_error"


class FineTuneProgress(WireModel):
    """The server's time estimate for the current stage."""

    estimate_available: bool | None = None
    seconds_remaining: float | None = None


class FineTuneJob(JobModel):
    """A fine-tuning job (the full or the truncated form).

    The response echoes the hyperparameters; they are read leniently (an unfamiliar training
    type or scheduler stays a dict instead of failing the job).
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    TERMINAL_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {FineTuneStatus.CANCELLED, FineTuneStatus.ERROR, FineTuneStatus.COMPLETED}
    )
    FAILED_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {FineTuneStatus.CANCELLED, FineTuneStatus.ERROR}
    )

    id: str
    status: FineTuneStatusValue = ""
    created_at: Timestamp = None
    updated_at: Timestamp = None
    started_at: Timestamp = None
    user_id: str | None = None
    owner_address: str | None = None
    job_id: str | None = None
    model: str | None = None
    model_output_name: str | None = None
    model_output_path: str | None = None
    suffix: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    trainingfile_numlines: int | None = None
    trainingfile_size: int | None = None
    packing: bool | None = None
    max_seq_length: int | None = None
    n_epochs: int | None = None
    n_checkpoints: int | None = None
    n_evals: int | None = None
    eval_steps: int | None = None
    batch_size: int | str | None = None
    learning_rate: float | None = None
    lr_scheduler: LRScheduler | dict[str, Any] | None = None
    warmup_ratio: float | None = None
    max_grad_norm: float | None = None
    weight_decay: float | None = None
    random_seed: int | None = None
    train_on_inputs: bool | str | None = None
    training_method: SFTTrainingMethod | DPOTrainingMethod | dict[str, Any] | None = None
    training_type: LoraTrainingType | FullTrainingType | dict[str, Any] | None = None
    multimodal_params: MultimodalParams | dict[str, Any] | None = None
    events: list[FineTuneEvent] | None = None
    token_count: int | None = None
    param_count: int | None = None
    total_price: float | None = None
    epochs_completed: int | None = None
    queue_depth: int | None = None
    wandb_project_name: str | None = None
    wandb_name: str | None = None
    wandb_url: str | None = None
    from_checkpoint: str | None = None
    from_hf_model: str | None = None
    hf_model_revision: str | None = None
    hf_output_repo_name: str | None = None
    progress: FineTuneProgress | None = None
    # Never sent back as far as we know; typed as secrets so an echo stays out of reprs.
    wandb_api_key: SecretStr | None = None
    hf_api_token: SecretStr | None = None

    def _current_status(self) -> LenientStrEnum | str:
        return self.status

    @property
    def failure_message(self) -> str | None:
        """An ``error`` the server attached, else the message of the last error event."""
        extra = self.model_extra or {}
        text = error_message_text(extra.get("error"))
        if text:
            return text
        for event in reversed(self.events or []):
            if event.is_error and event.message:
                return event.message
        return None

    @property
    def progress_fraction(self) -> float | None:
        """1 once completed; else epochs completed over epochs, when both are known."""
        if self.status is FineTuneStatus.COMPLETED:
            return 1.0
        if self.epochs_completed is not None and self.n_epochs:
            return _clamp_fraction(self.epochs_completed / self.n_epochs)
        return None


class FineTuneList(ListEnvelope):
    """``GET /fine-tunes``."""

    data: list[FineTuneJob] = Field(default_factory=list)


class FineTuneEventList(ListEnvelope):
    """``GET /fine-tunes/{id}/events``."""

    data: list[FineTuneEvent] = Field(default_factory=list)


class FineTuneCheckpoint(WireModel):
    """A saved checkpoint (``checkpoint_type`` such as ``intermediate`` or ``final``)."""

    step: int | None = None
    created_at: Timestamp = None
    path: str | None = None
    checkpoint_type: str | None = None


class FineTuneCheckpointList(ListEnvelope):
    """``GET /fine-tunes/{id}/checkpoints``."""

    data: list[FineTuneCheckpoint] = Field(default_factory=list)


class FineTunePriceEstimate(WireModel):
    """``POST /fine-tunes/estimate-price``."""

    estimated_total_price: float | None = None
    allowed_to_proceed: bool | None = None
    user_limit: float | None = None
    estimated_train_token_count: float | None = None
    estimated_eval_token_count: float | None = None


class FineTuneDeleted(WireModel):
    """``DELETE /fine-tunes/{id}``: the spec sends only a ``message``."""

    message: str | None = None
