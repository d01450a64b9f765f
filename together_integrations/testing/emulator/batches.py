"""Batches (NOTES-jobs §6), computed lazily from the emulator's clock: no threads.

A job is ``VALIDATING`` for ``validating`` seconds, then ``IN_PROGRESS`` for ``duration``
seconds while its lines finish one by one (``progress`` rises from 0 to 100), then
``COMPLETED``; scripted jobs may end ``FAILED`` or ``EXPIRED`` instead, and any job can be
``CANCELLED`` while it runs. A job that would finish after its 24 h ``job_deadline`` expires
there. Each read of a job (``GET /batches/{id}``) calls ``clock.poll()``, so a
``VirtualClock(auto_advance=...)`` moves jobs forward for clients that poll with real sleeps.

Every input line runs through the emulator's own handler for the job's endpoint (the same
pipeline as an online request: scripted replies, tool calls, dialects, validation errors and
faults all apply), at the virtual moment the line finishes, in a seeded shuffled order.
Lines that succeed go to the output file as ``{custom_id, response: {status_code, body}}``
in that order; lines that fail go to a separate error file as
``{custom_id, error: {message, code}}``, ``code`` being a string: the handler's error
``code`` or ``type`` (``invalid_request_error``, ``server_error``, ``rate_limit``), or
``batch_expired`` / ``batch_cancelled`` for lines a job never reached.

Scripting, per job (the next created job matching ``when`` takes the script)::

    emu.batches.script(duration=86_000, validating=60)          # a day, in virtual time
    emu.batches.script(outcome="expired", expire_at=0.6)        # expires 60 % of the way
    emu.batches.script(outcome="failed", error="Model not available for batch")
    emu.batches.script(fail_items={"req-7": "upstream timeout"})
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Literal

from .state import Predicate, take
from .wire import EmulatedRequest, EmulatedResponse, iso_seconds

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["BatchJob", "BatchScript", "Batches", "register"]

BatchOutcome = Literal["completed", "failed", "expired"]
ENDPOINTS = ("/v1/chat/completions", "/v1/audio/transcriptions", "/v1/audio/translations")
MAX_LINES = 50_000
MAX_BYTES = 100 * 1024 * 1024
MAX_CUSTOM_ID = 64
WINDOW_SECONDS = 24 * 3600
TERMINAL = frozenset({"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"})
DISCOUNTED = frozenset(
    {
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "meta-llama/Llama-3-70b-chat-hf",
        "Qwen/Qwen2.5-7B-Instruct-Turbo",
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "zai-org/GLM-4.5-Air-FP8",
        "openai/whisper-large-v3",
    }
)
"""Models the batch discount applies to (the docs' list); others get a ``warning``."""
UNAVAILABLE = frozenset({"deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3.1"})
"""Models the docs say batches cannot use: such jobs end ``FAILED`` after validation."""


@dataclass
class BatchScript:
    """How one batch job unfolds (see :meth:`Batches.script`)."""

    duration: float = 60.0
    validating: float = 5.0
    outcome: BatchOutcome = "completed"
    expire_at: float | None = None
    fail_at: float = 0.0
    error: str | None = None
    fail_items: dict[str, str] = field(default_factory=dict)
    when: Predicate | None = None
    times: int | None = 1


@dataclass
class _Line:
    custom_id: str
    body: dict[str, Any]


@dataclass
class BatchJob:
    """One job and its lazily computed progress.

    Attributes:
        id: A uuid.
        input_file_id: The input file.
        endpoint: One of the accepted endpoints.
        model_id: The job's model (the request's ``model_id``, else the first line's).
        created_at: Creation time, clock seconds.
        script: How it unfolds.
        order: Line indexes in the (seeded, shuffled) order they finish.
        status: The status at the last look (see :meth:`Batches.get`).
        done: How many lines have run.
        output_file_id: Set when a terminal job wrote successful lines.
        error_file_id: Set when a terminal job wrote failed lines.
        error: The job-level error of a ``FAILED`` job.
        completed_at: When it reached its terminal status.
        warning: The creation ``warning``, if any.
    """

    id: str
    input_file_id: str
    file_size_bytes: int
    endpoint: str
    model_id: str
    created_at: float
    script: BatchScript
    lines: list[_Line]
    order: list[int]
    status: str = "VALIDATING"
    done: int = 0
    output_lines: list[bytes] = field(default_factory=list)
    error_lines: list[bytes] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    error: str | None = None
    completed_at: float | None = None
    warning: str | None = None

    @property
    def started_at(self) -> float:
        return self.created_at + self.script.validating

    def finish_time(self, k: int) -> float:
        """When the k-th line (in finishing order) is done."""
        return self.started_at + self.script.duration * (k + 1) / max(1, len(self.lines))

    def ending(self) -> tuple[float, str]:
        """When and how the job ends unless cancelled first."""
        script = self.script
        deadline = self.created_at + WINDOW_SECONDS
        if script.outcome == "failed" or self.model_id in UNAVAILABLE:
            return self.started_at + script.fail_at * script.duration, "FAILED"
        if script.outcome == "expired":
            share = 1.0 if script.expire_at is None else script.expire_at
            return min(deadline, self.started_at + share * script.duration), "EXPIRED"
        end = self.started_at + script.duration
        return (deadline, "EXPIRED") if end > deadline else (end, "COMPLETED")

    def wire(self) -> dict[str, Any]:
        """The ``BatchJob`` wire shape."""
        progress = 100.0 if self.status == "COMPLETED" else 0.0
        if self.lines and self.status != "COMPLETED":
            progress = round(100.0 * self.done / len(self.lines), 2)
        return {
            "id": self.id,
            "user_id": "user-emulator",
            "input_file_id": self.input_file_id,
            "file_size_bytes": self.file_size_bytes,
            "status": self.status,
            "job_deadline": iso_seconds(self.created_at + WINDOW_SECONDS),
            "created_at": iso_seconds(self.created_at),
            "endpoint": self.endpoint,
            "progress": progress,
            "model_id": self.model_id,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "error": self.error,
            "completed_at": None if self.completed_at is None else iso_seconds(self.completed_at),
        }


class Batches:
    """The batch family's state and scripting API (``emu.batches``).

    Attributes:
        default: The script of jobs no queued script matched.
        max_lines, max_bytes: The input limits (50,000 lines, 100 MB).
    """

    def __init__(self, emulator: TogetherEmulator) -> None:
        self._emu = emulator
        self._jobs: dict[str, BatchJob] = {}
        self._scripts: list[BatchScript] = []
        self._lock: threading.RLock = emulator._lock
        self.default = BatchScript()
        self.max_lines = MAX_LINES
        self.max_bytes = MAX_BYTES

    def script(
        self,
        *,
        duration: float = 60.0,
        validating: float = 5.0,
        outcome: BatchOutcome = "completed",
        expire_at: float | None = None,
        fail_at: float = 0.0,
        error: str | None = None,
        fail_items: Mapping[str, str] | Iterable[str] | None = None,
        when: Predicate | None = None,
        times: int | None = 1,
    ) -> Batches:
        """Script how the next created batch job(s) unfold.

        Args:
            duration: Seconds ``IN_PROGRESS``; lines finish evenly spread over it.
            validating: Seconds ``VALIDATING`` before that.
            outcome: ``"completed"``, ``"failed"`` (``FAILED`` with ``error``, no more lines
                run) or ``"expired"`` (``EXPIRED``; lines not reached go to the error file
                as ``batch_expired``).
            expire_at: For ``"expired"``: the share of ``duration`` (0-1) after which it
                expires (default 1: at the end).
            fail_at: For ``"failed"``: the share of ``duration`` after which it fails
                (default 0: right after validation).
            error: The job's ``error`` text for ``"failed"``.
            fail_items: ``custom_id`` → error message (or just ids) of lines that fail with
                code ``server_error`` whatever the handler would answer.
            when: A predicate on the ``POST /batches`` body; such scripts are matched first.
            times: How many jobs this script applies to; None for all.

        Returns:
            The family, for chaining.
        """
        if outcome not in ("completed", "failed", "expired"):
            raise ValueError(f"Unknown batch outcome {outcome!r}.")
        for name, share in (("expire_at", expire_at), ("fail_at", fail_at)):
            if share is not None and not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} is a share of the duration, between 0 and 1.")
        if duration < 0 or validating < 0:
            raise ValueError("duration and validating are non-negative seconds.")
        items = dict(fail_items) if isinstance(fail_items, Mapping) else {}
        if fail_items is not None and not isinstance(fail_items, Mapping):
            items = dict.fromkeys(fail_items, "Internal server error")
        with self._lock:
            self._scripts.append(
                BatchScript(
                    duration, validating, outcome, expire_at, fail_at, error, items, when, times
                )
            )
        return self

    def get(self, batch_id: str) -> BatchJob | None:
        """The job, brought up to the clock's current time."""
        with self._lock:
            job = self._jobs.get(batch_id)
            if job is not None:
                self._advance(job, self._emu.clock.now())
            return job

    def __iter__(self) -> Iterator[BatchJob]:
        return iter([job for job_id in list(self._jobs) if (job := self.get(job_id))])

    def __len__(self) -> int:
        return len(self._jobs)

    # ------------------------------------------------------------- lifecycle

    def create(self, body: dict[str, Any], lines: list[_Line], size: int) -> BatchJob:
        script = take(self._scripts, body, self._lock) or self.default
        model = body.get("model_id") or next(
            (str(line.body["model"]) for line in lines if line.body.get("model")), ""
        )
        order = list(range(len(lines)))
        self._emu.wire.rng.shuffle(order)
        job = BatchJob(
            id=self._emu.wire.uuid(),
            input_file_id=str(body["input_file_id"]),
            file_size_bytes=size,
            endpoint=str(body["endpoint"]),
            model_id=model,
            created_at=self._emu.clock.now(),
            script=script,
            lines=lines,
            order=order,
        )
        if model and model not in DISCOUNTED:
            job.warning = (
                f"Model {model} is not eligible for the batch discount; standard rates apply."
            )
        self._jobs[job.id] = job
        return job

    def _advance(self, job: BatchJob, now: float) -> None:
        if job.status in TERMINAL:
            return
        if now < job.started_at:
            job.status = "VALIDATING"
            return
        end, final = job.ending()
        # Lines run at the moment they finish, up to now or the job's end; a completed job
        # runs them all (float rounding must not strand the last one).
        limit = min(now, end)
        wire = self._emu.wire
        internal, wire.internal = wire.internal, True  # answers decoded at once, never sent
        collecting = gc.isenabled()
        gc.disable()  # lines make no reference cycles; the collector would walk every line
        try:
            while job.done < len(job.lines) and (
                job.finish_time(job.done) <= limit or (final == "COMPLETED" and now >= end)
            ):
                self._run(job, job.lines[job.order[job.done]])
                job.done += 1
        finally:
            wire.internal = internal
            if collecting:
                gc.enable()
        if now >= end:
            self._finish(job, final, end)
        else:
            job.status = "IN_PROGRESS"

    def cancel(self, job: BatchJob) -> bool:
        now = self._emu.clock.now()
        self._advance(job, now)
        if job.status in TERMINAL:
            return False
        self._finish(job, "CANCELLED", now)
        return True

    def _finish(self, job: BatchJob, status: str, at: float) -> None:
        job.status = status
        job.completed_at = at
        if status == "FAILED":
            job.error = job.script.error or (
                f"Model {job.model_id} is not available for batch inference"
                if job.model_id in UNAVAILABLE
                else "Batch failed"
            )
        elif status in ("EXPIRED", "CANCELLED"):
            reason = "batch_expired" if status == "EXPIRED" else "batch_cancelled"
            message = (
                "The batch expired before this request was processed"
                if status == "EXPIRED"
                else "The batch was cancelled before this request was processed"
            )
            for index in job.order[job.done :]:
                job.error_lines.append(_error_line(job.lines[index].custom_id, message, reason))
        files = self._emu.files
        if job.output_lines:
            job.output_file_id = files.create(
                b"".join(job.output_lines),
                filename=f"batch_{job.id}_output.jsonl",
                purpose="batch-generated",
            ).id
        if job.error_lines:
            job.error_file_id = files.create(
                b"".join(job.error_lines),
                filename=f"batch_{job.id}_error.jsonl",
                purpose="batch-generated",
            ).id

    def _run(self, job: BatchJob, line: _Line) -> None:
        forced = job.script.fail_items.get(line.custom_id)
        if forced is not None:
            job.error_lines.append(_error_line(line.custom_id, forced, "server_error"))
            return
        body = line.body
        if "stream" in body or (job.model_id and not body.get("model")):
            body = dict(body)
            body.pop("stream", None)  # batch answers are whole responses
            if job.model_id and not body.get("model"):
                body["model"] = job.model_id
        answer = self._emu.internal("POST", job.endpoint, body)
        encoded = _ok_json(answer)
        if encoded is not None:
            job.output_lines.append(
                b'{"custom_id": '
                + _quoted(line.custom_id)
                + b', "response": {"status_code": 200, "body": '
                + encoded
                + b"}}\n"
            )
            return
        outcome = _outcome(answer)
        if isinstance(outcome, tuple):
            message, code = outcome
            job.error_lines.append(_error_line(line.custom_id, message, code))
        else:
            job.output_lines.append(
                _encode(
                    {"custom_id": line.custom_id, "response": {"status_code": 200, "body": outcome}}
                )
            )


