"""Together's Batch API from LlamaIndex: ``TogetherLLM.batch_chat`` and its run object.

Each input (a list of ``ChatMessage``) becomes the very request body ``TogetherLLM.chat``
would send (the same builder, stream off), planned with
:func:`~together_integrations.batch.plan_batch` and run with
:class:`~together_integrations.batch.BatchRun`; each result body goes through the same
converter as an online response, so a batched ``ChatResponse`` equals the online one (tool
calls, ``ThinkingBlock``, usage in ``raw`` and ``additional_kwargs``), plus
``additional_kwargs["batch_id"]``: the batch job that answered it. Results come back in
input order, whatever order the server wrote them in.

Instrumentation: a run object dispatches one ``LLMChatStartEvent`` per item when its jobs
are created (at its first ``submit``, ``wait`` or ``results``) and one ``LLMChatEndEvent``
per item when ``results`` first returns it (``response=None`` for a failed item), each
tagged ``batch_id`` / ``batch_run`` / ``batch_index`` (and ``batch_error`` for a failure);
the legacy callback manager gets the matching ``LLM`` event pair, so
``TokenCountingHandler`` counts what the batch was billed.

A run is found again from its inputs: ``batch_chat`` with the same inputs on the same store
resumes (no second ``POST /batches``), and :meth:`TogetherLLMBatchRun.load` resumes one from
its ``run_id`` alone, in another process.
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMChatStartEvent
from llama_index_instrumentation import get_dispatcher
from pydantic import ValidationError

from together_integrations._exceptions import TogetherConfigError
from together_integrations._jobs import Clock
from together_integrations.batch import (
    BatchEndpointError,
    BatchItemError,
    BatchLimits,
    BatchNotServedError,
    BatchPlan,
    BatchResultsError,
    BatchRun,
    BatchRunStatus,
    BatchStore,
    check_batch_model,
    plan_batch,
)
from together_integrations.schemas import ChatCompletion
from together_integrations.schemas.batches import BATCH_ENDPOINTS

from ._convert import chat_response_from_wire

if TYPE_CHECKING:
    from .llms import TogetherLLM

__all__ = ["BatchNotServedError", "TogetherLLMBatchRun", "chat_bodies"]

dispatcher = get_dispatcher(__name__)

_CHAT_ENDPOINT = "/v1/chat/completions"
_STREAM_KWARGS = ("stream", "stream_options")

ProgressCallback = Callable[[BatchRunStatus], None]


# ------------------------------------------------------------------ requests (no I/O)


def _check_route(llm: TogetherLLM) -> None:
    if not llm._chat_endpoint:
        raise BatchEndpointError(
            f"{llm.model} is a language model served on /completions, which the Batch API "
            f"does not accept (it takes {', '.join(BATCH_ENDPOINTS)}). Use a chat model, or "
            "is_chat_model=True if this model is served on /chat/completions.",
            endpoint="/v1/completions",
            accepted=BATCH_ENDPOINTS,
        )


def _check_model(model: str) -> None:
    check_batch_model(
        model,
        hint="Send these requests online (chat/achat), or pick a model the Batch API serves.",
    )


def chat_bodies(
    llm: TogetherLLM, inputs: Sequence[Sequence[ChatMessage]], kwargs: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One request body per input, built by the online ``chat`` path (stream off).

    Raises:
        BatchEndpointError: the model is served on ``/completions``.
        BatchNotServedError: the catalog says the Batch API does not serve a model.
        TypeError: an input is not a sequence of ``ChatMessage``.
        ValueError: ``stream`` was asked for, or the request is invalid as online.
    """
    _check_route(llm)
    asked = [k for k in _STREAM_KWARGS if k in kwargs]
    if asked:
        raise ValueError(
            f"A batch answers whole responses: drop {', '.join(asked)} (use stream_chat "
            "online to stream)."
        )
    if isinstance(inputs, str | ChatMessage) or not isinstance(inputs, Sequence):
        raise TypeError(
            "batch_chat takes a list of inputs, each a list of ChatMessage, got "
            f"{type(inputs).__name__}."
        )
    bodies: list[dict[str, Any]] = []
    checked: set[str] = set()
    for index, messages in enumerate(inputs):
        if isinstance(messages, str | ChatMessage) or not isinstance(messages, Sequence):
            raise TypeError(
                f"Input {index} is a {type(messages).__name__}; each input is a list of "
                "ChatMessage (one conversation)."
            )
        for message in messages:
            if not isinstance(message, ChatMessage):
                raise TypeError(
                    f"Input {index} holds a {type(message).__name__}; each input is a list "
                    "of ChatMessage."
                )
        request = llm._chat_request(list(messages), False, dict(kwargs))
        body: dict[str, Any] = json.loads(request.to_wire_json())
        model = str(body.get("model", ""))
        if model not in checked:
            _check_model(model)
            checked.add(model)
        bodies.append(body)
    return bodies


