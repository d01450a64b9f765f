"""LlamaIndex tool specs for Together's media endpoints: images, speech and video.

Each spec function returns content blocks: a ``TextBlock`` saying what was made and where,
then an ``ImageBlock`` / ``AudioBlock`` / ``VideoBlock`` holding the media (its URL, its
bytes, or its path when ``output_dir`` is set). Called directly, that is what you get.

As agent tools (:meth:`to_tool_list`), what goes back to the model is only the text: an agent
puts a tool's blocks into the tool message it sends to the LLM, and inline media there
would cost the model megabytes of base64 (and most chat models refuse images or audio in a
tool message). The full blocks stay in the tool output's ``raw_output`` (for example
``ToolCallResult.tool_output.raw_output`` in a ``FunctionAgent`` event stream). With
``send_media_to_model=True``, media that are URLs (images, videos) are sent too, for vision
models that should look at the result; inline bytes never are.

Arguments are checked against the media catalog before any request; a refused argument
raises :class:`~together_integrations.MediaInputError`, whose message (what is allowed) an
agent hands back to the model as the tool's error. What the specs do is written once in
``together_integrations._media_tools``; this module only turns its outcomes into blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from llama_index.core.base.llms.types import (
    AudioBlock,
    ContentBlock,
    ImageBlock,
    TextBlock,
    VideoBlock,
)
from llama_index.core.schema import BaseComponent
from llama_index.core.tools import FunctionTool
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from llama_index.core.tools.types import ToolMetadata, ToolOutput

from together_integrations._jobs import Clock, JobLike
from together_integrations._media import MediaResult, SpeechAudio, VideoResult
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
    arguments,
)
from together_integrations.llama_index._common import ClientSettingsMixin

__all__ = [
    "TogetherImageGenerationToolSpec",
    "TogetherMediaClient",
    "TogetherTextToSpeechToolSpec",
    "TogetherVideoGenerationToolSpec",
]

Blocks = list[ContentBlock]


class TogetherMediaClient(ClientSettingsMixin, BaseComponent):
    """The connection settings a media tool spec sends with (key, base URL, timeouts,
    transport), resolved as for every LlamaIndex class of this package."""

    @classmethod
    def class_name(cls) -> str:
        return "TogetherMediaClient"


def _summary(blocks: Blocks) -> str:
    return "\n".join(b.text for b in blocks if isinstance(b, TextBlock))


def _media_block(media: MediaResult, path: Path | None) -> ContentBlock:
    """A LlamaIndex block for one medium: its path when saved, else its bytes or its URL."""
    if isinstance(media, SpeechAudio):
        if path is not None:
            return AudioBlock(path=path, format=media.format)
        return AudioBlock(audio=media.bytes(), format=media.format)
    if isinstance(media, VideoResult):
        if path is not None:
            return VideoBlock(path=path, video_mimetype=media.mime_type)
        return VideoBlock(url=media.url, video_mimetype=media.mime_type)
    if path is not None:
        return ImageBlock(path=path, image_mimetype=media.mime_type)
    if media.has_data:
        return ImageBlock(image=media.bytes(), image_mimetype=media.mime_type)
    return ImageBlock(url=media.url, image_mimetype=media.mime_type)


def _blocks(outcome: MediaOutcome) -> Blocks:
    """An outcome as blocks: its text, then one block per medium."""
    return [TextBlock(text=outcome.text)] + [_media_block(m, p) for m, p in outcome.media]


class _MediaToolSpec(BaseToolSpec):
    """What the media specs share: settings, saving, and what the model is sent."""

    spec_functions: list[SPEC_FUNCTION_TYPE] = []

    def __init__(
        self,
        *,
        output_dir: str | Path | None = None,
        send_media_to_model: bool = False,
        **client: Any,
    ) -> None:
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.send_media_to_model = send_media_to_model
        self.client = TogetherMediaClient(**client)

    def _core_settings(self, extra: dict[str, Any]) -> dict[str, Any]:
        """What every core of this spec is built with (see ``_media_tools``)."""
        return {"client": self.client, "extra": extra, "output_dir": self.output_dir}

    # ---------------------------------------------------------- agent tools

    def _for_model(self, output: ToolOutput) -> ToolOutput:
        blocks = output.raw_output
        if not isinstance(blocks, list):
            return output
        sent: Blocks = [TextBlock(text=_summary(blocks))]
        if self.send_media_to_model:
            sent += [
                b
                for b in blocks
                if isinstance(b, (ImageBlock, VideoBlock))
                and b.url is not None
                and b.path is None
                and (b.image is None if isinstance(b, ImageBlock) else b.video is None)
            ]
        output.blocks = sent
        return output

    def to_tool_list(
        self,
        spec_functions: list[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """The spec's functions as tools whose answer to the model is the text only (see the
        module docstring); the blocks are the tool output's ``raw_output``."""
        tools = super().to_tool_list(spec_functions, func_to_metadata_mapping)
        out: list[FunctionTool] = []
        for tool in tools:
            out.append(
                _TextForModelTool(
                    fn=tool.fn,
                    async_fn=tool.async_fn,
                    metadata=tool.metadata,
                    select=self._for_model,
                )
            )
        return out


