"""Together's Batch API behind one call, framework-neutral: plan, store, run.

* :func:`plan_batch` (no I/O) turns request bodies into input lines with stable
  ``custom_id``s, cut into jobs by the documented limits, under a run key derived from the
  requests.
* :class:`DirectoryStore` (or any :class:`BatchStore`) keeps one manifest per run, written
  atomically: ids, counts, hashes and states, never prompts, outputs or the API key; beside
  it (:class:`BatchResultStore`), the answers of the few items sent online.
* :class:`BatchRun` submits the jobs (never creating one twice, even across crashes), waits
  for them on the core poller, reads both result files, maps lines back to input order,
  sends retryable failures once more (a follow-up job, or the online endpoint when only a
  few remain) and resolves the rest to typed errors; it resumes from any process with
  :meth:`BatchRun.load`.

Example::

    from together_integrations.batch import BatchRun, plan_batch

    plan = plan_batch(bodies)                     # the chat bodies, as the online path builds them
    run = BatchRun(plan, transport=transport)     # finds the same run when run again
    answers = run.results(return_exceptions=True)  # input order; BatchItemError where failed
"""

from __future__ import annotations

from ._errors import (
    BatchEndpointError,
    BatchError,
    BatchItemError,
    BatchJobFailedError,
    BatchManifestError,
    BatchNotServedError,
    BatchPlanError,
    BatchResultsError,
    BatchRunNotFoundError,
)
from ._plan import (
    BatchLimits,
    BatchPlan,
    PlannedJob,
    check_batch_model,
    parse_custom_id,
    plan_batch,
)
from ._runner import BatchJobStatus, BatchRun, BatchRunStatus, is_retryable
from ._store import (
    BatchResultStore,
    BatchStore,
    DirectoryStore,
    JobRecord,
    JobState,
    LockingStore,
    MemoryStore,
    OnlineRecord,
    RunManifest,
    default_store_dir,
)

__all__ = [
    "BatchEndpointError",
    "BatchError",
    "BatchItemError",
    "BatchJobFailedError",
    "BatchJobStatus",
    "BatchLimits",
    "BatchManifestError",
    "BatchNotServedError",
    "BatchPlan",
    "BatchPlanError",
    "BatchResultStore",
    "BatchResultsError",
    "BatchRun",
    "BatchRunNotFoundError",
    "BatchRunStatus",
    "BatchStore",
    "DirectoryStore",
    "JobRecord",
    "JobState",
    "LockingStore",
    "MemoryStore",
    "OnlineRecord",
    "PlannedJob",
    "RunManifest",
    "check_batch_model",
    "default_store_dir",
    "is_retryable",
    "parse_custom_id",
    "plan_batch",
]
