"""Fine-tuning and dedicated endpoints, framework-neutral (NOTES-jobs §7-8).

:class:`TogetherFineTuning` checks a training file locally (the checks of the official CLI's
``files check``: JSONL, one accepted format on every line, at least one sample, size), uploads
it, starts the job with any parameter of the spec, estimates its price, reads its events and
checkpoints, cancels it, downloads the result (resumable) and waits for it on the core poller:
a job that fails raises :class:`~together_integrations.JobFailedError` with the server's
reason at once.

:class:`TogetherDedicatedEndpoints` serves a model (such as a fine-tune's output) on a
dedicated endpoint. A chat request naming a model that needs one gets the real 400
"non-serverless model" (code ``model_not_available``); :func:`with_endpoint_hint` turns that
error into a :class:`NonServerlessModelError` whose ``hint`` names the endpoints API::

    ft = TogetherFineTuning(transport)
    job = ft.create("train.jsonl", model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                    n_epochs=3, lora_r=16, suffix="support")     # checked, uploaded, started
    done = ft.wait(job, on_progress=print)                       # JobFailedError on failure
    done.model_output_name                                       # the model to chat with
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError

from ._catalog import DEFAULT_CATALOG, ModelCapabilities, get_model_capabilities
from ._exceptions import (
    APIStatusError,
    JobFailedError,
    NonServerlessModelError,
    TogetherConfigError,
)
from ._jobs import Clock, JobLike
from ._transport import TogetherTransport
from .schemas import (
    DedicatedEndpoint,
    FileObject,
    FineTuneCheckpoint,
    FineTuneDeleted,
    FineTuneEvent,
    FineTuneJob,
    FineTunePriceEstimate,
    FineTuneRequest,
    Hardware,
)

__all__ = [
    "MAX_FILE_BYTES",
    "MIN_SAMPLES",
    "NonServerlessModelError",
    "TogetherDedicatedEndpoints",
    "TogetherFineTuning",
    "TrainingFileError",
    "TrainingFileProblem",
    "TrainingFileReport",
    "endpoint_hints",
    "fine_tuned_model",
    "is_non_serverless",
    "output_model_of",
    "register_fine_tuned_model",
    "same_job",
    "validate_training_file",
    "with_endpoint_hint",
    "write_training_file",
]

MIN_SAMPLES = 1
"""The fewest samples a training file may hold (the official SDK's ``MIN_SAMPLES``)."""
MAX_FILE_BYTES = int(50.1 * 2**30)
"""The largest file the API takes (50.1 GB, the official SDK's limit)."""
ROLES = ("system", "user", "assistant", "tool")
_MAX_PROBLEMS = 20

TrainingFormat = Literal["conversation", "instruction", "general", "preference"]
_FORMAT_KEYS: dict[str, tuple[str, ...]] = {
    "preference": ("input", "preferred_output", "non_preferred_output"),
    "conversation": ("messages",),
    "instruction": ("prompt", "completion"),
    "general": ("text",),
}


# ----------------------------------------------------------------- training-file checks


@dataclass(frozen=True, slots=True)
class TrainingFileProblem:
    """One thing wrong with a training file: the 1-based ``line`` (None: the whole file)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


class TrainingFileError(TogetherConfigError):
    """The training file would be refused: each problem names its line and what is wrong.

    Attributes:
        path: The file checked.
        problems: Every problem found (the first 20; the message says when there are more).
    """

    def __init__(self, path: Path, problems: list[TrainingFileProblem], more: int = 0):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        tail = f"\n  ... and {more} more." if more else ""
        noun = "problem" if len(problems) + more == 1 else "problems"
        super().__init__(
            f"{path.name} is not a valid training file ({len(problems) + more} {noun}):\n"
            f"{lines}{tail}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (TrainingFileError, (self.path, self.problems))


@dataclass(frozen=True, slots=True)
class TrainingFileReport:
    """A training file that passed: its format, sample count and size in bytes."""

    path: Path
    format: TrainingFormat
    samples: int
    size: int


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _check_content(where: str, message: Mapping[str, Any]) -> str | None:
    content = message.get("content")
    if content is None:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            return None
        return f"{where} has no 'content'"
    if isinstance(content, str):
        return None
    if isinstance(content, list) and all(isinstance(p, dict) and "type" in p for p in content):
        return None  # multimodal parts
    return f"{where} 'content' must be a string or a list of content parts, got {_kind(content)}"


def _check_messages(value: Any, name: str, roles: tuple[str, ...] = ROLES) -> str | None:
    if not isinstance(value, list) or not value:
        return f"'{name}' must be a non-empty list of messages, got {_kind(value)}"
    for i, message in enumerate(value):
        where = f"'{name}'[{i}]"
        if not isinstance(message, dict):
            return f"{where} must be an object, got {_kind(message)}"
        role = message.get("role")
        if role not in roles:
            return f"{where} has role {role!r}; expected one of {', '.join(roles)}"
        problem = _check_content(where, message)
        if problem:
            return problem
        weight = message.get("weight")
        if weight is not None and weight not in (0, 1):
            return f"{where} 'weight' must be 0 or 1, got {weight!r}"
    return None


def _check_tools(tools: Any) -> str | None:
    if not isinstance(tools, list):
        return f"'tools' must be a list, got {_kind(tools)}"
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            return f"'tools'[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}"
    return None


def _check_sample(sample: dict[str, Any], kind: str) -> str | None:
    if kind == "conversation":
        problem = _check_messages(sample["messages"], "messages")
        if problem:
            return problem
        if not any(m.get("role") == "assistant" for m in sample["messages"]):
            return "'messages' has no assistant message to learn from"
        return _check_tools(sample["tools"]) if "tools" in sample else None
    if kind == "instruction":
        for key in ("prompt", "completion"):
            if not isinstance(sample[key], str):
                return f"'{key}' must be a string, got {_kind(sample[key])}"
        return None
    if kind == "general":
        text = sample["text"]
        return None if isinstance(text, str) else f"'text' must be a string, got {_kind(text)}"
    given = sample["input"]
    if not isinstance(given, dict) or "messages" not in given:
        return "'input' must be an object with 'messages'"
    problem = _check_messages(given["messages"], "input.messages")
    for key in ("preferred_output", "non_preferred_output"):
        problem = problem or _check_messages(sample[key], key, ("assistant",))
    return problem


def _format_of(sample: dict[str, Any]) -> str | None:
    for kind, keys in _FORMAT_KEYS.items():
        if all(k in sample for k in keys):
            return kind
    return None


def validate_training_file(
    path: str | os.PathLike[str],
    *,
    expected_format: TrainingFormat | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> TrainingFileReport:
    """Check a JSONL training file locally, before any upload.

    Every line must be a JSON object in one accepted format, the same on every line:
    conversational ``messages`` (roles system/user/assistant/tool, optional ``tools``),
    instruction ``prompt``/``completion``, general ``text``, or preference
    ``input``/``preferred_output``/``non_preferred_output`` (DPO).

    Raises:
        TrainingFileError: listing each bad line (its number and what is wrong).
    """
    target = Path(path)
    if not target.is_file():
        raise TrainingFileError(target, [TrainingFileProblem(None, f"{target} is not a file")])
    size = target.stat().st_size
    problems: list[TrainingFileProblem] = []
    more = 0

    def problem(line: int | None, message: str) -> None:
        nonlocal more
        if len(problems) < _MAX_PROBLEMS:
            problems.append(TrainingFileProblem(line, message))
        else:
            more += 1

    if target.suffix.lower() != ".jsonl":
        problem(None, f"the file must be JSON Lines named *.jsonl, not {target.suffix or 'no'!s}")
    if size > max_bytes:
        problem(None, f"the file is {size:,} bytes; the limit is {max_bytes:,}")
    first: tuple[int, str] | None = (0, expected_format) if expected_format else None
    samples = 0
    with target.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                sample = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                problem(number, f"not valid JSON ({getattr(exc, 'msg', exc)})")
                continue
            if not isinstance(sample, dict):
                problem(number, f"expected a JSON object, got {_kind(sample)}")
                continue
            kind = _format_of(sample)
            if kind is None:
                problem(
                    number,
                    "no known format: expected 'messages', 'prompt' and 'completion', 'text', "
                    "or 'input', 'preferred_output' and 'non_preferred_output'; found keys "
                    f"{sorted(sample)}",
                )
                continue
            if first is None:
                first = (number, kind)
            elif kind != first[1]:
                origin = f"line {first[0]}" if first[0] else "the expected format"
                problem(number, f"is {kind} format but {origin} is {first[1]}")
                continue
            bad = _check_sample(sample, kind)
            if bad:
                problem(number, bad)
                continue
            samples += 1
    if samples < MIN_SAMPLES and not problems:
        problem(None, f"no samples: a training file needs at least {MIN_SAMPLES}")
    if problems:
        raise TrainingFileError(target, problems, more)
    assert first is not None
    return TrainingFileReport(target, first[1], samples, size)  # type: ignore[arg-type]


def write_training_file(
    samples: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]
) -> TrainingFileReport:
    """Write samples (``{"messages": [...], "tools"?: [...]}`` and the like) as a JSONL
    training file, then check it: a file that would be refused is removed.

    Raises:
        TrainingFileError: naming each bad sample by its line.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        for sample in samples:
            out.write(json.dumps(sample, ensure_ascii=False, separators=(",", ":")) + "\n")
    try:
        return validate_training_file(target)
    except TrainingFileError:
        target.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- the catalog


def register_fine_tuned_model(model: str, base_model: str | None) -> ModelCapabilities:
    """Give ``model`` (a fine-tune's output or an endpoint name) the catalog capabilities of
    its base model, so the adapters' profiles and metadata match; returns them."""
    base = get_model_capabilities(base_model) if base_model else get_model_capabilities(model)
    caps = replace(base, id=model)
    DEFAULT_CATALOG.register(caps)
    return caps


# ------------------------------------------------------------------------ fine-tuning

JobRef = FineTuneJob | str
_REQUEST_FIELDS = frozenset(FineTuneRequest.model_fields)
_LORA_KEYS = ("lora_r", "lora_alpha", "lora_dropout", "lora_trainable_modules")
_DPO_KEYS = (
    "dpo_beta",
    "rpo_alpha",
    "dpo_normalize_logratios_by_length",
    "dpo_reference_free",
    "simpo_gamma",
)
_SHORTCUTS = frozenset({"lora", *_LORA_KEYS, *_DPO_KEYS})


def _job_id(job: JobRef) -> str:
    return job if isinstance(job, str) else job.id


def _is_local(file: str | os.PathLike[str]) -> bool:
    """A path to check and upload (rather than the id of an uploaded file)?"""
    if isinstance(file, os.PathLike):
        return True
    if file.startswith("file-"):
        return False
    looks_like_path = file.lower().endswith((".jsonl", ".json", ".csv", ".parquet"))
    return looks_like_path or os.sep in file or Path(file).is_file()


def build_request(training_file: str, model: str, params: Mapping[str, Any]) -> FineTuneRequest:
    """A :class:`FineTuneRequest` from spec fields plus the official SDK's shortcuts:
    ``lora`` (False: full training), ``lora_r``/``lora_alpha``/``lora_dropout``/
    ``lora_trainable_modules``, ``training_method="sft"|"dpo"`` with ``dpo_beta``... and
    ``train_on_inputs``. Other request fields go in ``extra_body``; a misspelt name raises.
    """
    values = dict(params)
    extra = dict(values.pop("extra_body", None) or {})
    unknown = sorted(set(values) - _REQUEST_FIELDS - _SHORTCUTS)
    if unknown:
        raise TogetherConfigError(
            f"Unknown fine-tuning parameter(s) {', '.join(unknown)}; the spec's fields are "
            f"{', '.join(sorted(_REQUEST_FIELDS))}. Send anything else with extra_body={{...}}."
        )
    lora = values.pop("lora", None)
    lora_args = {k: values.pop(k) for k in _LORA_KEYS if values.get(k) is not None}
    dpo_args = {k: values.pop(k) for k in _DPO_KEYS if values.get(k) is not None}
    for key in (*_LORA_KEYS, *_DPO_KEYS):
        values.pop(key, None)
    if lora is False:
        if lora_args:
            raise TogetherConfigError("lora=False (full training) takes no lora_* settings.")
        values.setdefault("training_type", {"type": "Full"})
    elif lora_args:
        if "lora_r" not in lora_args:
            raise TogetherConfigError("LoRA settings need lora_r (the adapter rank).")
        lora_args.setdefault("lora_alpha", int(lora_args["lora_r"]) * 2)
        values.setdefault("training_type", {"type": "Lora", **lora_args})
    method = values.get("training_method")
    if isinstance(method, str) or dpo_args:
        name = method if isinstance(method, str) else "dpo"
        if name not in ("sft", "dpo"):
            raise TogetherConfigError(f"training_method must be 'sft' or 'dpo', got {name!r}.")
        if dpo_args and name != "dpo":
            raise TogetherConfigError(f"{', '.join(dpo_args)} only apply to DPO training.")
        spec: dict[str, Any] = {"method": name, **dpo_args}
        if name == "sft" and values.get("train_on_inputs") is not None:
            spec["train_on_inputs"] = values.pop("train_on_inputs")
        values["training_method"] = spec
    try:
        return FineTuneRequest(training_file=training_file, model=model, **values, **extra)
    except ValidationError as exc:  # the input is hidden: it may hold the W&B key
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) + f" ({e['msg']})" for e in exc.errors()
        )
        raise TogetherConfigError(f"Invalid fine-tuning parameters: {fields}.") from None


