"""The media tools' framework-neutral core: what the LangChain tools and the LlamaIndex tool
specs do for images, speech and video, written once.

A tool call is three steps, and only the middle one does I/O:

1. **plan** (no I/O): the arguments are checked against the media catalog and the output
   directory, merged over the adapter's extra request fields, and validated into the wire
   request. A refused argument raises :class:`MediaInputError` before any request (and before
   the transport is even resolved, so a bad argument is reported as such without a key).
2. **send** (I/O): the transport calls (the voice list, the speech stream, the video poller,
   saving). The sync and async twins differ only where one awaits.
3. **describe** (no I/O): a :class:`MediaOutcome`: the short text the model reads, the media
   with their saved paths, and the job for video starts and checks.

The adapters turn outcomes into their own types (LangChain content blocks in a tool
artifact; LlamaIndex blocks), map errors (LangChain twins), and choose their own words where
they differ (:class:`Wording`).

Merging: a tool argument that is given (not ``None``) wins over the same field in the extra
request fields (``model_kwargs`` / ``extra_body``); one that is not given leaves the extra
field in place, so nothing set there is silently dropped. The catalog checks look at the
merged values, i.e. at what is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from ._media import (
    GeneratedImage,
    MediaResult,
    SpeechAudio,
    VideoResult,
    aknown_voices,
    images_from_response,
    known_voices,
    video_outcome,
)
from ._media_catalog import (
    MediaInputError,
    check_image,
    check_prompt,
    check_speech,
    check_video,
    check_voice,
)
from .schemas import ImageGenerationRequest, SpeechRequest, VideoCreateRequest, VideoJob

if TYPE_CHECKING:
    from ._transport import RequestOptions, TogetherTransport

__all__ = [
    "ImageCore",
    "MediaClient",
    "MediaOutcome",
    "SpeechCore",
    "VideoCore",
    "Wording",
    "arguments",
    "check_output_dir",
    "quote",
]

R = TypeVar("R", bound=BaseModel)
InvalidHook = Callable[[ValidationError, str], Exception]
"""Turns a request model's ``ValidationError`` into the adapter's error (``owner`` named)."""


class MediaClient(Protocol):
    """What a core sends with: the adapter's resolved connection settings."""

    def _get_transport(self) -> TogetherTransport: ...

    def _request_options(self) -> RequestOptions | None: ...


@dataclass(frozen=True)
class Wording:
    """Where the adapters' texts differ (what a LangChain artifact vs a LlamaIndex block is).

    Attributes:
        inline: How an image text ends when the images are only inline.
        speech_inline: How a speech text ends when the audio is not saved.
        status_tool: The name of the tool that checks a started video.
        pending: What a text about a video still being made advises.
    """

    inline: str = "."
    speech_inline: str = "."
    status_tool: str = "check_video"
    pending: str = "check again later."


@dataclass(frozen=True)
class MediaOutcome:
    """A media tool's neutral result.

    Attributes:
        text: What the model reads: what was made and where (never the media themselves).
        media: The media made, each with the path it was saved to (``None``: not saved).
        job: The video job, for a video started or still being made (``media`` is empty).
    """

    text: str
    media: tuple[tuple[MediaResult, Path | None], ...] = ()
    job: VideoJob | None = None


def quote(text: str, limit: int = 80) -> str:
    """``text`` on one line, shortened to ``limit`` characters, quoted."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")


def arguments(values: Mapping[str, Any]) -> dict[str, Any]:
    """A method's own arguments, from its ``locals()`` taken first thing, without ``self``:
    the adapters' public signatures list the arguments once, and this hands them on."""
    return {name: value for name, value in values.items() if name != "self"}


def check_output_dir(output_dir: Path | None) -> None:
    """Refuse an output directory that does not exist (before any request)."""
    if output_dir is not None and not output_dir.is_dir():
        raise MediaInputError(
            f"output_dir={str(output_dir)!r} is not an existing directory; create it first or "
            "pass output_dir=None to keep results in memory.",
            argument="output_dir",
            value=str(output_dir),
            allowed="an existing directory, or None",
        )


