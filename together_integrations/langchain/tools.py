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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.messages.content import create_audio_block, create_image_block
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field

from together_integrations._exceptions import (
    APIError,
    JobError,
    JobFailedError,
    JobTimeoutError,
)
from together_integrations._media import (
    GeneratedImage,
    MediaResult,
    SpeechAudio,
    aknown_voices,
    images_from_response,
    known_voices,
)
from together_integrations._media_catalog import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_SPEECH_MODEL,
    MediaInputError,
    check_image,
    check_prompt,
    check_speech,
    check_voice,
)
from together_integrations.langchain._common import TogetherClientSettings, validate_request
from together_integrations.langchain._errors import to_langchain_error
from together_integrations.schemas import ImageGenerationRequest, SpeechRequest

__all__ = [
    "LCJobFailedError",
    "LCJobTimeoutError",
    "LCMediaInputError",
    "TogetherImageGenerationTool",
    "TogetherTextToSpeechTool",
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
    make = create_image_block if kind == "image" else create_audio_block
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