_MATCHED_FIELDS = (
    "training_file",
    "model",
    "validation_file",
    "suffix",
    "n_epochs",
    "n_checkpoints",
    "n_evals",
    "batch_size",
    "learning_rate",
    "warmup_ratio",
    "max_grad_norm",
    "weight_decay",
    "max_seq_length",
    "packing",
    "from_checkpoint",
    "random_seed",
    "lr_scheduler",
    "training_type",
    "training_method",
)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return value


def _differs(wanted: Any, seen: Any) -> bool:
    """Whether two stated values disagree; for objects (LoRA settings, the training method,
    the scheduler), only the keys both sides state count: the server fills in defaults."""
    wanted, seen = _plain(wanted), _plain(seen)
    if isinstance(wanted, dict) and isinstance(seen, dict):
        return any(_differs(wanted[k], seen[k]) for k in wanted.keys() & seen.keys())
    return bool(wanted != seen)


def same_job(job: FineTuneJob, request: FineTuneRequest) -> bool:
    """Whether ``job`` is what ``request`` would start: the same training and validation
    files, base model, suffix and every hyperparameter that both sides state, and not
    ended in failure. A job the server echoes no value for is not taken as different."""
    if job.is_failed:
        return False
    for name in _MATCHED_FIELDS:
        wanted = getattr(request, name)
        seen = getattr(job, name, None)
        if name in ("training_file", "model"):
            if seen != wanted:
                return False
        elif wanted is not None and seen is not None and _differs(wanted, seen):
            return False
    return True


