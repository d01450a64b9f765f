"""Together's Batch API behind LangChain's ``batch()``: ``TogetherBatchRun`` and its errors.

``ChatTogether(batch_api="on" | "auto")`` sends ``batch`` / ``abatch`` /
``batch_as_completed`` / ``abatch_as_completed`` through one batch job instead of one request
per input. Everything but the transport is the online path's own code:

1. **Classify** (no request): each input goes through LangChain's own cache step
   (``_generate_with_cache``) with the chat model in *collect* mode. A cache hit returns
   there; a miss reaches ``ChatTogether._generate``, which builds the request body with the
   online path's ``_request`` (tools bound with ``bind_tools``, ``response_format`` from
   ``with_structured_output``, ``stop``...) and hands it back instead of sending it.
2. **Submit** the misses as one run (:func:`~together_integrations.batch.plan_batch` +
   :class:`~together_integrations.batch.BatchRun`). The run key is derived from the bodies,
   so running the same ``batch()`` again (after a crash, a timeout, or on purpose) finds the
   same run in the store and creates no new job.
3. **Trace**: one ``on_chat_model_start`` per input, configured as
   ``BaseChatModel.generate`` configures it, with ``together_batch_id`` /
   ``together_batch_run_id`` in the metadata and the ``together-batch`` tag on the inputs
   that went into the batch.
4. **Answer** (no request): each input goes through ``_generate_with_cache`` again, with
   the chat model in *answer* mode, where ``_generate`` returns the batch's response
   converted by the online path's ``_chat_result``. LangChain therefore builds the message
   (ids, ``response_metadata``, ``output_version``) and fills the cache exactly as online;
   then ``on_llm_end`` (or ``on_llm_error``) fires once per input.

Failed inputs become :class:`TogetherBatchItemError` (a
:class:`~together_integrations.batch.BatchItemError` and a LangChain ``ModelError``, with the
server's message). ``return_exceptions=False`` raises one :class:`TogetherBatchResultsError`
after every input has resolved, carrying every successful message in ``.results``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.exceptions import ModelError, ModelTimeoutError
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list
from pydantic import ValidationError

from together_integrations._catalog import get_model_capabilities
from together_integrations._exceptions import APIError, JobTimeoutError
from together_integrations.batch import (
    BatchError,
    BatchItemError,
    BatchJobFailedError,
    BatchResultsError,
    BatchRun,
    BatchRunStatus,
    BatchStore,
    DirectoryStore,
    check_batch_model,
    plan_batch,
)
from together_integrations.batch import BatchNotServedError as _CoreBatchNotServedError
from together_integrations.langchain._errors import LCInvalidArgumentsError, to_langchain_error
from together_integrations.langchain.chat_models import _BATCH_STAGE, _Prepared
from together_integrations.schemas import ChatCompletion, ChatCompletionRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from together_integrations.langchain.chat_models import ChatTogether

try:  # LangChain's own helpers for what generate() does; absent in some 1.x releases
    from langchain_core.language_models._utils import _normalize_messages
except ImportError:  # pragma: no cover - older langchain-core

    def _normalize_messages(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        return list(messages)


try:
    from langchain_core.language_models.chat_models import (
        _format_for_tracing,
        _format_ls_structured_output,
    )
except ImportError:  # pragma: no cover - older langchain-core

    def _format_for_tracing(messages: list[BaseMessage]) -> list[BaseMessage]:
        return messages

    def _format_ls_structured_output(
        ls_structured_output_format: dict[str, Any] | None,
    ) -> dict[str, Any]:
        return {}


__all__ = [
    "BatchNotServedError",
    "TogetherBatchItemError",
    "TogetherBatchJobFailedError",
    "TogetherBatchResultsError",
    "TogetherBatchRun",
    "TogetherBatchTimeoutError",
]

BATCH_TAG = "together-batch"
"""The tag on the traced runs of inputs that went through the Batch API."""

_TRACING_EXCLUDED = frozenset({"tools", "functions", "messages", "response_format"})


# ------------------------------------------------------------------------ errors


class TogetherBatchItemError(BatchItemError, ModelError):
    """One input of a batch got no answer: the server's message and code, as a
    :class:`~together_integrations.batch.BatchItemError` and a LangChain ``ModelError``.

    ``is_retryable`` follows ``retryable`` (timeouts, 5xx, rate limits, expired or
    cancelled jobs): such an input may be sent again, online or in another batch.
    """


class TogetherBatchJobFailedError(BatchJobFailedError, TogetherBatchItemError):
    """The job that carried this input failed as a whole (``reason`` is the server's)."""


def _item_error(error: BatchItemError) -> TogetherBatchItemError:
    """The LangChain twin of a core item error, with every attribute kept."""
    if isinstance(error, TogetherBatchItemError):
        return error
    cls: type[TogetherBatchItemError] = (
        TogetherBatchJobFailedError
        if isinstance(error, BatchJobFailedError)
        else TogetherBatchItemError
    )
    twin = cls.__new__(cls)
    Exception.__init__(twin, *error.args)
    twin.__dict__.update(error.__dict__)
    twin.is_retryable = bool(error.retryable)
    return twin


class TogetherBatchResultsError(BatchResultsError, ModelError):
    """Some inputs of ``batch(..., return_exceptions=False)`` failed; raised once every input
    has resolved, so nothing is lost.

    Attributes:
        results: One entry per input, in input order: the ``AIMessage``, or the error at a
            failed position.
        errors: Input index → its error (usually a :class:`TogetherBatchItemError`).
        run_id: The batch run, to :meth:`TogetherBatchRun.load` it again.
    """

    errors: dict[int, Exception]  # type: ignore[assignment]

    def __init__(
        self, results: list[Any], errors: Mapping[int, Exception], *, run_id: str | None = None
    ) -> None:
        first = next(iter(errors.values()), None)
        detail = f"; the first: {first}" if first is not None else ""
        BatchError.__init__(
            self,
            f"{len(errors)} of {len(results)} batch inputs failed{detail}. The successful "
            "messages are in .results, the failures in .errors.",
        )
        self.results = results
        self.errors = dict(errors)
        self.run_id = run_id


class BatchNotServedError(_CoreBatchNotServedError, LCInvalidArgumentsError):
    """``batch_api="on"`` with a model the catalog says the Batch API does not serve;
    raised before anything is uploaded. Both the core's
    :class:`~together_integrations.batch.BatchNotServedError` and a LangChain error.

    Attributes:
        model: The model.
        index: The first input that names it, when known.
    """


class TogetherBatchTimeoutError(JobTimeoutError, ModelTimeoutError):
    """``batch_timeout`` ran out while the batch was still running. The job goes on on the
    server: run the same ``batch()`` again, or ``TogetherBatchRun.load(run_id, llm=...)``.

    Attributes:
        run_id: The batch run.
        waited: Seconds waited (by the poller's clock).
    """

    def __init__(self, message: str, *, run_id: str, job: Any, waited: float) -> None:
        super().__init__(message, job=job, job_id=run_id, status=None, waited=waited)
        self.run_id = run_id


def _timeout_error(error: JobTimeoutError, run_id: str) -> TogetherBatchTimeoutError:
    return TogetherBatchTimeoutError(
        f"The batch run {run_id} is still running after {error.waited:g} s. It goes on on "
        "the server: call the same batch() again with the same inputs (it finds this run "
        f"and creates no new job), or TogetherBatchRun.load({run_id!r}, llm=...).results().",
        run_id=run_id,
        job=error.job,
        waited=error.waited,
    )


def check_served(models: Sequence[str]) -> None:
    """Refuse, before any upload, models the catalog says the Batch API does not serve."""
    for model in models:
        check_batch_model(
            model,
            hint='Use batch_api="auto" to send these inputs online, or pick a model the '
            "Batch API serves (ModelCapabilities.batch_api is True).",
            error=BatchNotServedError,
        )


def batch_served(models: Sequence[str]) -> bool:
    """Whether ``batch_api="auto"`` may use the Batch API: every model known to be served."""
    return all(get_model_capabilities(model).batch_api is True for model in models)


# ------------------------------------------------------------- the two stages


class _Deferred(Exception):
    """Carries a miss's request body out of ``_generate`` in the collect stage."""

    def __init__(self, prepared: _Prepared) -> None:
        super().__init__("deferred to the Batch API")
        self.prepared = prepared


class _Collect:
    """Stage 1: ``_generate`` builds the request (as online) and hands it back."""

    def respond(
        self,
        llm: ChatTogether,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> ChatResult:
        raise _Deferred(llm._request(messages, stop, kwargs))


@dataclass(slots=True)
class _Answer:
    """Stage 2: ``_generate`` returns the batch's answer (or raises its error)."""

    outcome: ChatResult | BaseException

    def respond(
        self,
        llm: ChatTogether,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> ChatResult:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


STAGE = _BATCH_STAGE
"""What ``ChatTogether._generate`` / ``_stream`` do instead of sending (None: send)."""


def result_chunks(result: ChatResult) -> Iterator[ChatGenerationChunk]:
    """An answer as one stream chunk, for when LangChain chose to stream (a streaming
    callback handler is attached)."""
    generation = result.generations[0]
    message = generation.message
    chunks = []
    if isinstance(message, AIMessage):
        for position, call in enumerate(message.tool_calls):
            chunks.append(
                tool_call_chunk(
                    name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=position
                )
            )
        for position, bad in enumerate(message.invalid_tool_calls, start=len(chunks)):
            chunks.append(
                tool_call_chunk(name=bad["name"], args=bad["args"], id=bad["id"], index=position)
            )
    usage = message.usage_metadata if isinstance(message, AIMessage) else None
    chunk = AIMessageChunk(
        content=message.content,
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata={**(result.llm_output or {}), **message.response_metadata},
        usage_metadata=usage,
        tool_call_chunks=chunks,
        id=message.id,
        chunk_position="last",
    )
    yield ChatGenerationChunk(message=chunk, generation_info=generation.generation_info)


# ------------------------------------------------------------------ conversion


def _loaded_prepared(llm: ChatTogether, model: str) -> _Prepared:
    # Loaded without its requests: only the model (for <think> tags) is known.
    request = ChatCompletionRequest.model_construct(model=model, messages=[])
    return _Prepared(request, llm._get_transport(), None, None)


def _as_message(result: ChatResult, output_version: str | None) -> AIMessage:
    """The message ``invoke`` would return for ``result``: generation info and the
    response's ``llm_output`` folded into ``response_metadata``, and ``.content`` as
    content blocks for ``output_version="v1"``, as LangChain's generate step does."""
    generation = result.generations[0]
    message = generation.message
    assert isinstance(message, AIMessage)
    metadata = {**(generation.generation_info or {}), **message.response_metadata}
    if len(result.generations) == 1 and result.llm_output is not None:
        metadata = {**result.llm_output, **metadata}
    if output_version == "v1":
        metadata["output_version"] = "v1"
        return message.model_copy(
            update={"content": message.content_blocks, "response_metadata": metadata}
        )
    message.response_metadata = metadata
    return message


class TogetherBatchRun:
    """A batch of chat inputs on Together's Batch API, resumable from any process.

    Returned by :meth:`ChatTogether.submit_batch` once the job is created; wraps a
    :class:`~together_integrations.batch.BatchRun` and turns its response bodies into the
    ``AIMessage`` s the online path gives.

    Example:
        .. code-block:: python

            run = llm.submit_batch(prompts)           # returns once the job exists
            print(run.run_id, run.status().progress_fraction)
            messages = run.results()                  # waits; AIMessages in input order

            # later, in another process:
            run = TogetherBatchRun.load(run_id, llm=llm)
            messages = run.results(return_exceptions=True)
    """

    def __init__(
        self,
        run: BatchRun,
        llm: ChatTogether,
        prepared: Sequence[_Prepared] | None = None,
    ) -> None:
        self._run = run
        self._llm = llm
        self._prepared = list(prepared) if prepared is not None else None

    def __repr__(self) -> str:
        return f"TogetherBatchRun(run_id={self.run_id!r}, inputs={self._run.manifest.inputs})"

    @classmethod
    def load(
        cls,
        run_id: str,
        *,
        llm: ChatTogether,
        store: BatchStore | str | None = None,
        clock: Any = None,
    ) -> TogetherBatchRun:
        """Pick up a run from its ``run_id`` (in this process or another).

        Args:
            run_id: :attr:`run_id` of the run.
            llm: The chat model to convert answers with (its transport, store and clock
                are used unless given here).
            store: Where the run's manifest is (default: ``llm.batch_store``, else the
                default :class:`~together_integrations.batch.DirectoryStore`).
            clock: The poller's clock (tests pass a virtual one).

        Raises:
            BatchRunNotFoundError: the store holds no such run.
        """
        run = BatchRun.load(
            run_id,
            transport=llm._get_transport(),
            store=resolve_store(store) if store is not None else llm._batch_store(),
            clock=clock if clock is not None else llm.batch_clock,
        )
        return cls(run, llm)

    # ---------------------------------------------------------------- reading

    @property
    def run_id(self) -> str:
        """The key to :meth:`load` this run with."""
        return self._run.run_key

    @property
    def batch_ids(self) -> list[str]:
        """The ids of the run's batch jobs (once created)."""
        return [job.batch_id for job in self._run.manifest.jobs if job.batch_id]

    @property
    def batch_run(self) -> BatchRun:
        """The framework-neutral run underneath."""
        return self._run

    def _timeout(self, timeout: float | None) -> float | None:
        return self._llm.batch_timeout if timeout is None else timeout

    def _convert(self, raw: list[Any]) -> list[ChatResult | Exception]:
        ids = self._run.answered_by()
        out: list[ChatResult | Exception] = []
        for index, body in enumerate(raw):
            if isinstance(body, BatchItemError):
                out.append(_item_error(body))
                continue
            out.append(self._chat_result(index, body, ids[index]))
        return out

    def _chat_result(self, index: int, body: Any, batch_id: str | None) -> ChatResult | Exception:
        llm = self._llm
        try:
            wire = ChatCompletion.model_validate(body)
        except ValidationError as exc:
            return TogetherBatchItemError(
                f"The batch answered with a body that is not a chat completion: {exc}",
                index=index,
                custom_id="",
                code="invalid_response",
                batch_id=batch_id,
                body=body,
            )
        if self._prepared is not None:
            prepared = self._prepared[index]
        else:
            model = self._run.manifest.model_id or wire.model or llm.model
            prepared = _loaded_prepared(llm, model)
        try:
            result = llm._chat_result(wire, prepared)
        except Exception as exc:  # a reply that does not parse into the asked schema
            return exc
        for generation in result.generations:
            generation.message.response_metadata["batch_id"] = batch_id
            generation.message.response_metadata["batch_run_id"] = self.run_id
        return result

    def _messages(
        self, results: list[ChatResult | Exception], return_exceptions: bool
    ) -> list[Any]:
        version = self._llm.output_version
        messages = [r if isinstance(r, Exception) else _as_message(r, version) for r in results]
        errors = {i: m for i, m in enumerate(messages) if isinstance(m, Exception)}
        if errors and not return_exceptions:
            raise TogetherBatchResultsError(messages, errors, run_id=self.run_id)
        return messages

    # ------------------------------------------------------------------- sync

    def submit(self) -> TogetherBatchRun:
        """Upload and create every job not yet created (never creating one twice)."""
        try:
            self._run.submit()
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self

    def status(self) -> BatchRunStatus:
        """Look at every unfinished job once; ``.progress_fraction``, ``.finished``..."""
        try:
            return self._run.status()
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    def wait(
        self,
        *,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        show_progress: bool = False,
    ) -> BatchRunStatus:
        """Wait until every job has ended.

        Args:
            timeout: Seconds (default: the model's ``batch_timeout``; None waits as long
                as the jobs run, up to Together's 24 h window).
            on_progress: Called after every look with the run's status.
            show_progress: Draw a tqdm bar (needs ``tqdm``).

        Raises:
            TogetherBatchTimeoutError: the time ran out; the jobs go on.
        """
        try:
            return self._run.wait(
                timeout=self._timeout(timeout), on_progress=on_progress, show_progress=show_progress
            )
        except JobTimeoutError as exc:
            raise _timeout_error(exc, self.run_id) from exc
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    def chat_results(
        self,
        *,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
    ) -> list[ChatResult | Exception]:
        """Each input's ``ChatResult`` or error, in input order (waiting first)."""
        try:
            raw = self._run.results(
                return_exceptions=True, timeout=self._timeout(timeout), on_progress=on_progress
            )
        except JobTimeoutError as exc:
            raise _timeout_error(exc, self.run_id) from exc
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self._convert(raw)

    def results(
        self,
        *,
        return_exceptions: bool = False,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
    ) -> list[Any]:
        """Every input's ``AIMessage``, in input order (waiting first if need be).

        Args:
            return_exceptions: Put the error (a :class:`TogetherBatchItemError`) at each
                failed position instead of raising.
            timeout, on_progress: As in :meth:`wait`.

        Raises:
            TogetherBatchResultsError: some inputs failed and ``return_exceptions`` is
                false; ``.results`` holds every message and every error.
            TogetherBatchTimeoutError: the time ran out; the jobs go on.
        """
        return self._messages(
            self.chat_results(timeout=timeout, on_progress=on_progress), return_exceptions
        )

    def cancel(self) -> BatchRunStatus:
        """Cancel every unfinished job; what finished before is still in the results."""
        try:
            return self._run.cancel()
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    # ------------------------------------------------------------------ async

    async def asubmit(self) -> TogetherBatchRun:
        """Async :meth:`submit`."""
        try:
            await self._run.asubmit()
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self

    async def astatus(self) -> BatchRunStatus:
        """Async :meth:`status`."""
        try:
            return await self._run.astatus()
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    async def await_until_done(
        self,
        *,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
        show_progress: bool = False,
    ) -> BatchRunStatus:
        """Async :meth:`wait`."""
        try:
            return await self._run.await_until_done(
                timeout=self._timeout(timeout), on_progress=on_progress, show_progress=show_progress
            )
        except JobTimeoutError as exc:
            raise _timeout_error(exc, self.run_id) from exc
        except APIError as exc:
            raise to_langchain_error(exc) from exc

    async def achat_results(
        self,
        *,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
    ) -> list[ChatResult | Exception]:
        """Async :meth:`chat_results`."""
        try:
            raw = await self._run.aresults(
                return_exceptions=True, timeout=self._timeout(timeout), on_progress=on_progress
            )
        except JobTimeoutError as exc:
            raise _timeout_error(exc, self.run_id) from exc
        except APIError as exc:
            raise to_langchain_error(exc) from exc
        return self._convert(raw)

    async def aresults(
        self,
        *,
        return_exceptions: bool = False,
        timeout: float | None = None,
        on_progress: Callable[[BatchRunStatus], None] | None = None,
    ) -> list[Any]:
        """Async :meth:`results`."""
        results = await self.achat_results(timeout=timeout, on_progress=on_progress)
        return self._messages(results, return_exceptions)

    async def acancel(self) -> BatchRunStatus:
        """Async :meth:`cancel`."""
        try:
            return await self._run.acancel()
        except APIError as exc:
            raise to_langchain_error(exc) from exc


def resolve_store(value: Any) -> BatchStore:
    """A :class:`BatchStore` from ``batch_store``: a store, or a directory path."""
    if isinstance(value, BatchStore):
        return value
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return DirectoryStore(value if not isinstance(value, bytes) else value.decode())
    raise TypeError(
        "batch_store must be a BatchStore (DirectoryStore, MemoryStore...) or a directory "
        f"path, got {type(value).__name__}."
    )


# ------------------------------------------------------------ one batch() call


def _body(prepared: _Prepared) -> dict[str, Any]:
    # Exactly the bytes the online path sends (as_request + to_wire_json), as a dict.
    body: dict[str, Any] = json.loads(prepared.request.to_wire_json())
    return body


def _unsent_options(prepared: Sequence[_Prepared]) -> list[str]:
    names = set()
    for item in prepared:
        options = item.options
        if options is not None and options.extra_headers:
            names.add("headers (default_headers / extra_headers)")
        if options is not None and options.extra_query:
            names.add("query parameters (default_query / extra_query)")
    return sorted(names)


def plan_run(llm: ChatTogether, prepared: Sequence[_Prepared]) -> TogetherBatchRun:
    """The run for these requests (found again in the store when it exists), no I/O."""
    unsent = _unsent_options(prepared)
    if unsent:
        warnings.warn(
            f"The Batch API's upload and job requests do not carry per-request {unsent}; "
            "the inputs' bodies are sent as built. Use extra_body for body fields, or "
            'batch_api="off" to send them online with the headers.',
            UserWarning,
            stacklevel=4,
        )
    plan = plan_batch([_body(p) for p in prepared])
    run = BatchRun(
        plan,
        transport=prepared[0].transport,
        store=llm._batch_store(),
        clock=llm.batch_clock,
        online_fallback=llm.batch_online_fallback,
    )
    return TogetherBatchRun(run, llm, prepared)


def prepare_submission(
    llm: ChatTogether, inputs: Sequence[Any], kwargs: dict[str, Any]
) -> TogetherBatchRun:
    """``submit_batch``'s run, planned (no I/O): every input's body as the online path
    builds it, the models checked against the catalog."""
    if not inputs:
        raise ValueError("submit_batch needs at least one input.")
    call = BatchCall.build(llm, inputs, None, kwargs)
    prepared = [llm._request(item.messages, call.stop, dict(call.kwargs)) for item in call.items]
    check_served(sorted({p.request.model for p in prepared}))
    return plan_run(llm, prepared)


@dataclass(slots=True)
class _Item:
    index: int
    messages: list[BaseMessage]
    config: RunnableConfig
    prepared: _Prepared | None = None  # a cache miss, with the body the online path builds
    error: Exception | None = None  # refused before any request (invalid arguments)
    position: int | None = None  # its place in the batch run


@dataclass
class BatchCall:
    """One ``batch()`` call on the Batch API: classify, submit, trace, answer.

    The decisions are made once here; the cache, callback and network I/O exist twice
    (``run``/``arun``), differing only where one awaits.
    """

    llm: ChatTogether
    items: list[_Item]
    stop: list[str] | None
    kwargs: dict[str, Any]
    structured: dict[str, Any] | None
    worker: ChatTogether
    run: TogetherBatchRun | None = None
    batch_ids: list[str | None] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        llm: ChatTogether,
        inputs: Sequence[Any],
        config: RunnableConfig | Sequence[RunnableConfig] | None,
        kwargs: dict[str, Any],
    ) -> BatchCall:
        call = dict(kwargs)
        stop = call.pop("stop", None)
        structured = call.pop("ls_structured_output_format", None) or call.pop(
            "structured_output_format", None
        )
        configs = get_config_list(config, len(inputs))
        items = [
            _Item(i, _normalize_messages(llm._convert_input(value).to_messages()), configs[i])
            for i, value in enumerate(inputs)
        ]
        # LangChain's cache step also takes a rate limiter's token before each miss; a batch
        # sends a handful of requests whatever its size, so the stages run on a copy without
        # it (the limiter is not part of the cache key).
        worker = llm if llm.rate_limiter is None else llm.model_copy(update={"rate_limiter": None})
        return cls(llm, items, stop, call, structured, worker)

    # ------------------------------------------------------------- decisions

    @property
    def misses(self) -> list[_Item]:
        return [item for item in self.items if item.prepared is not None]

    def _collected(self, item: _Item, outcome: ChatResult | BaseException) -> None:
        if isinstance(outcome, _Deferred):
            item.prepared = outcome.prepared
        elif isinstance(outcome, Exception):
            item.error = outcome
        elif isinstance(outcome, BaseException):
            raise outcome

    def use_batch(self, mode: str) -> bool:
        """After classifying: whether the misses go to the Batch API. ``"on"`` refuses a
        model the Batch API does not serve (nothing has been uploaded yet)."""
        misses = self.misses
        models = sorted({item.prepared.request.model for item in misses if item.prepared})
        if mode == "on":
            check_served(models)
            return True
        return len(misses) >= self.llm.batch_api_min_inputs and batch_served(models)

    def first_error(self) -> Exception | None:
        return next((item.error for item in self.items if item.error is not None), None)

    def plan(self) -> None:
        misses = self.misses
        if not misses:
            return
        prepared = [item.prepared for item in misses if item.prepared is not None]
        for position, item in enumerate(misses):
            item.position = position
        self.run = plan_run(self.llm, prepared)

    def _trace_setup(
        self, item: _Item
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str], dict[str, Any]]:
        llm = self.llm
        params = llm._get_invocation_params(stop=self.stop, **self.kwargs)
        options = {"stop": self.stop, **_format_ls_structured_output(self.structured)}
        ls_params = getattr(llm, "_get_ls_params_with_defaults", llm._get_ls_params)
        inheritable = {
            **(item.config.get("metadata") or {}),
            **ls_params(stop=self.stop, **self.kwargs),
        }
        local_tags = list(llm.tags or [])
        local_metadata = dict(llm.metadata or {})
        if item.position is not None and self.run is not None:
            local_tags.append(BATCH_TAG)
            local_metadata["together_batch_run_id"] = self.run.run_id
            local_metadata["together_batch_id"] = self.batch_ids[item.position]
        return params, options, inheritable, local_tags, local_metadata

    def _serialized(self) -> dict[str, Any]:
        serialized = getattr(self.llm, "_serialized", None)
        return serialized if isinstance(serialized, dict) else dumpd(self.llm)

    def _answer(
        self, item: _Item, results: Sequence[ChatResult | Exception] | None
    ) -> _Answer | None:
        """What the answer stage gives ``item``: its error, its batch answer, or None for a
        cache hit (LangChain's cache step answers it)."""
        if item.error is not None:
            return _Answer(item.error)
        if item.position is None or results is None:
            return None
        return _Answer(results[item.position])

    # --------------------------------------------------------------- sync I/O

    def classify(self) -> None:
        """Stage 1: cache hits, and the request body of every miss."""
        for item in self.items:
            token = STAGE.set(_Collect())
            try:
                self.worker._generate_with_cache(
                    item.messages, stop=self.stop, run_manager=None, **self.kwargs
                )
            except BaseException as exc:
                self._collected(item, exc)
            finally:
                STAGE.reset(token)

    def _start(self, item: _Item, serialized: dict[str, Any]) -> CallbackManagerForLLMRun:
        llm = self.llm
        params, options, inheritable, tags, metadata = self._trace_setup(item)
        manager = CallbackManager.configure(
            item.config.get("callbacks"),
            llm.callbacks,
            llm.verbose,
            item.config.get("tags"),
            tags,
            inheritable,
            metadata,
        )
        (run_manager,) = manager.on_chat_model_start(
            serialized,
            [_format_for_tracing(item.messages)],
            invocation_params=params,
            options=options,
            name=item.config.get("run_name"),
            run_id=item.config.get("run_id"),
            batch_size=len(self.items),
        )
        return run_manager

    def _finish(
        self, item: _Item, run_manager: CallbackManagerForLLMRun, answer: _Answer | None
    ) -> AIMessage | Exception:
        token = STAGE.set(answer)
        try:
            result = self.worker._generate_with_cache(
                item.messages, stop=self.stop, run_manager=run_manager, **self.kwargs
            )
        except Exception as exc:
            run_manager.on_llm_error(exc, response=LLMResult(generations=[]))
            return exc
        finally:
            STAGE.reset(token)
        run_manager.on_llm_end(
            LLMResult(generations=[result.generations], llm_output=result.llm_output)
        )
        return _message_of(result.generations[0])

    def iterate(self) -> Iterator[tuple[int, AIMessage | Exception]]:
        """Submit the misses, trace every input, yield the hits and then every answer."""
        if self.run is not None:
            self.run.submit()
            self.batch_ids = self.run.batch_run.answered_by()
        serialized = self._serialized()
        managers = [self._start(item, serialized) for item in self.items]
        waiting = []
        for item, manager in zip(self.items, managers, strict=True):
            if item.position is None:
                yield item.index, self._finish(item, manager, self._answer(item, None))
            else:
                waiting.append((item, manager))
        if self.run is None:
            return
        try:
            results = self.run.chat_results()
        except BaseException as exc:
            for _, manager in waiting:
                manager.on_llm_error(exc, response=LLMResult(generations=[]))
            raise
        for item, manager in waiting:
            yield item.index, self._finish(item, manager, self._answer(item, results))

    # -------------------------------------------------------------- async I/O

    async def aclassify(self) -> None:
        """Async :meth:`classify`."""
        for item in self.items:
            token = STAGE.set(_Collect())
            try:
                await self.worker._agenerate_with_cache(
                    item.messages, stop=self.stop, run_manager=None, **self.kwargs
                )
            except BaseException as exc:
                self._collected(item, exc)
            finally:
                STAGE.reset(token)

    async def _astart(
        self, item: _Item, serialized: dict[str, Any]
    ) -> AsyncCallbackManagerForLLMRun:
        llm = self.llm
        params, options, inheritable, tags, metadata = self._trace_setup(item)
        manager = AsyncCallbackManager.configure(
            item.config.get("callbacks"),
            llm.callbacks,
            llm.verbose,
            item.config.get("tags"),
            tags,
            inheritable,
            metadata,
        )
        (run_manager,) = await manager.on_chat_model_start(
            serialized,
            [_format_for_tracing(item.messages)],
            invocation_params=params,
            options=options,
            name=item.config.get("run_name"),
            run_id=item.config.get("run_id"),
            batch_size=len(self.items),
        )
        return run_manager

    async def _afinish(
        self, item: _Item, run_manager: AsyncCallbackManagerForLLMRun, answer: _Answer | None
    ) -> AIMessage | Exception:
        token = STAGE.set(answer)
        try:
            result = await self.worker._agenerate_with_cache(
                item.messages, stop=self.stop, run_manager=run_manager, **self.kwargs
            )
        except Exception as exc:
            await run_manager.on_llm_error(exc, response=LLMResult(generations=[]))
            return exc
        finally:
            STAGE.reset(token)
        await run_manager.on_llm_end(
            LLMResult(generations=[result.generations], llm_output=result.llm_output)
        )
        return _message_of(result.generations[0])

    async def aiterate(self) -> AsyncIterator[tuple[int, AIMessage | Exception]]:
        """Async :meth:`iterate`."""
        if self.run is not None:
            await self.run.asubmit()
            self.batch_ids = self.run.batch_run.answered_by()
        serialized = self._serialized()
        managers = [await self._astart(item, serialized) for item in self.items]
        waiting = []
        for item, manager in zip(self.items, managers, strict=True):
            if item.position is None:
                yield item.index, await self._afinish(item, manager, self._answer(item, None))
            else:
                waiting.append((item, manager))
        if self.run is None:
            return
        try:
            results = await self.run.achat_results()
        except BaseException as exc:
            for _, manager in waiting:
                await manager.on_llm_error(exc, response=LLMResult(generations=[]))
            raise
        for item, manager in waiting:
            yield item.index, await self._afinish(item, manager, self._answer(item, results))

    # -------------------------------------------------------------- results

    def collected(
        self, pairs: Sequence[tuple[int, AIMessage | Exception]], return_exceptions: bool
    ) -> list[Any]:
        """The outputs in input order; without ``return_exceptions``, one error carrying
        them all when any input failed."""
        out: list[Any] = [None] * len(self.items)
        for index, value in pairs:
            out[index] = value
        errors = {i: v for i, v in enumerate(out) if isinstance(v, Exception)}
        if errors and not return_exceptions:
            raise TogetherBatchResultsError(
                out, errors, run_id=self.run.run_id if self.run is not None else None
            )
        return out


def _message_of(generation: ChatGeneration) -> AIMessage:
    message = generation.message
    assert isinstance(message, AIMessage)
    return message
