"""LangChain tools for Together's media endpoints: images, speech and video.

Every tool answers in ``content_and_artifact`` form: the model reads a short text (what was
made, where it is), and the media travel in ``ToolMessage.artifact`` as LangChain v1 content
blocks (``{"type": "image" | "audio" | "video", "base64" | "url", "mime_type"}``). Base64
never enters the message content, so a tool call costs the model a sentence of context, not
megabytes. (Invoked with plain arguments instead of a tool call, a LangChain tool returns
only the content; call it with a ``ToolCall`` dict, or use :meth:`generate`-style methods,
to get the media.)

Arguments are checked against the media catalog (``_media_catalog``) before any request; a
refused argument raises :class:`LCMediaInputError`, which is our ``MediaInputError`` (a
``ValueError``) and LangChain's ``ToolException``, so ``handle_tool_error=True`` hands the
message, which says what is allowed, back to the model to try again. API errors are the
``langchain_core`` twins of ours (``_errors``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.messages.content import (
    create_audio_block,
    create_image_block,
    create_video_block,
)
from langchain_core.tools import BaseTool, BaseToolkit, ToolException
from pydantic import BaseModel, Field

from together_integrations._exceptions import (
    APIError,
    JobError,
    JobFailedError,
    JobTimeoutError,
)
from together_integrations._jobs import Clock, JobLike
from together_integrations._media import (
    GeneratedImage,
    MediaResult,
    SpeechAudio,
    VideoResult,
    aknown_voices,
    images_from_response,
    known_voices,
    video_outcome,
)
from together_integrations._media_catalog import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_SPEECH_MODEL,
    DEFAULT_VIDEO_MODEL,
    MediaInputError,
    check_image,
    check_prompt,
    check_speech,
    check_video,
    check_voice,
)
from together_integrations.langchain._common import TogetherClientSettings, validate_request
from together_integrations.langchain._errors import to_langchain_error
from together_integrations.schemas import (
    ImageGenerationRequest,
    SpeechRequest,
    VideoCreateRequest,
    VideoJob,
)

__all__ = [
    "LCJobFailedError",
    "LCJobTimeoutError",
    "LCMediaInputError",
    "TogetherImageGenerationTool",
    "TogetherTextToSpeechTool",
    "TogetherVideoGenerationTool",
    "TogetherVideoStartTool",
    "TogetherVideoStatusTool",
    "TogetherVideoToolkit",
    "to_tool_error",
    "tool_errors",
]

E = TypeVar("E", bound=Exception)


class LCMediaInputError(MediaInputError, ToolException):
    """A media argument refused before any request; also LangChain's ``ToolException``."""


class LCJobFailedError(JobFailedError, ToolException):
    """A media job ended failed or cancelled (``reason``: the server's); a ``ToolException``."""


class LCJobTimeoutError(JobTimeoutError, ToolException):
    """A media job outlived the wait (it goes on; check it again); a ``ToolException``."""


_TOOL_DUALS: dict[type[Exception], type[Exception]] = {
    MediaInputError: LCMediaInputError,
    JobFailedError: LCJobFailedError,
    JobTimeoutError: LCJobTimeoutError,
}


def _dual(error: E, cls: type[Exception]) -> E:
    twin = cls.__new__(cls)
    Exception.__init__(twin, *error.args)
    twin.__dict__.update(error.__dict__)
    twin.__traceback__ = error.__traceback__
    return twin  # type: ignore[return-value]