def _outcome(answer: EmulatedResponse) -> Any:
    """The body of a successful answer, or ``(message, code)`` for a failed one."""
    if answer.reset_before_headers or answer.reset_after is not None:
        return "The connection to the model server was lost", "server_error"
    try:
        body = answer.json()
    except ValueError:
        return "The model server returned an invalid response", "server_error"
    if answer.status == 200:
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, dict):
            message = message.get("message")
        code = error.get("code") or error.get("type") or "server_error"
        return str(message), str(code)
    return str(error or f"HTTP {answer.status}"), "server_error"


def _quoted(text: str) -> bytes:
    return encode_basestring(text).encode()  # what json.dumps(text, ensure_ascii=False) does


def _encode(line: dict[str, Any]) -> bytes:
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


def _error_line(custom_id: str, message: str, code: str) -> bytes:
    return _encode({"custom_id": custom_id, "error": {"message": message, "code": code}})


def _ok_json(answer: EmulatedResponse) -> bytes | None:
    """The body of a whole 200 JSON answer as one line of bytes, without decoding it: the
    emulator's own encoder wrote it (compact while a job runs), so it is valid JSON. None
    for anything else, which :func:`_outcome` reads."""
    if (
        answer.status != 200
        or answer.reset_before_headers
        or answer.reset_after is not None
        or not answer.headers.get("content-type", "").startswith("application/json")
    ):
        return None
    data = answer.body if answer.chunks is None else b"".join(answer.chunks)
    if b"\n" in data:  # indented after all: a JSONL line must not break
        return json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()
    return data


