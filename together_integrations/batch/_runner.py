"""Running a planned batch: submit, wait, read both files, map back, retry once, resume.

``BatchRun`` writes every decision once; the I/O exists twice (``submit``/``asubmit``,
``status``/``astatus``, ``wait``/``await_until_done``, ``results``/``aresults``,
``cancel``/``acancel``) and the twins differ only where one awaits.

Crash safety, step by step (each step is saved in the manifest before the next begins):

1. Upload the job's input file (``batch-api``). Dying before the file id is saved costs
   nothing: the same bytes upload again, and the server's checksum dedupe (409) hands back
   the same file.
2. Save ``create_sent``, *then* send the paid ``POST /batches``. A job found in
   ``create_sent`` without a batch id may exist on the server: it is **adopted** by listing
   the batches and matching its ``input_file_id``; only when none matches is the create sent
   (a 4xx answer proves no job was made, and sends the job back to ``uploaded``).
3. Poll every unfinished job on the core poller (one look per job per round, 429s
   honoured) until all are terminal.
4. Read the output **and** the error file of every terminal job (whatever its status),
   mapping lines back by ``custom_id`` whatever their order. An item in neither file is
   ``missing``.

Retries: items whose failure is retryable (timeouts, 5xx, rate limits, ``missing``, the
leftovers of an expired job or of one cancelled by someone else) are sent **once** more, as
the very same bodies, read back from the in-memory plan or, after a restart, from the run's
own input files on the server:

* in a follow-up job (round 1), or
* when at most ``online_fallback`` items (default 20) are retryable, through the online
  endpoint instead (``chat.create``, ``audio.transcribe``/``translate``): a few requests
  answer in seconds where a job may take hours. The manifest records which items went
  online (``online``: spans and a state, saved *before* the first request) and each answer
  is appended to the store's results file beside the manifest as it arrives
  (:class:`~together_integrations.batch.BatchResultStore`), so a resumed run gives them
  back without sending them again; only a request in flight when a process died is sent
  again (as a retry of a broken connection would). A store that cannot keep results makes
  the run use a follow-up job.

What is still retryable after that, or when ``retry=False``, or after
:meth:`BatchRun.cancel`, resolves to a :class:`BatchItemError` with ``retryable=True``,
which a caller may send online. Other failures resolve to a :class:`BatchItemError` with the
server's message and code; the items of a job that failed as a whole to a
:class:`BatchJobFailedError` with the job's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from together_integrations._base_transport import RequestOptions
from together_integrations._constants import DEFAULT_ONLINE_FALLBACK
from together_integrations._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
)
from together_integrations._jobs import (
    Clock,
    JobLike,
    PollPolicy,
    SystemClock,
    await_for,
    wait_for,
)
from together_integrations._transport import TogetherTransport
from together_integrations.schemas import WireModel
from together_integrations.schemas.batches import BatchJob, BatchOutputLine, BatchStatus

from ._errors import (
    BatchItemError,
    BatchJobFailedError,
    BatchManifestError,
    BatchResultsError,
    BatchRunNotFoundError,
)
from ._plan import (
    BatchLimits,
    BatchPlan,
    PlannedJob,
    parse_custom_id,
    plan_batch,
    plan_followup,
)
from ._store import (
    BatchResultStore,
    BatchStore,
    DirectoryStore,
    JobRecord,
    JobState,
    LockingStore,
    OnlineRecord,
    RunManifest,
)

__all__ = ["BatchJobStatus", "BatchRun", "BatchRunStatus", "is_retryable"]

logger = logging.getLogger("together_integrations")
_NO_LOCK: contextlib.AbstractContextManager[None] = contextlib.nullcontext()

DEFAULT_POLL_INTERVAL = 30.0
"""Seconds between looks at first (the docs advise polling every 30-60 s)."""
DEFAULT_MAX_INTERVAL = 60.0
"""The longest pause between looks."""
_CHAT = "/v1/chat/completions"
_TRANSLATIONS = "/v1/audio/translations"

_RETRYABLE_CODES = frozenset(
    {
        "batch_cancelled",
        "batch_expired",
        "missing",
        "bad_gateway",
        "gateway_timeout",
        "internal_error",
        "internal_server_error",
        "overloaded",
        "rate_limit",
        "rate_limit_exceeded",
        "rate_limited",
        "request_timeout",
        "server_error",
        "service_unavailable",
        "timeout",
        "too_many_requests",
    }
)
_NOT_CREATED = "never created"
_VOLATILE = {"progress"}


def is_retryable(code: str | int | None, status_code: int | None, message: str | None) -> bool:
    """Whether a failed item may succeed if sent again (the one rule, used everywhere)."""
    if status_code is not None and (status_code in (408, 429) or status_code >= 500):
        return True
    if isinstance(code, int):
        return code in (408, 429) or code >= 500
    if code is not None and code.strip().lower() in _RETRYABLE_CODES:
        return True
    text = (message or "").lower()
    return "timeout" in text or "timed out" in text


@dataclass(frozen=True, slots=True)
class BatchJobStatus:
    """One job of a run, as last seen.

    Attributes:
        key: ``r<round>-<number>``.
        state: Its :class:`JobState`.
        batch_id: The batch job, once created.
        status: The server's status (``VALIDATING``, ``IN_PROGRESS``, ``COMPLETED``...).
        progress: 0-1, as the server reports it.
        lines: Requests in the job.
    """

    key: str
    state: JobState
    batch_id: str | None
    status: str | None
    progress: float | None
    lines: int


@dataclass(frozen=True, slots=True)
class BatchRunStatus:
    """Where a whole run stands; what ``on_progress`` receives (it reads like one job).

    Attributes:
        id: The run key.
        inputs: How many inputs the run has.
        jobs: Every job, round 0 first.
        settled: No more job will be added (the follow-up round was decided or is off).
    """

    id: str
    inputs: int
    jobs: tuple[BatchJobStatus, ...]
    settled: bool

    @property
    def is_terminal(self) -> bool:
        """Every job submitted so far has ended (a follow-up round may still be added:
        see :attr:`finished`)."""
        return all(job.state in (JobState.DONE, JobState.FAILED) for job in self.jobs)

    @property
    def finished(self) -> bool:
        """Every job ended and no follow-up round is pending: the results are final."""
        return self.settled and self.is_terminal

    @property
    def is_failed(self) -> bool:
        # Failures are per item and per job, read with the results; the wait itself succeeds.
        return False

    @property
    def failure_message(self) -> str | None:
        return None

    @property
    def progress_fraction(self) -> float | None:
        """Lines done over lines submitted, across every job."""
        total = sum(job.lines for job in self.jobs)
        if not total:
            return 1.0 if self.finished else None
        done = sum(job.lines * _job_fraction(job) for job in self.jobs)
        return min(1.0, done / total)

    @property
    def status_text(self) -> str:
        ended = sum(job.state in (JobState.DONE, JobState.FAILED) for job in self.jobs)
        return f"{ended}/{len(self.jobs)} jobs ended"

    @property
    def batch_ids(self) -> list[str]:
        """The ids of the run's batch jobs."""
        return [job.batch_id for job in self.jobs if job.batch_id]


