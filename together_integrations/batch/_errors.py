"""The errors of the batch runner, under the package's :class:`TogetherError`.

::

    TogetherError
    └── BatchError
        ├── BatchEndpointError      the Batch API does not take this endpoint (before any I/O)
        ├── BatchNotServedError         the catalog says the Batch API does not serve this model
        ├── BatchPlanError          a request that cannot be planned (too big, streaming...)
        ├── BatchRunNotFoundError   no manifest under that run key
        ├── BatchManifestError      the manifest does not match the requests (or is unreadable)
        ├── BatchItemError          one input did not get a result (server message and code)
        │   └── BatchJobFailedError the whole job failed: its items carry the job's reason
        └── BatchResultsError       raised by ``results(return_exceptions=False)``: carries
                                    every successful result and every item error

An item error is a value first (``results(return_exceptions=True)`` puts it at the item's
position) and an exception second, so it is built without a traceback and pickles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from together_integrations._exceptions import TogetherConfigError, TogetherError

__all__ = [
    "BatchEndpointError",
    "BatchError",
    "BatchItemError",
    "BatchJobFailedError",
    "BatchManifestError",
    "BatchNotServedError",
    "BatchPlanError",
    "BatchResultsError",
    "BatchRunNotFoundError",
]


class BatchError(TogetherError):
    """Base class of the batch runner's errors."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default Exception pickling.
        return (_rebuild, (type(self), self.__dict__.copy(), self.args))


def _rebuild(cls: type[BatchError], state: dict[str, Any], args: tuple[Any, ...]) -> BatchError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class BatchEndpointError(BatchError, TogetherConfigError):
    """The Batch API does not accept this endpoint (e.g. embeddings).

    Attributes:
        endpoint: The endpoint asked for.
        accepted: The endpoints a batch can target.
    """

    def __init__(self, message: str, *, endpoint: str, accepted: Sequence[str]) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.accepted = tuple(accepted)


class BatchNotServedError(BatchError, TogetherConfigError):
    """The model catalog says the Batch API does not serve this model (its jobs end
    ``FAILED``); raised while planning, before anything is uploaded.

    Attributes:
        model: The model id.
        index: The first request that names it, when planning a list of requests.
    """

    def __init__(self, message: str, *, model: str, index: int | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.index = index


class BatchPlanError(BatchError, TogetherConfigError):
    """A request cannot go into a batch input file (streaming, too large, not an object).

    Attributes:
        index: The request's position in the input list, when one request is at fault.
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class BatchRunNotFoundError(BatchError, LookupError):
    """No manifest is stored under this run key.

    Attributes:
        run_key: The key looked up.
    """

    def __init__(self, message: str, *, run_key: str) -> None:
        super().__init__(message)
        self.run_key = run_key


class BatchManifestError(BatchError):
    """A stored manifest is unreadable, or belongs to other requests than the ones given."""


class BatchItemError(BatchError):
    """One input did not get a result.

    Attributes:
        index: The input's position.
        custom_id: Its ``custom_id`` in the last job that carried it.
        message: The server's own message (or ours for a ``missing`` item).
        code: The server's code (``server_error``, ``invalid_request_error``,
            ``batch_expired``...), or ``missing`` for an item in neither file.
        status_code: The HTTP status of the item's response, when the line had one.
        retryable: Whether sending it again may succeed (timeouts, 5xx, rate limits, missing
            items, leftovers of an expired or cancelled job).
        batch_id: The batch job that reported it.
        body: The response body of a non-2xx line (the server's error object).
    """

    def __init__(
        self,
        message: str,
        *,
        index: int,
        custom_id: str,
        code: str | None = None,
        status_code: int | None = None,
        retryable: bool = False,
        batch_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"Item {index} ({custom_id}): {message}")
        self.message = message
        self.index = index
        self.custom_id = custom_id
        self.code = code
        self.status_code = status_code
        self.retryable = retryable
        self.batch_id = batch_id
        self.body = body

    def __eq__(self, other: object) -> bool:
        # Results are compared across runs (a resumed run gives identical results).
        if not isinstance(other, BatchItemError) or type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), self.index, self.custom_id, self.code))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(index={self.index}, code={self.code!r}, "
            f"retryable={self.retryable}, message={self.message!r})"
        )


class BatchJobFailedError(BatchItemError):
    """The job that carried this item failed as a whole (e.g. a model the Batch API does not
    serve); every item of that job with no line in its files gets one.

    Attributes:
        status: The job's final status (``FAILED``).
        reason: The server's reason for the job, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int,
        custom_id: str,
        batch_id: str | None,
        status: str,
        reason: str | None,
    ) -> None:
        super().__init__(
            message,
            index=index,
            custom_id=custom_id,
            code="batch_failed",
            retryable=False,
            batch_id=batch_id,
        )
        self.status = status
        self.reason = reason


class BatchResultsError(BatchError):
    """Some inputs have no result; raised once every item has resolved, so nothing is lost.

    Attributes:
        results: One entry per input, in input order: the response body, or the
            :class:`BatchItemError` at a failed position.
        errors: Input index → its error.
    """

    def __init__(self, results: list[Any], errors: Mapping[int, BatchItemError]) -> None:
        first = next(iter(errors.values()), None)
        detail = f"; the first: {first}" if first is not None else ""
        super().__init__(
            f"{len(errors)} of {len(results)} batch inputs failed{detail}. The successful "
            "results are in .results, the failures in .errors."
        )
        self.results = results
        self.errors = dict(errors)