# ------------------------------------------------------------------ handlers


def register(router: Router) -> None:
    router.add("POST", "/v1/batches", create)
    router.add("GET", "/v1/batches", list_batches)
    router.add("GET", "/v1/batches/{batch_id}", retrieve)
    router.add("POST", "/v1/batches/{batch_id}/cancel", cancel)


def _parse_lines(emu: TogetherEmulator, data: bytes) -> list[_Line] | str:
    family = emu.batches
    if len(data) > family.max_bytes:
        return f"Input file exceeds the maximum size of {family.max_bytes} bytes"
    lines: list[_Line] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(lines) >= family.max_lines:
            return f"Input file exceeds the maximum of {family.max_lines} requests"
        try:
            item = json.loads(raw)
        except ValueError:
            return f"Line {number}: not valid JSON"
        if not isinstance(item, dict):
            return f"Line {number}: each line must be a JSON object"
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            return f"Line {number}: custom_id is required"
        if len(custom_id) > MAX_CUSTOM_ID:
            return f"Line {number}: custom_id exceeds {MAX_CUSTOM_ID} characters"
        if custom_id in seen:
            return f"Line {number}: duplicate custom_id {custom_id!r}"
        seen.add(custom_id)
        body = item.get("body")
        if not isinstance(body, dict):
            return f"Line {number}: body must be a JSON object"
        lines.append(_Line(custom_id, body))
    if not lines:
        return "Input file contains no requests"
    return lines