def _adoptable(jobs: Iterable[FineTuneJob], request: FineTuneRequest) -> FineTuneJob | None:
    matches = [job for job in jobs if same_job(job, request)]
    if not matches:
        return None
    return max(matches, key=lambda job: str(job.created_at or ""))


class TogetherFineTuning:
    """Fine-tuning on a :class:`TogetherTransport` (sync and async: ``a``-prefixed twins).

    Args:
        transport: The transport to send with (default: the shared one from the environment).
        clock: The poller's clock for :meth:`wait` (a test passes a virtual clock).
        poll_interval: Seconds between the first looks while waiting.
    """

    def __init__(
        self,
        transport: TogetherTransport | None = None,
        *,
        clock: Clock | None = None,
        poll_interval: float | None = None,
    ) -> None:
        self.transport = transport if transport is not None else TogetherTransport.shared()
        self.clock = clock
        self.poll_interval = poll_interval

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.transport.base_url!r})"

    # ------------------------------------------------------------------- files

    @staticmethod
    def validate(
        path: str | os.PathLike[str], *, expected_format: TrainingFormat | None = None
    ) -> TrainingFileReport:
        """Check a training file locally (see :func:`validate_training_file`)."""
        return validate_training_file(path, expected_format=expected_format)

    def upload(self, path: str | os.PathLike[str], *, check: bool = True) -> FileObject:
        """Check (unless ``check=False``), then upload a training file (``fine-tune``)."""
        if check:
            validate_training_file(path)
        return self.transport.files.upload(Path(path), purpose="fine-tune")

    async def aupload(self, path: str | os.PathLike[str], *, check: bool = True) -> FileObject:
        """Async :meth:`upload`."""
        if check:
            validate_training_file(path)
        return await self.transport.files.aupload(Path(path), purpose="fine-tune")

    def _file_id(self, file: str | os.PathLike[str] | FileObject | None) -> str | None:
        if file is None or isinstance(file, FileObject):
            return None if file is None else file.id
        return self.upload(file).id if _is_local(file) else str(file)

    async def _afile_id(self, file: str | os.PathLike[str] | FileObject | None) -> str | None:
        if file is None or isinstance(file, FileObject):
            return None if file is None else file.id
        return (await self.aupload(file)).id if _is_local(file) else str(file)

    # -------------------------------------------------------------------- jobs

    def create(
        self,
        training_file: str | os.PathLike[str] | FileObject,
        *,
        model: str,
        validation_file: str | os.PathLike[str] | FileObject | None = None,
        wandb_api_key: str | SecretStr | None = None,
        adopt_existing: bool = False,
        **params: Any,
    ) -> FineTuneJob:
        """Start a fine-tune (paid; never re-sent once it may have reached the server).

        Args:
            training_file: A file id, a :class:`FileObject`, or a local path (checked and
                uploaded first; a file uploaded before is found again, not re-sent).
                ``validation_file`` likewise.
            model: The base model.
            wandb_api_key: Kept a secret: sent in the body only, never in a repr or error.
            adopt_existing: Before paying for a new job, look for one on the account that
                this request would duplicate (:func:`same_job`: same files, model, suffix and
                hyperparameters, not failed or cancelled) and return it instead. This makes
                re-running a script that crashed after the create safe.
            params: Any field of the spec (``n_epochs``, ``learning_rate``, ``batch_size``,
                ``n_checkpoints``, ``suffix``, ``lr_scheduler``, ``from_checkpoint``,
                ``wandb_project_name``...), and the shortcuts of :func:`build_request`.
        """
        file_id = self._file_id(training_file)
        assert file_id is not None
        params["validation_file"] = self._file_id(validation_file)
        params["wandb_api_key"] = wandb_api_key
        request = build_request(file_id, model, params)
        if adopt_existing:
            found = _adoptable(self.list(), request)
            if found is not None:
                return found
        return self.transport.fine_tuning.create(request)

    async def acreate(
        self,
        training_file: str | os.PathLike[str] | FileObject,
        *,
        model: str,
        validation_file: str | os.PathLike[str] | FileObject | None = None,
        wandb_api_key: str | SecretStr | None = None,
        adopt_existing: bool = False,
        **params: Any,
    ) -> FineTuneJob:
        """Async :meth:`create`."""
        file_id = await self._afile_id(training_file)
        assert file_id is not None
        params["validation_file"] = await self._afile_id(validation_file)
        params["wandb_api_key"] = wandb_api_key
        request = build_request(file_id, model, params)
        if adopt_existing:
            found = _adoptable(await self.alist(), request)
            if found is not None:
                return found
        return await self.transport.fine_tuning.acreate(request)

    @staticmethod
    def _price_body(file_id: str, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        wire = build_request(file_id, model, params).to_wire()
        keys = ("training_file", "model", "validation_file", "n_epochs", "n_evals",
                "training_method", "training_type", "from_checkpoint")  # fmt: skip
        return {k: wire[k] for k in keys if k in wire}

    def estimate_price(
        self, training_file: str | FileObject, *, model: str, **params: Any
    ) -> FineTunePriceEstimate:
        """``POST /fine-tunes/estimate-price`` for an uploaded file and these settings."""
        file_id = self._file_id(training_file)
        assert file_id is not None
        return self.transport.fine_tuning.estimate_price(self._price_body(file_id, model, params))

    async def aestimate_price(
        self, training_file: str | FileObject, *, model: str, **params: Any
    ) -> FineTunePriceEstimate:
        """Async :meth:`estimate_price`."""
        file_id = await self._afile_id(training_file)
        assert file_id is not None
        body = self._price_body(file_id, model, params)
        return await self.transport.fine_tuning.aestimate_price(body)

    def retrieve(self, job: JobRef) -> FineTuneJob:
        """The job's current state."""
        return self.transport.fine_tuning.retrieve(_job_id(job))

    async def aretrieve(self, job: JobRef) -> FineTuneJob:
        """Async :meth:`retrieve`."""
        return await self.transport.fine_tuning.aretrieve(_job_id(job))

    def list(self) -> builtins.list[FineTuneJob]:
        """Every job of the account."""
        return self.transport.fine_tuning.list()

    async def alist(self) -> builtins.list[FineTuneJob]:
        """Async :meth:`list`."""
        return await self.transport.fine_tuning.alist()

    def events(self, job: JobRef) -> builtins.list[FineTuneEvent]:
        """The job's event log, oldest first."""
        return self.transport.fine_tuning.events(_job_id(job))

    async def aevents(self, job: JobRef) -> builtins.list[FineTuneEvent]:
        """Async :meth:`events`."""
        return await self.transport.fine_tuning.aevents(_job_id(job))

    def checkpoints(self, job: JobRef) -> builtins.list[FineTuneCheckpoint]:
        """The checkpoints saved so far."""
        return self.transport.fine_tuning.checkpoints(_job_id(job))

    async def acheckpoints(self, job: JobRef) -> builtins.list[FineTuneCheckpoint]:
        """Async :meth:`checkpoints`."""
        return await self.transport.fine_tuning.acheckpoints(_job_id(job))

    def cancel(self, job: JobRef) -> FineTuneJob:
        """Ask the server to stop the job (``cancel_requested``, then ``cancelled``)."""
        return self.transport.fine_tuning.cancel(_job_id(job))

    async def acancel(self, job: JobRef) -> FineTuneJob:
        """Async :meth:`cancel`."""
        return await self.transport.fine_tuning.acancel(_job_id(job))

    def delete(self, job: JobRef) -> FineTuneDeleted:
        """Delete the job."""
        return self.transport.fine_tuning.delete(_job_id(job))

    async def adelete(self, job: JobRef) -> FineTuneDeleted:
        """Async :meth:`delete`."""
        return await self.transport.fine_tuning.adelete(_job_id(job))

    def download(
        self,
        job: JobRef,
        path: str | os.PathLike[str],
        *,
        checkpoint: Literal["merged", "adapter", "model_output_path"] = "merged",
        checkpoint_step: int | None = None,
    ) -> Path:
        """Download the trained weights to ``path`` (resumed after a cut; renamed into place
        only when complete)."""
        return self.transport.fine_tuning.download(
            _job_id(job), path, checkpoint=checkpoint, checkpoint_step=checkpoint_step
        )

    async def adownload(
        self,
        job: JobRef,
        path: str | os.PathLike[str],
        *,
        checkpoint: Literal["merged", "adapter", "model_output_path"] = "merged",
        checkpoint_step: int | None = None,
    ) -> Path:
        """Async :meth:`download`."""
        return await self.transport.fine_tuning.adownload(
            _job_id(job), path, checkpoint=checkpoint, checkpoint_step=checkpoint_step
        )

    def wait(
        self,
        job: JobRef,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_progress: Callable[[FineTuneJob], None] | None = None,
    ) -> FineTuneJob:
        """Wait until the job is done and return it, with its output model registered in the
        catalog with the base model's capabilities.

        Raises:
            JobFailedError: at once when it ends ``error`` or ``cancelled``, with the
                server's reason (``.reason``) and the last state (``.job``).
            JobTimeoutError: ``timeout`` passed; the job goes on (wait again to resume).
        """
        done = self.transport.fine_tuning.wait_until_done(
            _job_id(job),
            timeout=timeout,
            poll_interval=poll_interval or self.poll_interval,
            on_progress=_progress(on_progress),
            clock=self.clock,
        )
        return _registered(done)

    async def await_until_done(
        self,
        job: JobRef,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_progress: Callable[[FineTuneJob], None] | None = None,
    ) -> FineTuneJob:
        """Async :meth:`wait`."""
        done = await self.transport.fine_tuning.await_until_done(
            _job_id(job),
            timeout=timeout,
            poll_interval=poll_interval or self.poll_interval,
            on_progress=_progress(on_progress),
            clock=self.clock,
        )
        return _registered(done)

    def output_model(self, job: JobRef) -> str:
        """The output model name of a completed job (registered in the catalog).

        Raises:
            TogetherConfigError: the job has not completed (so its model cannot answer).
        """
        done = isinstance(job, FineTuneJob) and str(job.status) == "completed"
        return output_model_of(job if isinstance(job, FineTuneJob) and done else self.retrieve(job))


def _progress(
    callback: Callable[[FineTuneJob], None] | None,
) -> Callable[[JobLike], None] | None:
    if callback is None:
        return None

    def seen(job: JobLike) -> None:
        if isinstance(job, FineTuneJob):
            callback(job)

    return seen


def _registered(job: FineTuneJob) -> FineTuneJob:
    if job.model_output_name:
        register_fine_tuned_model(job.model_output_name, job.model)
    return job


def output_model_of(job: FineTuneJob) -> str:
    """The output model of a completed job, registered in the catalog as its base model.

    Raises:
        TogetherConfigError: the job is not completed.
    """
    if str(job.status) != "completed" or not job.model_output_name:
        raise TogetherConfigError(
            f"The fine-tune {job.id} is {job.status or 'unknown'}, not completed: its model "
            "cannot answer yet. Wait for it with TogetherFineTuning.wait(job)."
        )
    register_fine_tuned_model(job.model_output_name, job.model)
    return job.model_output_name


def fine_tuned_model(
    job: FineTuneJob | str,
    transport: Callable[[], TogetherTransport],
    *,
    base_model: str | None = None,
) -> str:
    """The model to chat with for ``job``: a :class:`FineTuneJob`, a job id (``ft-...``,
    looked up with ``transport()``), or an output model / endpoint name (given the catalog
    capabilities of ``base_model``). What the adapters' ``from_fine_tune`` build on.

    Raises:
        JobFailedError: the job ended ``error`` or ``cancelled`` (with the server's reason).
        TogetherConfigError: the job is still running.
    """
    if isinstance(job, str) and not job.startswith("ft-"):
        if base_model:
            register_fine_tuned_model(job, base_model)
        return job
    if isinstance(job, str) or str(job.status) != "completed":
        job = transport().fine_tuning.retrieve(_job_id(job))
    if job.is_failed:
        reason = job.failure_message
        raise JobFailedError(
            f"The fine-tune {job.id} ended {job.status_text}"
            + (f": {reason}" if reason else " (the server gave no reason)."),
            job=job,
            job_id=job.id,
            status=job.status_text,
            reason=reason,
        )
    return output_model_of(job)


# ------------------------------------------------------------------ dedicated endpoints


def _endpoint_body(
    model: str, hardware: str, min_replicas: int, max_replicas: int, params: Mapping[str, Any]
) -> dict[str, Any]:
    if min_replicas < 0 or max_replicas < max(min_replicas, 1):
        raise TogetherConfigError(
            f"Replicas must satisfy 0 <= min_replicas <= max_replicas and max_replicas >= 1; "
            f"got min_replicas={min_replicas}, max_replicas={max_replicas}."
        )
    if "autoscaling" in params:
        raise TogetherConfigError(
            "Pass min_replicas= and max_replicas= instead of autoscaling={...}."
        )
    return {
        "model": model,
        "hardware": hardware,
        "autoscaling": {"min_replicas": min_replicas, "max_replicas": max_replicas},
        **params,
    }


_LIVE_STATES = frozenset({"PENDING", "STARTING", "STARTED"})


def _candidates(
    endpoints: Iterable[DedicatedEndpoint], body: Mapping[str, Any]
) -> builtins.list[str]:
    """Ids of the endpoints of the same model that are pending, starting or started (a
    listing carries no hardware or replica bounds: each is looked at in full)."""
    return [e.id for e in endpoints if e.model == body["model"] and str(e.state) in _LIVE_STATES]


def _twin(endpoint: DedicatedEndpoint, body: Mapping[str, Any]) -> bool:
    """Whether ``endpoint`` (in full) is what ``body`` would create: same hardware and
    replica bounds, and display name when given, and still live."""
    scaling = _plain(endpoint.autoscaling)
    return (
        endpoint.hardware == body["hardware"]
        and str(endpoint.state) in _LIVE_STATES
        and isinstance(scaling, dict)
        and not _differs(body["autoscaling"], scaling)
        and body.get("display_name") in (None, endpoint.display_name)
    )


class TogetherDedicatedEndpoints:
    """Serve a model (a fine-tune's output, or any non-serverless model) on dedicated
    hardware; billed while it runs. Chat with the endpoint's ``name`` once ``STARTED``."""

    def __init__(
        self, transport: TogetherTransport | None = None, *, clock: Clock | None = None
    ) -> None:
        self.transport = transport if transport is not None else TogetherTransport.shared()
        self.clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.transport.base_url!r})"

    def hardware(self, model: str | None = None) -> builtins.list[Hardware]:
        """The hardware on offer (for ``model``: with availability), with prices."""
        return self.transport.endpoints.hardware(model=model)

    def create(
        self,
        model: str,
        *,
        hardware: str,
        min_replicas: int = 1,
        max_replicas: int = 1,
        wait: bool = True,
        timeout: float | None = None,
        adopt_existing: bool = False,
        **params: Any,
    ) -> DedicatedEndpoint:
        """Create an endpoint (paid) and, with ``wait``, return it once ``STARTED``; its
        ``name`` gets the catalog capabilities of ``model``.

        Args:
            adopt_existing: First look for an endpoint of the account this one would
                duplicate (same model, hardware and replica bounds, and display name when
                given; pending, starting or started) and return it instead of paying for a
                second: re-running a script that died after the create is then safe.

        Raises:
            JobFailedError: it went to ``ERROR``.
        """
        body = _endpoint_body(model, hardware, min_replicas, max_replicas, params)
        if adopt_existing:
            for endpoint_id in _candidates(self.list(), body):
                found = self.retrieve(endpoint_id)
                if _twin(found, body):
                    return self.wait(found.id, timeout=timeout) if wait else found
        endpoint = self.transport.endpoints.create(body)
        if endpoint.name:
            register_fine_tuned_model(endpoint.name, model)
        return self.wait(endpoint.id, timeout=timeout) if wait else endpoint

    def list(self) -> builtins.list[DedicatedEndpoint]:
        """The account's dedicated endpoints."""
        return self.transport.endpoints.list(type="dedicated")

    def retrieve(self, endpoint_id: str) -> DedicatedEndpoint:
        """One endpoint's current state."""
        return self.transport.endpoints.retrieve(endpoint_id)

    def start(
        self, endpoint_id: str, *, wait: bool = True, timeout: float | None = None
    ) -> DedicatedEndpoint:
        """Start a stopped endpoint (and, with ``wait``, return it once ``STARTED``)."""
        endpoint = self.transport.endpoints.update(endpoint_id, {"state": "STARTED"})
        return self.wait(endpoint_id, timeout=timeout) if wait else endpoint

    def stop(
        self, endpoint_id: str, *, wait: bool = True, timeout: float | None = None
    ) -> DedicatedEndpoint:
        """Stop an endpoint (billing stops once ``STOPPED``)."""
        endpoint = self.transport.endpoints.update(endpoint_id, {"state": "STOPPED"})
        return self.wait(endpoint_id, timeout=timeout) if wait else endpoint

    def delete(self, endpoint_id: str) -> None:
        """Delete an endpoint."""
        self.transport.endpoints.delete(endpoint_id)

    def wait(self, endpoint_id: str, *, timeout: float | None = None) -> DedicatedEndpoint:
        """Wait until it settles (``STARTED`` or ``STOPPED``); ``ERROR`` raises."""
        return self.transport.endpoints.wait_until_done(
            endpoint_id, timeout=timeout, clock=self.clock
        )

    # ------------------------------------------------------------------- async twins

    async def ahardware(self, model: str | None = None) -> builtins.list[Hardware]:
        """Async :meth:`hardware`."""
        return await self.transport.endpoints.ahardware(model=model)

    async def acreate(
        self,
        model: str,
        *,
        hardware: str,
        min_replicas: int = 1,
        max_replicas: int = 1,
        wait: bool = True,
        timeout: float | None = None,
        adopt_existing: bool = False,
        **params: Any,
    ) -> DedicatedEndpoint:
        """Async :meth:`create`."""
        body = _endpoint_body(model, hardware, min_replicas, max_replicas, params)
        if adopt_existing:
            for endpoint_id in _candidates(await self.alist(), body):
                found = await self.aretrieve(endpoint_id)
                if _twin(found, body):
                    return await self.await_until_done(found.id, timeout=timeout) if wait else found
        endpoint = await self.transport.endpoints.acreate(body)
        if endpoint.name:
            register_fine_tuned_model(endpoint.name, model)
        return await self.await_until_done(endpoint.id, timeout=timeout) if wait else endpoint

    async def alist(self) -> builtins.list[DedicatedEndpoint]:
        """Async :meth:`list`."""
        return await self.transport.endpoints.alist(type="dedicated")

    async def aretrieve(self, endpoint_id: str) -> DedicatedEndpoint:
        """Async :meth:`retrieve`."""
        return await self.transport.endpoints.aretrieve(endpoint_id)

    async def astart(
        self, endpoint_id: str, *, wait: bool = True, timeout: float | None = None
    ) -> DedicatedEndpoint:
        """Async :meth:`start`."""
        endpoint = await self.transport.endpoints.aupdate(endpoint_id, {"state": "STARTED"})
        return await self.await_until_done(endpoint_id, timeout=timeout) if wait else endpoint

    async def astop(
        self, endpoint_id: str, *, wait: bool = True, timeout: float | None = None
    ) -> DedicatedEndpoint:
        """Async :meth:`stop`."""
        endpoint = await self.transport.endpoints.aupdate(endpoint_id, {"state": "STOPPED"})
        return await self.await_until_done(endpoint_id, timeout=timeout) if wait else endpoint

    async def adelete(self, endpoint_id: str) -> None:
        """Async :meth:`delete`."""
        await self.transport.endpoints.adelete(endpoint_id)

    async def await_until_done(
        self, endpoint_id: str, *, timeout: float | None = None
    ) -> DedicatedEndpoint:
        """Async :meth:`wait`."""
        return await self.transport.endpoints.await_until_done(
            endpoint_id, timeout=timeout, clock=self.clock
        )


