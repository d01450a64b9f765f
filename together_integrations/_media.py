"""Framework-neutral media results: generated images, speech audio and finished videos.

Both adapters hand these out (LangChain as tool artifacts, LlamaIndex behind its blocks), so
the rules live here once:

* ``bytes()`` / ``save()`` fetch a URL result through the shared transport **without the API
  key**: media URLs are another host (Together's CDN, a storage bucket), and the key must
  never travel to them. The request carries a ``User-Agent`` because the CDN refuses a
  blank one with 403 (NOTES-jobs §1). Downloads resume after a cut (``Range``).
* ``save()`` writes to a temporary file next to the target and renames it into place, so a
  failed download never leaves a half file, and never a temporary one. Saved into a
  directory, a file is named after its content (``image-<sha256 prefix>.jpg``): saving the
  same image twice yields one file, and names never collide.
* A result's ``repr`` never contains its bytes or base64.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import os
import struct
import tempfile
import threading
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ._base_transport import USER_AGENT, Call
from ._exceptions import APIResponseValidationError, JobFailedError, NotFoundError
from ._media_catalog import MEDIA_CATALOG, MediaCatalog, MediaInputError, check_transcription

if TYPE_CHECKING:
    from ._transport import TogetherTransport
    from .schemas import (
        ImageGenerationRequest,
        ImageResponse,
        Transcription,
        TranscriptionRequest,
        TranslationRequest,
        VideoJob,
        VoiceList,
    )

__all__ = [
    "GeneratedImage",
    "MediaResult",
    "SpeechAudio",
    "VideoResult",
    "aknown_voices",
    "clear_voice_cache",
    "download_call",
    "images_from_response",
    "known_voices",
    "transcript_parts",
    "video_outcome",
]

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/pcm": ".pcm",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
}

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (8, b"WEBP", "image/webp"),
    (8, b"WAVE", "audio/wav"),
    (0, b"ID3", "audio/mpeg"),
    (4, b"ftyp", "video/mp4"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
)


def sniff_mime(data: builtins.bytes, fallback: str) -> str:
    """The media type the bytes' signature says, else ``fallback``."""
    for offset, magic, mime in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return mime
    return fallback


