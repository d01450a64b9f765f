"""Batches: ``/batches`` (create, list, retrieve, cancel), NOTES-jobs §6.

Nothing here was recorded. What the spec, SDK and docs agree on:

* ``POST /batches`` answers 201 ``{"job": BatchJob, "warning"?}``; ``GET /batches/{id}`` and
  ``POST /batches/{id}/cancel`` answer a bare ``BatchJob``; ``GET /batches`` a bare array.
  :func:`parse_batch_create` and :func:`parse_batch_list` accept either form.
* Errors are ``{"error": "string"}`` (read by :mod:`.errors`).
* Statuses are upper case in the spec; any case is read, and an unknown one is kept as text.
* The output file is in no particular order, and a ``COMPLETED`` batch can still hold failed
  lines: read the error file too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import Field, PlainValidator, model_validator

from ._base import RequestModel, WireModel
from .errors import error_message_text
from .files import JobModel, LenientStrEnum, Timestamp, _clamp_fraction

BATCH_MAX_LINES = 50_000
"""Requests per batch (docs)."""

# The docs say "100 MB" without saying which megabyte; the decimal one (10**6 bytes) is the
# smaller, so a file we accept can never be refused for size. 100 MiB would be 104_857_600.
BATCH_MAX_BYTES = 100 * 1000 * 1000
"""Bytes per batch input file."""

BATCH_CUSTOM_ID_MAX = 64
"""Characters in one line's ``custom_id`` (unique within the file)."""

BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/audio/transcriptions", "/v1/audio/translations")
"""The endpoints a batch can target (SDK); audio lines currently need ``"method": "FILE"``."""


class BatchStatus(LenientStrEnum):
    """``VALIDATING → IN_PROGRESS → COMPLETED | FAILED | EXPIRED | CANCELLED``; the v1 SDK's
    ``CANCELING`` is kept (a cancel in progress, not terminal)."""

    VALIDATING = "VALIDATING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    CANCELING = "CANCELING"


BatchStatusValue = Annotated[BatchStatus | str, PlainValidator(BatchStatus.parse)]


class BatchCreateRequest(RequestModel):
    """A ``POST /batches`` body."""

    endpoint: str
    input_file_id: str
    completion_window: str | None = "24h"
    priority: int | None = None
    model_id: str | None = None


class BatchJob(JobModel):
    """A batch job. Timestamps are ISO strings in the spec; epoch numbers are read too.
    ``progress`` is a percentage (0-100); :attr:`progress_fraction` is 0-1."""

    TERMINAL_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED}
    )
    FAILED_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED}
    )

    id: str
    user_id: str | None = None
    input_file_id: str | None = None
    file_size_bytes: int | None = None
    status: BatchStatusValue = ""
    job_deadline: Timestamp = None
    created_at: Timestamp = None
    endpoint: str | None = None
    progress: float | None = None
    model_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    error: str | dict[str, Any] | None = None
    completed_at: Timestamp = None

    def _current_status(self) -> LenientStrEnum | str:
        return self.status

    @property
    def failure_message(self) -> str | None:
        """The batch's ``error``, when the server set one."""
        text = error_message_text(self.error)
        return text or None

    @property
    def progress_fraction(self) -> float | None:
        """``progress / 100``, or 1 once ``COMPLETED``."""
        if self.status is BatchStatus.COMPLETED:
            return 1.0
        if self.progress is None:
            return None
        return _clamp_fraction(self.progress / 100.0)


class BatchCreateResponse(WireModel):
    """The ``POST /batches`` answer: the job and an optional warning (e.g. a model that does not
    get the batch discount)."""

    job: BatchJob
    warning: str | None = None


def parse_batch_create(content: bytes) -> BatchCreateResponse:
    """Parse ``POST /batches``: ``{"job": ..., "warning": ...}`` (spec) or a bare job."""
    value: Any = json.loads(content)
    if isinstance(value, dict) and isinstance(value.get("job"), dict):
        return BatchCreateResponse.model_validate(value)
    return BatchCreateResponse(job=BatchJob.model_validate(value))


class _BatchListEnvelope(WireModel):
    data: list[BatchJob] | None = None


def parse_batch_list(content: bytes) -> list[BatchJob]:
    """Parse ``GET /batches``: a bare array (spec) or ``{"data": [...]}``."""
    value: Any = json.loads(content)
    if isinstance(value, list):
        return [BatchJob.model_validate(item) for item in value]
    return _BatchListEnvelope.model_validate(value).data or []


# --------------------------------------------------------------------------- JSONL lines


class BatchInputLine(RequestModel):
    """One line of a batch input file: ``{"custom_id", "body"}``. ``method``/``url`` are
    optional (audio lines currently need ``"method": "FILE"`` and ``body.file`` as a URL)."""

    custom_id: str = Field(min_length=1, max_length=BATCH_CUSTOM_ID_MAX)
    body: dict[str, Any]
    method: str | None = None
    url: str | None = None


class BatchOutputResponse(WireModel):
    """The ``response`` of an output line: the status and body the endpoint answered."""

    status_code: int | None = None
    request_id: str | None = None
    body: Any = None


class BatchOutputError(WireModel):
    """The ``error`` of an error-file line."""

    message: str | None = None
    code: str | int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"message": value} if isinstance(value, str) else value


class BatchOutputLine(WireModel):
    """One line of a batch output or error file (in no particular order: match on
    ``custom_id``)."""

    custom_id: str = ""
    response: BatchOutputResponse | None = None
    error: BatchOutputError | None = None

    @property
    def ok(self) -> bool:
        """True when the line holds a 2xx response and no error."""
        if self.error is not None or self.response is None:
            return False
        code = self.response.status_code
        return code is None or 200 <= code < 300

    @property
    def error_message(self) -> str | None:
        """Why this request failed: the line's ``error``, or the error in a non-2xx body."""
        if self.error is not None:
            return self.error.message or (str(self.error.code) if self.error.code else None)
        if self.response is None or self.ok:
            return None
        body = self.response.body
        detail = body.get("error", body) if isinstance(body, dict) else body
        return error_message_text(detail) or f"status {self.response.status_code}"
