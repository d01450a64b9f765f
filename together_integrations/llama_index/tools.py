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
raises :class:`~together_integrations._media_catalog.MediaInputError`, whose message (what
is allowed) an agent hands back to the model as the tool's error.
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
from together_integrations._transport import RequestOptions, TogetherTransport
from together_integrations.llama_index._common import ClientSettingsMixin
from together_integrations.schemas import (
    ImageGenerationRequest,
    SpeechRequest,
    VideoCreateRequest,
    VideoJob,
)

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


def _quote(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")


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

    def _transport(self) -> TogetherTransport:
        return self.client._get_transport()

    def _options(self) -> RequestOptions | None:
        return self.client._request_options()

    def _check_output_dir(self) -> None:
        if self.output_dir is not None and not self.output_dir.is_dir():
            raise MediaInputError(
                f"output_dir={str(self.output_dir)!r} is not an existing directory; create it "
                "first or pass output_dir=None to keep results in memory.",
                argument="output_dir",
                value=str(self.output_dir),
                allowed="an existing directory, or None",
            )

    def _save(self, media: MediaResult) -> Path | None:
        return media.save(self.output_dir) if self.output_dir is not None else None

    async def _asave(self, media: MediaResult) -> Path | None:
        return await media.asave(self.output_dir) if self.output_dir is not None else None

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
        return ImageGenerationRequest.model_validate(
            {
                **self.extra_body,
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
        )

    def _blocks(self, images: list[GeneratedImage], paths: list[Path | None]) -> Blocks:
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
            text += "."
        blocks: Blocks = [TextBlock(text=text)]
        for image, path in zip(images, paths, strict=True):
            if path is not None:
                blocks.append(ImageBlock(path=path, image_mimetype=image.mime_type))
            elif image.has_data:
                blocks.append(ImageBlock(image=image.bytes(), image_mimetype=image.mime_type))
            else:
                blocks.append(ImageBlock(url=image.url, image_mimetype=image.mime_type))
        return blocks

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
        request = self._request(prompt, negative_prompt, n, width, height, steps, seed)
        transport = self._transport()
        response = transport.images.generate(request, self._options())
        images = images_from_response(response, request, transport)
        return self._blocks(images, [self._save(image) for image in images])

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
        request = self._request(prompt, negative_prompt, n, width, height, steps, seed)
        transport = self._transport()
        response = await transport.images.agenerate(request, self._options())
        images = images_from_response(response, request, transport)
        return self._blocks(images, [await self._asave(image) for image in images])


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

    def _precheck(self, text: str) -> None:
        check_speech(
            self.model, text=text, response_format=self.audio_format, language=self.language
        )
        self._check_output_dir()

    def _request(self, text: str, voice: str | None, voices: tuple[str, ...]) -> SpeechRequest:
        chosen = voice or self.voice
        check_voice(self.model, chosen, voices or None)
        return SpeechRequest.model_validate(
            {
                **self.extra_body,
                "model": self.model,
                "input": text,
                "voice": chosen,
                "response_format": self.audio_format,
                "language": self.language,
            }
        )

    def _audio(self, request: SpeechRequest, data: bytes) -> SpeechAudio:
        return SpeechAudio(
            data=data,
            format=self.audio_format,
            model=self.model,
            voice=request.voice,
            text=request.input,
        )

    def _blocks(self, audio: SpeechAudio, path: Path | None) -> Blocks:
        length = f"{audio.duration:.1f} s of " if audio.duration else ""
        text = (
            f"Spoke {len(audio.text)} characters as {audio.voice!r} with {self.model}: "
            f"{length}{self.audio_format.upper()} audio"
        )
        text += f" saved to {path}." if path is not None else "."
        block = (
            AudioBlock(path=path, format=self.audio_format)
            if path is not None
            else AudioBlock(audio=audio.bytes(), format=self.audio_format)
        )
        return [TextBlock(text=text), block]

    def speak(self, text: str, voice: str | None = None) -> Blocks:
        """Turn a text into spoken audio for the user.

        Args:
            text: The text to speak.
            voice: A voice name; leave empty for the default voice.
        """
        self._precheck(text)
        transport = self._transport()
        request = self._request(text, voice, known_voices(transport, self.model))
        audio = self._audio(request, transport.audio.speech(request, self._options()).content)
        return self._blocks(audio, self._save(audio))

    async def aspeak(self, text: str, voice: str | None = None) -> Blocks:
        """Turn a text into spoken audio for the user.

        Args:
            text: The text to speak.
            voice: A voice name; leave empty for the default voice.
        """
        self._precheck(text)
        transport = self._transport()
        request = self._request(text, voice, await aknown_voices(transport, self.model))
        response = await transport.audio.aspeech(request, self._options())
        audio = self._audio(request, response.content)
        return self._blocks(audio, await self._asave(audio))


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

    def _request(
        self, prompt: str, negative_prompt: str | None, seconds: int | None, seed: int | None
    ) -> VideoCreateRequest:
        check_video(
            self.model,
            prompt=prompt,
            seconds=seconds,
            width=self.extra_body.get("width"),
            height=self.extra_body.get("height"),
            steps=self.extra_body.get("steps"),
            has_frames="media" in self.extra_body,
        )
        self._check_output_dir()
        return VideoCreateRequest.model_validate(
            {
                **self.extra_body,
                "model": self.model,
                "prompt": prompt,
                "negative_prompt": negative_prompt,
                "seconds": seconds,
                "seed": seed,
                "output_format": self.output_format,
            }
        )

    def _wait(self) -> dict[str, Any]:
        return {
            "timeout": self.wait_timeout,
            "poll_interval": self.poll_interval,
            "max_interval": self.max_interval,
            "on_progress": self.on_progress,
            "clock": self.clock,
        }

    def _blocks(self, video: VideoResult, path: Path | None) -> Blocks:
        details = ", ".join(
            p
            for p in (
                f"{video.seconds} s" if video.seconds else "",
                video.size or "",
                f"${video.cost:.2f}" if video.cost is not None else "",
            )
            if p
        )
        where = f"saved to {path}" if path is not None else str(video.url)
        text = f"Video {video.id} from {video.model or self.model} is ready: {where}"
        text += f" ({details})." if details else "."
        block = (
            VideoBlock(path=path, video_mimetype=video.mime_type)
            if path is not None
            else VideoBlock(url=video.url, video_mimetype=video.mime_type)
        )
        return [TextBlock(text=text), block]

    @staticmethod
    def _started(job: VideoJob, model: str) -> Blocks:
        return [
            TextBlock(
                text=f"Started video {job.id} with {job.model or model} (status: "
                f"{job.status_text}). It takes minutes; check it with check_video."
            )
        ]

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
        request = self._request(prompt, negative_prompt, seconds, seed)
        transport = self._transport()
        job = transport.videos.create(request, options=self._options())
        video = VideoResult(transport.videos.wait_until_done(job.id, **self._wait()), transport)
        return self._blocks(video, self._save(video))

    async def agenerate_video(
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
        request = self._request(prompt, negative_prompt, seconds, seed)
        transport = self._transport()
        job = await transport.videos.acreate(request, options=self._options())
        done = await transport.videos.await_until_done(job.id, **self._wait())
        video = VideoResult(done, transport)
        return self._blocks(video, await self._asave(video))

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
        request = self._request(prompt, negative_prompt, seconds, seed)
        job = self._transport().videos.create(request, options=self._options())
        return self._started(job, self.model)

    async def astart_video(
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
        request = self._request(prompt, negative_prompt, seconds, seed)
        job = await self._transport().videos.acreate(request, options=self._options())
        return self._started(job, self.model)

    def _checked(self, job: VideoJob) -> Blocks | VideoResult:
        video = video_outcome(job, self._transport())
        if video is not None:
            return video
        return [TextBlock(text=f"Video {job.id} is still {job.status_text}; check again later.")]

    def check_video(self, video_id: str) -> Blocks:
        """Check a video started with start_video: still being made, or where it is.

        Args:
            video_id: The id start_video returned.
        """
        found = self._checked(self._transport().videos.retrieve(video_id, options=self._options()))
        if isinstance(found, VideoResult):
            return self._blocks(found, self._save(found))
        return found

    async def acheck_video(self, video_id: str) -> Blocks:
        """Check a video started with start_video: still being made, or where it is.

        Args:
            video_id: The id start_video returned.
        """
        transport = self._transport()
        found = self._checked(await transport.videos.aretrieve(video_id, options=self._options()))
        if isinstance(found, VideoResult):
            return self._blocks(found, await self._asave(found))
        return found