def _merge(
    extra: Mapping[str, Any], fixed: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, Any]:
    """``extra`` under the given (non-``None``) arguments, under the fields always sent."""
    body: dict[str, Any] = dict(extra)
    body.update((k, v) for k, v in given.items() if v is not None)
    body.update(fixed)
    return body


@dataclass(frozen=True)
class _Core:
    """What every media core holds: the connection, the extra fields, saving and errors."""

    client: MediaClient
    model: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    output_dir: Path | None = None
    owner: str = "media tool"
    on_invalid: InvalidHook | None = None
    wording: Wording = field(default_factory=Wording)

    def _validate(self, model: type[R], body: dict[str, Any]) -> R:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            if self.on_invalid is None:
                raise
            raise self.on_invalid(exc, self.owner) from exc

    def _connect(self) -> tuple[TogetherTransport, RequestOptions | None]:
        return self.client._get_transport(), self.client._request_options()

    def _save(self, media: MediaResult) -> Path | None:
        return media.save(self.output_dir) if self.output_dir is not None else None

    async def _asave(self, media: MediaResult) -> Path | None:
        return await media.asave(self.output_dir) if self.output_dir is not None else None


# ------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageCore(_Core):
    """Image generation: ``POST /images/generations``, results as :class:`GeneratedImage`.

    Attributes:
        response_format: ``base64`` (inline) or ``url`` (a CDN link, fetched without the key).
        output_format: ``jpeg`` or ``png`` (``None``: the server's default).
    """

    response_format: str = "base64"
    output_format: str | None = None

    def request(self, prompt: str, **given: Any) -> ImageGenerationRequest:
        """The checked request (``given``: negative_prompt, n, width, height, steps, seed)."""
        check_prompt(prompt)
        given = {**given, "output_format": self.output_format}
        fixed = {"model": self.model, "prompt": prompt, "response_format": self.response_format}
        body = _merge(self.extra, fixed, given)
        spec = check_image(
            self.model,
            n=body.get("n"),
            width=body.get("width"),
            height=body.get("height"),
            steps=body.get("steps"),
        )
        check_output_dir(self.output_dir)
        if "steps" not in body and spec is not None and spec.default_steps is not None:
            body["steps"] = spec.default_steps
        return self._validate(ImageGenerationRequest, body)

    def generate(self, prompt: str, **given: Any) -> list[GeneratedImage]:
        """Make images and return them (nothing is saved)."""
        request = self.request(prompt, **given)
        transport, options = self._connect()
        response = transport.images.generate(request, options)
        return images_from_response(response, request, transport)

    async def agenerate(self, prompt: str, **given: Any) -> list[GeneratedImage]:
        """Async :meth:`generate`."""
        request = self.request(prompt, **given)
        transport, options = self._connect()
        response = await transport.images.agenerate(request, options)
        return images_from_response(response, request, transport)

    def run(self, prompt: str, **given: Any) -> MediaOutcome:
        """Make images, save them when an output directory is set, and describe them."""
        images = self.generate(prompt, **given)
        return self.describe(images, [self._save(image) for image in images])

    async def arun(self, prompt: str, **given: Any) -> MediaOutcome:
        """Async :meth:`run`."""
        images = await self.agenerate(prompt, **given)
        return self.describe(images, [await self._asave(image) for image in images])

    def describe(
        self, images: Sequence[GeneratedImage], paths: Sequence[Path | None]
    ) -> MediaOutcome:
        """The outcome of a generation: a sentence, and the images with their paths."""
        first = images[0]
        size = f" ({first.width}x{first.height})" if first.width and first.height else ""
        count = f"{len(images)} image{'s' if len(images) > 1 else ''}"
        text = f"Generated {count} with {self.model} for {quote(first.prompt)}{size}"
        saved = [str(p) for p in paths if p is not None]
        if saved:
            text += ": saved to " + ", ".join(saved) + "."
        elif all(image.url for image in images):
            text += ": " + ", ".join(str(image.url) for image in images) + "."
        else:
            text += self.wording.inline
        return MediaOutcome(text, tuple(zip(images, paths, strict=True)))


# ------------------------------------------------------------------------- speech


