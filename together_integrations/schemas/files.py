"""Files: ``/files`` (list, upload, retrieve, delete, content), NOTES-jobs §5.

Nothing here was recorded; the shapes follow the spec and the official SDK. The spec's
``FileResponse`` uses **capitalised keys** (``FileType``, ``Processed``) next to lower-case ones;
both spellings are read.

This module also holds the pieces the job families (batches, fine-tunes, videos, dedicated
endpoints) share: :data:`Timestamp`, :class:`LenientStrEnum` and :class:`JobModel`, the small
read-only interface a job poller relies on.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, TypeAlias, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import ValidationError

from ._base import WireModel

# --------------------------------------------------------------------------- shared by job models


def _lenient_datetime(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime | None:
    # Unset timestamps come as null, "", epoch 0 or Go's zero time; an unreadable one must not
    # make a whole job unparseable (a poller would then fail on a cosmetic field).
    if value is None or value == 0 or (isinstance(value, str) and not value.strip()):
        return None
    try:
        parsed = handler(value)
    except ValidationError:
        return None
    if not isinstance(parsed, datetime) or parsed.year <= 1:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


Timestamp = Annotated[datetime | None, WrapValidator(_lenient_datetime)]
"""A time on the wire as unix seconds (or milliseconds), or an ISO-8601 string, as an aware
``datetime`` (naive strings are taken as UTC). Unset or unreadable values become ``None``."""

_E = TypeVar("_E", bound="LenientStrEnum")

_SPELLINGS = {"canceled": "cancelled", "cancelling": "canceling"}


def _status_key(text: str) -> str:
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    return _SPELLINGS.get(key, key)


class LenientStrEnum(str, Enum):
    """A status enum that matches any case (``completed`` = ``COMPLETED``), ``-``/space for
    ``_``, and the American ``canceled``. :meth:`parse` keeps an unknown value as a plain
    string instead of failing, so a new server status never breaks a poller."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            key = _status_key(value)
            for member in cls:
                if _status_key(member.value) == key:
                    return member
        return None

    @classmethod
    def parse(cls: type[_E], value: object) -> _E | str:
        """The matching member, or the value itself as a string when it is unknown."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            return "" if value is None else str(value)


class JobModel(WireModel):
    """What every job object offers the poller, whatever its family.

    Subclasses name their terminal and failed statuses; an unknown status is never terminal
    (the poller's timeout bounds the wait).
    """

    TERMINAL_STATUSES: ClassVar[frozenset[str]] = frozenset()
    FAILED_STATUSES: ClassVar[frozenset[str]] = frozenset()

    def _current_status(self) -> LenientStrEnum | str:
        raise NotImplementedError

    @property
    def status_text(self) -> str:
        """The status as sent (known statuses in their canonical spelling)."""
        return str(self._current_status())

    @property
    def is_terminal(self) -> bool:
        """True once the status will not change on its own."""
        status = self._current_status()
        return isinstance(status, LenientStrEnum) and status in self.TERMINAL_STATUSES

    @property
    def is_failed(self) -> bool:
        """True when the job ended without success (failed, expired, cancelled, error)."""
        status = self._current_status()
        return isinstance(status, LenientStrEnum) and status in self.FAILED_STATUSES

    @property
    def failure_message(self) -> str | None:
        """The server's reason for a failure, when it gave one."""
        return None

    @property
    def progress_fraction(self) -> float | None:
        """Progress between 0 and 1, when known."""
        return None


def _clamp_fraction(value: float) -> float:
    return min(1.0, max(0.0, value))


class ListEnvelope(WireModel):
    """``{"data": [...]}``; a bare array is accepted too (``GET /models`` and ``GET /batches``
    already answer that way although the spec says otherwise)."""

    object: str = "list"

    @model_validator(mode="before")
    @classmethod
    def _wrap_bare_array(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"data": value}
        if isinstance(value, dict) and value.get("data", ()) is None:
            return {**value, "data": []}
        return value


# --------------------------------------------------------------------------- files

FilePurpose: TypeAlias = (
    Literal[
        "fine-tune",
        "eval",
        "eval-sample",
        "eval-output",
        "eval-summary",
        "batch-generated",
        "batch-api",
    ]
    | str
)
"""Why a file was uploaded. The known values are listed; any other string is accepted."""

FILE_PURPOSES: tuple[str, ...] = (
    "fine-tune",
    "eval",
    "eval-sample",
    "eval-output",
    "eval-summary",
    "batch-generated",
    "batch-api",
)


class FileObject(WireModel):
    """A stored file (the spec's ``FileResponse``).

    ``file_type`` is read from ``FileType`` (the spec) or ``file_type``; ``processed`` from
    ``Processed`` or ``processed``.
    """

    id: str
    object: str = "file"
    created_at: Timestamp = None
    filename: str | None = None
    bytes: int | None = None
    purpose: FilePurpose | None = None
    file_type: str | None = Field(
        default=None, validation_alias=AliasChoices("FileType", "file_type")
    )
    processed: bool | None = Field(
        default=None, validation_alias=AliasChoices("Processed", "processed")
    )
    processing_status: str | None = None


class FileList(ListEnvelope):
    """``GET /files``."""

    data: list[FileObject] = Field(default_factory=list)


class FileDeleted(WireModel):
    """``DELETE /files/{id}``."""

    id: str = ""
    deleted: bool = False
