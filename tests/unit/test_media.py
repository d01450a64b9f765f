"""Media limits and results: bad arguments refused before any request with what is allowed;
images, speech and videos fetched without the key, saved atomically under content-hashed
names, sync and async."""

from __future__ import annotations

import asyncio
import hashlib
import pickle
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import together_integrations
from together_integrations import JobFailedError, NotFoundError, TogetherTransport
from together_integrations._media import (
    GeneratedImage,
    SpeechAudio,
    aknown_voices,
    clear_voice_cache,
    download_call,
    images_from_response,
    known_voices,
    video_outcome,
    wav_duration,
)
from together_integrations._media_catalog import (
    MEDIA_CATALOG,
    MediaCatalog,
    MediaInputError,
    TranscriptionModelSpec,
    VideoModelSpec,
    check_audio_file,
    check_image,
    check_prompt,
    check_speech,
    check_transcription,
    check_video,
    check_voice,
)
from together_integrations.schemas import ImageGenerationRequest
from together_integrations.testing import TogetherEmulator

T = TypeVar("T")
FLUX = "black-forest-labs/FLUX.1-schnell"
ORPHEUS = "canopylabs/orpheus-3b-0.1-ft"
VEO = "google/veo-3.0"


def run(mode: str, sync: Callable[[], T], async_: Callable[[], Awaitable[T]]) -> T:
    return sync() if mode == "sync" else asyncio.run(async_())  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _fresh_voices() -> None:
    clear_voice_cache()


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator(api_key="emu-secret-key")


@pytest.fixture
def transport(emu: TogetherEmulator) -> TogetherTransport:
    result: TogetherTransport = emu.transport(max_retries=0)
    return result


def refused(call: Callable[[], Any]) -> MediaInputError:
    with pytest.raises(MediaInputError) as info:
        call()
    assert isinstance(info.value, ValueError)
    return info.value


# ------------------------------------------------------------------ limits


@pytest.mark.parametrize("prompt", ["", "   \n", None, 3])
def test_an_empty_prompt_is_refused(prompt: Any) -> None:
    error = refused(lambda: check_prompt(prompt))
    assert error.argument == "prompt" and "non-empty text" in str(error)


def test_a_refusal_is_in_the_error_tree_and_survives_pickling() -> None:
    error = refused(lambda: check_image(FLUX, n=9))
    assert isinstance(error, together_integrations.TogetherConfigError)
    assert MediaInputError is together_integrations.MediaInputError
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), str(back), back.argument, back.value, back.allowed) == (
        MediaInputError, str(error), "n", 9, "1 to 4")  # fmt: skip


def test_a_prompt_over_the_limit_says_the_limit() -> None:
    error = refused(lambda: check_prompt("x" * 11, max_chars=10))
    assert "at most 10 characters" in str(error) and "(it has 11)" in str(error)


@pytest.mark.parametrize(
    ("arguments", "argument", "allowed"),
    [
        ({"width": 1001}, "width", "multiples of 8 from 64 to 2048 (such as 1000 or 1008)"),
        ({"height": 4096}, "height", "64 to 2048"),
        ({"width": 32}, "width", "64 to 2048"),
        ({"steps": 51}, "steps", "1 to 50"),
        ({"n": 5}, "n", "1 to 4"),
        ({"n": True}, "n", "an integer"),
    ],
)
def test_image_limits_of_flux_schnell(
    arguments: dict[str, Any], argument: str, allowed: str
) -> None:
    error = refused(lambda: check_image(FLUX, **arguments))
    assert error.argument == argument and allowed in str(error)
    assert error.allowed is not None and allowed in error.allowed


def test_image_arguments_within_limits_pass_and_an_unknown_model_gets_generic_checks() -> None:
    spec = check_image(FLUX, n=4, width=1024, height=768, steps=50)
    assert spec is not None and spec.default_steps == 4
    # The seed's names resolve: its Orpheus id and its image CLI example.
    assert check_voice("canopylabs/orpheus-3b", "leah", None) == "leah"
    assert check_image("stabilityai/stable-diffusion-xl-base-1.0", steps=50) is not None
    # Not catalogued: the server decides sizes and steps.
    assert check_image("someone/new-image-model", width=1001, steps=40) is None
    refused(lambda: check_image("someone/new-image-model", n=0))