@dataclass(frozen=True)
class SpeechCore(_Core):
    """Text to speech: ``POST /audio/speech`` (``raw``: streamed and joined).

    Attributes:
        voice: The voice used when a call names none.
        audio_format: ``wav``, ``mp3`` or ``raw`` (16-bit PCM).
        language: Language of the text.
        sample_rate: Output sample rate, for models that honour it.
    """

    voice: str = "tara"
    audio_format: str = "wav"
    language: str | None = None
    sample_rate: int | None = None

    def check(self, text: str) -> None:
        """Refuse what cannot succeed, before any request (the voice is :meth:`request`'s)."""
        check_speech(
            self.model,
            text=text,
            response_format=self.audio_format,
            language=self.language,
            stream=self.audio_format == "raw",
        )
        check_output_dir(self.output_dir)

    def request(self, text: str, voice: str | None, voices: Sequence[str]) -> SpeechRequest:
        """The request, its voice checked against ``voices`` (the live list, or the catalog's)."""
        chosen = voice or self.voice
        check_voice(self.model, chosen, voices or None)
        fixed = {
            "model": self.model,
            "input": text,
            "voice": chosen,
            "response_format": self.audio_format,
        }
        body = _merge(
            self.extra, fixed, {"language": self.language, "sample_rate": self.sample_rate}
        )
        return self._validate(SpeechRequest, body)

    def _audio(self, request: SpeechRequest, data: bytes, mime: str | None) -> SpeechAudio:
        if self.audio_format == "raw":
            mime = "audio/pcm"
        elif mime and not mime.startswith("audio/"):
            mime = None  # octet-stream says nothing: the format does
        return SpeechAudio(
            data=data,
            format=self.audio_format,
            model=self.model,
            voice=request.voice,
            text=request.input,
            mime_type=mime,
        )

    def speak(self, text: str, voice: str | None = None) -> SpeechAudio:
        """Speak ``text`` and return the audio (nothing is saved)."""
        self.check(text)
        transport, options = self._connect()
        request = self.request(text, voice, known_voices(transport, self.model))
        if self.audio_format == "raw":
            with transport.audio.speech_stream(request, options) as stream:
                return self._audio(request, b"".join(c.audio for c in stream), None)
        response = transport.audio.speech(request, options)
        return self._audio(request, response.content, response.content_type)

    async def aspeak(self, text: str, voice: str | None = None) -> SpeechAudio:
        """Async :meth:`speak`."""
        self.check(text)
        transport, options = self._connect()
        request = self.request(text, voice, await aknown_voices(transport, self.model))
        if self.audio_format == "raw":
            async with await transport.audio.aspeech_stream(request, options) as stream:
                return self._audio(request, b"".join([c.audio async for c in stream]), None)
        response = await transport.audio.aspeech(request, options)
        return self._audio(request, response.content, response.content_type)

    def run(self, text: str, voice: str | None = None) -> MediaOutcome:
        """Speak, save when an output directory is set, and describe."""
        audio = self.speak(text, voice)
        return self.describe(audio, self._save(audio))

    async def arun(self, text: str, voice: str | None = None) -> MediaOutcome:
        """Async :meth:`run`."""
        audio = await self.aspeak(text, voice)
        return self.describe(audio, await self._asave(audio))

    def describe(self, audio: SpeechAudio, path: Path | None) -> MediaOutcome:
        """The outcome of a speech: a sentence, and the audio with its path."""
        length = f"{audio.duration:.1f} s of " if audio.duration else ""
        text = (
            f"Spoke {len(audio.text)} characters as {audio.voice!r} with {self.model}: "
            f"{length}{self.audio_format.upper()} audio"
        )
        text += f" saved to {path}." if path is not None else self.wording.speech_inline
        return MediaOutcome(text, ((audio, path),))


# ------------------------------------------------------------------------- video


