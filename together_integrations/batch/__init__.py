"""Together's Batch API behind one call, framework-neutral: plan, store, run.

* :func:`plan_batch` (no I/O) turns request bodies into input lines with stable
  ``custom_id``s, cut into jobs by the documented limits, under a run key derived from the
  requests.
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
    "PlannedJob",
    "parse_custom_id",
    "plan_batch",
]
