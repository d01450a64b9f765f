"""Framework-neutral embedding batching, shared by the LangChain and LlamaIndex adapters.

:class:`EmbeddingBatcher` turns a list of texts into as few ``POST /embeddings`` requests as
the limits allow, sends up to ``max_concurrency`` of them at a time and puts the vectors
back in input order. Planning (:func:`plan_batches`) is pure and I/O-free; the sync and async
send loops differ only by ``await``.

Decisions:

* **Order** comes from each response item's ``index``, never from arrival order; a
  response whose count or indices do not match its batch raises
  :class:`~together_integrations.APIResponseValidationError`.
* **Budget**: a request holds at most ``batch_size`` texts and about
  ``max_tokens_per_batch`` tokens, estimated offline as UTF-8 bytes / 4 (the usual ~4
  characters per token for English; it errs high for other scripts, which is the safe side).
  A text larger than the budget on its own is sent alone and whole: it is never truncated
  here (the server decides, and its error is raised as is).
* **Empty strings** are rejected before any request with a ``ValueError`` naming their
  positions: Together answers 400 to an empty input, and inventing a vector would be silent
  data corruption. Filter or replace them first.
* **Retries** happen only in the transport; a failed batch cancels the batches not yet
  started and its error is raised unchanged.
* **Resuming** (``journal=``, see :mod:`together_integrations._journal`): texts the journal
  already holds for this model and these request fields are not sent, each distinct missing
  text is sent once per call, and every answered batch is recorded (durably) before its
  vectors are placed, so a rerun after a crash sends only what never came back. In
  :meth:`EmbeddingBatcher.aembed`, a text another call on the same loop and journal is
  fetching is awaited rather than sent again. A journal read or write is a blocking call;
  ``aembed`` runs it in a thread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from ._catalog import get_model_capabilities
from ._exceptions import APIResponseValidationError, TogetherConfigError
from ._journal import (
    JournalLike,
    ResumePlan,
    SupportsEmbeddingJournal,
    check_journal,
    request_namespace,
    resolve_journal,
)
from .schemas import EmbeddingRequest, EmbeddingResponse

if TYPE_CHECKING:
    from ._transport import RequestOptions, TogetherTransport

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_TOKENS_PER_BATCH",
    "EmbeddingBatcher",
    "estimate_tokens",
    "plan_batches",
]

logger = logging.getLogger("together_integrations")

DEFAULT_BATCH_SIZE = 128
"""Texts per request."""
DEFAULT_MAX_TOKENS_PER_BATCH = 64_000
"""Estimated tokens per request: a full batch of 128 texts at 500 tokens each (the context
of the 512-token embedding models) fits, and the body stays a few hundred kilobytes."""
DEFAULT_MAX_CONCURRENCY = 4
"""Requests in flight at once, per call."""

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Estimate the tokens in ``text`` without a tokenizer: UTF-8 bytes / 4, at least 1."""
    return max(1, -(-len(text.encode("utf-8")) // CHARS_PER_TOKEN))


def plan_batches(texts: Sequence[str], batch_size: int, max_tokens_per_batch: int) -> list[range]:
    """Split ``texts`` into consecutive batches within both limits, in order.

    A text whose estimate alone exceeds ``max_tokens_per_batch`` becomes a batch of one.
    Returns ranges of positions in ``texts``.
    """
    batches: list[range] = []
    start = 0
    tokens = 0
    for i, text in enumerate(texts):
        cost = estimate_tokens(text)
        if i > start and (i - start >= batch_size or tokens + cost > max_tokens_per_batch):
            batches.append(range(start, i))
            start, tokens = i, 0
        tokens += cost
    if start < len(texts):
        batches.append(range(start, len(texts)))
    return batches


class _Progress(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


_warned_no_tqdm = False


def _progress_bar(show: bool, total: int) -> _Progress:
    global _warned_no_tqdm
    if not show:
        return _NoProgress()
    try:
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        if not _warned_no_tqdm:
            _warned_no_tqdm = True
            logger.warning("show_progress=True needs tqdm (pip install tqdm); not showing one.")
        return _NoProgress()
    bar: _Progress = tqdm(total=total, desc="Embedding", unit="text")
    return bar


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("Pass a list of strings, not a single string (wrap it: [text]).")
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        kinds = sorted({type(out[i]).__name__ for i in bad})
        raise TypeError(
            f"Embedding inputs must be strings; got {', '.join(kinds)} at positions "
            f"{bad[:10]}. Convert them to text first."
        )
    empty = [i for i, t in enumerate(out) if not t]
    if empty:
        raise ValueError(
            f"Cannot embed empty strings (positions {empty[:10]}"
            f"{' and more' if len(empty) > 10 else ''}): the Together API rejects them. "
            "Remove them or replace them with a placeholder before embedding."
        )
    return out


# Texts an ``aembed`` call on an event loop is fetching right now, keyed by journal object,
# namespace and text digest; the future's result is the vector, or None when that call
# failed (whoever waits then sends the text itself). Forgotten with the loop.
_InFlight: TypeAlias = "dict[tuple[int, str, bytes], asyncio.Future[list[float] | None]]"
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _InFlight] = (
    weakref.WeakKeyDictionary()
)


def _in_flight_here() -> _InFlight:
    loop = asyncio.get_running_loop()
    table = _in_flight.get(loop)
    if table is None:
        table = _in_flight[loop] = {}
    return table


class EmbeddingBatcher:
    """Embed many texts with batched, bounded-concurrency ``POST /embeddings`` requests.

    Args:
        transport: The :class:`~together_integrations.TogetherTransport` to send through
            (its retries, timeouts and pools apply; sync calls share its sync pool).
        model: The embedding model id.
        batch_size: At most this many texts per request.
        max_tokens_per_batch: At most about this many tokens per request (estimated offline,
            see :func:`estimate_tokens`). A single larger text is sent alone, untruncated.
        max_concurrency: At most this many requests in flight per call (threads in
            :meth:`embed`, tasks in :meth:`aembed`).
        dimensions: Output size for models that accept ``dimensions`` (Matryoshka models,
            ``ModelCapabilities.supports_dimensions``, or models the catalog does not know:
            the server decides); any other catalogued model raises
            :class:`~together_integrations.TogetherConfigError` here, before any request.
        options: Per-request overrides (timeout, max_retries, extra headers).
        show_progress: Show a tqdm progress bar when tqdm is installed (otherwise a log
            line says it is missing, and embedding proceeds without one).
        extra_body: Extra JSON fields sent with every request.
        journal: Make calls resumable: a directory path (opened at the first call, once
            per process: :meth:`EmbeddingJournal.open`), an
            :class:`~together_integrations.EmbeddingJournal`, or any
            :class:`~together_integrations.SupportsEmbeddingJournal`. Journaled texts are
            not sent again; every answered request is recorded before it is returned.

    Raises:
        TogetherConfigError: A limit is not a positive integer, or ``dimensions`` is given
            for a catalogued model that does not take it.
        TypeError: ``journal`` is neither a path nor a journal.

    Example:
        >>> batcher = EmbeddingBatcher(TogetherTransport.shared(), "BAAI/bge-base-en-v1.5")
        >>> vectors = batcher.embed(["first text", "second text"])  # doctest: +SKIP
    """

    def __init__(
        self,
        transport: TogetherTransport,
        model: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_tokens_per_batch: int = DEFAULT_MAX_TOKENS_PER_BATCH,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        dimensions: int | None = None,
        options: RequestOptions | None = None,
        show_progress: bool = False,
        extra_body: Mapping[str, Any] | None = None,
        journal: JournalLike | None = None,
    ) -> None:
        if not model:
            raise TogetherConfigError("model must be an embedding model id, got an empty one.")
        for name, value in (
            ("batch_size", batch_size),
            ("max_tokens_per_batch", max_tokens_per_batch),
            ("max_concurrency", max_concurrency),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TogetherConfigError(f"{name} must be a positive integer, got {value!r}.")
        if dimensions is not None:
            if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
                raise TogetherConfigError(
                    f"dimensions must be a positive integer, got {dimensions!r}."
                )
            caps = get_model_capabilities(model)
            # A model the catalog does not know may take it: the server decides.
            if caps.known and not caps.supports_dimensions:
                raise TogetherConfigError(
                    f"{model!r} does not accept `dimensions` (it is not a Matryoshka model in "
                    "the catalog). Leave dimensions unset, or choose a model that supports it; "
                    "if the catalog is out of date, refresh it or send it as an extra body field."
                )
        self.transport = transport
        self.model = model
        self.batch_size = batch_size
        self.max_tokens_per_batch = max_tokens_per_batch
        self.max_concurrency = max_concurrency
        self.dimensions = dimensions
        self.options = options
        self.show_progress = show_progress
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.journal = check_journal(journal)  # a path is opened at the first call

    def __repr__(self) -> str:
        return (
            f"EmbeddingBatcher(model={self.model!r}, batch_size={self.batch_size}, "
            f"max_tokens_per_batch={self.max_tokens_per_batch}, "
            f"max_concurrency={self.max_concurrency}, dimensions={self.dimensions}, "
            f"journal={self.journal!r})"
        )

    # ------------------------------------------------------------ I/O-free parts

    def plan(self, texts: Sequence[str]) -> list[range]:
        """The batches :meth:`embed` would send for ``texts`` (positions, in order)."""
        return plan_batches(texts, self.batch_size, self.max_tokens_per_batch)

    def _request(self, batch: list[str]) -> EmbeddingRequest:
        body: dict[str, Any] = {**self.extra_body, "model": self.model, "input": batch}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        return EmbeddingRequest.model_validate(body)

    def namespace(self) -> str:
        """The journal namespace of this batcher's requests: every field but ``input``."""
        return request_namespace(self._request(["-"]).to_wire())

    def _journal(self) -> SupportsEmbeddingJournal | None:
        journal = resolve_journal(self.journal)
        self.journal = journal
        return journal

    @staticmethod
    def _vectors(response: EmbeddingResponse, expected: int) -> list[list[float]]:
        data = response.data
        if "index" in {f for item in data for f in item.model_fields_set}:
            indices = [item.index for item in data]
        else:
            indices = list(range(len(data)))  # no index sent at all: positional
        if len(data) != expected or sorted(indices) != list(range(expected)):
            raise APIResponseValidationError(
                f"Sent {expected} texts to /embeddings but got {len(data)} embeddings with "
                f"indices {indices[:20]}; cannot match vectors to texts. Retry; if it persists, "
                "report it to Together.",
                status_code=200,
                body=f"model={response.model!r}, embeddings={len(data)}, indices={indices[:50]}",
                method="POST",
                url="/embeddings",
            )
        out: list[list[float]] = [[] for _ in range(expected)]
        for index, item in zip(indices, data, strict=True):
            out[index] = item.embedding
        return out

    # ------------------------------------------------------------------ sync

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        response = self.transport.embeddings.create(self._request(batch), self.options)
        return self._vectors(response, len(batch))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts``; one vector per text, in input order. ``[]`` sends nothing."""
        items = _check_texts(texts)
        if not items:
            return []
        journal = self._journal()
        bar = _progress_bar(self.show_progress, len(items))
        try:
            if journal is None:
                return self._send(items, bar, None)
            plan = ResumePlan.start(journal, self.namespace(), items)
            bar.update(plan.hits)

            def record(positions: range, vectors: list[list[float]]) -> list[list[float]]:
                return plan.record(journal, positions, vectors)

            return plan.finish(self._send(plan.todo, bar, record) if plan.todo else [])
        finally:
            bar.close()

    def _send(
        self,
        items: list[str],
        bar: _Progress,
        record: Callable[[range, list[list[float]]], list[list[float]]] | None,
    ) -> list[list[float]]:
        batches = self.plan(items)
        out: list[list[float]] = [[] for _ in items]

        def run(positions: range) -> list[list[float]]:
            vectors = self._embed_batch([items[i] for i in positions])
            if record is not None:
                vectors = record(positions, vectors)  # on disk before anyone sees them
            return vectors

        if len(batches) == 1 or self.max_concurrency == 1:
            for positions in batches:
                self._place(out, positions, run(positions), bar)
            return out
        workers = min(self.max_concurrency, len(batches))
        with ThreadPoolExecutor(workers, thread_name_prefix="together-embed") as pool:
            futures: dict[Future[list[list[float]]], range] = {
                pool.submit(run, positions): positions for positions in batches
            }
            pending: set[Future[list[list[float]]]] = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.exception() is not None:
                        for other in pending:
                            other.cancel()
                        future.result()  # raises the batch's own error
                    self._place(out, futures[future], future.result(), bar)
        return out

    @staticmethod
    def _place(
        out: list[list[float]], positions: range, vectors: list[list[float]], bar: _Progress
    ) -> None:
        for i, vector in zip(positions, vectors, strict=True):
            out[i] = vector
        bar.update(len(positions))

    # ----------------------------------------------------------------- async

    async def _aembed_batch(self, batch: list[str]) -> list[list[float]]:
        response = await self.transport.embeddings.acreate(self._request(batch), self.options)
        return self._vectors(response, len(batch))

    async def aembed(self, texts: Sequence[str]) -> list[list[float]]:
        """Async :meth:`embed`: up to ``max_concurrency`` requests in flight on one loop.

        With a journal, a text that a concurrent ``aembed`` call on the same loop and
        journal is fetching right now is not sent again: this call waits for that answer
        (LlamaIndex runs the chunks of one batch as concurrent calls). If that call fails,
        this one sends the text itself.
        """
        items = _check_texts(texts)
        if not items:
            return []
        journal = self._journal()
        bar = _progress_bar(self.show_progress, len(items))
        try:
            if journal is None:
                return await self._asend(items, bar, None)
            plan = await asyncio.to_thread(ResumePlan.start, journal, self.namespace(), items)
            bar.update(plan.hits)
            return plan.finish(await self._afetch(journal, plan, bar))
        finally:
            bar.close()

    async def _afetch(
        self, journal: SupportsEmbeddingJournal, plan: ResumePlan, bar: _Progress
    ) -> list[list[float]]:
        """The vectors of ``plan.todo``: sent here, or awaited from a concurrent call."""
        table = _in_flight_here()
        loop = asyncio.get_running_loop()
        keys = [(id(journal), plan.namespace, digest) for digest in plan.digests]
        claimed: dict[int, asyncio.Future[list[float] | None]] = {}
        theirs: list[tuple[int, asyncio.Future[list[float] | None]]] = []
        for i, key in enumerate(keys):
            other = table.get(key)
            if other is None:
                claimed[i] = table[key] = loop.create_future()
            else:
                theirs.append((i, other))
        out: list[list[float]] = [[] for _ in plan.todo]

        async def send(indices: list[int]) -> None:
            async def record(positions: Sequence[int], got: list[list[float]]) -> list[list[float]]:
                todo = [indices[p] for p in positions]
                stored = await asyncio.to_thread(plan.record, journal, todo, got)
                for i, vector in zip(todo, stored, strict=True):
                    future = claimed.get(i)
                    if future is not None and not future.done():
                        future.set_result(vector)  # waiters need not wait for the rest
                return stored

            got = await self._asend([plan.todo[i] for i in indices], bar, record)
            for i, vector in zip(indices, got, strict=True):
                out[i] = vector

        try:
            if claimed:
                await send(list(claimed))
        finally:
            for i, future in claimed.items():
                if not future.done():
                    future.set_result(None)  # not fetched: a waiter sends it itself
                if table.get(keys[i]) is future:
                    del table[keys[i]]
        again: list[int] = []
        for i, future in theirs:
            vector = await asyncio.shield(future)
            if vector is None:
                again.append(i)
            else:
                out[i] = list(vector)
                bar.update(1)
        if again:
            await send(again)
        return out

    async def _asend(
        self,
        items: list[str],
        bar: _Progress,
        record: Callable[[Sequence[int], list[list[float]]], Awaitable[list[list[float]]]] | None,
    ) -> list[list[float]]:
        batches = self.plan(items)
        out: list[list[float]] = [[] for _ in items]
        semaphore = asyncio.Semaphore(self.max_concurrency)
        failed = False
        recording: set[asyncio.Future[list[list[float]]]] = set()

        async def run(positions: range) -> None:
            async with semaphore:
                if failed:  # another request failed: send nothing more
                    return
                vectors = await self._aembed_batch([items[i] for i in positions])
            if record is not None:
                # Shielded: an answer the server gave is on disk before the call returns,
                # even when the call is cancelled meanwhile.
                step = asyncio.ensure_future(record(positions, vectors))
                recording.add(step)
                vectors = await asyncio.shield(step)
            self._place(out, positions, vectors, bar)

        tasks = [asyncio.ensure_future(run(positions)) for positions in batches]
        try:
            await asyncio.gather(*tasks)
        except Exception:
            # One request failed: the ones in flight finish (and, with a journal, are
            # recorded, so a rerun does not pay for them again); queued ones are not sent.
            failed = True
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            if recording:
                await asyncio.gather(*recording, return_exceptions=True)
        return out