@dataclass(frozen=True)
class VideoCore(_Core):
    """Video generation: ``POST /v2/videos`` (paid: sent once), polled on the core poller.

    Attributes:
        output_format: ``MP4`` or ``WEBM``.
        generate_audio: Ask for a soundtrack, on models that make one.
        steps: Denoising steps for every video.
        wait: The poller's settings (``timeout``, ``poll_interval``, ``max_interval``,
            ``on_progress``, ``clock``) for :meth:`make`.
    """

    output_format: str | None = None
    generate_audio: bool | None = None
    steps: int | None = None
    wait: Mapping[str, Any] = field(default_factory=dict)

    def request(self, prompt: str, **given: Any) -> VideoCreateRequest:
        """The checked request (``given``: negative_prompt, seconds, width, height, seed)."""
        settings = {
            "steps": self.steps,
            "output_format": self.output_format,
            "generate_audio": self.generate_audio,
        }
        body = _merge(self.extra, {"model": self.model, "prompt": prompt}, {**given, **settings})
        check_video(
            self.model,
            prompt=prompt,
            width=body.get("width"),
            height=body.get("height"),
            seconds=body.get("seconds"),
            steps=body.get("steps"),
            has_frames="media" in body,
        )
        check_output_dir(self.output_dir)
        return self._validate(VideoCreateRequest, body)

    def make(self, prompt: str, **given: Any) -> VideoResult:
        """Create the video job, wait for it and return the video (nothing is saved)."""
        request = self.request(prompt, **given)
        transport, options = self._connect()
        job = transport.videos.create(request, options=options)
        return VideoResult(transport.videos.wait_until_done(job.id, **self.wait), transport)

    async def amake(self, prompt: str, **given: Any) -> VideoResult:
        """Async :meth:`make`."""
        request = self.request(prompt, **given)
        transport, options = self._connect()
        job = await transport.videos.acreate(request, options=options)
        return VideoResult(await transport.videos.await_until_done(job.id, **self.wait), transport)

    def run(self, prompt: str, **given: Any) -> MediaOutcome:
        """Make the video, save it when an output directory is set, and describe it."""
        video = self.make(prompt, **given)
        return self.ready(video, self._save(video))

    async def arun(self, prompt: str, **given: Any) -> MediaOutcome:
        """Async :meth:`run`."""
        video = await self.amake(prompt, **given)
        return self.ready(video, await self._asave(video))

    def start(self, prompt: str, **given: Any) -> MediaOutcome:
        """Create the video job and return at once with its id."""
        request = self.request(prompt, **given)
        transport, options = self._connect()
        return self.started(transport.videos.create(request, options=options))

    async def astart(self, prompt: str, **given: Any) -> MediaOutcome:
        """Async :meth:`start`."""
        request = self.request(prompt, **given)
        transport, options = self._connect()
        return self.started(await transport.videos.acreate(request, options=options))

    def check(self, video_id: str) -> MediaOutcome:
        """Look at a job once: still being made, or the video (saved when asked).

        Raises:
            JobFailedError: the job failed or was cancelled, with the server's reason.
        """
        transport, options = self._connect()
        job = transport.videos.retrieve(video_id, options=options)
        video = video_outcome(job, transport)
        if video is None:
            return self.pending(job)
        return self.ready(video, self._save(video))

    async def acheck(self, video_id: str) -> MediaOutcome:
        """Async :meth:`check`."""
        transport, options = self._connect()
        job = await transport.videos.aretrieve(video_id, options=options)
        video = video_outcome(job, transport)
        if video is None:
            return self.pending(job)
        return self.ready(video, await self._asave(video))

    def ready(self, video: VideoResult, path: Path | None) -> MediaOutcome:
        """The outcome of a finished video: where it is, its length, size and cost."""
        details = ", ".join(
            part
            for part in (
                f"{video.seconds} s" if video.seconds else "",
                video.size or "",
                f"${video.cost:.2f}" if video.cost is not None else "",
            )
            if part
        )
        where = f"saved to {path}" if path is not None else str(video.url)
        text = f"Video {video.id} from {video.model or self.model} is ready: {where}"
        text += f" ({details})." if details else "."
        return MediaOutcome(text, ((video, path),))

    def started(self, job: VideoJob) -> MediaOutcome:
        """The outcome of a start: the job id, and how to check it."""
        text = (
            f"Started video {job.id} with {job.model or self.model} (status: {job.status_text}). "
            f"It takes minutes; check it with {self.wording.status_tool}."
        )
        return MediaOutcome(text, job=job)

    def pending(self, job: VideoJob) -> MediaOutcome:
        """The outcome of a check while the video is still being made."""
        return MediaOutcome(
            f"Video {job.id} is still {job.status_text}; {self.wording.pending}", job=job
        )