def _check_progress_bar(show_progress: bool) -> None:
    """Refuse ``show_progress=True`` without tqdm before anything is uploaded."""
    if show_progress:
        try:
            importlib.import_module("tqdm.auto")
        except ImportError as exc:
            raise ImportError("show_progress=True draws a tqdm bar: pip install tqdm") from exc


def _warn_unsent_headers(llm: TogetherLLM) -> None:
    if llm.default_headers:
        warnings.warn(
            "The Batch API's upload and job requests do not carry this TogetherLLM's "
            "default_headers (they go with online requests only); the inputs' bodies are sent "
            "as built. Put body fields in additional_kwargs, or use chat/achat to send with "
            "the headers.",
            UserWarning,
            stacklevel=4,
        )


# ------------------------------------------------------------------------- the run


class TogetherLLMBatchRun:
    """A batch of chat requests from one ``TogetherLLM``, returning ``ChatResponse`` s.

    Made by :meth:`TogetherLLM.submit_batch` (or :meth:`load`); ``TogetherLLM.batch_chat``
    is ``submit_batch(...).results(...)``. Every method has an async twin (``asubmit``,
    ``astatus``, ``await_until_done``, ``aresults``, ``acancel``).

    Example:
        .. code-block:: python

            run = llm.submit_batch([[ChatMessage(role="user", content="Hi")]])
            run_id = run.run_id  # keep it to resume elsewhere
            run.wait(on_progress=lambda status: print(status.progress_fraction))
            responses = run.results(return_exceptions=True)

            # another process, the same store:
            responses = TogetherLLMBatchRun.load(run_id, llm=llm).results()
    """

    def __init__(
        self,
        run: BatchRun,
        llm: TogetherLLM,
        *,
        plan: BatchPlan | None = None,
        inputs: Sequence[Sequence[ChatMessage]] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self._run = run
        self._llm = llm
        self._plan = plan
        self._inputs = [list(m) for m in inputs] if inputs is not None else None
        self._kwargs = dict(kwargs or {})
        self._started = False
        self._event_ids: dict[int, str] = {}
        self._ended: set[int] = set()

    @classmethod
    def create(
        cls,
        llm: TogetherLLM,
        inputs: Sequence[Sequence[ChatMessage]],
        *,
        store: BatchStore | None = None,
        retry: bool = True,
        clock: Clock | None = None,
        poll_interval: float | None = None,
        limits: BatchLimits | None = None,
        **kwargs: Any,
    ) -> TogetherLLMBatchRun:
        """Plan a run of ``inputs`` (no request is sent; a stored run with the same inputs
        is found again). ``kwargs`` are request fields, as for ``chat``."""
        bodies = chat_bodies(llm, inputs, kwargs)
        _warn_unsent_headers(llm)
        plan = plan_batch(bodies, endpoint=_CHAT_ENDPOINT, limits=limits)
        run = BatchRun(
            plan,
            transport=llm._get_transport(),
            store=store,
            retry=retry,
            online_fallback=llm.batch_online_fallback,
            clock=clock,
            poll_interval=poll_interval,
        )
        return cls(run, llm, plan=plan, inputs=inputs, kwargs=kwargs)

    @classmethod
    def load(
        cls,
        run_id: str,
        *,
        llm: TogetherLLM,
        store: BatchStore | None = None,
        clock: Clock | None = None,
        poll_interval: float | None = None,
    ) -> TogetherLLMBatchRun:
        """Resume the run stored under ``run_id`` (from this process or another).

        Args:
            run_id: :attr:`run_id` of the run.
            llm: The ``TogetherLLM`` to convert the results with (its transport is used).
            store: Where the run was stored (default: the default ``DirectoryStore``).
            clock: The poller's clock (tests pass a virtual one).
            poll_interval: Seconds before the second look at the jobs.

        Raises:
            BatchRunNotFoundError: the store holds no such run.
            TogetherConfigError: the run is not a chat run, or was made for another model.
        """
        run = BatchRun.load(
            run_id,
            transport=llm._get_transport(),
            store=store,
            clock=clock,
            poll_interval=poll_interval,
        )
        manifest = run.manifest
        if manifest.endpoint != _CHAT_ENDPOINT:
            raise TogetherConfigError(
                f"Batch run {run_id} targets {manifest.endpoint}, not {_CHAT_ENDPOINT}: it "
                "holds no chat responses."
            )
        if manifest.model_id is not None and manifest.model_id != llm.model:
            raise TogetherConfigError(
                f"Batch run {run_id} was made for {manifest.model_id}; load it with a "
                f"TogetherLLM(model={manifest.model_id!r}), not {llm.model!r}."
            )
        return cls(run, llm)

    def __repr__(self) -> str:
        return f"TogetherLLMBatchRun(run_id={self.run_id!r}, inputs={len(self)})"

    def __len__(self) -> int:
        return self._run.manifest.inputs

    # ------------------------------------------------------------------ reading

    @property
    def run_id(self) -> str:
        """The key to :meth:`load` this run with."""
        return self._run.run_key

    @property
    def batch_run(self) -> BatchRun:
        """The framework-neutral run underneath (response bodies instead of ChatResponses)."""
        return self._run

    @property
    def batch_ids(self) -> list[str]:
        """The ids of the run's batch jobs created so far."""
        return [job.batch_id for job in self._run.manifest.jobs if job.batch_id]

    # ------------------------------------------------------------- decisions (no I/O)

    def _batch_ids(self, *, first_round: bool) -> list[str | None]:
        """Per input: the batch job that carried it first, or the one that answers it (the
        latest round that carried it; None when it was sent online)."""
        if not first_round:
            return self._run.answered_by()
        manifest = self._run.manifest
        ids: list[str | None] = [None] * manifest.inputs
        for job in manifest.jobs:
            if job.round == 0:
                for index in job.indices():
                    ids[index] = job.batch_id
        return ids

    def _messages(self, index: int) -> list[ChatMessage]:
        # A loaded run has no inputs in memory (the manifest never holds prompts).
        return self._inputs[index] if self._inputs is not None else []

    def _tags(self, index: int, batch_id: str | None) -> dict[str, Any]:
        return {"batch_run": self.run_id, "batch_id": batch_id, "batch_index": index}

    def _callback_manager(self) -> CallbackManager:
        manager = getattr(self._llm, "callback_manager", None)
        if not isinstance(manager, CallbackManager):
            manager = CallbackManager()
            self._llm.callback_manager = manager
        return manager

    def _start_events(self) -> None:
        if self._started:
            return
        self._started = True
        model_dict = self._llm.to_payload()
        manager = self._callback_manager()
        for index, batch_id in enumerate(self._batch_ids(first_round=True)):
            self._start_event(index, batch_id, model_dict, manager)

    def _start_event(
        self,
        index: int,
        batch_id: str | None,
        model_dict: dict[str, Any],
        manager: CallbackManager,
    ) -> None:
        messages = self._messages(index)
        dispatcher.event(
            LLMChatStartEvent(
                model_dict=model_dict,
                messages=messages,
                additional_kwargs=dict(self._kwargs),
                tags=self._tags(index, batch_id),
            )
        )
        self._event_ids[index] = manager.on_event_start(
            CBEventType.LLM,
            payload={
                EventPayload.MESSAGES: messages,
                EventPayload.ADDITIONAL_KWARGS: dict(self._kwargs),
                EventPayload.SERIALIZED: model_dict,
            },
        )

    def _end_events(self, results: Sequence[ChatResponse | BatchItemError]) -> None:
        self._start_events()
        manager = self._callback_manager()
        ids = self._batch_ids(first_round=False)
        for index, result in enumerate(results):
            if index in self._ended:
                continue
            self._ended.add(index)
            messages = self._messages(index)
            tags = self._tags(index, ids[index])
            response = result if isinstance(result, ChatResponse) else None
            if isinstance(result, BatchItemError):
                tags["batch_error"] = result.message
            dispatcher.event(LLMChatEndEvent(messages=messages, response=response, tags=tags))
            payload: dict[str, Any] = (
                {EventPayload.MESSAGES: messages, EventPayload.RESPONSE: response}
                if response is not None
                else {EventPayload.EXCEPTION: result}
            )
            manager.on_event_end(CBEventType.LLM, payload=payload, event_id=self._event_ids[index])

    def _convert(self, bodies: Sequence[Any]) -> list[ChatResponse | BatchItemError]:
        ids = self._batch_ids(first_round=False)
        think_tags = self._llm._think_tags
        out: list[ChatResponse | BatchItemError] = []
        for index, body in enumerate(bodies):
            if isinstance(body, BatchItemError):
                out.append(body)
                continue
            try:
                response = chat_response_from_wire(
                    ChatCompletion.model_validate(body), think_tags=think_tags
                )
            except (ValidationError, ValueError) as exc:
                out.append(
                    BatchItemError(
                        f"The batch result is not a chat completion: {exc}",
                        index=index,
                        custom_id=self._plan.custom_ids[index] if self._plan else "",
                        code="invalid_response",
                        batch_id=ids[index],
                        body=body,
                    )
                )
                continue
            response.additional_kwargs["batch_id"] = ids[index]
            out.append(response)
        return out

    def _finish(
        self, bodies: Sequence[Any], return_exceptions: bool
    ) -> list[ChatResponse | BatchItemError]:
        results = self._convert(bodies)
        self._end_events(results)
        errors = {i: r for i, r in enumerate(results) if isinstance(r, BatchItemError)}
        if errors and not return_exceptions:
            raise BatchResultsError(list(results), errors)
        return results

    # ------------------------------------------------------------------- sync I/O

    def submit(self) -> TogetherLLMBatchRun:
        """Upload and create every job not yet created (a resumed run creates nothing
        twice); the first call dispatches each item's start event."""
        self._run.submit()
        self._start_events()
        return self

    def status(self) -> BatchRunStatus:
        """Look at every unfinished job once and return where the run stands."""
        return self._run.status()

    def wait(
        self,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        show_progress: bool = False,
    ) -> BatchRunStatus:
        """Submit what is not yet submitted, then wait until every job (and the follow-up
        of retryable failures, if any) has ended.

        Args:
            timeout: Seconds before ``JobTimeoutError``; the jobs go on, and waiting again
                resumes.
            on_progress: Called after every look with the run's ``BatchRunStatus``.
            show_progress: Draw a tqdm bar over the run's requests (needs ``tqdm``).
        """
        _check_progress_bar(show_progress)
        self.submit()
        return self._run.wait(timeout=timeout, on_progress=on_progress, show_progress=show_progress)

    def results(
        self,
        *,
        return_exceptions: bool = False,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        show_progress: bool = False,
    ) -> list[ChatResponse | BatchItemError]:
        """Every input's ``ChatResponse``, in input order (waiting first if need be).

        Args:
            return_exceptions: Put a ``BatchItemError`` (the server's message and code) at
                each failed position instead of raising.
            timeout, on_progress, show_progress: As in :meth:`wait`.

        Raises:
            BatchResultsError: some items failed and ``return_exceptions`` is false; raised
                once every item has resolved, it carries every ``ChatResponse``
                (``.results``) and every error (``.errors``).
        """
        _check_progress_bar(show_progress)
        self.submit()
        bodies = self._run.results(
            return_exceptions=True,
            timeout=timeout,
            on_progress=on_progress,
            show_progress=show_progress,
        )
        return self._finish(bodies, return_exceptions)

    def cancel(self) -> BatchRunStatus:
        """Cancel every unfinished job and submit nothing more. Items finished before stay
        in the results (and are billed); the rest resolve to retryable errors."""
        return self._run.cancel()

    # ------------------------------------------------------------------ async I/O

    async def asubmit(self) -> TogetherLLMBatchRun:
        """Async :meth:`submit`."""
        await self._run.asubmit()
        self._start_events()
        return self

    async def astatus(self) -> BatchRunStatus:
        """Async :meth:`status`."""
        return await self._run.astatus()

    async def await_until_done(
        self,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        show_progress: bool = False,
    ) -> BatchRunStatus:
        """Async :meth:`wait`."""
        _check_progress_bar(show_progress)
        await self.asubmit()
        return await self._run.await_until_done(
            timeout=timeout, on_progress=on_progress, show_progress=show_progress
        )

    async def aresults(
        self,
        *,
        return_exceptions: bool = False,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        show_progress: bool = False,
    ) -> list[ChatResponse | BatchItemError]:
        """Async :meth:`results`."""
        _check_progress_bar(show_progress)
        await self.asubmit()
        bodies = await self._run.aresults(
            return_exceptions=True,
            timeout=timeout,
            on_progress=on_progress,
            show_progress=show_progress,
        )
        return self._finish(bodies, return_exceptions)

    async def acancel(self) -> BatchRunStatus:
        """Async :meth:`cancel`."""
        return await self._run.acancel()