def create(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    endpoint = body.get("endpoint")
    if endpoint not in ENDPOINTS:
        return wire.simple_error(
            400, f"Invalid endpoint {endpoint!r}; supported endpoints: {', '.join(ENDPOINTS)}"
        )
    file_id = body.get("input_file_id")
    if not isinstance(file_id, str) or not file_id:
        return wire.simple_error(400, "input_file_id is required")
    window = body.get("completion_window", "24h")
    if window != "24h":
        return wire.simple_error(400, f"Invalid completion_window {window!r}; only '24h'")
    stored = emu.files.get(file_id)
    if stored is None or stored.data is None:
        return wire.simple_error(400, f"Input file {file_id} not found")
    lines = _parse_lines(emu, stored.data)
    if isinstance(lines, str):
        return wire.simple_error(400, lines)
    job = emu.batches.create(body, lines, len(stored.data))
    payload: dict[str, Any] = {"job": job.wire()}
    if job.warning:
        payload["warning"] = job.warning
    return wire.json(payload, status=201)


def list_batches(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    return emu.wire.json([job.wire() for job in emu.batches])


def retrieve(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    emu.clock.poll()
    job = emu.batches.get(request.params["batch_id"])
    if job is None:
        return emu.wire.simple_error(404, f"Batch {request.params['batch_id']} not found")
    return emu.wire.json(job.wire())


def cancel(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    job = emu.batches.get(request.params["batch_id"])
    if job is None:
        return emu.wire.simple_error(404, f"Batch {request.params['batch_id']} not found")
    if not emu.batches.cancel(job):
        return emu.wire.simple_error(400, f"Batch {job.id} is {job.status} and cannot be cancelled")
    return emu.wire.json(job.wire())