class _TextForModelTool(FunctionTool):
    """A FunctionTool whose output blocks (what an agent sends the model) are chosen by
    ``select``, while ``raw_output`` keeps everything the function returned."""

    def __init__(self, *, select: Callable[[ToolOutput], ToolOutput], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._select = select

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return self._select(super().call(*args, **kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return self._select(await super().acall(*args, **kwargs))


# ------------------------------------------------------------------------- images


class TogetherImageGenerationToolSpec(_MediaToolSpec):
    """Image generation (FLUX and others) as LlamaIndex tools.

    Example:
        .. code-block:: python

            from llama_index.core.agent.workflow import FunctionAgent
            from together_integrations.llama_index import TogetherImageGenerationToolSpec

            spec = TogetherImageGenerationToolSpec(output_dir="images")
            agent = FunctionAgent(tools=spec.to_tool_list(), llm=TogetherLLM(model=...))
            blocks = spec.generate_image("a red fox in snow", width=512, height=512)
            # [TextBlock("Generated 1 image ... saved to images/image-....jpg"),
            #  ImageBlock(path=...)]

    Args:
        model: Image model id (default ``black-forest-labs/FLUX.1-schnell``).
        image_response_format: ``url`` (default: a link, small in any block) or ``base64``.
        output_format: ``jpeg`` or ``png``.
        output_dir: Save images there under content-hashed names; blocks then hold paths.
        send_media_to_model: Also send URL images back to the model (vision models).
        extra_body: Extra request fields (``aspect_ratio``, ``guidance_scale``...).
        **client: ``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``transport``...
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [("generate_image", "agenerate_image")]

    def __init__(
        self,
        *,
        model: str = DEFAULT_IMAGE_MODEL,
        image_response_format: Literal["url", "base64"] = "url",
        output_format: Literal["jpeg", "png"] | None = None,
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.image_response_format = image_response_format
        self.output_format = output_format
        self.extra_body = dict(extra_body or {})

    def _core(self) -> ImageCore:
        return ImageCore(
            model=self.model,
            response_format=self.image_response_format,
            output_format=self.output_format,
            **self._core_settings(self.extra_body),
        )

    def generate_image(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        n: int | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
    ) -> Blocks:
        """Generate images from a text description.

        Args:
            prompt: What the image should show, in detail.
            negative_prompt: What the image should not show.
            n: How many images to make (1-4).
            width: Width in pixels, a multiple of 8.
            height: Height in pixels, a multiple of 8.
            steps: Generation steps (more: slower).
            seed: Seed, to make the same image again.
        """
        return _blocks(self._core().run(**arguments(locals())))

    async def agenerate_image(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        n: int | None = None,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
    ) -> Blocks:
        return _blocks(await self._core().arun(**arguments(locals())))

    # The twins answer the same call: one text for the docs and for a tool built from either.
    agenerate_image.__doc__ = generate_image.__doc__


# ------------------------------------------------------------------------- speech


class TogetherTextToSpeechToolSpec(_MediaToolSpec):
    """Text to speech (Orpheus, Kokoro, Cartesia) as a LlamaIndex tool.

    Example:
        .. code-block:: python

            spec = TogetherTextToSpeechToolSpec(voice="tara")
            text, audio = spec.speak("Hello!")  # TextBlock, AudioBlock(audio=..., format="wav")

    Args:
        model: Speech model id (default ``canopylabs/orpheus-3b-0.1-ft``).
        voice: The default voice (checked against ``GET /voices``, fetched once).
        audio_format: ``wav`` (default) or ``mp3``.
        language: Language of the text.
        output_dir: Save audio there under content-hashed names; the block then holds the
            path. Nothing is written to disk otherwise, not even a temporary file.
        extra_body: Extra request fields.
        **client: ``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``transport``...
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [("speak", "aspeak")]

    def __init__(
        self,
        *,
        model: str = DEFAULT_SPEECH_MODEL,
        voice: str = "tara",
        audio_format: Literal["wav", "mp3"] = "wav",
        language: str | None = None,
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.voice = voice
        self.audio_format = audio_format
        self.language = language
        self.extra_body = dict(extra_body or {})

    def _core(self) -> SpeechCore:
        return SpeechCore(
            model=self.model,
            voice=self.voice,
            audio_format=self.audio_format,
            language=self.language,
            **self._core_settings(self.extra_body),
        )

    def speak(self, text: str, voice: str | None = None) -> Blocks:
        """Turn a text into spoken audio for the user.

        Args:
            text: The text to speak.
            voice: A voice name; leave empty for the default voice.
        """
        return _blocks(self._core().run(text, voice))

    async def aspeak(self, text: str, voice: str | None = None) -> Blocks:
        return _blocks(await self._core().arun(text, voice))

    aspeak.__doc__ = speak.__doc__


# ------------------------------------------------------------------------- video


class TogetherVideoGenerationToolSpec(_MediaToolSpec):
    """Video generation (Veo, Sora, Kling...) as LlamaIndex tools: one that waits for the
    video, and a start/check pair for agents that should not block.

    Example:
        .. code-block:: python

            spec = TogetherVideoGenerationToolSpec(model="google/veo-3.0", wait_timeout=600)
            text, video = spec.generate_video("a fox in snow")  # VideoBlock(url=...)
            started = spec.start_video("a fox in snow")        # says the video id
            spec.check_video(video_id)                        # still running, or the video

    Creating a video is paid and never re-sent once it may have reached the server. A
    failed job raises :class:`~together_integrations.JobFailedError` with the server's
    ``reason``; a wait that runs out raises :class:`~together_integrations.JobTimeoutError`
    carrying the job id (the video goes on being made).

    Args:
        model: Video model id (default ``google/veo-3.0``).
        wait_timeout: Seconds :meth:`generate_video` waits (default 900; ``None``: no limit).
        poll_interval, max_interval: How often to look (growing from one to the other).
        on_progress: Called with the job at every look.
        clock: Where the poller reads time and sleeps (tests pass a virtual clock).
        output_format: ``MP4`` or ``WEBM``.
        output_dir: Download videos there (content-hashed names); blocks then hold paths.
        send_media_to_model: Also send video URLs back to the model.
        extra_body: Extra request fields (``generate_audio``, ``media``...).
        **client: ``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``transport``...
    """

    spec_functions: list[SPEC_FUNCTION_TYPE] = [
        ("generate_video", "agenerate_video"),
        ("start_video", "astart_video"),
        ("check_video", "acheck_video"),
    ]

    def __init__(
        self,
        *,
        model: str = DEFAULT_VIDEO_MODEL,
        wait_timeout: float | None = 900.0,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_progress: Callable[[JobLike], None] | None = None,
        clock: Clock | None = None,
        output_format: Literal["MP4", "WEBM"] | None = None,
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.max_interval = max_interval
        self.on_progress = on_progress
        self.clock = clock
        self.output_format = output_format
        self.extra_body = dict(extra_body or {})

    def _core(self) -> VideoCore:
        wait = {
            "timeout": self.wait_timeout,
            "poll_interval": self.poll_interval,
            "max_interval": self.max_interval,
            "on_progress": self.on_progress,
            "clock": self.clock,
        }
        return VideoCore(
            model=self.model,
            output_format=self.output_format,
            wait=wait,
            **self._core_settings(self.extra_body),
        )

    def generate_video(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        seed: int | None = None,
    ) -> Blocks:
        """Make a short video from a text description and wait until it is ready (minutes).

        Args:
            prompt: What the video should show, in detail.
            negative_prompt: What it should not show.
            seconds: Length in seconds.
            seed: Seed, to make the same video again.
        """
        return _blocks(self._core().run(**arguments(locals())))

    async def agenerate_video(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        seed: int | None = None,
    ) -> Blocks:
        return _blocks(await self._core().arun(**arguments(locals())))

    def start_video(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        seed: int | None = None,
    ) -> Blocks:
        """Start making a short video; returns its id at once. Check it later with check_video.

        Args:
            prompt: What the video should show, in detail.
            negative_prompt: What it should not show.
            seconds: Length in seconds.
            seed: Seed, to make the same video again.
        """
        return _blocks(self._core().start(**arguments(locals())))

    async def astart_video(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        seconds: int | None = None,
        seed: int | None = None,
    ) -> Blocks:
        return _blocks(await self._core().astart(**arguments(locals())))

    def check_video(self, video_id: str) -> Blocks:
        """Check a video started with start_video: still being made, or where it is.

        Args:
            video_id: The id start_video returned.
        """
        return _blocks(self._core().check(video_id))

    async def acheck_video(self, video_id: str) -> Blocks:
        return _blocks(await self._core().acheck(video_id))

    agenerate_video.__doc__ = generate_video.__doc__
    astart_video.__doc__ = start_video.__doc__
    acheck_video.__doc__ = check_video.__doc__