def to_tool_error(error: Exception) -> Exception:
    """``error`` as an instance of both its class and the LangChain class callers catch:
    ``ToolException`` for refused arguments and failed jobs, ``langchain_core`` model errors
    for API errors. Anything else is returned unchanged."""
    if isinstance(error, ToolException):
        return error
    if isinstance(error, APIError):
        return to_langchain_error(error)
    cls = _TOOL_DUALS.get(type(error))
    return _dual(error, cls) if cls is not None else error


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Re-raise errors from the block as :func:`to_tool_error` twins (one mapping for every
    tool, sync and async)."""
    try:
        yield
    except (APIError, MediaInputError, JobError) as exc:
        twin = to_tool_error(exc)
        if twin is exc:
            raise
        raise twin from exc


def _block(media: MediaResult, kind: str, path: Path | None) -> dict[str, Any]:
    extras = {"path": str(path)} if path is not None else None
    make = {"image": create_image_block, "audio": create_audio_block}.get(kind, create_video_block)
    if media.has_data:
        block: dict[str, Any] = dict(make(base64=media.base64(), mime_type=media.mime_type))
    else:
        assert media.url is not None
        block = dict(make(url=media.url, mime_type=media.mime_type))
    if extras:
        block["extras"] = extras
    return block


def _quote(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")


class _TogetherMediaTool(TogetherClientSettings, BaseTool):
    """What the media tools share: client settings, the answer form, saving."""

    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "prompt", "input", "stream"})

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    """``content_and_artifact`` (the default): text for the model, media in the artifact."""
    output_dir: Path | None = None
    """Save every result here under a content-hashed name (``image-<sha256>.jpg``); the path
    is in the tool's text and in each block's ``extras["path"]``. ``None`` (the default)
    writes nothing to disk, not even a temporary file."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields sent with every call (``aspect_ratio``, ``guidance_scale``...)."""

    def _save(self, media: MediaResult) -> Path | None:
        return media.save(self.output_dir) if self.output_dir is not None else None

    async def _asave(self, media: MediaResult) -> Path | None:
        return await media.asave(self.output_dir) if self.output_dir is not None else None

    def _check_output_dir(self) -> None:
        if self.output_dir is not None and not self.output_dir.is_dir():
            raise MediaInputError(
                f"output_dir={str(self.output_dir)!r} is not an existing directory; create it "
                "first or pass output_dir=None to keep results in memory.",
                argument="output_dir",
                value=str(self.output_dir),
                allowed="an existing directory, or None",
            )


# ------------------------------------------------------------------------- images


class ImageGenerationInput(BaseModel):
    """Arguments the model fills in to make an image."""

    prompt: str = Field(description="What the image should show, in detail.")
    negative_prompt: str | None = Field(default=None, description="What the image should not show.")
    n: int | None = Field(default=None, description="How many images to make (1-4).")
    width: int | None = Field(default=None, description="Width in pixels, a multiple of 8.")
    height: int | None = Field(default=None, description="Height in pixels, a multiple of 8.")
    steps: int | None = Field(default=None, description="Generation steps (more: slower).")
    seed: int | None = Field(default=None, description="Seed, to make the same image again.")


