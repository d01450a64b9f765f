"""Planning a batch run, without I/O: input lines, ``custom_id``s, jobs and the run key.

A request body goes in exactly as the online path builds it (``stream`` is dropped: a batch
answers whole responses). Each input gets the ``custom_id`` ``"<index>-<hash>"``, where
``hash`` is 16 hex digits of the sha256 of the body's compact JSON (in its own key order,
as sent online): unique within the run (the
index), at most 64 characters, the same on every run with the same inputs, and readable back
to a position without any local record (:func:`parse_custom_id`). A follow-up job that sends
an item again appends ``-r<round>``, so its file never has the bytes of an earlier one.

Lines are cut, in order, into jobs of at most :attr:`BatchLimits.max_lines` lines and
:attr:`BatchLimits.max_bytes` bytes. The run key is a hash of the endpoint and of every body
in order: the same inputs find the same run, different inputs never do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from together_integrations._catalog import DEFAULT_CATALOG, ModelCapabilities, ModelCatalog
from together_integrations.schemas.batches import (
    BATCH_CUSTOM_ID_MAX,
    BATCH_ENDPOINTS,
    BATCH_MAX_BYTES,
    BATCH_MAX_LINES,
)

from ._errors import BatchEndpointError, BatchNotServedError, BatchPlanError

__all__ = [
    "BatchLimits",
    "BatchPlan",
    "PlannedJob",
    "check_batch_model",
    "normalize_endpoint",
    "parse_custom_id",
    "plan_batch",
    "plan_followup",
]

_KEY_VERSION = b"together-integrations/batch/1\n"
_HASH_CHARS = 16
_AUDIO_ENDPOINTS = frozenset({"/v1/audio/transcriptions", "/v1/audio/translations"})
# openapi PR #277: audio lines currently name the file by URL with "method": "FILE".
_AUDIO_METHOD = "FILE"
_STREAM_KEYS = ("stream", "stream_options")


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """What one batch job may hold (the documented limits unless told otherwise).

    Attributes:
        max_lines: Requests per job.
        max_bytes: Bytes of one job's input file.
    """

    max_lines: int = BATCH_MAX_LINES
    max_bytes: int = BATCH_MAX_BYTES

    def __post_init__(self) -> None:
        if self.max_lines < 1 or self.max_bytes < 1:
            raise BatchPlanError(
                f"Batch limits must be positive, got {self.max_lines} lines and "
                f"{self.max_bytes} bytes."
            )


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """One job's input file.

    Attributes:
        round: 0 for the first submission, 1 for the follow-up of retryable items.
        number: Its position among the jobs of its round.
        spans: The input positions it carries, as ``[start, stop)`` ranges in order.
        lines: How many requests.
        size: The file's size in bytes.
        sha256: The file's sha256 (what the server dedupes uploads by).
        data: The file's bytes (not in the repr: they hold the prompts).
    """

    round: int
    number: int
    spans: tuple[tuple[int, int], ...]
    lines: int
    size: int
    sha256: str
    data: bytes = field(repr=False)

    @property
    def key(self) -> str:
        """A name unique within the run: ``r<round>-<number>``."""
        return f"r{self.round}-{self.number}"

    def indices(self) -> list[int]:
        """The input positions this job carries, in file order."""
        return [i for start, stop in self.spans for i in range(start, stop)]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Every input line of a run, cut into jobs.

    Attributes:
        endpoint: The endpoint every line targets (e.g. ``/v1/chat/completions``).
        run_key: 32 hex digits derived from the endpoint and the bodies.
        model_id: The model every body names, or None when they differ (or name none).
        custom_ids: One per input, in input order.
        jobs: The round-0 jobs, in order.
        limits: The limits the jobs were cut by.
    """

    endpoint: str
    run_key: str
    model_id: str | None
    custom_ids: tuple[str, ...]
    jobs: tuple[PlannedJob, ...]
    limits: BatchLimits
    bodies: tuple[dict[str, Any], ...] = field(repr=False)

    def __len__(self) -> int:
        return len(self.custom_ids)


def normalize_endpoint(endpoint: str) -> str:
    """``chat/completions``, ``/chat/completions`` and ``/v1/chat/completions`` are one
    endpoint; an endpoint the Batch API does not accept raises :class:`BatchEndpointError`."""
    path = "/" + endpoint.strip().strip("/")
    if not path.startswith("/v1/"):
        path = "/v1" + path
    if path in BATCH_ENDPOINTS:
        return path
    hint = (
        " Embeddings are not accepted by the Batch API: use the online embeddings batcher."
        if "embeddings" in path
        else ""
    )
    raise BatchEndpointError(
        f"The Batch API does not accept {endpoint!r}; it accepts {', '.join(BATCH_ENDPOINTS)}."
        + hint,
        endpoint=endpoint,
        accepted=BATCH_ENDPOINTS,
    )


