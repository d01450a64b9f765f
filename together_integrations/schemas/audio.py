"""Audio: ``POST /audio/speech`` (binary or SSE), ``GET /voices``, and
``POST /audio/transcriptions`` / ``POST /audio/translations`` (multipart).

No real traffic was recorded for these; shapes follow the spec and the official SDK.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import Field

from ._base import RequestModel, WireModel


class SpeechRequest(RequestModel):
    """A ``POST /audio/speech`` body."""

    model: str
    input: str
    voice: str
    response_format: Literal["mp3", "wav", "raw"] | None = None
    language: str | None = None
    response_encoding: Literal["pcm_f32le", "pcm_s16le", "pcm_mulaw", "pcm_alaw"] | None = None
    sample_rate: int | None = None
    bit_rate: int | None = None
    stream: bool | None = None


class SpeechResponse(WireModel):
    """Binary audio and its content type."""

    content: bytes
    content_type: str = "application/octet-stream"


class SpeechChunk(WireModel):
    """One ``audio.tts.chunk`` event of a streamed speech response."""

    object: str = "audio.tts.chunk"
    model: str = ""
    b64: str = ""

    @property
    def audio(self) -> bytes:
        """The decoded audio bytes of this chunk."""
        return base64.b64decode(self.b64)


class Voice(WireModel):
    """One voice of a speech model (pass its ``id`` or ``name`` as ``voice``)."""

    id: str | None = None
    name: str | None = None


class ModelVoices(WireModel):
    """A speech model and its voices."""

    model: str = ""
    voices: list[Voice] = Field(default_factory=list)


class VoiceList(WireModel):
    """``GET /voices``: ``{"data": [{"model", "voices": [{"id", "name"}]}]}``."""

    data: list[ModelVoices] = Field(default_factory=list)


class _FormFields(RequestModel):
    """Form fields of a multipart audio upload (the file goes separately)."""

    def to_form(self) -> list[tuple[str, str]]:
        """Return the fields as multipart form pairs (lists repeat the key)."""
        pairs: list[tuple[str, str]] = []
        for key, value in self.to_wire().items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                text = ("true" if item else "false") if isinstance(item, bool) else str(item)
                pairs.append((key, text))
        return pairs


class TranscriptionRequest(_FormFields):
    """The form fields of a ``POST /audio/transcriptions`` upload (the file goes separately)."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    response_format: Literal["json", "verbose_json"] | None = None
    temperature: float | None = None
    timestamp_granularities: list[Literal["segment", "word"]] | None = None
    diarize: bool | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


class TranslationRequest(_FormFields):
    """The form fields of a ``POST /audio/translations`` upload: a transcription's fields
    without diarization. The output is English; the response parses as
    :class:`Transcription` (``task: "translate"``)."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    response_format: Literal["json", "verbose_json"] | None = None
    temperature: float | None = None
    timestamp_granularities: list[Literal["segment", "word"]] | None = None


class TranscriptionSegment(WireModel):
    """A timed segment of a verbose transcription."""

    id: int | None = None
    start: float = 0.0
    end: float = 0.0
    text: str = ""


class TranscriptionWord(WireModel):
    """A timed word of a verbose transcription."""

    word: str = ""
    start: float = 0.0
    end: float = 0.0
    speaker_id: str | None = None


class Transcription(WireModel):
    """``{text}`` or the verbose form with segments and words."""

    text: str = ""
    task: str | None = None
    language: str | None = None
    duration: float | None = None
    segments: list[TranscriptionSegment] | None = None
    words: list[TranscriptionWord] | None = None
    speaker_segments: list[dict[str, Any]] | None = Field(default=None)
