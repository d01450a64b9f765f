"""Videos: ``POST /v2/videos`` and ``GET /v2/videos/{id}`` (note the **v2** root), NOTES-jobs §4.

Nothing here was recorded, and the spec and the docs disagree about the job:

* spec: ``status`` in_progress|completed|failed, ``created_at``/``completed_at`` as unix
  seconds, ``error{code, message}``, ``outputs{cost (int), video_url}``;
* docs: also ``queued`` and ``cancelled``, an ISO ``created_at``, ``claimed_at``, ``done_at``,
  ``info.errors``, ``inputs{...}`` and a float ``outputs.cost`` (0.28).

:class:`VideoJob` reads both. ``seconds`` is a **string** on the wire in both directions.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PlainValidator, field_validator

from ._base import RequestModel, WireModel
from .errors import error_message_text
from .files import JobModel, LenientStrEnum, Timestamp


class VideoStatus(LenientStrEnum):
    """Job status; ``completed``, ``failed`` and ``cancelled`` are terminal."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


VideoStatusValue = Annotated[VideoStatus | str, PlainValidator(VideoStatus.parse)]


def _seconds_text(value: Any) -> Any:
    # The wire wants "5", not 5; 5.0 means "5" too. bool is an int subclass: leave it to fail.
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


# --------------------------------------------------------------------------- request


class VideoFrameImage(RequestModel):
    """An image pinned to a frame: an index, ``"first"`` or ``"last"`` (omitted: spread out)."""

    input_image: str
    frame: int | float | Literal["first", "last"] | None = None


class VideoRef(RequestModel):
    """``{"video": url}``."""

    video: str


class AudioRef(RequestModel):
    """``{"audio": url}``."""

    audio: str


class VideoMedia(RequestModel):
    """Media inputs; which ones a model accepts depends on its kind (t2v, i2v, r2v, edit)."""

    frame_images: list[VideoFrameImage] | None = None
    frame_videos: list[VideoRef] | None = None
    reference_images: list[str] | None = None
    reference_videos: list[VideoRef] | None = None
    source_video: str | VideoRef | None = None
    audio_inputs: list[str | AudioRef] | None = None


class VideoCreateRequest(RequestModel):
    """A ``POST /v2/videos`` body. ``seconds`` accepts a number and is sent as a string."""

    model: str
    prompt: str | None = Field(default=None, min_length=1, max_length=32000)
    height: int | None = None
    width: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    seconds: str | None = None
    fps: int | None = None
    steps: int | None = Field(default=None, ge=10, le=50)
    seed: int | None = None
    guidance_scale: float | None = None
    output_format: Literal["MP4", "WEBM"] | None = None
    output_quality: int | None = None
    negative_prompt: str | None = None
    generate_audio: bool | None = None
    media: VideoMedia | None = None
    frame_images: list[VideoFrameImage] | None = Field(
        default=None, description="Deprecated: use media.frame_images."
    )
    reference_images: list[str] | None = Field(
        default=None, description="Deprecated: use media.reference_images."
    )

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        return _seconds_text(value)

    @field_validator("output_format", mode="before")
    @classmethod
    def _upper_format(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


# --------------------------------------------------------------------------- job


class VideoError(WireModel):
    """Why a generation failed."""

    code: str | int | None = None
    message: str | None = None


class VideoOutputs(WireModel):
    """The result: what it cost (USD; a float in the docs' sample) and where to fetch it."""

    cost: float | None = None
    video_url: str | None = None


class VideoInfo(WireModel):
    """The docs' ``info`` object; ``errors`` is a list of texts or objects."""

    errors: list[Any] | None = None


class VideoJob(JobModel):
    """A video generation job, in the spec's shape or the docs' one."""

    TERMINAL_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {VideoStatus.COMPLETED, VideoStatus.FAILED, VideoStatus.CANCELLED}
    )
    FAILED_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {VideoStatus.FAILED, VideoStatus.CANCELLED}
    )

    id: str
    object: str = "video"
    model: str | None = None
    status: VideoStatusValue = ""
    created_at: Timestamp = None
    completed_at: Timestamp = None
    claimed_at: Timestamp = None
    done_at: Timestamp = None
    size: str | None = None
    seconds: str | None = None
    error: VideoError | None = None
    outputs: VideoOutputs | None = None
    info: VideoInfo | None = None
    inputs: dict[str, Any] | None = None

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        return _seconds_text(value)

    @field_validator("error", mode="before")
    @classmethod
    def _error_from_text(cls, value: Any) -> Any:
        return {"message": value} if isinstance(value, str) else value

    def _current_status(self) -> LenientStrEnum | str:
        return self.status

    @property
    def video_url(self) -> str | None:
        """Where the finished video can be fetched."""
        return self.outputs.video_url if self.outputs else None

    @property
    def failure_message(self) -> str | None:
        """``error.message`` (spec), else the docs' ``info.errors`` joined."""
        if self.error is not None and (self.error.message or self.error.code):
            return self.error.message or str(self.error.code)
        errors = self.info.errors if self.info else None
        texts = [t for t in (error_message_text(e) for e in errors or []) if t]
        return "; ".join(texts) or None

    @property
    def progress_fraction(self) -> float | None:
        """1 once completed; the API reports no partial progress."""
        return 1.0 if self.status is VideoStatus.COMPLETED else None