def _encoded(body: Mapping[str, Any]) -> bytes:
    # The body's own key order, as the online path sends it: constrained decoding writes an
    # object's fields in its JSON schema's order, so sorting the keys of ``properties``
    # (or of a tool's parameters) would make a batch answer differently from online.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _prepare(body: Any, index: int, endpoint: str) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise BatchPlanError(
            f"Request {index} is a {type(body).__name__}; each request body must be a dict.",
            index=index,
        )
    prepared = {k: v for k, v in body.items() if k not in _STREAM_KEYS}
    if endpoint in _AUDIO_ENDPOINTS:
        file = prepared.get("file")
        if not (isinstance(file, str) and file.startswith(("https://", "http://"))):
            raise BatchPlanError(
                f"Request {index}: a batched audio request names its file by URL "
                "(body['file'] = 'https://...'); bytes cannot go into a batch input file.",
                index=index,
            )
    return prepared


def _custom_id(index: int, digest: str, round: int) -> str:
    base = f"{index}-{digest[:_HASH_CHARS]}"
    custom_id = base if round == 0 else f"{base}-r{round}"
    if len(custom_id) > BATCH_CUSTOM_ID_MAX:  # pragma: no cover - 10**40 inputs
        raise BatchPlanError(f"custom_id {custom_id!r} exceeds {BATCH_CUSTOM_ID_MAX} characters")
    return custom_id


def parse_custom_id(custom_id: str) -> tuple[int, int] | None:
    """``(index, round)`` of a ``custom_id`` this module made, or None for any other."""
    head, _, rest = custom_id.partition("-")
    digest, _, suffix = rest.partition("-")
    if not head.isdigit() or len(digest) != _HASH_CHARS:
        return None
    if not suffix:
        return int(head), 0
    if suffix[:1] == "r" and suffix[1:].isdigit():
        return int(head), int(suffix[1:])
    return None


def _line(custom_id: str, body_bytes: bytes, endpoint: str) -> bytes:
    """The encoding of ``{"body", "custom_id"[, "method"]}`` (no spaces), put together from
    the body's own bytes instead of encoding it twice.
    The bytes must never change: a stored run is checked against their sha256."""
    tail = (
        b',"method":"' + _AUDIO_METHOD.encode() + b'"}\n'
        if endpoint in _AUDIO_ENDPOINTS
        else b"}\n"
    )
    return (
        b'{"body":'
        + body_bytes
        + b',"custom_id":'
        + json.dumps(custom_id, ensure_ascii=False).encode()
        + tail
    )


def _spans(indices: Sequence[int]) -> tuple[tuple[int, int], ...]:
    spans: list[list[int]] = []
    for i in indices:
        if spans and spans[-1][1] == i:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return tuple((a, b) for a, b in spans)


def _cut(
    lines: Sequence[tuple[int, bytes]], round: int, limits: BatchLimits
) -> tuple[PlannedJob, ...]:
    jobs: list[PlannedJob] = []
    current: list[tuple[int, bytes]] = []
    size = 0

    def close() -> None:
        data = b"".join(line for _, line in current)
        jobs.append(
            PlannedJob(
                round=round,
                number=len(jobs),
                spans=_spans([i for i, _ in current]),
                lines=len(current),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
            )
        )

    for index, line in lines:
        if len(line) > limits.max_bytes:
            raise BatchPlanError(
                f"Request {index} is {len(line)} bytes as a batch line, over the "
                f"{limits.max_bytes}-byte limit of a batch input file.",
                index=index,
            )
        if current and (len(current) >= limits.max_lines or size + len(line) > limits.max_bytes):
            close()
            current, size = [], 0
        current.append((index, line))
        size += len(line)
    if current:
        close()
    return tuple(jobs)


