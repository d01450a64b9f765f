"""Together's Batch API behind one call, framework-neutral: plan, store, run.

* :func:`plan_batch` (no I/O) turns request bodies into input lines with stable
  ``custom_id``s, cut into jobs by the documented limits, under a run key derived from the
  requests.
* :class:`DirectoryStore` (or any :class:`BatchStore`) keeps one manifest per run, written
  atomically: ids, counts, hashes and states, never prompts, outputs or the API key.
"""

from __future__ import annotations

from ._errors import (
    BatchEndpointError,
    BatchError,
    BatchItemError,
    BatchJobFailedError,
    BatchManifestError,
    BatchPlanError,
    BatchResultsError,
    BatchRunNotFoundError,
)
from ._plan import BatchLimits, BatchPlan, PlannedJob, parse_custom_id, plan_batch
from ._store import (
    BatchStore,
    DirectoryStore,
    JobRecord,
    JobState,
    MemoryStore,
    RunManifest,
    default_store_dir,
)

__all__ = [
    "BatchEndpointError",
    "BatchError",
    "BatchItemError",
    "BatchJobFailedError",
    "BatchLimits",
    "BatchManifestError",
    "BatchPlan",
    "BatchPlanError",
    "BatchResultsError",
    "BatchRunNotFoundError",
    "BatchStore",
    "DirectoryStore",
    "JobRecord",
    "JobState",
    "MemoryStore",
    "PlannedJob",
    "RunManifest",
    "default_store_dir",
    "parse_custom_id",
    "plan_batch",
]