# ------------------------------------------------------------- the non-serverless hint

_ENDPOINT_HINT = NonServerlessModelError.hint


def is_non_serverless(error: BaseException) -> bool:
    """True for the real 400 "Unable to access non-serverless model" shape."""
    return (
        isinstance(error, APIStatusError)
        and error.status_code == 400
        and error.code == "model_not_available"
        and "non-serverless" in str(error.server_message or error.message)
    )


def with_endpoint_hint(
    error: BaseException, cls: type[NonServerlessModelError] = NonServerlessModelError
) -> BaseException:
    """The error to raise instead of ``error``: a :class:`NonServerlessModelError` (or the
    given subclass) with the same attributes and the hint appended, when ``error`` is the
    non-serverless 400; ``error`` itself otherwise."""
    if not is_non_serverless(error) or isinstance(error, NonServerlessModelError):
        return error
    hinted = cls.__new__(cls)
    hinted.__dict__.update(error.__dict__)
    hinted.message = f"{getattr(error, 'message', str(error))} {_ENDPOINT_HINT}"
    Exception.__init__(hinted, hinted.message)
    return hinted


@contextlib.contextmanager
def endpoint_hints() -> Iterator[None]:
    """Raise the non-serverless 400 as :class:`NonServerlessModelError` within the block."""
    try:
        yield
    except APIStatusError as error:
        hinted = with_endpoint_hint(error)
        if hinted is error:
            raise
        raise hinted from error