def check_batch_model(
    model_id: str,
    *,
    catalog: ModelCatalog | None = None,
    index: int | None = None,
    hint: str | None = None,
    error: type[BatchNotServedError] = BatchNotServedError,
) -> ModelCapabilities:
    """Refuse, before anything is uploaded, a model the Batch API does not serve.

    The catalog's ``batch_api`` decides: ``False`` (Together lists the model as failing in
    batch jobs) raises; ``True`` and ``None`` (not known) pass, since the server is the
    judge of models the catalog does not know.

    Args:
        model_id: The model the requests name.
        catalog: Where to look (default: the process-wide catalog that
            :func:`~together_integrations.get_model_capabilities` reads).
        index: The request naming it, for the error.
        hint: What to do instead, for the error (adapters name their own online path).
        error: The class to raise (an adapter's twin of :class:`BatchNotServedError`).

    Returns:
        The model's capabilities.

    Raises:
        BatchNotServedError: the catalog says batch jobs cannot use this model.

    Example:
        >>> check_batch_model("meta-llama/Llama-3.3-70B-Instruct-Turbo").batch_api
        True
    """
    capabilities = (catalog or DEFAULT_CATALOG).get(model_id)
    if capabilities.batch_api is False:
        where = f" (request {index})" if index is not None else ""
        raise error(
            f"Together's Batch API does not serve {model_id}{where}: Together lists it as "
            "failing in batch jobs. "
            + (hint or "Send these requests online, or pick a model the Batch API serves."),
            model=model_id,
            index=index,
        )
    return capabilities


def _check_models(bodies: Sequence[Mapping[str, Any]], catalog: ModelCatalog | None) -> None:
    checked: set[str] = set()
    for index, body in enumerate(bodies):
        model = body.get("model")
        if isinstance(model, str) and model and model not in checked:
            checked.add(model)
            check_batch_model(model, catalog=catalog, index=index)


def _common_model(bodies: Iterable[Mapping[str, Any]]) -> str | None:
    models = {body.get("model") for body in bodies}
    if len(models) == 1:
        (model,) = models
        return model if isinstance(model, str) and model else None
    return None


def plan_batch(
    requests: Sequence[Mapping[str, Any]],
    *,
    endpoint: str = "/v1/chat/completions",
    limits: BatchLimits | None = None,
    check_models: bool = True,
    catalog: ModelCatalog | None = None,
) -> BatchPlan:
    """Plan a run: one input line per request, cut into jobs.

    Args:
        requests: Request bodies as the online path builds them (``stream`` is dropped).
        endpoint: One of :data:`~together_integrations.schemas.batches.BATCH_ENDPOINTS`
            (with or without the ``/v1`` prefix).
        limits: Lines and bytes per job (default: the documented 50,000 and 100 MB).
        check_models: Refuse models the catalog says the Batch API does not serve
            (:func:`check_batch_model`); pass False to let the server decide.
        catalog: The catalog to check against (default: the package's).

    Raises:
        BatchEndpointError: the Batch API does not accept ``endpoint``.
        BatchNotServedError: a request names a model the Batch API does not serve.
        BatchPlanError: a request is not a dict, a batched audio request has no file URL,
            or one line alone is over the byte limit.
    """
    path = normalize_endpoint(endpoint)
    limits = limits or BatchLimits()
    bodies = tuple(_prepare(body, i, path) for i, body in enumerate(requests))
    if check_models:
        _check_models(bodies, catalog)
    key = hashlib.sha256(_KEY_VERSION + path.encode() + b"\n")
    custom_ids: list[str] = []
    lines: list[tuple[int, bytes]] = []
    for index, body in enumerate(bodies):
        encoded = _encoded(body)
        digest = hashlib.sha256(encoded).hexdigest()
        key.update(digest.encode() + b"\n")
        custom_id = _custom_id(index, digest, 0)
        custom_ids.append(custom_id)
        lines.append((index, _line(custom_id, encoded, path)))
    return BatchPlan(
        endpoint=path,
        run_key=key.hexdigest()[:32],
        model_id=_common_model(bodies),
        custom_ids=tuple(custom_ids),
        jobs=_cut(lines, 0, limits),
        limits=limits,
        bodies=bodies,
    )


def plan_followup(
    items: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    endpoint: str,
    round: int,
    limits: BatchLimits | None = None,
) -> tuple[PlannedJob, ...]:
    """The jobs that send ``(index, body)`` items again in round ``round`` (>= 1), in index
    order; their ``custom_id``s carry ``-r<round>``."""
    if round < 1:
        raise BatchPlanError(f"A follow-up round is 1 or more, got {round}.")
    path = normalize_endpoint(endpoint)
    lines = []
    for index, body in sorted(items, key=lambda item: item[0]):
        encoded = _encoded(body)
        digest = hashlib.sha256(encoded).hexdigest()
        lines.append((index, _line(_custom_id(index, digest, round), encoded, path)))
    return _cut(lines, round, limits or BatchLimits())