def test_voices_are_checked_against_the_live_list_else_the_bundled_one() -> None:
    error = refused(lambda: check_voice(ORPHEUS, "nobody", None))
    assert "tara, leah, jess" in str(error) and ORPHEUS in str(error)
    assert check_voice(ORPHEUS, "Tara", None) == "Tara"
    # The live list wins over the bundled one.
    refused(lambda: check_voice(ORPHEUS, "leo", ["tara", "calm man"]))
    assert check_voice(ORPHEUS, "calm man", ["tara", "calm man"]) == "calm man"
    # Kokoro blends voices; each part must exist.
    assert check_voice("hexgrad/Kokoro-82M", "af_bella(2)+af_heart(1)", None)
    refused(lambda: check_voice("hexgrad/Kokoro-82M", "af_bella+nobody", None))
    # Nothing known: any voice passes, the server decides.
    assert check_voice("cartesia/sonic", "friendly sidekick", None) == "friendly sidekick"
    refused(lambda: check_voice("cartesia/sonic", "  ", None))


def test_speech_formats_and_languages() -> None:
    error = refused(lambda: check_speech(ORPHEUS, text="hi", response_format="ogg"))
    assert "wav, mp3, raw" in str(error)
    # Spec: a whole file may be mp3, wav or raw; a stream is raw only.
    assert check_speech(ORPHEUS, text="hi", response_format="raw") is not None
    assert check_speech(ORPHEUS, text="hi", response_format="raw", stream=True) is not None
    error = refused(lambda: check_speech(ORPHEUS, text="hi", response_format="wav", stream=True))
    assert "raw when streaming" in str(error)
    assert "ja" in str(refused(lambda: check_speech(ORPHEUS, text="hi", language="xx")))
    assert refused(lambda: check_speech(ORPHEUS, text="")).argument == "text"


def test_transcription_language_must_be_auto_or_a_code() -> None:
    check_transcription("openai/whisper-large-v3", language="auto")
    check_transcription("openai/whisper-large-v3", language="fr")
    assert "'auto'" in str(refused(lambda: check_transcription("x", language="French")))


def test_audio_files(tmp_path: Path) -> None:
    error = refused(lambda: check_audio_file(tmp_path / "missing.mp3"))
    assert "no such file" in str(error) and "missing.mp3" in str(error)
    assert "not a directory" in str(refused(lambda: check_audio_file(tmp_path)))
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    error = refused(lambda: check_audio_file(notes))
    assert ".txt" in str(error) and ".mp3" in str(error) and ".webm" in str(error)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert "empty" in str(refused(lambda: check_audio_file(empty)))
    assert ".exe" in str(refused(lambda: check_audio_file(("x.exe", b"MZ"))))
    ok = tmp_path / "talk.MP3"
    ok.write_bytes(b"ID3...")
    check_audio_file(ok)
    check_audio_file("https://example.com/stream")  # the server fetches and checks URLs
    check_audio_file(b"RIFF")
    with pytest.raises(TypeError):
        check_audio_file(42)


def test_the_upload_limit_points_to_urls(tmp_path: Path) -> None:
    catalog = MediaCatalog()
    catalog.register(TranscriptionModelSpec("tiny/whisper", max_upload_bytes=1024 * 1024))
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))
    error = refused(lambda: check_audio_file(big, "tiny/whisper", catalog=catalog))
    assert "at most 1 MB" in str(error) and "pass a URL" in str(error)


@pytest.mark.parametrize(
    ("arguments", "allowed"),
    [
        ({"width": 1000, "height": 1000}, "1280x720, 720x1280, 1920x1080, 1080x1920"),
        ({"seconds": 5}, "allowed: 8"),
        ({"steps": 5}, "10 to 50"),
        ({"width": 1280}, "width and height together"),
    ],
)
def test_video_limits_of_veo(arguments: dict[str, Any], allowed: str) -> None:
    assert allowed in str(refused(lambda: check_video(VEO, prompt="a fox", **arguments)))


