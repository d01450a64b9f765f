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

What the tools do (checks, requests, polling, saving, the text the model reads) is written
once, for both frameworks, in ``together_integrations._media_tools``; this module only turns
its outcomes into a tool's ``(content, artifact)`` and maps the errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
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
    MediaInputError,
)
from together_integrations._jobs import Clock, JobLike
from together_integrations._media import GeneratedImage, MediaResult, SpeechAudio, VideoResult
from together_integrations._media_catalog import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_SPEECH_MODEL,
    DEFAULT_VIDEO_MODEL,
)
from together_integrations._media_tools import (
    ImageCore,
    MediaOutcome,
    SpeechCore,
    VideoCore,
    Wording,
    arguments,
)
from together_integrations.langchain._common import TogetherClientSettings
from together_integrations.langchain._errors import invalid_arguments, to_langchain_error

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


# Where the LangChain texts differ from the LlamaIndex ones: the media are "attached" (the
# artifact), and the status tool has its own name.
_WORDING = Wording(
    inline="; attached for the user.",
    speech_inline=", attached for the user.",
    status_tool="together_video_status",
    pending="check again in a minute.",
)
_MAKERS = {"image": create_image_block, "speech": create_audio_block, "video": create_video_block}


def _block(media: MediaResult, path: Path | None) -> dict[str, Any]:
    """A v1 content block: base64 when the bytes are at hand, else the URL; the saved path
    in ``extras``."""
    make = _MAKERS[media.kind]
    if media.has_data:
        block: dict[str, Any] = dict(make(base64=media.base64(), mime_type=media.mime_type))
    else:
        assert media.url is not None
        block = dict(make(url=media.url, mime_type=media.mime_type))
    if path is not None:
        block["extras"] = {"path": str(path)}
    return block


def _answer(outcome: MediaOutcome) -> tuple[str, list[dict[str, Any]]]:
    """A tool's ``(content, artifact)``: the outcome's text, and its media as blocks."""
    return outcome.text, [_block(media, path) for media, path in outcome.media]


class _TogetherMediaTool(TogetherClientSettings, BaseTool):
    """What the media tools share: client settings, the answer form, and one call path onto
    the framework-neutral core (``_action``: which core method a tool call runs)."""

    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "prompt", "input", "stream"})

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    """``content_and_artifact`` (the default): text for the model, media in the artifact."""
    output_dir: Path | None = None
    """Save every result here under a content-hashed name (``image-<sha256>.jpg``); the path
    is in the tool's text and in each block's ``extras["path"]``. ``None`` (the default)
    writes nothing to disk, not even a temporary file."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields sent with every call (``aspect_ratio``, ``guidance_scale``...)."""

    _action: ClassVar[str] = "run"
    """The core method a tool call runs (``run``, ``start``, ``check``; ``a``-prefixed twin)."""

    def _core(self) -> Any:
        raise NotImplementedError

    def _shape(self, outcome: MediaOutcome) -> tuple[str, Any]:
        return _answer(outcome)

    def _run(
        self, *args: Any, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> tuple[str, Any]:
        with tool_errors():
            return self._shape(getattr(self._core(), self._action)(*args, **kwargs))

    async def _arun(
        self, *args: Any, run_manager: AsyncCallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> tuple[str, Any]:
        with tool_errors():
            return self._shape(await getattr(self._core(), "a" + self._action)(*args, **kwargs))

    def _core_settings(self) -> dict[str, Any]:
        """What every core of this tool is built with (see ``_media_tools``)."""
        return {
            "client": self,
            "extra": self.model_kwargs,
            "output_dir": self.output_dir,
            "owner": type(self).__name__,
            "on_invalid": invalid_arguments,
            "wording": _WORDING,
        }


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

    def _core(self) -> ImageCore:
        return ImageCore(
            model=self.model,
            response_format=self.image_response_format,
            output_format=self.output_format,
            **self._core_settings(),
        )

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
            return self._core().generate(**arguments(locals()))

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
            return await self._core().agenerate(**arguments(locals()))


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

    def _core(self) -> SpeechCore:
        return SpeechCore(
            model=self.model,
            voice=self.voice,
            audio_format=self.audio_format,
            language=self.language,
            sample_rate=self.sample_rate,
            **self._core_settings(),
        )

    def speak(self, text: str, *, voice: str | None = None) -> SpeechAudio:
        """Speak ``text`` and return the audio (nothing is saved)."""
        with tool_errors():
            return self._core().speak(text, voice)

    async def aspeak(self, text: str, *, voice: str | None = None) -> SpeechAudio:
        """Async :meth:`speak`."""
        with tool_errors():
            return await self._core().aspeak(text, voice)


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

    def _wait(self) -> dict[str, Any]:
        return {}

    def _core(self) -> VideoCore:
        return VideoCore(
            model=self.model,
            output_format=self.output_format,
            generate_audio=self.generate_audio,
            steps=self.steps,
            wait=self._wait(),
            **self._core_settings(),
        )


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

    def _wait(self) -> dict[str, Any]:
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
            return self._core().make(**arguments(locals()))

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
            return await self._core().amake(**arguments(locals()))


class TogetherVideoStartTool(_VideoSettings):
    """Start a video job and return at once with its id (see :class:`TogetherVideoToolkit`)."""

    name: str = "together_video_start"
    description: str = (
        "Start making a short video from a text description. Returns a video id at once; the "
        "video takes minutes: check it later with together_video_status."
    )
    args_schema: type[BaseModel] = VideoGenerationInput

    _action: ClassVar[str] = "start"

    def _shape(self, outcome: MediaOutcome) -> tuple[str, dict[str, Any]]:
        assert outcome.job is not None
        return outcome.text, {"video_id": outcome.job.id, "status": outcome.job.status_text}


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

    _action: ClassVar[str] = "check"


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