def download_call(url: str) -> Call:
    """A GET of a media URL: absolute, without the key or the API's default headers."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise MediaInputError(
            f"Cannot download {url!r}: media URLs must be http(s).",
            argument="url",
            value=url,
            allowed="an http(s) URL",
        )
    return Call(
        "GET",
        url,
        root="",
        authenticated=False,
        headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
    )


def _atomic_target(target: str | Path, kind: str, extension: str) -> tuple[Path, bool]:
    """``(path, hashed)``: into an existing directory a content-hashed name is chosen later."""
    path = Path(target).expanduser()
    if path.is_dir():
        return path, True
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, False


def _hashed_name(kind: str, digest: str, extension: str) -> str:
    return f"{kind}-{digest[:16]}{extension}"


class _AtomicWriter:
    """Write to a temporary file beside the target, hash it, and rename it into place."""

    def __init__(self, target: str | Path, kind: str, extension: str) -> None:
        self.kind, self.extension = kind, extension
        self.path, self.hashed = _atomic_target(target, kind, extension)
        folder = self.path if self.hashed else self.path.parent
        handle, temp = tempfile.mkstemp(prefix=".together-", suffix=".part", dir=folder)
        self.temp = Path(temp)
        self.file: BinaryIO = os.fdopen(handle, "wb")
        self.digest = hashlib.sha256()

    def write(self, chunk: builtins.bytes) -> None:
        self.file.write(chunk)
        self.digest.update(chunk)

    def commit(self) -> Path:
        self.file.close()
        final = (
            self.path / _hashed_name(self.kind, self.digest.hexdigest(), self.extension)
            if self.hashed
            else self.path
        )
        os.replace(self.temp, final)
        return final

    def abort(self) -> None:
        self.file.close()
        self.temp.unlink(missing_ok=True)


class MediaResult:
    """A generated media file: its bytes inline, or a URL to fetch them from.

    Attributes:
        url: Where the file can be fetched (``None`` when the bytes came inline).
        mime_type: Its media type (``image/jpeg``, ``audio/wav``, ``video/mp4``...).
    """

    kind = "media"

    def __init__(
        self,
        *,
        url: str | None = None,
        data: builtins.bytes | None = None,
        mime_type: str,
        transport: TogetherTransport | None = None,
    ) -> None:
        if url is None and data is None:
            raise APIResponseValidationError(
                f"The {self.kind} result has neither a URL nor data.", status_code=200, body=""
            )
        self.url = url
        self._data = data
        self.mime_type = sniff_mime(data, mime_type) if data is not None else mime_type
        self._transport = transport

    # -------------------------------------------------------------- the bytes

    @property
    def has_data(self) -> bool:
        """Whether the bytes are at hand (inline, or already downloaded)."""
        return self._data is not None

    @property
    def extension(self) -> str:
        """The file extension for :attr:`mime_type` (``.jpg``, ``.wav``, ``.mp4``...)."""
        return _EXTENSIONS.get(self.mime_type, ".bin")

    def _needs_transport(self) -> TogetherTransport:
        if self._transport is None:
            raise MediaInputError(
                f"This {self.kind} is only a URL and was made without a transport to fetch it; "
                "download it yourself or build the result with transport=...",
                argument="transport",
                value=None,
                allowed="a TogetherTransport",
            )
        return self._transport

    def _chunks(self) -> Iterator[builtins.bytes]:
        assert self.url is not None
        return self._needs_transport().iter_content(download_call(self.url))

    def _achunks(self) -> AsyncIterator[builtins.bytes]:
        assert self.url is not None
        return self._needs_transport().aiter_content(download_call(self.url))

    def bytes(self) -> builtins.bytes:
        """The file's bytes, downloaded once (without the API key) when only a URL is known."""
        if self._data is None:
            self._data = b"".join(self._chunks())
            self.mime_type = sniff_mime(self._data, self.mime_type)
        return self._data

    async def abytes(self) -> builtins.bytes:
        """Async :meth:`bytes`."""
        if self._data is None:
            self._data = b"".join([chunk async for chunk in self._achunks()])
            self.mime_type = sniff_mime(self._data, self.mime_type)
        return self._data

    def base64(self) -> str:
        """The bytes as base64 text (downloading them first if needed)."""
        return base64.b64encode(self.bytes()).decode()

    async def abase64(self) -> str:
        """Async :meth:`base64`."""
        return base64.b64encode(await self.abytes()).decode()

    @property
    def sha256(self) -> str | None:
        """The hex SHA-256 of the bytes, when they are at hand."""
        return hashlib.sha256(self._data).hexdigest() if self._data is not None else None

    # ------------------------------------------------------------------- saving

    def _write(self, writer: _AtomicWriter, chunks: Iterable[builtins.bytes]) -> Path:
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    def save(self, target: str | Path) -> Path:
        """Write the file and return its path.

        ``target`` is a file path, or an existing directory: then the file is named after
        its content (``image-<sha256 prefix>.jpg``). The bytes are streamed to disk (a video
        is never held in memory) through a temporary file renamed into place at the end.
        """
        # The source first: a URL that cannot be fetched must fail before a file exists.
        source = [self._data] if self._data is not None else self._chunks()
        return self._write(_AtomicWriter(target, self.kind, self.extension), source)

    async def asave(self, target: str | Path) -> Path:
        """Async :meth:`save`."""
        if self._data is not None:
            return self._write(_AtomicWriter(target, self.kind, self.extension), [self._data])
        chunks = self._achunks()
        writer = _AtomicWriter(target, self.kind, self.extension)
        try:
            async for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    def _describe(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.url else f"{len(self._data or b'')} bytes"
        extra = "".join(f", {k}={v!r}" for k, v in self._describe().items() if v is not None)
        return f"{type(self).__name__}({where}, mime_type={self.mime_type!r}{extra})"


class GeneratedImage(MediaResult):
    """One image from ``POST /images/generations``.

    Attributes:
        index: Its position in the response.
        model: The model that made it.
        prompt: The prompt it was made from.
        seed: The seed sent, if any.
        width: Requested width in pixels (``None``: the model's default).
        height: Requested height in pixels.
        timings: The server's timings (``{"inference": seconds}``).
    """

    kind = "image"

    def __init__(
        self,
        *,
        url: str | None = None,
        data: builtins.bytes | None = None,
        mime_type: str = "image/jpeg",
        transport: TogetherTransport | None = None,
        index: int = 0,
        model: str = "",
        prompt: str = "",
        seed: int | None = None,
        width: int | None = None,
        height: int | None = None,
        timings: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(url=url, data=data, mime_type=mime_type, transport=transport)
        self.index = index
        self.model = model
        self.prompt = prompt
        self.seed = seed
        self.width = width
        self.height = height
        self.timings = dict(timings or {})

    def _describe(self) -> dict[str, Any]:
        return {"model": self.model, "index": self.index, "width": self.width,
                "height": self.height}  # fmt: skip


def images_from_response(
    response: ImageResponse,
    request: ImageGenerationRequest,
    transport: TogetherTransport | None = None,
) -> list[GeneratedImage]:
    """The images of a response, in index order."""
    mime = "image/png" if request.output_format == "png" else "image/jpeg"
    images: list[GeneratedImage] = []
    for item in sorted(response.data, key=lambda d: d.index):
        data = base64.b64decode(item.b64_json) if item.b64_json else None
        if data is None and not item.url:
            raise APIResponseValidationError(
                f"Image {item.index} of the response has neither b64_json nor url.",
                status_code=200,
                body=response.model_dump_json()[:2000],
            )
        images.append(
            GeneratedImage(
                url=item.url,
                data=data,
                mime_type=mime,
                transport=transport,
                index=item.index,
                model=response.model or request.model,
                prompt=request.prompt,
                seed=request.seed,
                width=request.width,
                height=request.height,
                timings=item.timings,
            )
        )
    if not images:
        raise APIResponseValidationError(
            "The image response holds no images.",
            status_code=200,
            body=response.model_dump_json()[:2000],
        )
    return images


_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "raw": "audio/pcm"}


def wav_duration(data: builtins.bytes) -> float | None:
    """Seconds of audio in a WAV file, from its header; ``None`` if it is not one."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    try:
        while position + 8 <= len(data):
            chunk, size = (
                data[position : position + 4],
                struct.unpack_from("<I", data, position + 4)[0],
            )
            body = position + 8
            if chunk == b"fmt ":
                byte_rate = int(struct.unpack_from("<I", data, body + 8)[0])
            elif chunk == b"data" and byte_rate:
                # A streamed WAV declares an unknown size (0xFFFFFFFF): count what is there.
                length = min(size, len(data) - body)
                return round(float(length) / byte_rate, 3)
            position = body + size + (size & 1)
    except struct.error:
        return None
    return None


class SpeechAudio(MediaResult):
    """Speech from ``POST /audio/speech``.

    Attributes:
        format: ``wav``, ``mp3`` or ``raw`` (16-bit PCM).
        model: The speech model.
        voice: The voice.
        text: The text spoken.
        duration: Seconds of audio, when the format tells (WAV).
    """

    kind = "speech"

    def __init__(
        self,
        *,
        data: builtins.bytes,
        format: str = "wav",
        model: str = "",
        voice: str = "",
        text: str = "",
        mime_type: str | None = None,
    ) -> None:
        super().__init__(data=data, mime_type=mime_type or _AUDIO_TYPES.get(format, "audio/wav"))
        self.format = format
        self.model = model
        self.voice = voice
        self.text = text
        self.duration = wav_duration(data) if format == "wav" else None

    def _describe(self) -> dict[str, Any]:
        return {"model": self.model, "voice": self.voice, "duration": self.duration}


class VideoResult(MediaResult):
    """A finished video job.

    Attributes:
        job: The job as the server last reported it.
        id: The job id.
        model: The video model.
        seconds: Its length, as the server reports it (text).
        size: ``WIDTHxHEIGHT``, as the server reports it.
        cost: What it cost (USD), when reported.
    """

    kind = "video"

    def __init__(self, job: VideoJob, transport: TogetherTransport | None = None) -> None:
        url = job.video_url
        if not url:
            raise APIResponseValidationError(
                f"Video {job.id} is {job.status_text} but has no outputs.video_url.",
                status_code=200,
                body=job.model_dump_json()[:2000],
            )
        fmt = str((job.inputs or {}).get("output_format") or "").upper()
        guessed = "video/webm" if fmt == "WEBM" or url.lower().endswith(".webm") else "video/mp4"
        super().__init__(url=url, mime_type=guessed, transport=transport)
        self.job = job
        self.id = job.id
        self.model = job.model or ""
        self.seconds = job.seconds
        self.size = job.size
        self.cost = job.outputs.cost if job.outputs else None

    def _describe(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "seconds": self.seconds, "size": self.size}


def video_outcome(job: VideoJob, transport: TogetherTransport | None = None) -> VideoResult | None:
    """The video of a finished job, ``None`` while it runs.

    Raises:
        JobFailedError: the job failed or was cancelled, with the server's reason.
    """
    if not job.is_terminal:
        return None
    if job.is_failed:
        reason = job.failure_message
        raise JobFailedError(
            f"The video {job.id} ended {job.status_text}"
            + (f": {reason}" if reason else " (the server gave no reason)."),
            job=job,
            job_id=job.id,
            status=job.status_text,
            reason=reason,
        )
    return VideoResult(job, transport)


# ---------------------------------------------------------------- transcripts


def transcription_body(
    *,
    model: str,
    task: str,
    language: str | None,
    prompt: str | None,
    temperature: float | None,
    timestamp_granularities: Sequence[str] | None,
    diarize: bool | None,
    min_speakers: int | None,
    max_speakers: int | None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[type[TranscriptionRequest] | type[TranslationRequest], dict[str, Any]]:
    """The form fields of a loader's verbose transcription (or translation) of one file, and
    the request model to validate them with; checked against the media catalog first."""
    from .schemas import TranscriptionRequest, TranslationRequest

    check_transcription(model, language=language, translate=task == "translate")
    body: dict[str, Any] = {
        **(extra or {}),
        "model": model,
        "language": language,
        "prompt": prompt,
        "temperature": temperature,
        "response_format": "verbose_json",
        "timestamp_granularities": timestamp_granularities,
    }
    if task == "translate":
        if diarize:
            raise MediaInputError(
                "diarize=True is for transcription; translations carry no speakers.",
                argument="diarize",
                value=True,
                allowed="diarize with task='transcribe'",
            )
        return TranslationRequest, body
    body.update(diarize=diarize, min_speakers=min_speakers, max_speakers=max_speakers)
    return TranscriptionRequest, body


def transcript_parts(
    result: Transcription, *, source: str, model: str, split: str = "file"
) -> list[tuple[str, dict[str, Any]]]:
    """``(text, metadata)`` pairs of a verbose transcription, for either framework's
    documents: one for the file (``segments``, ``words``, ``speaker_segments`` in its
    metadata) or, with ``split="segment"``, one per segment (``segment_id``, ``start``,
    ``end`` and the words spoken in it)."""
    segments = [s.model_dump(exclude_none=True) for s in result.segments or []]
    words = [w.model_dump(exclude_none=True) for w in result.words or []]
    common: dict[str, Any] = {
        "source": source,
        "model": model,
        "task": result.task or "transcribe",
        "language": result.language,
        "duration": result.duration,
    }
    base = {k: v for k, v in common.items() if v is not None}
    if split == "file" or not segments:
        metadata: dict[str, Any] = {**base, "segments": segments}
        if words:
            metadata["words"] = words
        if result.speaker_segments:
            metadata["speaker_segments"] = result.speaker_segments
        return [(result.text.strip(), metadata)]
    parts: list[tuple[str, dict[str, Any]]] = []
    for number, segment in enumerate(segments):
        start, end = float(segment.get("start", 0.0)), float(segment.get("end", 0.0))
        metadata = {**base, "segment_id": segment.get("id", number), "start": start, "end": end}
        inside = [w for w in words if start <= float(w.get("start", 0.0)) < end]
        if inside:
            metadata["words"] = inside
        parts.append((str(segment.get("text", "")).strip(), metadata))
    return parts


# -------------------------------------------------------------------- voices


_voice_cache: weakref.WeakKeyDictionary[TogetherTransport, dict[str, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)
_voice_lock = threading.Lock()


def _voices_by_model(listing: VoiceList) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for entry in listing.data:
        names: list[str] = []
        for voice in entry.voices:
            names.extend(v for v in (voice.name, voice.id) if v and v not in names)
        found[entry.model.lower()] = tuple(names)
    return found


def _cached(transport: TogetherTransport) -> dict[str, tuple[str, ...]] | None:
    with _voice_lock:
        return _voice_cache.get(transport)


def _store(transport: TogetherTransport, voices: dict[str, tuple[str, ...]]) -> None:
    with _voice_lock:
        _voice_cache[transport] = voices


def _pick(
    voices: Mapping[str, Sequence[str]], model: str, catalog: MediaCatalog
) -> tuple[str, ...]:
    live = voices.get(model.lower())
    if live:
        return tuple(live)
    spec = catalog.speech(model)
    return spec.voices if spec else ()


def known_voices(
    transport: TogetherTransport, model: str, *, catalog: MediaCatalog = MEDIA_CATALOG
) -> tuple[str, ...]:
    """The voices of ``model``: ``GET /voices`` once per transport (cached), else the
    catalog's bundled list when the server does not serve ``/voices`` (404). Empty when
    neither knows the model: the server then decides."""
    voices = _cached(transport)
    if voices is None:
        try:
            voices = _voices_by_model(transport.audio.voices())
        except NotFoundError:
            voices = {}
        _store(transport, voices)
    return _pick(voices, model, catalog)


async def aknown_voices(
    transport: TogetherTransport, model: str, *, catalog: MediaCatalog = MEDIA_CATALOG
) -> tuple[str, ...]:
    """Async :func:`known_voices`."""
    voices = _cached(transport)
    if voices is None:
        try:
            voices = _voices_by_model(await transport.audio.avoices())
        except NotFoundError:
            voices = {}
        _store(transport, voices)
    return _pick(voices, model, catalog)


def clear_voice_cache() -> None:
    """Forget every fetched voice list (the next check fetches ``GET /voices`` again)."""
    with _voice_lock:
        _voice_cache.clear()