def _job_fraction(job: BatchJobStatus) -> float:
    if job.state in (JobState.DONE, JobState.FAILED):
        return 1.0
    return job.progress or 0.0


@dataclass(slots=True)
class _Settings:
    transport: TogetherTransport
    options: RequestOptions | None
    store: BatchStore
    clock: Clock | None
    poll_interval: float
    max_interval: float


class BatchRun:
    """A run of many requests through the Batch API, resumable from any process.

    Args:
        plan: What to send (:func:`~together_integrations.batch.plan_batch`). When the store
            already holds a run under ``plan.run_key``, this object resumes it.
        transport: The transport to reach the API with.
        options: Per-request settings (timeout, retries, extra headers) for every request
            the run sends.
        store: Where the manifest lives (default: a :class:`DirectoryStore`).
        retry: Send retryable item failures once more in a follow-up job (new runs only;
            a resumed run keeps the setting it was created with).
        online_fallback: When at most this many items are retryable after the jobs, send
            them through the online endpoint instead of a follow-up job (default 20; 0
            never does; new runs only, like ``retry``). Needs a store that keeps results
            (:class:`~together_integrations.batch.BatchResultStore`: both built-in stores).
        clock: The poller's clock (tests pass a virtual one).
        poll_interval: Seconds before the second look at the jobs (default 30).
        max_interval: The longest pause between looks (default 60).

    Example:
        >>> plan = plan_batch(bodies)                                    # doctest: +SKIP
        >>> run = BatchRun(plan, transport=transport).submit()           # doctest: +SKIP
        >>> answers = run.results(return_exceptions=True)                # doctest: +SKIP
        >>> BatchRun.load(plan.run_key, transport=transport).status()    # another process
    """

    def __init__(
        self,
        plan: BatchPlan,
        *,
        transport: TogetherTransport,
        options: RequestOptions | None = None,
        store: BatchStore | None = None,
        retry: bool = True,
        online_fallback: int = DEFAULT_ONLINE_FALLBACK,
        clock: Clock | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
    ) -> None:
        if isinstance(online_fallback, bool) or not isinstance(online_fallback, int):
            raise TypeError(f"online_fallback is a count of items, got {online_fallback!r}.")
        if online_fallback < 0:
            raise ValueError(f"online_fallback must be 0 or more, got {online_fallback}.")
        settings = _settings(transport, options, store, clock, poll_interval, max_interval)
        manifest = settings.store.load(plan.run_key)
        if manifest is None:
            manifest = _new_manifest(plan, retry, online_fallback)
            settings.store.save(manifest)
        else:
            plan = _matching_plan(plan, manifest)
        self._setup(plan, manifest, settings)

    @classmethod
    def load(
        cls,
        run_key: str,
        *,
        transport: TogetherTransport,
        options: RequestOptions | None = None,
        store: BatchStore | None = None,
        clock: Clock | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
    ) -> BatchRun:
        """Resume the run stored under ``run_key`` (from this process or another).

        Without the requests, a job that was never uploaded cannot be submitted; follow-up
        jobs are rebuilt from the run's own input files on the server.

        Raises:
            BatchRunNotFoundError: the store holds no such run.
        """
        settings = _settings(transport, options, store, clock, poll_interval, max_interval)
        manifest = settings.store.load(run_key)
        if manifest is None:
            raise BatchRunNotFoundError(
                f"No batch run {run_key!r} in {settings.store!r}.", run_key=run_key
            )
        run = cls.__new__(cls)
        run._setup(None, manifest, settings)
        return run

    def _setup(self, plan: BatchPlan | None, manifest: RunManifest, settings: _Settings) -> None:
        self._plan = plan
        self._manifest = manifest
        self._settings = settings
        self._data: dict[str, bytes] = {}
        self._outcomes: dict[str, dict[int, Any]] = {}
        self._online: dict[int, Any] | None = None  # answers of items sent online, once read
        if plan is not None:
            self._data.update({job.key: job.data for job in plan.jobs})

    def __repr__(self) -> str:
        return (
            f"BatchRun(run_key={self.run_key!r}, inputs={self._manifest.inputs}, "
            f"jobs={len(self._manifest.jobs)})"
        )

    # ------------------------------------------------------------------ reading

    @property
    def run_key(self) -> str:
        """The key to :meth:`load` this run with."""
        return self._manifest.run_key

    @property
    def manifest(self) -> RunManifest:
        """A copy of the manifest as last saved."""
        return self._manifest.model_copy(deep=True)

    def answered_by(self) -> list[str | None]:
        """Per input, the id of the batch job that answers it: the latest round that carried
        it (a follow-up job's, when it went again). ``None`` for an input sent through the
        online endpoint instead (``online_fallback``) or not submitted yet."""
        manifest = self._manifest
        ids: list[str | None] = [None] * manifest.inputs
        for job in sorted(manifest.jobs, key=lambda j: j.round):
            for index in job.indices():
                ids[index] = job.batch_id
        if manifest.online is not None:
            for index in manifest.online.indices():
                ids[index] = None
        return ids

    def _save(self) -> None:
        self._settings.store.save(self._manifest)

    def _snapshot(self) -> BatchRunStatus:
        manifest = self._manifest
        return BatchRunStatus(
            id=manifest.run_key,
            inputs=manifest.inputs,
            jobs=tuple(
                BatchJobStatus(j.key, j.state, j.batch_id, j.status, j.progress, j.lines)
                for j in manifest.jobs
            ),
            settled=(manifest.followup_planned and not self._online_pending())
            or not manifest.retry
            or manifest.cancelled,
        )

    def _policy(self, timeout: float | None) -> PollPolicy:
        s = self._settings
        return PollPolicy(interval=s.poll_interval, max_interval=s.max_interval, timeout=timeout)

    # ------------------------------------------------------------ decisions (no I/O)

    def _to_submit(self) -> list[JobRecord]:
        if self._manifest.cancelled:
            return []
        return [
            job
            for job in self._manifest.jobs
            if job.state in (JobState.PLANNED, JobState.UPLOADED, JobState.CREATE_SENT)
        ]

    def _to_poll(self) -> list[JobRecord]:
        return [j for j in self._manifest.jobs if j.state is JobState.CREATED and j.batch_id]

    def _file_name(self, job: JobRecord) -> str:
        return f"batch-{self.run_key[:12]}-{job.key}.jsonl"

    def _uploaded(self, job: JobRecord, file_id: str) -> None:
        job.file_id = file_id
        job.state = JobState.UPLOADED
        self._save()

    def _create_sending(self, job: JobRecord) -> None:
        job.state = JobState.CREATE_SENT
        self._save()

    def _create_refused(self, job: JobRecord, error: APIStatusError) -> None:
        # A 4xx answer (429 included) proves no job was made: the create may be sent again.
        # Anything else (5xx, a cut connection) may have made one: stay in create_sent.
        if error.status_code < 500:
            job.state = JobState.UPLOADED
            self._save()

    def _adoptable(self, job: JobRecord, batches: Iterable[BatchJob]) -> BatchJob | None:
        found = [b for b in batches if b.input_file_id and b.input_file_id == job.file_id]
        if len(found) > 1:
            logger.warning(
                "Batch run %s: %d batch jobs share the input file %s; adopting the first.",
                self.run_key,
                len(found),
                job.file_id,
            )
        found.sort(key=lambda b: (b.created_at is None, b.created_at or 0, b.id))
        return found[0] if found else None

    def _seen(self, job: JobRecord, batch: BatchJob) -> bool:
        """Record a fresh server state; True when it is worth saving: progress alone is
        not (every look moves it, and any process that resumes looks again first)."""
        before = job.model_dump(exclude=_VOLATILE)
        job.batch_id = batch.id
        job.status = batch.status_text or job.status
        job.progress = batch.progress_fraction
        if job.state in (JobState.CREATE_SENT, JobState.UPLOADED):
            job.state = JobState.CREATED
        if batch.is_terminal:
            job.state = JobState.FAILED if batch.status is BatchStatus.FAILED else JobState.DONE
            job.output_file_id = batch.output_file_id
            job.error_file_id = batch.error_file_id
            job.reason = batch.failure_message
        return job.model_dump(exclude=_VOLATILE) != before

    def _cancel_unsent(self) -> None:
        for job in self._manifest.jobs:
            if job.state in (JobState.PLANNED, JobState.UPLOADED):
                job.state = JobState.DONE
                job.status = BatchStatus.CANCELLED.value
                job.reason = _NOT_CREATED

    def _outcome_of(self, job: JobRecord, lines: Iterable[str]) -> dict[int, Any]:
        """Map a terminal job's output and error lines back to input positions; fill the
        items in neither file. Values are response bodies or :class:`BatchItemError`."""
        with paused_cycle_collector():
            return self._map_lines(job, lines)

    def _map_lines(self, job: JobRecord, lines: Iterable[str]) -> dict[int, Any]:
        wanted = set(job.indices())
        found: dict[int, Any] = {}
        expected = self._expected_ids(job)
        for text in lines:
            if not text.strip():
                continue
            try:
                raw = json.loads(text)
                custom_id = str(raw.get("custom_id", ""))
            except (ValueError, AttributeError):
                logger.warning("Batch run %s: an unreadable result line was skipped.", self.run_key)
                continue
            parsed = parse_custom_id(custom_id)
            if (
                parsed is None
                or parsed[1] != job.round
                or parsed[0] not in wanted
                or (expected is not None and custom_id != expected[parsed[0]])
            ):
                logger.warning(
                    "Batch run %s: a result for %r, which job %s did not send, was skipped.",
                    self.run_key,
                    custom_id,
                    job.key,
                )
                continue
            index = parsed[0]
            ok = _ok_body(raw)
            if ok is not _NOT_OK:
                found[index] = ok
                continue
            if index in found and not isinstance(found[index], BatchItemError):
                continue  # a success and an error for one item: the success stands
            try:
                line = BatchOutputLine.model_validate(raw)
            except ValueError:
                line = BatchOutputLine.model_construct(custom_id=custom_id)
            found[index] = self._line_error(job, index, line)
        for index in wanted - found.keys():
            found[index] = self._unanswered(job, index)
        job.succeeded = sum(not isinstance(v, BatchItemError) for v in found.values())
        job.failed = len(found) - job.succeeded
        return found

    def _expected_ids(self, job: JobRecord) -> list[str] | None:
        """Index -> the ``custom_id`` this job sent it under (None when loaded without the
        requests: only the index and the round can be checked then)."""
        if self._plan is None:
            return None
        ids = self._plan.custom_ids
        return list(ids) if job.round == 0 else [f"{c}-r{job.round}" for c in ids]

    def _custom_id(self, job: JobRecord, index: int) -> str:
        if self._plan is not None:
            base = self._plan.custom_ids[index]
            return base if job.round == 0 else f"{base}-r{job.round}"
        return ""  # loaded without the requests: the hash part is unknown

    def _line_error(self, job: JobRecord, index: int, line: BatchOutputLine) -> BatchItemError:
        code: str | int | None = line.error.code if line.error is not None else None
        status_code = line.response.status_code if line.response is not None else None
        body = line.response.body if line.response is not None else None
        if code is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code") or body["error"].get("type")
        message = line.error_message or "The request failed"
        return BatchItemError(
            message,
            index=index,
            custom_id=line.custom_id,
            code=None if code is None else str(code),
            status_code=status_code,
            retryable=is_retryable(code, status_code, message),
            batch_id=job.batch_id,
            body=body,
        )

    def _unanswered(self, job: JobRecord, index: int) -> BatchItemError:
        custom_id = self._custom_id(job, index)
        status = job.status or ""
        if job.state is JobState.FAILED:
            reason = job.reason
            return BatchJobFailedError(
                f"Batch {job.batch_id} failed as a whole"
                + (f": {reason}" if reason else " (the server gave no reason)."),
                index=index,
                custom_id=custom_id,
                batch_id=job.batch_id,
                status=status,
                reason=reason,
            )
        if status in (BatchStatus.EXPIRED, BatchStatus.CANCELLED):
            code = "batch_expired" if status == BatchStatus.EXPIRED else "batch_cancelled"
            message = (
                "The batch was cancelled before it was created"
                if job.reason == _NOT_CREATED
                else f"The batch ended {status} before this request was processed"
            )
        else:
            code, message = "missing", "The request is in neither the output nor the error file"
        return BatchItemError(
            message,
            index=index,
            custom_id=custom_id,
            code=code,
            retryable=True,
            batch_id=job.batch_id,
        )

    def _needs_followup_decision(self) -> bool:
        m = self._manifest
        if not m.retry or m.followup_planned or m.cancelled:
            return False
        return all(job.terminal for job in m.jobs)

    def _retryable_items(self) -> list[int]:
        indices: list[int] = []
        for job in self._manifest.jobs:
            for index, value in self._outcomes[job.key].items():
                if isinstance(value, BatchItemError) and value.retryable:
                    indices.append(index)
        return sorted(indices)

    def _goes_online(self, indices: Sequence[int]) -> bool:
        m = self._manifest
        return (
            0 < len(indices) <= m.online_fallback
            and isinstance(self._settings.store, BatchResultStore)
            and not m.cancelled
        )

    def _record_online(self, indices: Sequence[int]) -> None:
        m = self._manifest
        m.online = OnlineRecord(spans=_index_spans(indices))
        m.followup_planned = True
        self._save()  # before the first request: a resumed run knows they went online
        logger.info(
            "Batch run %s: %d retryable items go through the online endpoint.",
            self.run_key,
            len(indices),
        )

    def _online_pending(self) -> bool:
        m = self._manifest
        return m.online is not None and m.online.state == "sending" and not m.cancelled

    def _online_answers(self) -> dict[int, Any]:
        """Index -> body or :class:`BatchItemError`, of the items sent online so far."""
        if self._online is None:
            self._online = {}
            record = self._manifest.online
            store = self._settings.store
            if record is not None and isinstance(store, BatchResultStore):
                wanted = set(record.indices())
                for item in store.load_results(self.run_key):
                    index = item.get("index")
                    if isinstance(index, int) and index in wanted:
                        self._online[index] = _from_record(item)
                if record.state == "done" and len(self._online) < len(wanted):
                    logger.warning(
                        "Batch run %s: %d answers of items sent online are missing from %r; "
                        "those items keep their batch error.",
                        self.run_key,
                        len(wanted) - len(self._online),
                        store,
                    )
        return self._online

    def _online_todo(self) -> list[int]:
        record = self._manifest.online
        assert record is not None
        done = self._online_answers()
        return [i for i in record.indices() if i not in done]

    def _online_answered(self, index: int, value: Any) -> None:
        store = self._settings.store
        assert isinstance(store, BatchResultStore)
        store.append_result(self.run_key, _to_record(index, self._base_id(index), value))
        self._online_answers()[index] = value

    def _online_error(self, index: int, error: APIError) -> BatchItemError:
        custom_id = self._base_id(index)
        if isinstance(error, APIStatusError):
            code = error.code if error.code is not None else error.type
            message = error.server_message if isinstance(error.server_message, str) else None
            text = message or str(error)
            return BatchItemError(
                text,
                index=index,
                custom_id=custom_id,
                code=None if code is None else str(code),
                status_code=error.status_code,
                retryable=is_retryable(code, error.status_code, text),
                body=error.body,
            )
        code = (
            "timeout"
            if isinstance(error, APITimeoutError)
            else "connection_error"
            if isinstance(error, APIConnectionError)
            else "invalid_response"
        )
        return BatchItemError(
            str(error),
            index=index,
            custom_id=custom_id,
            code=code,
            retryable=isinstance(error, APIConnectionError),
        )

    def _online_finished(self) -> None:
        record = self._manifest.online
        assert record is not None
        answers = self._online_answers()
        record.succeeded = sum(not isinstance(v, BatchItemError) for v in answers.values())
        record.failed = len(answers) - record.succeeded
        record.state = "done"
        self._save()

    def _base_id(self, index: int) -> str:
        return self._plan.custom_ids[index] if self._plan is not None else ""

    def _record_followup(self, items: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        m = self._manifest
        jobs = plan_followup(items, endpoint=m.endpoint, round=1, limits=_limits(m))
        for planned in jobs:
            self._data[planned.key] = planned.data
            m.jobs.append(_record(planned))
        m.followup_planned = True
        self._save()
        if jobs:
            logger.info(
                "Batch run %s: %d retryable items go again in %d follow-up job(s).",
                self.run_key,
                len(items),
                len(jobs),
            )

    def _check_followup_data(self, job: JobRecord, items: Sequence[tuple[int, Any]]) -> bytes:
        m = self._manifest
        planned = plan_followup(items, endpoint=m.endpoint, round=job.round, limits=_limits(m))
        number = int(job.key.rpartition("-")[2])
        match = next((p for p in planned if p.number == number), None)
        if match is None or match.sha256 != job.sha256:
            raise BatchManifestError(
                f"Batch run {self.run_key}: the follow-up job {job.key} cannot be rebuilt "
                "identically from the run's input files."
            )
        return match.data

    def _missing_data(self, job: JobRecord) -> BatchManifestError:
        return BatchManifestError(
            f"Batch run {self.run_key}: job {job.key} was never uploaded, and this run was "
            "loaded without its requests. Resume it by running the same code again "
            "(BatchRun(plan_batch(requests), ...))."
        )

    def _merged(self) -> list[Any]:
        merged: list[Any] = [None] * self._manifest.inputs
        for job in sorted(self._manifest.jobs, key=lambda j: j.round):
            for index, value in self._outcomes[job.key].items():
                merged[index] = value
        if self._manifest.online is not None:
            for index, value in self._online_answers().items():
                merged[index] = value  # the online answer is the item's last word
        return merged

    def _finish(self, return_exceptions: bool) -> list[Any]:
        merged = self._merged()
        self._save()  # the counts
        errors = {i: v for i, v in enumerate(merged) if isinstance(v, BatchItemError)}
        if errors and not return_exceptions:
            raise BatchResultsError(merged, errors)
        return merged

    def _input_files(self, indices: set[int]) -> list[JobRecord]:
        files = [
            job
            for job in self._manifest.jobs
            if job.round == 0 and job.file_id and indices & set(job.indices())
        ]
        return files

    def _bodies_in(self, lines: Iterable[str], indices: set[int], into: dict[int, Any]) -> None:
        for text in lines:
            if not text.strip():
                continue
            item = json.loads(text)
            parsed = parse_custom_id(str(item.get("custom_id", "")))
            if parsed is not None and parsed[1] == 0 and parsed[0] in indices:
                into[parsed[0]] = item.get("body")

    # ------------------------------------------------------------------- sync I/O

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        store = self._settings.store
        return store.lock(self.run_key) if isinstance(store, LockingStore) else _NO_LOCK

    def _reload(self) -> None:
        """Under the lock: take what another submitter of this run saved meanwhile."""
        stored = self._settings.store.load(self.run_key)
        if stored is not None:  # every durable change is saved: the stored one is current
            self._manifest = stored

    def submit(self) -> BatchRun:
        """Upload and create every job not yet created (adopting any that may exist).

        With a :class:`LockingStore` (both stores here are), one submitter at a time: a
        process that runs the same run meanwhile waits, then finds the jobs created."""
        with self._lock():
            self._reload()
            return self._submit()

    def _submit(self) -> BatchRun:
        t, o = self._settings.transport, self._settings.options
        for job in self._to_submit():
            if job.state is JobState.PLANNED:
                uploaded = t.files.upload(
                    (self._file_name(job), self._job_data(job)), purpose="batch-api", options=o
                )
                self._uploaded(job, uploaded.id)
            if job.state is JobState.CREATE_SENT:
                adopted = self._adoptable(job, t.batches.list(options=o))
                if adopted is not None:
                    logger.info("Batch run %s: adopted batch %s.", self.run_key, adopted.id)
                    self._seen(job, adopted)
                    self._save()
                    continue
            assert job.file_id is not None
            self._create_sending(job)
            try:
                created = t.batches.create(
                    job.file_id,
                    endpoint=self._manifest.endpoint,
                    model_id=self._manifest.model_id,
                    options=o,
                )
            except APIStatusError as error:
                self._create_refused(job, error)
                raise
            self._seen(job, created)
            self._save()
        return self

    def _job_data(self, job: JobRecord) -> bytes:
        data = self._data.get(job.key)
        if data is not None:
            return data
        if job.round == 0:
            raise self._missing_data(job)
        data = self._check_followup_data(job, self._bodies(job.indices()))
        self._data[job.key] = data
        return data

    def _bodies(self, indices: Sequence[int]) -> list[tuple[int, Any]]:
        t, o = self._settings.transport, self._settings.options
        if self._plan is not None:
            return [(i, self._plan.bodies[i]) for i in indices]
        wanted, found = set(indices), dict[int, Any]()
        for job in self._input_files(wanted):
            assert job.file_id is not None
            self._bodies_in(t.files.iter_lines(job.file_id, options=o), wanted, found)
        return [(i, found[i]) for i in indices if i in found]

    def _look(self) -> BatchRunStatus:
        t, o = self._settings.transport, self._settings.options
        changed = False
        for job in self._to_poll():
            assert job.batch_id is not None
            changed |= self._seen(job, t.batches.retrieve(job.batch_id, options=o))
        if changed:
            self._save()
        return self._snapshot()

    def status(self) -> BatchRunStatus:
        """Look at every unfinished job once and return where the run stands."""
        return self._look()

    def wait(
        self,
        *,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        show_progress: bool = False,
    ) -> BatchRunStatus:
        """Submit what is not yet submitted, then wait until every job (and the follow-up
        round, if any) has ended.

        Args:
            timeout: Seconds (on the run's clock) before :class:`JobTimeoutError`; the jobs
                go on, and waiting again resumes.
            on_progress: Called after every look with the run's :class:`BatchRunStatus`.
            show_progress: Draw a tqdm bar over the run's requests (needs ``tqdm``).
        """
        progress = _Progress(on_progress, show_progress)
        deadline = _Deadline(self._settings.clock, timeout)
        try:
            while True:
                self.submit()
                status = wait_for(
                    self._look,
                    policy=self._policy(deadline.remaining()),
                    clock=self._settings.clock,
                    kind="batch run",
                    on_progress=progress,
                )
                if self._online_pending():
                    self._send_online()
                    status = self._snapshot()
                    progress(status)
                    return status
                if not self._needs_followup_decision():
                    return status
                self._read_all()
                retry = self._retryable_items()
                if self._goes_online(retry):
                    self._record_online(retry)
                else:
                    self._record_followup(self._bodies(retry) if retry else [])
        finally:
            progress.close()

    def _send_online(self) -> None:
        """Send the items recorded as going online that have no answer yet, one by one,
        keeping each answer as it arrives."""
        for index, body in self._bodies(self._online_todo()):
            try:
                value: Any = _as_body(self._ask_online(body))
            except APIError as error:
                value = self._online_error(index, error)
            self._online_answered(index, value)
        self._online_finished()

    def _ask_online(self, body: Mapping[str, Any]) -> WireModel:
        t, o, endpoint = self._settings.transport, self._settings.options, self._manifest.endpoint
        if endpoint == _CHAT:
            return t.chat.create(body, o)
        file, form = _audio_parts(body)
        if endpoint == _TRANSLATIONS:
            return t.audio.translate(file, form, o)
        return t.audio.transcribe(file, form, o)

    def _read_all(self) -> None:
        t, o = self._settings.transport, self._settings.options
        for job in self._manifest.jobs:
            if job.key in self._outcomes or not job.terminal:
                continue
            lines: list[str] = []
            for file_id in (job.output_file_id, job.error_file_id):
                if file_id:
                    lines.extend(t.files.iter_lines(file_id, options=o))
            self._outcomes[job.key] = self._outcome_of(job, lines)

    def results(
        self,
        *,
        return_exceptions: bool = False,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        show_progress: bool = False,
    ) -> list[Any]:
        """Every input's response body, in input order (waiting first if need be).

        Args:
            return_exceptions: Put a :class:`BatchItemError` at each failed position instead
                of raising.
            timeout, on_progress, show_progress: As in :meth:`wait`.

        Raises:
            BatchResultsError: some items failed and ``return_exceptions`` is false; it
                carries every successful result (``.results``) and every error (``.errors``).
        """
        self.wait(timeout=timeout, on_progress=on_progress, show_progress=show_progress)
        self._read_all()
        return self._finish(return_exceptions)

    def cancel(self) -> BatchRunStatus:
        """Cancel every unfinished job and submit nothing more. Items finished before are
        still in the output files (and billed); the rest resolve to retryable errors."""
        t, o = self._settings.transport, self._settings.options
        self._manifest.cancelled = True
        for job in self._manifest.jobs:
            if job.state is JobState.CREATE_SENT:
                adopted = self._adoptable(job, t.batches.list(options=o))
                if adopted is None:
                    job.state = JobState.UPLOADED
                else:
                    self._seen(job, adopted)
        self._cancel_unsent()
        self._save()
        for job in self._to_poll():
            assert job.batch_id is not None
            try:
                self._seen(job, t.batches.cancel(job.batch_id, options=o))
            except APIStatusError as error:
                if error.status_code >= 500 or isinstance(error, RateLimitError):
                    raise
                self._seen(job, t.batches.retrieve(job.batch_id, options=o))  # it ended meanwhile
        self._save()
        return self._snapshot()

    # ------------------------------------------------------------------ async I/O

    async def asubmit(self) -> BatchRun:
        """Async :meth:`submit`."""
        lock = self._lock()
        await asyncio.to_thread(lock.__enter__)  # a wait for another submitter blocks
        try:
            self._reload()
            return await self._asubmit()
        finally:
            lock.__exit__(None, None, None)

    async def _asubmit(self) -> BatchRun:
        t, o = self._settings.transport, self._settings.options
        for job in self._to_submit():
            if job.state is JobState.PLANNED:
                uploaded = await t.files.aupload(
                    (self._file_name(job), await self._ajob_data(job)),
                    purpose="batch-api",
                    options=o,
                )
                self._uploaded(job, uploaded.id)
            if job.state is JobState.CREATE_SENT:
                adopted = self._adoptable(job, await t.batches.alist(options=o))
                if adopted is not None:
                    logger.info("Batch run %s: adopted batch %s.", self.run_key, adopted.id)
                    self._seen(job, adopted)
                    self._save()
                    continue
            assert job.file_id is not None
            self._create_sending(job)
            try:
                created = await t.batches.acreate(
                    job.file_id,
                    endpoint=self._manifest.endpoint,
                    model_id=self._manifest.model_id,
                    options=o,
                )
            except APIStatusError as error:
                self._create_refused(job, error)
                raise
            self._seen(job, created)
            self._save()
        return self

    async def _ajob_data(self, job: JobRecord) -> bytes:
        data = self._data.get(job.key)
        if data is not None:
            return data
        if job.round == 0:
            raise self._missing_data(job)
        data = self._check_followup_data(job, await self._abodies(job.indices()))
        self._data[job.key] = data
        return data

    async def _abodies(self, indices: Sequence[int]) -> list[tuple[int, Any]]:
        t, o = self._settings.transport, self._settings.options
        if self._plan is not None:
            return [(i, self._plan.bodies[i]) for i in indices]
        wanted, found = set(indices), dict[int, Any]()
        for job in self._input_files(wanted):
            assert job.file_id is not None
            lines = [line async for line in t.files.aiter_lines(job.file_id, options=o)]
            self._bodies_in(lines, wanted, found)
        return [(i, found[i]) for i in indices if i in found]

    async def _alook(self) -> BatchRunStatus:
        t, o = self._settings.transport, self._settings.options
        changed = False
        for job in self._to_poll():
            assert job.batch_id is not None
            changed |= self._seen(job, await t.batches.aretrieve(job.batch_id, options=o))
        if changed:
            self._save()
        return self._snapshot()

    async def astatus(self) -> BatchRunStatus:
        """Async :meth:`status`."""
        return await self._alook()

    async def await_until_done(
        self,
        *,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        show_progress: bool = False,
    ) -> BatchRunStatus:
        """Async :meth:`wait`."""
        progress = _Progress(on_progress, show_progress)
        deadline = _Deadline(self._settings.clock, timeout)
        try:
            while True:
                await self.asubmit()
                status = await await_for(
                    self._alook,
                    policy=self._policy(deadline.remaining()),
                    clock=self._settings.clock,
                    kind="batch run",
                    on_progress=progress,
                )
                if self._online_pending():
                    await self._asend_online()
                    status = self._snapshot()
                    progress(status)
                    return status
                if not self._needs_followup_decision():
                    return status
                await self._aread_all()
                retry = self._retryable_items()
                if self._goes_online(retry):
                    self._record_online(retry)
                else:
                    self._record_followup(await self._abodies(retry) if retry else [])
        finally:
            progress.close()

    async def _asend_online(self) -> None:
        """Async :meth:`_send_online`."""
        for index, body in await self._abodies(self._online_todo()):
            try:
                value: Any = _as_body(await self._aask_online(body))
            except APIError as error:
                value = self._online_error(index, error)
            self._online_answered(index, value)
        self._online_finished()

    async def _aask_online(self, body: Mapping[str, Any]) -> WireModel:
        t, o, endpoint = self._settings.transport, self._settings.options, self._manifest.endpoint
        if endpoint == _CHAT:
            return await t.chat.acreate(body, o)
        file, form = _audio_parts(body)
        if endpoint == _TRANSLATIONS:
            return await t.audio.atranslate(file, form, o)
        return await t.audio.atranscribe(file, form, o)

    async def _aread_all(self) -> None:
        t, o = self._settings.transport, self._settings.options
        for job in self._manifest.jobs:
            if job.key in self._outcomes or not job.terminal:
                continue
            lines: list[str] = []
            for file_id in (job.output_file_id, job.error_file_id):
                if file_id:
                    lines.extend([line async for line in t.files.aiter_lines(file_id, options=o)])
            self._outcomes[job.key] = self._outcome_of(job, lines)

    async def aresults(
        self,
        *,
        return_exceptions: bool = False,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        show_progress: bool = False,
    ) -> list[Any]:
        """Async :meth:`results`."""
        await self.await_until_done(
            timeout=timeout, on_progress=on_progress, show_progress=show_progress
        )
        await self._aread_all()
        return self._finish(return_exceptions)

    async def acancel(self) -> BatchRunStatus:
        """Async :meth:`cancel`."""
        t, o = self._settings.transport, self._settings.options
        self._manifest.cancelled = True
        for job in self._manifest.jobs:
            if job.state is JobState.CREATE_SENT:
                adopted = self._adoptable(job, await t.batches.alist(options=o))
                if adopted is None:
                    job.state = JobState.UPLOADED
                else:
                    self._seen(job, adopted)
        self._cancel_unsent()
        self._save()
        for job in self._to_poll():
            assert job.batch_id is not None
            try:
                self._seen(job, await t.batches.acancel(job.batch_id, options=o))
            except APIStatusError as error:
                if error.status_code >= 500 or isinstance(error, RateLimitError):
                    raise
                self._seen(job, await t.batches.aretrieve(job.batch_id, options=o))
        self._save()
        return self._snapshot()


# ------------------------------------------------------------------------ helpers


@contextlib.contextmanager
def paused_cycle_collector() -> Iterator[None]:
    """Decode a result file without the cycle collector.

    Decoding JSON makes a dozen containers per line and never a reference cycle, so the
    collector has nothing to find in them; left on, it walks the whole (growing) heap again
    and again while 50,000 answers are decoded, a third of the time spent. Only pauses,
    never turns on a collector the caller had turned off; refcounting frees as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Deadline:
    def __init__(self, clock: Clock | None, timeout: float | None) -> None:
        self._clock = clock or SystemClock()
        self._end = None if timeout is None else self._clock.now() + timeout

    def remaining(self) -> float | None:
        if self._end is None:
            return None
        # The poller needs a positive timeout; one that ran out times out at the first look.
        return max(self._end - self._clock.now(), 1e-9)


_NOT_OK = object()


def _ok_body(raw: dict[str, Any]) -> Any:
    """The body of a successful output line, or ``_NOT_OK`` (without building a model: a
    result file holds up to 50,000 of them)."""
    response = raw.get("response")
    if raw.get("error") is not None or not isinstance(response, dict):
        return _NOT_OK
    code = response.get("status_code")
    if code is None or (isinstance(code, int) and 200 <= code < 300):
        return response.get("body")
    return _NOT_OK


class _Progress:
    """What each look reports to: the caller's ``on_progress`` and, with
    ``show_progress=True``, a tqdm bar over the run's requests."""

    def __init__(
        self, on_progress: Callable[[BatchRunStatus], None] | None, show_progress: bool
    ) -> None:
        self._on_progress = on_progress
        self._bar: Any = None
        if show_progress:
            try:
                from tqdm.auto import tqdm
            except ImportError as exc:
                raise ImportError("show_progress=True draws a tqdm bar: pip install tqdm") from exc
            self._bar = tqdm(total=0, unit="req", desc="Batch", dynamic_ncols=True)

    def __call__(self, status: JobLike) -> None:
        assert isinstance(status, BatchRunStatus)
        if self._bar is not None:
            lines = sum(job.lines for job in status.jobs)
            self._bar.total = lines
            self._bar.n = round((status.progress_fraction or 0.0) * lines)
            self._bar.set_postfix_str(status.status_text, refresh=False)
            self._bar.refresh()
        if self._on_progress is not None:
            self._on_progress(status)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _settings(
    transport: TogetherTransport,
    options: RequestOptions | None,
    store: BatchStore | None,
    clock: Clock | None,
    poll_interval: float | None,
    max_interval: float | None,
) -> _Settings:
    interval = DEFAULT_POLL_INTERVAL if poll_interval is None else poll_interval
    longest = DEFAULT_MAX_INTERVAL if max_interval is None else max_interval
    PollPolicy(interval=interval, max_interval=max(interval, longest))  # validates
    return _Settings(
        transport=transport,
        options=options,
        store=store if store is not None else DirectoryStore(),
        clock=clock,
        poll_interval=interval,
        max_interval=max(interval, longest),
    )


def _limits(manifest: RunManifest) -> BatchLimits:
    return BatchLimits(max_lines=manifest.max_lines, max_bytes=manifest.max_bytes)


def _record(job: PlannedJob) -> JobRecord:
    return JobRecord(
        key=job.key,
        round=job.round,
        spans=list(job.spans),
        lines=job.lines,
        size=job.size,
        sha256=job.sha256,
    )


def _index_spans(indices: Sequence[int]) -> list[tuple[int, int]]:
    spans: list[list[int]] = []
    for i in sorted(indices):
        if spans and spans[-1][1] == i:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return [(a, b) for a, b in spans]


def _audio_parts(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """An audio batch body as the online call takes it: the file URL and the form fields."""
    return str(body["file"]), {k: v for k, v in body.items() if k != "file"}


def _as_body(answer: WireModel) -> Any:
    """An online answer as the JSON body a batch output line would carry."""
    return answer.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _to_record(index: int, custom_id: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, BatchItemError):
        return {"index": index, "custom_id": custom_id, "body": value}
    error = {
        "message": value.message,
        "code": value.code,
        "status_code": value.status_code,
        "retryable": value.retryable,
        "body": value.body,
    }
    return {"index": index, "custom_id": custom_id, "error": error}


def _from_record(record: Mapping[str, Any]) -> Any:
    error = record.get("error")
    if not isinstance(error, dict):
        return record.get("body")
    return BatchItemError(
        str(error.get("message") or "The request failed"),
        index=int(record["index"]),
        custom_id=str(record.get("custom_id") or ""),
        code=error.get("code"),
        status_code=error.get("status_code"),
        retryable=bool(error.get("retryable")),
        body=error.get("body"),
    )


def _new_manifest(plan: BatchPlan, retry: bool, online_fallback: int) -> RunManifest:
    return RunManifest(
        run_key=plan.run_key,
        endpoint=plan.endpoint,
        model_id=plan.model_id,
        inputs=len(plan),
        max_lines=plan.limits.max_lines,
        max_bytes=plan.limits.max_bytes,
        retry=retry,
        online_fallback=online_fallback,
        jobs=[_record(job) for job in plan.jobs],
    )


def _matching_plan(plan: BatchPlan, manifest: RunManifest) -> BatchPlan:
    """The plan cut as the stored run was (its limits win), checked against its hashes."""
    if plan.limits != _limits(manifest):
        plan = plan_batch(list(plan.bodies), endpoint=plan.endpoint, limits=_limits(manifest))
    stored = [job.sha256 for job in manifest.jobs if job.round == 0]
    if (
        manifest.endpoint != plan.endpoint
        or manifest.inputs != len(plan)
        or stored != [job.sha256 for job in plan.jobs]
    ):
        raise BatchManifestError(
            f"The stored batch run {manifest.run_key} does not match these requests."
        )
    return plan
