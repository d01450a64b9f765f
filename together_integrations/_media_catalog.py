"""Limits of the media models (images, speech, transcription, video), checked before a request.

A bad argument costs a round trip at best and a paid job at worst (a video that fails after
minutes in the queue), so the adapters refuse what the bundled limits rule out, with a
:class:`MediaInputError` that names the argument, the value and what is allowed.

Where the limits come from: each built-in entry below says so in a comment and in its
``source``. *Documented* limits come from the API spec (``openapi.yaml``: video ``steps``
10-50, video prompts of 1-32,000 characters, ``seconds`` as a string, the speech formats,
15 speech languages and the Orpheus/Kokoro 24 kHz output), Together's docs (image ``n`` 1-4,
``steps`` 1-50, sides in multiples of 8, FLUX Schnell's 4 default steps, 500 MB uploads)
and the seed's model names (NOTES-jobs §1-4). *Unverified* limits (image side bounds, the
bundled voice lists beyond the spec's examples, every video model's sizes and clip lengths)
come from the model makers' pages and are not in the spec, the docs or any recording: they
are kept because a refused argument saves a round trip (and, for video, a paid job), and
they are the first to re-check against the live API. A model the catalog does not know gets
only the checks that hold for every model (a non-empty prompt, a supported audio type, an
existing file), and the server decides the rest. When Together changes a
modelWhen Together changes a
model, :meth:`MediaCatalog.register` replaces its entry without a release of ours::

    from together_integrations._media_catalog import MEDIA_CATALOG, VideoModelSpec
    MEDIA_CATALOG.register(VideoModelSpec("google/veo-3.0", seconds=("4", "6", "8")))
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

# MediaInputError lives in the error tree (``_exceptions``); re-exported here, where it was first.
from ._exceptions import MediaInputError

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_IMAGE_MODEL",
    "DEFAULT_SPEECH_MODEL",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "MAX_UPLOAD_BYTES",
    "MEDIA_CATALOG",
    "ImageModelSpec",
    "MediaCatalog",
    "MediaInputError",
    "SpeechModelSpec",
    "TranscriptionModelSpec",
    "VideoModelSpec",
    "check_audio_file",
    "check_image",
    "check_prompt",
    "check_speech",
    "check_transcription",
    "check_video",
    "check_voice",
]

DEFAULT_IMAGE_MODEL = "black-forest-labs/FLUX.1-schnell"
DEFAULT_SPEECH_MODEL = "canopylabs/orpheus-3b-0.1-ft"
DEFAULT_TRANSCRIPTION_MODEL = "openai/whisper-large-v3"
DEFAULT_VIDEO_MODEL = "google/veo-3.0"

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".flac", ".m4a", ".mp3", ".mp4", ".mpeg", ".mpga", ".oga", ".ogg", ".opus", ".wav", ".webm"}
)
"""Audio containers Whisper decodes (what ``TogetherAudioLoader`` and the readers accept)."""

MAX_UPLOAD_BYTES = 500 * 1024 * 1024
"""Largest direct upload (docs: 413 at the edge above it; a URL may point to up to 1 GB)."""

SPEECH_LANGUAGES: frozenset[str] = frozenset(
    {"en", "de", "fr", "es", "hi", "it", "ja", "ko", "nl", "pl", "pt", "ru", "sv", "tr", "zh"}
)
"""``language`` values of ``POST /audio/speech`` (spec)."""

_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


def _refuse(argument: str, value: Any, allowed: str, why: str = "") -> MediaInputError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    reason = f" {why}" if why else ""
    return MediaInputError(
        f"{argument}={shown} is not allowed{reason}; allowed: {allowed}.",
        argument=argument,
        value=value,
        allowed=allowed,
    )


def _words(values: Iterable[Any], limit: int = 20) -> str:
    items = [str(v) for v in values]
    head = ", ".join(items[:limit])
    return head + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


# ---------------------------------------------------------------------------- specs


@dataclass(frozen=True, slots=True)
class ImageModelSpec:
    """Limits of an image model (``POST /images/generations``).

    Attributes:
        id: Model id.
        steps: Inclusive ``(min, max)`` of ``steps``; ``None`` leaves it to the server.
        default_steps: What the tools send when no ``steps`` is given (``None``: omitted).
        max_n: Most images per request.
        sides: Inclusive ``(min, max)`` pixels of ``width`` and ``height``.
        side_multiple: ``width`` and ``height`` must be multiples of this.
        source: Where the limits come from.
    """

    id: str
    steps: tuple[int, int] | None = (1, 50)
    default_steps: int | None = None
    max_n: int = 4
    sides: tuple[int, int] = (64, 2048)
    side_multiple: int = 8
    source: str = "registered at run time"


@dataclass(frozen=True, slots=True)
class SpeechModelSpec:
    """Limits of a text-to-speech model (``POST /audio/speech``).

    Attributes:
        id: Model id.
        voices: Voices known offline, used when ``GET /voices`` is not served; the live
            list wins when it is.
        formats: ``response_format`` values for a whole file (a stream is ``raw`` only).
        sample_rate: The fixed output rate, for models that ignore ``sample_rate``.
        voice_mixing: Voices may be blended (``af_bella(2)+af_heart(1)``).
        source: Where the limits come from.
    """

    id: str
    voices: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("wav", "mp3", "raw")
    sample_rate: int | None = None
    voice_mixing: bool = False
    source: str = "registered at run time"


@dataclass(frozen=True, slots=True)
class TranscriptionModelSpec:
    """Limits of a speech-to-text model (``/audio/transcriptions``, ``/audio/translations``).

    Attributes:
        id: Model id.
        extensions: File types accepted.
        max_upload_bytes: Largest direct upload.
        translation: Serves ``/audio/translations``.
        source: Where the limits come from.
    """

    id: str
    extensions: frozenset[str] = AUDIO_EXTENSIONS
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    translation: bool = True
    source: str = "registered at run time"


@dataclass(frozen=True, slots=True)
class VideoModelSpec:
    """Limits of a video model (``POST /v2/videos``).

    Attributes:
        id: Model id.
        sizes: Allowed ``(width, height)`` pairs; empty leaves them to the server.
        seconds: Allowed clip lengths (as the wire's strings); empty leaves it to the server.
        steps: Inclusive ``(min, max)`` of ``steps`` (spec: 10-50).
        prompt_required: The model makes a video from text (keyframe-only models do not).
        audio: The model can ``generate_audio``.
        source: Where the limits come from.
    """

    id: str
    sizes: tuple[tuple[int, int], ...] = ()
    seconds: tuple[str, ...] = ()
    steps: tuple[int, int] | None = (10, 50)
    prompt_required: bool = True
    audio: bool = False
    source: str = "registered at run time"


# ----------------------------------------------------------------- built-in entries
#
# Image limits (NOTES-jobs §1; docs images-overview and images/parameters): n 1-4, steps
# 1-50, width/height in multiples of 8 (default 1024). The side bounds 64-2048 are not
# documented (recorded requests used 256 and 512): unverified. Steps are sent by default only
# where the docs give a model's default (FLUX Schnell: 4); elsewhere the server's (spec: 20).
_DOCS = "docs: n 1-4, steps 1-50, sides in multiples of 8; side bounds unverified"
_BUILTIN_IMAGES = (
    ImageModelSpec(DEFAULT_IMAGE_MODEL, steps=(1, 50), default_steps=4,
                   source="docs: 'default 4 steps'; " + _DOCS),
    ImageModelSpec("black-forest-labs/FLUX.1-schnell-Free", steps=(1, 50), default_steps=4,
                   source="docs (FLUX Schnell: 4 default steps); recorded at 256x256; " + _DOCS),
    ImageModelSpec("black-forest-labs/FLUX.1-dev", steps=(1, 50),
                   source="recorded at 256x256; " + _DOCS),
    ImageModelSpec("black-forest-labs/FLUX.1-krea-dev", steps=(1, 50), source=_DOCS),
    ImageModelSpec("black-forest-labs/FLUX.1-kontext-dev", steps=(1, 50), source=_DOCS),
    # The pro and max models take no documented step count: the server decides.
    ImageModelSpec("black-forest-labs/FLUX.1.1-pro", steps=None, source=_DOCS),
    ImageModelSpec("black-forest-labs/FLUX.1-kontext-pro", steps=None, source=_DOCS),
    ImageModelSpec("black-forest-labs/FLUX.1-kontext-max", steps=None, source=_DOCS),
    ImageModelSpec("black-forest-labs/FLUX.2-pro", steps=None, source=_DOCS),
    ImageModelSpec("black-forest-labs/FLUX.2-max", steps=None,
                   source="recorded at 512x512; " + _DOCS),
    # Docs: FLUX.2 Dev "supports guidance, steps", FLUX.2 Flex "adjustable steps".
    ImageModelSpec("black-forest-labs/FLUX.2-dev", steps=(1, 50),
                   source="recorded at 512x512; " + _DOCS),
    ImageModelSpec("black-forest-labs/FLUX.2-flex", steps=(1, 50), source=_DOCS),
    # The seed's CLI example and a recorded base64 response (NOTES §6).
    ImageModelSpec("stabilityai/stable-diffusion-xl-base-1.0", steps=(1, 50),
                   source="seed CLI example; recorded (b64); " + _DOCS),
)  # fmt: skip

# Speech (NOTES-jobs §2; spec AudioSpeechRequest): formats mp3/wav/raw, Orpheus and Kokoro
# always at 24 kHz, Kokoro blends voices with "+". The spec names one voice per model (tara,
# af_alloy, "friendly sidekick"); the rest of the bundled lists are the model makers' and
# unverified. They are used only when the server does not serve GET /voices (the live list
# always wins).
_ORPHEUS_VOICES = ("tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe")
_KOKORO_VOICES = (
    "af_heart", "af_alloy", "af_aoede", "af_bella", "af_jessica", "af_kore", "af_nicole",
    "af_nova", "af_river", "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir",
    "am_liam", "am_michael", "am_onyx", "am_puck", "bf_alice", "bf_emma", "bf_isabella",
    "bf_lily", "bm_daniel", "bm_fable", "bm_george", "bm_lewis",
)  # fmt: skip
_ORPHEUS = "spec: 24 kHz, voice 'tara'; the other voices are the model card's (unverified)"
_BUILTIN_SPEECH = (
    SpeechModelSpec(DEFAULT_SPEECH_MODEL, voices=_ORPHEUS_VOICES, sample_rate=24_000,
                    source=_ORPHEUS),
    # The seed's name for Orpheus (spec and docs: canopylabs/orpheus-3b-0.1-ft).
    SpeechModelSpec("canopylabs/orpheus-3b", voices=_ORPHEUS_VOICES, sample_rate=24_000,
                    source="seed: model id; " + _ORPHEUS),
    SpeechModelSpec("hexgrad/Kokoro-82M", voices=_KOKORO_VOICES, sample_rate=24_000,
                    voice_mixing=True,
                    source="spec: 24 kHz, voice mixing, voice 'af_alloy'; the other voices "
                    "are the model card's (unverified)"),
    # Cartesia's voices are many and change: only the live list can check them.
    SpeechModelSpec("cartesia/sonic", source="spec: honours sample_rate (default 44100)"),
    SpeechModelSpec("cartesia/sonic-2", source="docs: text-to-speech models"),
    SpeechModelSpec("cartesia/sonic-3", source="docs: text-to-speech models"),
)  # fmt: skip
_BUILTIN_TRANSCRIPTION = (
    TranscriptionModelSpec(DEFAULT_TRANSCRIPTION_MODEL,
                           source="spec (default model) and docs: 500 MB direct, 1 GB by URL"),
)  # fmt: skip

# Video (NOTES-jobs §4; spec CreateVideoBody): steps 10-50, prompt 1-32,000 characters,
# seconds as a string. No size or clip length of any model is in the spec, the docs or a
# recording: the ones below are the model makers' pages, unverified on Together.
_HD_16_9 = ((1280, 720), (720, 1280), (1920, 1080), (1080, 1920))
_SORA = ((1280, 720), (720, 1280))
_MAKER = "spec: steps 10-50; sizes and seconds from the maker's page (unverified)"
_BUILTIN_VIDEO = (
    VideoModelSpec(DEFAULT_VIDEO_MODEL, sizes=_HD_16_9, seconds=("8",), audio=True,
                   source="seed: model id; " + _MAKER),
    VideoModelSpec("google/veo-3.0-fast", sizes=_HD_16_9, seconds=("8",), audio=True,
                   source=_MAKER),
    VideoModelSpec("google/veo-2.0", sizes=_SORA, seconds=("5", "6", "7", "8"), source=_MAKER),
    VideoModelSpec("openai/sora-2", sizes=_SORA, seconds=("4", "8", "12"), audio=True,
                   source=_MAKER),
    VideoModelSpec("openai/sora-2-pro", sizes=(*_SORA, (1792, 1024), (1024, 1792)),
                   seconds=("4", "8", "12"), audio=True, source=_MAKER),
    VideoModelSpec("kwaivgI/kling-2.1-master", seconds=("5", "10"), source=_MAKER),
    VideoModelSpec("minimax/hailuo-02", seconds=("6", "10"), source=_MAKER),
    VideoModelSpec("minimax/video-01-director", source="spec: steps 10-50"),
    VideoModelSpec("ByteDance/Seedance-1.0-pro", seconds=("5", "10"), source=_MAKER),
)  # fmt: skip

Spec = ImageModelSpec | SpeechModelSpec | TranscriptionModelSpec | VideoModelSpec
S = TypeVar("S", ImageModelSpec, SpeechModelSpec, TranscriptionModelSpec, VideoModelSpec)


@dataclass
class MediaCatalog:
    """Model id → limits, per family, case-insensitive; :meth:`register` adds or replaces."""

    _specs: dict[type[Any], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def builtin(cls) -> MediaCatalog:
        """A catalog of the bundled entries."""
        catalog = cls()
        for spec in (*_BUILTIN_IMAGES, *_BUILTIN_SPEECH, *_BUILTIN_TRANSCRIPTION, *_BUILTIN_VIDEO):
            catalog.register(spec)
        return catalog

    def register(self, spec: Spec) -> None:
        """Add ``spec``, replacing the entry of the same family and model id."""
        with self._lock:
            self._specs.setdefault(type(spec), {})[spec.id.lower()] = spec

    def _get(self, family: type[S], model: str) -> S | None:
        found = self._specs.get(family, {}).get(model.lower())
        return found if isinstance(found, family) else None

    def image(self, model: str) -> ImageModelSpec | None:
        """The limits of image model ``model``, or ``None`` when not catalogued."""
        return self._get(ImageModelSpec, model)

    def speech(self, model: str) -> SpeechModelSpec | None:
        """The limits of speech model ``model``, or ``None``."""
        return self._get(SpeechModelSpec, model)

    def transcription(self, model: str) -> TranscriptionModelSpec | None:
        """The limits of transcription model ``model``, or ``None``."""
        return self._get(TranscriptionModelSpec, model)

    def video(self, model: str) -> VideoModelSpec | None:
        """The limits of video model ``model``, or ``None``."""
        return self._get(VideoModelSpec, model)

    def models(self, family: type[Spec]) -> list[str]:
        """The catalogued model ids of one family."""
        return sorted(spec.id for spec in self._specs.get(family, {}).values())


MEDIA_CATALOG = MediaCatalog.builtin()
"""The process-wide media catalog the adapters check against."""


# ---------------------------------------------------------------------------- checks


def check_prompt(prompt: Any, argument: str = "prompt", max_chars: int | None = None) -> str:
    """A non-empty text (not only whitespace), at most ``max_chars`` long."""
    if not isinstance(prompt, str) or not prompt.strip():
        allowed = "a non-empty text" + (f" of at most {max_chars} characters" if max_chars else "")
        raise _refuse(argument, prompt, allowed, "(it is empty)" if prompt == "" else "")
    if max_chars is not None and len(prompt) > max_chars:
        raise _refuse(
            argument, prompt, f"at most {max_chars} characters", f"(it has {len(prompt)})"
        )
    return prompt


def _int(argument: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(argument, value, "an integer")
    if value < low or (high is not None and value > high):
        allowed = f"{low} to {high}" if high is not None else f"{low} or more"
        raise _refuse(argument, value, allowed)


def check_image(
    model: str,
    *,
    n: Any = None,
    width: Any = None,
    height: Any = None,
    steps: Any = None,
    catalog: MediaCatalog = MEDIA_CATALOG,
) -> ImageModelSpec | None:
    """Refuse image arguments the model's limits rule out; returns its limits, if known."""
    spec = catalog.image(model)
    max_n = spec.max_n if spec else None
    if n is not None:
        _int("n", n, 1, max_n)
    low, high = spec.sides if spec else (1, None)
    multiple = spec.side_multiple if spec else 1
    for name, side in (("width", width), ("height", height)):
        if side is None:
            continue
        _int(name, side, low, high)
        if side % multiple:
            down, up = side - side % multiple, side - side % multiple + multiple
            raise _refuse(
                name,
                side,
                f"multiples of {multiple} from {low} to {high} (such as {down} or {up})",
                f"for {model}",
            )
    if steps is not None:
        if spec is not None and spec.steps is not None:
            _int("steps", steps, *spec.steps)
        else:
            _int("steps", steps, 1)
    return spec


def _voice_names(voice: str, mixing: bool) -> list[str]:
    if not mixing or "+" not in voice:
        return [voice]
    # "af_bella(2)+af_heart(1)": each part is a voice with an optional weight.
    return [re.sub(r"\(\s*[\d.]+\s*\)$", "", part).strip() for part in voice.split("+")]


def check_voice(
    model: str,
    voice: Any,
    available: Sequence[str] | None,
    *,
    catalog: MediaCatalog = MEDIA_CATALOG,
) -> str:
    """Refuse a voice the model does not have.

    ``available`` is the live list (``GET /voices``), else ``None`` to use the bundled one;
    with neither, any non-empty voice passes and the server decides.
    """
    if not isinstance(voice, str) or not voice.strip():
        raise _refuse("voice", voice, "a non-empty voice name")
    spec = catalog.speech(model)
    known = list(available) if available else list(spec.voices if spec else ())
    if not known:
        return voice
    folded = {v.casefold() for v in known}
    for name in _voice_names(voice, spec.voice_mixing if spec else False):
        if name.casefold() not in folded:
            raise _refuse("voice", voice, _words(known), f"for {model}")
    return voice


def check_speech(
    model: str,
    *,
    text: Any,
    response_format: Any = None,
    language: Any = None,
    stream: bool = False,
    catalog: MediaCatalog = MEDIA_CATALOG,
) -> SpeechModelSpec | None:
    """Refuse speech arguments that cannot succeed (the voice is :func:`check_voice`'s)."""
    check_prompt(text, "text")
    spec = catalog.speech(model)
    formats = spec.formats if spec else ("wav", "mp3", "raw")
    if response_format is not None and response_format not in formats:
        raise _refuse("response_format", response_format, _words(formats), f"for {model}")
    # Spec and docs: mp3, wav or raw for a whole file; a stream is raw only. (NOTES-jobs §2
    # reads "raw only when streaming", the other way round: the spec's text is followed.)
    if stream and response_format not in (None, "raw"):
        raise _refuse("response_format", response_format, "raw when streaming (PCM chunks)")
    if language is not None and language not in SPEECH_LANGUAGES:
        raise _refuse("language", language, _words(sorted(SPEECH_LANGUAGES)))
    return spec


def check_transcription(
    model: str,
    *,
    language: Any = None,
    translate: bool = False,
    catalog: MediaCatalog = MEDIA_CATALOG,
) -> TranscriptionModelSpec | None:
    """Refuse transcription arguments that cannot succeed (the file is
    :func:`check_audio_file`'s)."""
    spec = catalog.transcription(model)
    if translate and spec is not None and not spec.translation:
        raise _refuse("model", model, "a model that translates", "for translation")
    if language is not None and (
        not isinstance(language, str) or not (language == "auto" or _LANGUAGE_CODE.match(language))
    ):
        raise _refuse("language", language, "'auto' or an ISO 639-1 code such as 'en' or 'fr'")
    return spec


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def check_audio_file(
    file: Any,
    model: str = DEFAULT_TRANSCRIPTION_MODEL,
    *,
    catalog: MediaCatalog = MEDIA_CATALOG,
) -> None:
    """Refuse an audio file that cannot be transcribed: a missing path, a directory, a type
    Whisper does not decode, an empty or too large file. URLs are fetched by the server,
    which checks them."""
    spec = catalog.transcription(model)
    extensions = spec.extensions if spec else AUDIO_EXTENSIONS
    limit = spec.max_upload_bytes if spec else MAX_UPLOAD_BYTES
    allowed_types = _words(sorted(extensions))
    if _is_url(file):
        return
    name: str | None = None
    size: int | None = None
    if isinstance(file, (str, Path)):
        path = Path(file)
        if not path.exists():
            raise _refuse("file", str(file), "an existing audio file or an http(s) URL",
                          "(no such file)")  # fmt: skip
        if not path.is_file():
            raise _refuse("file", str(file), "a file, not a directory")
        name, size = path.name, path.stat().st_size
    elif isinstance(file, tuple):
        if len(file) != 2 or not isinstance(file[0], str):
            raise TypeError("An audio file pair must be (filename, bytes).")
        name, size = file[0], len(file[1])
    elif isinstance(file, (bytes, bytearray)):
        size = len(file)
    elif hasattr(file, "read"):
        handle: IO[bytes] = file
        raw_name = getattr(handle, "name", None)
        name = Path(raw_name).name if isinstance(raw_name, str) else None
    else:
        raise TypeError(
            "file must be a path, an http(s) URL, bytes, a (filename, bytes) pair or a binary "
            f"file object; got {type(file).__name__}."
        )
    if name is not None:
        suffix = Path(name).suffix.lower()
        if suffix not in extensions:
            raise _refuse("file", name, allowed_types, f"(a {suffix or 'nameless'} file)")
    if size is not None:
        if size == 0:
            raise _refuse("file", name or "<bytes>", "a non-empty audio file", "(it is empty)")
        if size > limit:
            raise _refuse(
                "file",
                name or "<bytes>",
                f"at most {limit // (1024 * 1024)} MB uploaded; pass a URL for larger files",
                f"(it has {size / (1024 * 1024):.0f} MB)",
            )


def check_video(
    model: str,
    *,
    prompt: Any = None,
    width: Any = None,
    height: Any = None,
    seconds: Any = None,
    steps: Any = None,
    has_frames: bool = False,
    catalog: MediaCatalog = MEDIA_CATALOG,
) -> VideoModelSpec | None:
    """Refuse video arguments the model's limits rule out; returns its limits, if known."""
    spec = catalog.video(model)
    if prompt is not None or ((spec is None or spec.prompt_required) and not has_frames):
        check_prompt(prompt, max_chars=32_000)
    if (width is None) != (height is None):
        raise _refuse(
            "width" if width is not None else "height",
            width if width is not None else height,
            "width and height together, or neither",
        )
    if width is not None:
        _int("width", width, 1)
        _int("height", height, 1)
        if spec is not None and spec.sizes and (width, height) not in spec.sizes:
            sizes = _words(f"{w}x{h}" for w, h in spec.sizes)
            raise _refuse("size", f"{width}x{height}", sizes, f"for {model}")
    if seconds is not None:
        text = str(int(seconds)) if isinstance(seconds, float) and seconds.is_integer() else seconds
        text = str(text)
        if spec is not None and spec.seconds and text not in spec.seconds:
            raise _refuse("seconds", seconds, _words(spec.seconds), f"for {model}")
    if steps is not None:
        _int("steps", steps, *(spec.steps if spec and spec.steps else (10, 50)))
    return spec