def test_video_prompt_and_overrides() -> None:
    assert refused(lambda: check_video(VEO, prompt="")).argument == "prompt"
    assert check_video(VEO, prompt="a fox", width=1280, height=720, seconds=8.0) is not None
    assert check_video("someone/new-video", prompt="a fox", width=999, height=3) is None
    catalog = MediaCatalog.builtin()
    catalog.register(VideoModelSpec(VEO, seconds=("4", "8")))
    assert check_video(VEO, prompt="a fox", seconds="4", catalog=catalog) is not None
    # The process-wide catalog is untouched by a private one.
    refused(lambda: check_video(VEO, prompt="a fox", seconds="4"))
    assert VEO in MEDIA_CATALOG.models(VideoModelSpec)


# ------------------------------------------------------------------ images


def generate(transport: TogetherTransport, **body: Any) -> list[GeneratedImage]:
    request = ImageGenerationRequest(model=FLUX, prompt="a red fox", width=64, height=64, **body)
    return images_from_response(transport.images.generate(request), request, transport)


def test_an_image_url_is_fetched_without_the_key_once(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    (image,) = generate(transport, response_format="url")
    assert image.url is not None and not image.has_data
    before = len(emu.requests)
    data = run(mode, image.bytes, image.abytes)
    assert data[:3] == b"\xff\xd8\xff" and image.mime_type == "image/jpeg"
    fetch = emu.requests[-1]
    assert fetch.path.startswith("/shrt/") and not fetch.authorized
    assert fetch.headers["user-agent"].startswith("together-integrations/")
    assert "emu-secret-key" not in repr(fetch.headers)
    run(mode, image.bytes, image.abytes)
    assert len(emu.requests) == before + 1  # downloaded once


def test_save_into_a_directory_uses_a_content_hashed_name(
    mode: str, tmp_path: Path, transport: TogetherTransport
) -> None:
    (image,) = generate(transport, response_format="url", output_format="png")
    saved = run(mode, lambda: image.save(tmp_path), lambda: image.asave(tmp_path))
    data = saved.read_bytes()
    assert saved.parent == tmp_path and data[:4] == b"\x89PNG"
    assert saved.name == f"image-{hashlib.sha256(data).hexdigest()[:16]}.png"
    again = run(mode, lambda: image.save(tmp_path), lambda: image.asave(tmp_path))
    assert again == saved and sorted(p.name for p in tmp_path.iterdir()) == [saved.name]


def test_save_to_a_file_path_creates_its_folder(
    tmp_path: Path, transport: TogetherTransport
) -> None:
    (image,) = generate(transport, response_format="base64")
    target = tmp_path / "out" / "fox.jpg"
    assert image.save(target) == target and target.read_bytes() == image.bytes()


def test_a_failed_download_leaves_no_file(
    mode: str, tmp_path: Path, transport: TogetherTransport
) -> None:
    image = GeneratedImage(url="https://api.together.xyz/shrt/gone", transport=transport)
    with pytest.raises(NotFoundError):
        run(mode, lambda: image.save(tmp_path), lambda: image.asave(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_inline_images_need_no_request_and_keep_bytes_out_of_repr(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    (image,) = generate(transport, response_format="base64", output_format="png")
    count = len(emu.requests)
    assert image.has_data and image.url is None and image.mime_type == "image/png"
    assert image.bytes()[:4] == b"\x89PNG" and len(emu.requests) == count
    assert image.base64()[:10] not in repr(image) and "bytes" in repr(image)
    assert image.sha256 == hashlib.sha256(image.bytes()).hexdigest()


def test_urls_other_than_http_are_refused() -> None:
    assert refused(lambda: download_call("file:///etc/passwd")).argument == "url"
    call = download_call("https://cdn.example/x.png")
    assert call.authenticated is False and call.root == ""


def test_a_url_result_without_transport_says_how_to_fetch(mode: str, tmp_path: Path) -> None:
    image = GeneratedImage(url="https://cdn.example/x.png")
    assert refused(image.bytes).argument == "transport"
    error = refused(lambda: run(mode, lambda: image.save(tmp_path), lambda: image.asave(tmp_path)))
    assert error.argument == "transport" and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ speech


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    frames = b"\0\0" * int(rate * seconds)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_wav_duration_from_the_header() -> None:
    assert wav_duration(wav_bytes(1.0)) == 1.0
    assert wav_duration(wav_bytes(0.25, rate=16000)) == 0.25
    assert wav_duration(b"ID3 not a wav") is None
    audio = SpeechAudio(data=wav_bytes(0.5), model=ORPHEUS, voice="tara", text="hi")
    assert audio.duration == 0.5 and audio.mime_type == "audio/wav" and audio.extension == ".wav"


def test_speech_from_the_emulator_saves_as_wav(
    tmp_path: Path, transport: TogetherTransport
) -> None:
    response = transport.audio.speech({"model": ORPHEUS, "input": "Hello there.", "voice": "tara"})
    audio = SpeechAudio(data=response.content, model=ORPHEUS, voice="tara", text="Hello there.")
    assert audio.duration is not None and audio.duration > 0
    saved = audio.save(tmp_path)
    assert saved.name.startswith("speech-") and saved.suffix == ".wav"
    assert saved.read_bytes() == response.content


def test_voices_come_from_the_server_once_per_transport(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    first = run(
        mode, lambda: known_voices(transport, ORPHEUS), lambda: aknown_voices(transport, ORPHEUS)
    )
    assert "tara" in first and "calm man" in first
    run(mode, lambda: known_voices(transport, "cartesia/sonic"),
        lambda: aknown_voices(transport, "cartesia/sonic"))  # fmt: skip
    assert [r.path for r in emu.requests].count("/v1/voices") == 1


def test_without_a_voices_endpoint_the_bundled_list_is_used(mode: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"message": "Not found"}})

    mock = httpx.MockTransport(handler)
    transport = TogetherTransport(
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=mock),
        http_async_client=httpx.AsyncClient(transport=mock),
    )
    voices = run(
        mode, lambda: known_voices(transport, ORPHEUS), lambda: aknown_voices(transport, ORPHEUS)
    )
    assert voices[:3] == ("tara", "leah", "jess")
    assert known_voices(transport, "cartesia/sonic") == ()


# ------------------------------------------------------------------ videos


def test_a_finished_video_downloads_without_the_key(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, tmp_path: Path
) -> None:
    job = transport.videos.create({"model": VEO, "prompt": "a fox in snow"})
    assert video_outcome(job, transport) is None  # still queued
    emu.clock.advance(3600)  # type: ignore[attr-defined]
    video = video_outcome(transport.videos.retrieve(job.id), transport)
    assert video is not None and video.id == job.id and video.cost == 0.28
    assert video.url is not None and video.url.endswith(".mp4") and video.mime_type == "video/mp4"
    saved = run(mode, lambda: video.save(tmp_path), lambda: video.asave(tmp_path))
    assert saved.read_bytes()[4:8] == b"ftyp" and saved.name.startswith("video-")
    assert not emu.requests[-1].authorized
    assert [p.suffix for p in tmp_path.iterdir()] == [".mp4"]


def test_a_failed_video_carries_the_servers_reason(
    emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    emu.videos.script(outcome="failed", error_code="content_policy", error_message="Not allowed")
    job = transport.videos.create({"model": VEO, "prompt": "a fox"})
    emu.clock.advance(3600)  # type: ignore[attr-defined]
    with pytest.raises(JobFailedError) as info:
        video_outcome(transport.videos.retrieve(job.id), transport)
    assert info.value.reason == "Not allowed" and info.value.job_id == job.id
    assert "Not allowed" in str(info.value)
