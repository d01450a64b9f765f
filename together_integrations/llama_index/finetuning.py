"""Fine-tuning from LlamaIndex: :class:`TogetherFinetuneEngine`, with the interface of
LlamaIndex's fine-tuning engines (``finetune()``, ``get_current_job()``,
``get_finetuned_model(**kwargs)``), without the deprecated ``llama-index-finetuning``
package.

::

    from together_integrations.llama_index import TogetherFinetuneEngine

    engine = TogetherFinetuneEngine.from_chat_messages(
        conversations, base_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        data_path="train.jsonl",
    )
    engine.finetune()            # checks, uploads and starts the job
    engine.wait()                # JobFailedError with the server's reason if it fails
    llm = engine.get_finetuned_model(temperature=0)   # a TogetherLLM

Unlike ``OpenAIFinetuneEngine``, a job that failed raises at once with the server's reason
instead of looping.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage

from together_integrations._exceptions import TogetherConfigError
from together_integrations._jobs import Clock
from together_integrations._transport import TogetherTransport
from together_integrations.fine_tuning import (
    TogetherFineTuning,
    TrainingFileReport,
    validate_training_file,
    write_training_file,
)
from together_integrations.llama_index._convert import to_wire_message
from together_integrations.schemas import FineTuneJob

if TYPE_CHECKING:
    from .llms import TogetherLLM

__all__ = ["TogetherFinetuneEngine", "messages_to_sample", "to_training_file"]


def _tool_spec(tool: Any) -> dict[str, Any]:
    if isinstance(tool, Mapping):
        return dict(tool)
    metadata = getattr(tool, "metadata", None)
    if metadata is not None and hasattr(metadata, "to_openai_tool"):
        spec: dict[str, Any] = metadata.to_openai_tool()
        return spec
    raise TypeError(f"Cannot use {type(tool).__name__} as a tool: pass a LlamaIndex tool or dict.")


def messages_to_sample(
    messages: Sequence[ChatMessage], *, tools: Sequence[Any] | None = None
) -> dict[str, Any]:
    """One conversation as a conversational training sample (tool calls included)."""
    wire = []
    for message in messages:
        item = to_wire_message(message).to_wire()
        item.pop("name", None)
        wire.append(item)
    sample: dict[str, Any] = {"messages": wire}
    if tools:
        sample["tools"] = [_tool_spec(t) for t in tools]
    return sample


def to_training_file(
    conversations: Iterable[Sequence[ChatMessage]],
    path: str | os.PathLike[str],
    *,
    tools: Sequence[Any] | None = None,
) -> TrainingFileReport:
    """Write LlamaIndex conversations (lists of ``ChatMessage``) as a checked JSONL
    training file. Raises ``TrainingFileError`` naming each bad line (the file is removed)."""
    return write_training_file((messages_to_sample(c, tools=tools) for c in conversations), path)


def _handler_conversations(handler: Any) -> list[list[ChatMessage]]:
    """The conversations a LlamaIndex fine-tuning callback handler collected (duck-typed:
    ``get_finetuning_events()`` → ``{id: {"messages": [...], "response": message}}``)."""
    events = handler.get_finetuning_events()
    conversations = []
    for event in events.values():
        if isinstance(event, Mapping):
            messages = list(event.get("messages") or [])
            if event.get("response") is not None:
                messages.append(event["response"])
        else:
            messages = list(event)
        conversations.append(messages)
    return conversations


class TogetherFinetuneEngine:
    """Fine-tune a Together model on a JSONL file or on LlamaIndex chat messages, and get
    the result as a :class:`~together_integrations.llama_index.TogetherLLM`.

    Args:
        base_model: The model to fine-tune.
        data_path: A JSONL training file (any accepted format).
        verbose: Print the job's progress while waiting.
        start_job_id: Resume with an existing job instead of starting one.
        validate_json: Check the file locally before upload (each bad line named).
        adopt_existing: :meth:`finetune` first looks for a job on the account that it would
            duplicate (same file, base model and parameters; not failed or cancelled) and
            takes it over instead of paying for a second: re-running a script that crashed
            after starting its job is safe. ``False`` always starts a new job.
        transport: The transport (default: the shared one from the environment).
        clock: The poller's clock (a test passes a virtual clock).
        create_kwargs: Any fine-tuning parameter (``n_epochs``, ``lora_r``, ``suffix``,
            ``learning_rate``, ``wandb_api_key`` (kept secret)...), see
            :meth:`TogetherFineTuning.create`.
    """

    def __init__(
        self,
        base_model: str,
        data_path: str | os.PathLike[str],
        verbose: bool = False,
        start_job_id: str | None = None,
        validate_json: bool = True,
        *,
        adopt_existing: bool = True,
        transport: TogetherTransport | None = None,
        clock: Clock | None = None,
        **create_kwargs: Any,
    ) -> None:
        self.base_model = base_model
        self.data_path = Path(data_path)
        self.verbose = verbose
        self.validate_json = validate_json
        self.adopt_existing = adopt_existing
        self._ft = TogetherFineTuning(transport, clock=clock)
        self._create_kwargs = create_kwargs
        self._job_id = start_job_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_model={self.base_model!r}, "
            f"data_path={str(self.data_path)!r}, job_id={self._job_id!r})"
        )

    @classmethod
    def from_chat_messages(
        cls,
        conversations: Iterable[Sequence[ChatMessage]],
        base_model: str,
        data_path: str | os.PathLike[str],
        *,
        tools: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> TogetherFinetuneEngine:
        """Write the conversations (lists of ``ChatMessage``, tool calls included) to
        ``data_path`` as a checked training file, and build the engine on it."""
        to_training_file(conversations, data_path, tools=tools)
        return cls(base_model, data_path, **kwargs)

    @classmethod
    def from_finetuning_handler(
        cls,
        finetuning_handler: Any,
        base_model: str,
        data_path: str | os.PathLike[str],
        **kwargs: Any,
    ) -> TogetherFinetuneEngine:
        """From the chat messages a LlamaIndex fine-tuning callback handler collected
        (anything with ``get_finetuning_events()``, such as ``OpenAIFineTuningHandler``)."""
        return cls.from_chat_messages(
            _handler_conversations(finetuning_handler), base_model, data_path, **kwargs
        )

    @property
    def fine_tuning(self) -> TogetherFineTuning:
        """The core helper (events, checkpoints, cancel, download...)."""
        return self._ft

    @property
    def job_id(self) -> str | None:
        """The id of the current job (None before :meth:`finetune`)."""
        return self._job_id

    def _require_job(self) -> str:
        if self._job_id is None:
            raise TogetherConfigError("No fine-tuning job yet: call finetune() first.")
        return self._job_id

    def finetune(self) -> None:
        """Check the file (unless ``validate_json=False``), upload it and start the job
        (paid: never sent twice; see ``adopt_existing``). Does nothing when a job is already
        current. Returns once the job is created, like LlamaIndex's OpenAI engine: wait for
        it with :meth:`wait`."""
        if self._job_id is not None:
            return
        if self.validate_json:
            validate_training_file(self.data_path)
        uploaded = self._ft.upload(self.data_path, check=False)
        job = self._ft.create(
            uploaded,
            model=self.base_model,
            adopt_existing=self.adopt_existing,
            **self._create_kwargs,
        )
        self._job_id = job.id
        if self.verbose:
            print(f"Fine-tune {job.id} of {self.base_model}: {job.status}")

    async def afinetune(self) -> None:
        """Async :meth:`finetune`."""
        if self._job_id is not None:
            return
        if self.validate_json:
            validate_training_file(self.data_path)
        uploaded = await self._ft.aupload(self.data_path, check=False)
        job = await self._ft.acreate(
            uploaded,
            model=self.base_model,
            adopt_existing=self.adopt_existing,
            **self._create_kwargs,
        )
        self._job_id = job.id
        if self.verbose:
            print(f"Fine-tune {job.id} of {self.base_model}: {job.status}")

    def get_current_job(self) -> FineTuneJob:
        """The current job's state, fetched now."""
        return self._ft.retrieve(self._require_job())

    async def aget_current_job(self) -> FineTuneJob:
        """Async :meth:`get_current_job`."""
        return await self._ft.aretrieve(self._require_job())

    def _printer(self) -> Callable[[FineTuneJob], None] | None:
        if not self.verbose:
            return None

        def show(job: FineTuneJob) -> None:
            print(f"{job.id}: {job.status}")

        return show

    def wait(
        self, *, timeout: float | None = None, poll_interval: float | None = None
    ) -> FineTuneJob:
        """Wait until the job completes and return it.

        Raises:
            JobFailedError: at once when it ends ``error`` or ``cancelled``, with the reason.
            JobTimeoutError: ``timeout`` passed (the job goes on; wait again to resume).
        """
        return self._ft.wait(
            self._require_job(),
            timeout=timeout,
            poll_interval=poll_interval,
            on_progress=self._printer(),
        )

    async def await_until_done(
        self, *, timeout: float | None = None, poll_interval: float | None = None
    ) -> FineTuneJob:
        """Async :meth:`wait`."""
        return await self._ft.await_until_done(
            self._require_job(),
            timeout=timeout,
            poll_interval=poll_interval,
            on_progress=self._printer(),
        )

    def get_finetuned_model(self, **model_kwargs: Any) -> TogetherLLM:
        """The fine-tuned model as a ``TogetherLLM`` (with the base model's capabilities).

        Raises:
            JobFailedError: the job failed or was cancelled (with the server's reason).
            TogetherConfigError: the job has not completed yet (see :meth:`wait`).
        """
        from .llms import TogetherLLM

        model_kwargs.setdefault("transport", self._ft.transport)
        return TogetherLLM.from_fine_tune(self.get_current_job(), **model_kwargs)


def _register_with_llama_index_finetuning() -> bool:
    """When the (deprecated) ``llama-index-finetuning`` package is installed, make
    :class:`TogetherFinetuneEngine` an instance of its ``BaseLLMFinetuneEngine`` (registered
    as a virtual subclass), so code that checks for one accepts ours. That package is never
    imported when it is absent. Returns whether the registration happened."""
    try:
        if importlib.util.find_spec("llama_index.finetuning") is None:
            return False
        from llama_index.finetuning.types import (  # type: ignore[import-untyped,unused-ignore]
            BaseLLMFinetuneEngine,
        )
    except Exception:  # a broken install (its types import optional rerankers)
        return False
    BaseLLMFinetuneEngine.register(TogetherFinetuneEngine)
    return True


_register_with_llama_index_finetuning()