class TogetherImageGenerationTool(_TogetherMediaTool):
    """Generate images with a Together image model (FLUX and others) as a LangChain tool.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Key init args:
        model: image model (default ``black-forest-labs/FLUX.1-schnell``).
        image_response_format: ``base64`` (default) or ``url``.
        output_format: ``jpeg`` or ``png``.
        output_dir: save results there (content-hashed names); default: nothing on disk.
        api_key, base_url, timeout, max_retries, transport: as on every class here.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherImageGenerationTool

            tool = TogetherImageGenerationTool()  # black-forest-labs/FLUX.1-schnell
            tool = TogetherImageGenerationTool(output_dir="images", image_response_format="url")

    Invoke (as an agent does, with a tool call):
        .. code-block:: python

            message = tool.invoke(
                {"type": "tool_call", "id": "1", "name": tool.name,
                 "args": {"prompt": "a red fox in snow", "width": 512, "height": 512}}
            )
            message.content   # "Generated 1 image with black-forest-labs/FLUX.1-schnell ..."
            message.artifact  # [{"type": "image", "base64": "...", "mime_type": "image/jpeg"}]

    Direct use:
        .. code-block:: python

            images = tool.generate("a red fox in snow", width=512, height=512)
            images[0].save("out/")  # GeneratedImage: .bytes(), .url, .mime_type

    Async:
        .. code-block:: python

            message = await tool.ainvoke(tool_call)
            images = await tool.agenerate("a red fox in snow")

    Tool calling:
        .. code-block:: python

            from langchain.agents import create_agent
            agent = create_agent(ChatTogether(model=...), tools=[tool])

    ``width``, ``height``, ``n`` and ``steps`` are checked against the model's limits before
    any request. The image format field is ``image_response_format``, because ``response_format``
    is LangChain's own (how a tool answers).
    """

    name: str = "together_image_generation"
    description: str = (
        "Generate images from a text description. Returns where the images are; the images "
        "themselves are attached for the user."
    )
    args_schema: type[BaseModel] = ImageGenerationInput

    model: str = DEFAULT_IMAGE_MODEL
    """Image model id (also ``model_name``)."""
    image_response_format: Literal["base64", "url"] = "base64"
    """How the server returns images: ``base64`` (inline, no second fetch) or ``url`` (a
    link on Together's CDN, fetched without the key when saved)."""
    output_format: Literal["jpeg", "png"] | None = None
    """File format (the server's default: jpeg)."""

    def _request(
        self,
        prompt: str,
        negative_prompt: str | None,
        n: int | None,
        width: int | None,
        height: int | None,
        steps: int | None,
        seed: int | None,
    ) -> ImageGenerationRequest:
        check_prompt(prompt)
        spec = check_image(self.model, n=n, width=width, height=height, steps=steps)
        self._check_output_dir()
        if steps is None and spec is not None:
            steps = spec.default_steps
        body: dict[str, Any] = {
            **self.model_kwargs,
            "model": self.model,
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "n": n,
            "width": width,
            "height": height,
            "steps": steps,
            "seed": seed,
            "response_format": self.image_response_format,
            "output_format": self.output_format,
        }
        return validate_request(ImageGenerationRequest, body, type(self).__name__)

    def generate(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        n: int | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
    ) -> list[GeneratedImage]:
        """Make images and return them (nothing is saved)."""
        with tool_errors():
            request = self._request(prompt, negative_prompt, n, width, height, steps, seed)
            transport = self._get_transport()
            response = transport.images.generate(request, self._request_options())
            return images_from_response(response, request, transport)

    async def agenerate(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        n: int | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
    ) -> list[GeneratedImage]:
        """Async :meth:`generate`."""
        with tool_errors():
            request = self._request(prompt, negative_prompt, n, width, height, steps, seed)
            transport = self._get_transport()
            response = await transport.images.agenerate(request, self._request_options())
            return images_from_response(response, request, transport)

    def _answer(
        self, images: Sequence[GeneratedImage], paths: Sequence[Path | None]
    ) -> tuple[str, list[dict[str, Any]]]:
        first = images[0]
        size = f" ({first.width}x{first.height})" if first.width and first.height else ""
        count = f"{len(images)} image{'s' if len(images) > 1 else ''}"
        text = f"Generated {count} with {self.model} for {_quote(first.prompt)}{size}"
        saved = [str(p) for p in paths if p is not None]
        if saved:
            text += ": saved to " + ", ".join(saved) + "."
        elif all(image.url for image in images):
            text += ": " + ", ".join(str(image.url) for image in images) + "."
        else:
            text += "; attached for the user."
        pairs = zip(images, paths, strict=True)
        return text, [_block(image, "image", path) for image, path in pairs]

    def _run(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        n: int | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        images = self.generate(
            prompt,
            negative_prompt=negative_prompt,
            n=n,
            width=width,
            height=height,
            steps=steps,
            seed=seed,
        )
        with tool_errors():
            paths = [self._save(image) for image in images]
        return self._answer(images, paths)

    async def _arun(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        n: int | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        images = await self.agenerate(
            prompt,
            negative_prompt=negative_prompt,
            n=n,
            width=width,
            height=height,
            steps=steps,
            seed=seed,
        )
        with tool_errors():
            paths = [await self._asave(image) for image in images]
        return self._answer(images, paths)


# ------------------------------------------------------------------------- speech


class TextToSpeechInput(BaseModel):
    """Arguments the model fills in to speak a text."""

    text: str = Field(description="The text to speak.")
    voice: str | None = Field(
        default=None, description="A voice name; leave empty for the default voice."
    )


class TogetherTextToSpeechTool(_TogetherMediaTool):
    """Speak a text with a Together text-to-speech model (Orpheus, Kokoro, Cartesia).

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Key init args:
        model: speech model (default ``canopylabs/orpheus-3b-0.1-ft``).
        voice: the default voice (``tara``).
        audio_format: ``wav`` (default), ``mp3`` or ``raw``.
        language, sample_rate: passed to the model.
        output_dir: save results there (content-hashed names); default: nothing on disk.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherTextToSpeechTool

            tool = TogetherTextToSpeechTool(voice="tara")  # canopylabs/orpheus-3b-0.1-ft, wav
            tool = TogetherTextToSpeechTool(audio_format="mp3", output_dir="speech")

    Invoke (with a tool call):
        .. code-block:: python

            message = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
                                   "args": {"text": "Hello!"}})
            message.artifact  # [{"type": "audio", "base64": "...", "mime_type": "audio/wav"}]

    Direct use:
        .. code-block:: python

            audio = tool.speak("Hello!")  # SpeechAudio: .bytes(), .save(), .duration

    Async:
        .. code-block:: python

            message = await tool.ainvoke(tool_call)
            audio = await tool.aspeak("Hello!")

    The voice is checked against ``GET /voices`` (fetched once per connection; the bundled
    list when the server does not serve it) before the speech request. ``audio_format`` is
    ``wav``, ``mp3`` or ``raw`` (16-bit PCM, streamed and joined); it is not called
    ``response_format``, which is LangChain's own. Nothing is written to disk unless
    ``output_dir`` is set.
    """

    name: str = "together_text_to_speech"
    description: str = (
        "Turn a text into spoken audio for the user. Returns a short description; the audio is "
        "attached for the user."
    )
    args_schema: type[BaseModel] = TextToSpeechInput

    model: str = DEFAULT_SPEECH_MODEL
    """Speech model id (also ``model_name``)."""
    voice: str = "tara"
    """The voice used when the model names none."""
    audio_format: Literal["wav", "mp3", "raw"] = "wav"
    """Audio format: ``wav``, ``mp3`` or ``raw`` PCM."""
    language: str | None = None
    """Language of the text (``en``, ``fr``...; the server's default: ``en``)."""
    sample_rate: int | None = None
    """Output sample rate, for models that honour it (Cartesia)."""

    def _request(self, text: str, voice: str | None, voices: Sequence[str]) -> SpeechRequest:
        chosen = voice or self.voice
        check_voice(self.model, chosen, voices or None)
        body: dict[str, Any] = {
            **self.model_kwargs,
            "model": self.model,
            "input": text,
            "voice": chosen,
            "response_format": self.audio_format,
            "language": self.language,
            "sample_rate": self.sample_rate,
        }
        return validate_request(SpeechRequest, body, type(self).__name__)

    def _precheck(self, text: str) -> None:
        check_speech(
            self.model,
            text=text,
            response_format=self.audio_format,
            language=self.language,
            stream=self.audio_format == "raw",
        )
        self._check_output_dir()

    def _audio(self, request: SpeechRequest, data: bytes, mime: str | None) -> SpeechAudio:
        if self.audio_format != "raw" and mime and not mime.startswith("audio/"):
            mime = None  # octet-stream says nothing: the format does
        return SpeechAudio(
            data=data,
            format=self.audio_format,
            model=self.model,
            voice=request.voice,
            text=request.input,
            mime_type=mime if self.audio_format != "raw" else "audio/pcm",
        )

    def speak(self, text: str, *, voice: str | None = None) -> SpeechAudio:
        """Speak ``text`` and return the audio (nothing is saved)."""
        with tool_errors():
            self._precheck(text)
            transport = self._get_transport()
            request = self._request(text, voice, known_voices(transport, self.model))
            options = self._request_options()
            if self.audio_format == "raw":
                with transport.audio.speech_stream(request, options) as stream:
                    return self._audio(request, b"".join(c.audio for c in stream), None)
            response = transport.audio.speech(request, options)
            return self._audio(request, response.content, response.content_type)

    async def aspeak(self, text: str, *, voice: str | None = None) -> SpeechAudio:
        """Async :meth:`speak`."""
        with tool_errors():
            self._precheck(text)
            transport = self._get_transport()
            request = self._request(text, voice, await aknown_voices(transport, self.model))
            options = self._request_options()
            if self.audio_format == "raw":
                async with await transport.audio.aspeech_stream(request, options) as stream:
                    return self._audio(request, b"".join([c.audio async for c in stream]), None)
            response = await transport.audio.aspeech(request, options)
            return self._audio(request, response.content, response.content_type)

    def _answer(self, audio: SpeechAudio, path: Path | None) -> tuple[str, list[dict[str, Any]]]:
        length = f"{audio.duration:.1f} s of " if audio.duration else ""
        text = (
            f"Spoke {len(audio.text)} characters as {audio.voice!r} with {self.model}: "
            f"{length}{self.audio_format.upper()} audio"
        )
        text += f" saved to {path}." if path is not None else ", attached for the user."
        return text, [_block(audio, "audio", path)]

    def _run(
        self,
        text: str,
        voice: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        audio = self.speak(text, voice=voice)
        with tool_errors():
            return self._answer(audio, self._save(audio))

    async def _arun(
        self,
        text: str,
        voice: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        audio = await self.aspeak(text, voice=voice)
        with tool_errors():
            return self._answer(audio, await self._asave(audio))


# ------------------------------------------------------------------------- video


class VideoGenerationInput(BaseModel):
    """Arguments the model fills in to make a video."""

    prompt: str = Field(description="What the video should show, in detail.")
    negative_prompt: str | None = Field(default=None, description="What it should not show.")
    seconds: int | None = Field(default=None, description="Length in seconds.")
    width: int | None = Field(default=None, description="Width in pixels (with height).")
    height: int | None = Field(default=None, description="Height in pixels (with width).")
    seed: int | None = Field(default=None, description="Seed, to make the same video again.")


class _VideoSettings(_TogetherMediaTool):
    """The video tools' shared settings and request building."""

    model: str = DEFAULT_VIDEO_MODEL
    """Video model id (also ``model_name``)."""
    output_format: Literal["MP4", "WEBM"] | None = None
    """Container (the server's default: MP4)."""
    generate_audio: bool | None = None
    """Ask for a soundtrack, on models that make one (Veo 3, Sora 2)."""
    steps: int | None = None
    """Denoising steps (10-50) for every video; the server's default when ``None``."""

    def _create_request(
        self,
        prompt: str,
        negative_prompt: str | None,
        seconds: int | None,
        width: int | None,
        height: int | None,
        seed: int | None,
    ) -> VideoCreateRequest:
        check_video(
            self.model,
            prompt=prompt,
            width=width,
            height=height,
            seconds=seconds,
            steps=self.steps,
            has_frames="media" in self.model_kwargs,
        )
        self._check_output_dir()
        body: dict[str, Any] = {
            **self.model_kwargs,
            "model": self.model,
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "seconds": seconds,
            "width": width,
            "height": height,
            "seed": seed,
            "steps": self.steps,
            "output_format": self.output_format,
            "generate_audio": self.generate_audio,
        }
        return validate_request(VideoCreateRequest, body, type(self).__name__)

    def _ready(self, video: VideoResult, path: Path | None) -> tuple[str, list[dict[str, Any]]]:
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
        return text, [_block(video, "video", path)]


class TogetherVideoGenerationTool(_VideoSettings):
    """Make a video with a Together video model (Veo, Sora, Kling...) and wait for it.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Key init args:
        model: video model (default ``google/veo-3.0``).
        wait_timeout: seconds to wait for the video (default 900); the job goes on after.
        poll_interval, max_interval: how often to look (growing from the first to the second).
        on_progress: called with the job at every look.
        output_format, generate_audio, steps: passed to the model.
        output_dir: download the video there (content-hashed name); default: only the URL.

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherVideoGenerationTool

            tool = TogetherVideoGenerationTool(model="google/veo-3.0", wait_timeout=600)

    Invoke (with a tool call):
        .. code-block:: python

            message = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
                                   "args": {"prompt": "a fox in snow", "seconds": 8}})
            message.content   # "Video video_... is ready: https://... (8 s, 1280x720, $0.28)."
            message.artifact  # [{"type": "video", "url": "https://...", "mime_type": "video/mp4"}]

    Direct use:
        .. code-block:: python

            video = tool.make("a fox in snow")  # VideoResult: .url, .save(), .job

    Async:
        .. code-block:: python

            message = await tool.ainvoke(tool_call)
            video = await tool.amake("a fox in snow")

    Creating a video is paid: the request is never re-sent once it may have reached the
    server. The job is polled on the core poller; a failed job raises
    :class:`LCJobFailedError` with the server's ``reason``, and a wait that runs out raises
    :class:`LCJobTimeoutError` carrying the job id (the video goes on being made). For agents
    that should not block, use :class:`TogetherVideoToolkit`.
    """

    name: str = "together_video_generation"
    description: str = (
        "Make a short video from a text description and wait until it is ready (this takes "
        "minutes). Returns where the video is."
    )
    args_schema: type[BaseModel] = VideoGenerationInput

    wait_timeout: float | None = Field(default=900.0, gt=0)
    """Seconds to wait for the video; ``None`` waits as long as the job runs."""
    poll_interval: float | None = Field(default=None, gt=0)
    """Seconds before the second look (default 2, growing by half each look)."""
    max_interval: float | None = Field(default=None, gt=0)
    """The longest pause between looks (default 60)."""
    on_progress: Callable[[JobLike], None] | None = Field(default=None, exclude=True)
    """Called with the job at every look (status, id)."""
    clock: Clock | None = Field(default=None, exclude=True, repr=False)
    """Where the poller reads time and sleeps (tests pass a virtual clock)."""

    def _wait_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": self.wait_timeout,
            "poll_interval": self.poll_interval,
            "max_interval": self.max_interval,
            "on_progress": self.on_progress,
            "clock": self.clock,
        }

    def make(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
    ) -> VideoResult:
        """Create the video job, wait for it and return the video (nothing is saved)."""
        with tool_errors():
            request = self._create_request(prompt, negative_prompt, seconds, width, height, seed)
            transport = self._get_transport()
            job = transport.videos.create(request, options=self._request_options())
            done = transport.videos.wait_until_done(job.id, **self._wait_kwargs())
            return VideoResult(done, transport)

    async def amake(
        self,
        prompt: str,
        *,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
    ) -> VideoResult:
        """Async :meth:`make`."""
        with tool_errors():
            request = self._create_request(prompt, negative_prompt, seconds, width, height, seed)
            transport = self._get_transport()
            job = await transport.videos.acreate(request, options=self._request_options())
            done = await transport.videos.await_until_done(job.id, **self._wait_kwargs())
            return VideoResult(done, transport)

    def _run(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        video = self.make(
            prompt,
            negative_prompt=negative_prompt,
            seconds=seconds,
            width=width,
            height=height,
            seed=seed,
        )
        with tool_errors():
            return self._ready(video, self._save(video))

    async def _arun(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        video = await self.amake(
            prompt,
            negative_prompt=negative_prompt,
            seconds=seconds,
            width=width,
            height=height,
            seed=seed,
        )
        with tool_errors():
            return self._ready(video, await self._asave(video))


class TogetherVideoStartTool(_VideoSettings):
    """Start a video job and return at once with its id (see :class:`TogetherVideoToolkit`)."""

    name: str = "together_video_start"
    description: str = (
        "Start making a short video from a text description. Returns a video id at once; the "
        "video takes minutes: check it later with together_video_status."
    )
    args_schema: type[BaseModel] = VideoGenerationInput

    def _started(self, job: VideoJob) -> tuple[str, dict[str, Any]]:
        text = (
            f"Started video {job.id} with {job.model or self.model} (status: {job.status_text}). "
            "It takes minutes; check it with together_video_status."
        )
        return text, {"video_id": job.id, "status": job.status_text}

    def _run(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, dict[str, Any]]:
        with tool_errors():
            request = self._create_request(prompt, negative_prompt, seconds, width, height, seed)
            job = self._get_transport().videos.create(request, options=self._request_options())
            return self._started(job)

    async def _arun(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        width: int | None = None,
        height: int | None = None,
        seed: int | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, dict[str, Any]]:
        with tool_errors():
            request = self._create_request(prompt, negative_prompt, seconds, width, height, seed)
            transport = self._get_transport()
            job = await transport.videos.acreate(request, options=self._request_options())
            return self._started(job)


class VideoStatusInput(BaseModel):
    """The video to look at."""

    video_id: str = Field(description="The id together_video_start returned.")


class TogetherVideoStatusTool(_VideoSettings):
    """Look at a video job once: still running, ready (with the video), or failed (raises)."""

    name: str = "together_video_status"
    description: str = (
        "Check a video started with together_video_start. Says whether it is still being made "
        "or where the finished video is."
    )
    args_schema: type[BaseModel] = VideoStatusInput

    def _status(self, job: VideoJob) -> tuple[str, list[dict[str, Any]]] | VideoResult:
        video = video_outcome(job, self._get_transport())
        if video is not None:
            return video
        text = f"Video {job.id} is still {job.status_text}; check again in a minute."
        return text, []

    def _run(
        self, video_id: str, run_manager: CallbackManagerForToolRun | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        with tool_errors():
            job = self._get_transport().videos.retrieve(video_id, options=self._request_options())
            found = self._status(job)
            if isinstance(found, VideoResult):
                return self._ready(found, self._save(found))
            return found

    async def _arun(
        self, video_id: str, run_manager: AsyncCallbackManagerForToolRun | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        with tool_errors():
            transport = self._get_transport()
            job = await transport.videos.aretrieve(video_id, options=self._request_options())
            found = self._status(job)
            if isinstance(found, VideoResult):
                return self._ready(found, await self._asave(found))
            return found


class TogetherVideoToolkit(TogetherClientSettings, BaseToolkit):
    """Video for agents that should not block: a start tool and a status tool.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Key init args:
        model, output_format, generate_audio, steps, output_dir, model_kwargs: given to both
        tools, with the client settings (api_key, base_url, transport...).

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherVideoToolkit

            tools = TogetherVideoToolkit(model="openai/sora-2").get_tools()
            # [together_video_start, together_video_status]

    Tool calling:
        The model starts a job (``together_video_start`` returns its id at once), goes on with
        the conversation, and checks it later (``together_video_status``): "still
        in_progress", the finished video (a video block in the artifact), or a failed job,
        raised as :class:`LCJobFailedError` with the server's reason.

    Async:
        Both tools have native async twins (``ainvoke``).
    """

    model: str = DEFAULT_VIDEO_MODEL
    """Video model id."""
    output_format: Literal["MP4", "WEBM"] | None = None
    """Container (the server's default: MP4)."""
    generate_audio: bool | None = None
    """Ask for a soundtrack, on models that make one."""
    steps: int | None = None
    """Denoising steps (10-50)."""
    output_dir: Path | None = None
    """Download finished videos there (content-hashed names)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields for every video."""

    def get_tools(self) -> list[BaseTool]:
        """The start and status tools, sharing this toolkit's settings and connection."""
        shared = {
            name: getattr(self, name)
            for name in (
                "api_key",
                "base_url",
                "timeout",
                "connect_timeout",
                "max_retries",
                "default_headers",
                "default_query",
                "http_client",
                "http_async_client",
                "model",
                "output_format",
                "generate_audio",
                "steps",
                "output_dir",
                "model_kwargs",
            )
        }
        shared["transport"] = self._get_transport()
        return [TogetherVideoStartTool(**shared), TogetherVideoStatusTool(**shared)]
