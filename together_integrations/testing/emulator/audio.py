"""Speech (``/v1/audio/speech``), voices (``/v1/voices``), transcription and translation
(``/v1/audio/transcriptions``, ``/v1/audio/translations``)."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from .content import fake_audio, wav, wav_text
from .wire import EmulatedRequest, EmulatedResponse, slices

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["register", "speech", "transcriptions"]


def register(router: Router) -> None:
    router.add("POST", "/v1/audio/speech", speech, needs_model=True)
    router.add("POST", "/v1/audio/transcriptions", transcriptions)
    router.add("POST", "/v1/audio/translations", translations)
    router.add("GET", "/v1/voices", voices)


VOICES = ("helpful woman", "calm man", "british narrator", "friendly reading man", "tara")
"""Voice names the emulator lists (``GET /voices``) for every speech model."""


def speech(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    """A WAV (default), an MP3-like body, or with ``stream`` SSE ``audio.tts.chunk`` events
    whose ``b64`` pieces join into the same bytes (``raw``: the bare 16-bit PCM frames)."""
    body = request.body
    wire = emu.wire
    text = body.get("input")
    if not isinstance(text, str) or not text or not body.get("voice"):
        return wire.error(400, "Input validation error", param="input" if not text else "voice")
    fmt = body.get("response_format") or "wav"
    if fmt not in ("wav", "mp3", "raw"):
        return wire.error(400, f"Invalid response_format {fmt!r}", param="response_format")
    if fmt == "raw" and not body.get("stream"):
        return wire.error(
            400, "response_format 'raw' is only available when streaming", param="response_format"
        )
    rate = body.get("sample_rate") or 44100
    if not isinstance(rate, int) or isinstance(rate, bool) or not 8000 <= rate <= 48000:
        return wire.error(400, "sample_rate must be between 8000 and 48000", param="sample_rate")
    audio = wav(text, rate) if fmt in ("wav", "raw") else fake_audio(text, fmt)
    if fmt == "raw":
        audio = audio[audio.index(b"data") + 8 :]
    request_id = wire.id()
    if body.get("stream"):
        events = [
            {
                "object": "audio.tts.chunk",
                "model": body["model"],
                "b64": base64.b64encode(p).decode(),
            }
            for p in slices(audio, 4096)
        ]
        return wire.stream(request_id, events)
    ctype = {"wav": "audio/wav", "mp3": "audio/mpeg"}[fmt]
    return EmulatedResponse(200, wire.headers(request_id, ctype), audio)


def transcriptions(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    return _transcribe(emu, request, "transcribe")


def translations(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    """Like transcriptions, but the text is English whatever was spoken (``task: translate``)."""
    return _transcribe(emu, request, "translate")


def _heard(form: dict[str, Any]) -> str:
    """What the audio says: the text a WAV from our speech endpoint carries, else the
    ``prompt``, else a fixed sentence."""
    audio = form.get("file")
    if isinstance(audio, bytes):
        carried = wav_text(audio)
        if carried:
            return carried
    return str(form.get("prompt") or "Hello from the emulator.")


def _transcribe(emu: TogetherEmulator, request: EmulatedRequest, task: str) -> EmulatedResponse:
    """``json`` → ``{text}``, ``text`` → the bare text, ``verbose_json`` → task, language,
    duration, sentence ``segments``, ``words`` when asked (``timestamp_granularities``), and
    for transcriptions with ``diarize`` speaker ids and ``speaker_segments``. Each word
    lasts 0.4 s."""
    # A batch line arrives as JSON with the same field names (``file`` then being a URL).
    form = request.form or request.body
    wire = emu.wire
    model = form.get("model") or "openai/whisper-large-v3"
    if model not in emu.models:
        return wire.model_not_available(model)
    if "file" not in form:
        return wire.error(400, "Input validation error: file is required", param="file")
    fmt = form.get("response_format") or "json"
    if fmt not in ("json", "verbose_json", "text"):
        return wire.error(400, f"Invalid response_format {fmt!r}", param="response_format")
    text = _heard(form)
    request_id = wire.id()
    if fmt == "text":
        plain = text.encode() + b"\n"
        return EmulatedResponse(200, wire.headers(request_id, "text/plain; charset=utf-8"), plain)
    if fmt == "json":
        return wire.ok(request_id, {"text": text})
    words = text.split()
    duration = round(0.4 * max(1, len(words)), 2)
    diarize = task == "transcribe" and str(form.get("diarize", "")).lower() in ("true", "1")
    segments: list[dict[str, Any]] = []
    timed: list[dict[str, Any]] = []
    position = 0
    for number, sentence in enumerate(_sentences(text)):
        count = len(sentence.split())
        start, end = round(0.4 * position, 2), round(0.4 * (position + count), 2)
        segments.append({"id": number, "start": start, "end": end, "text": sentence})
        for offset, word in enumerate(sentence.split()):
            item: dict[str, Any] = {
                "word": word,
                "start": round(0.4 * (position + offset), 2),
                "end": round(0.4 * (position + offset + 1), 2),
            }
            if diarize:
                item["speaker_id"] = f"SPEAKER_{number % 2:02d}"
            timed.append(item)
        position += count
    payload: dict[str, Any] = {
        "task": task,
        "language": "en" if task == "translate" else form.get("language") or "en",
        "duration": duration,
        "text": text,
        "segments": segments,
    }
    granularities = form.get("timestamp_granularities", "")
    if "word" in (granularities if isinstance(granularities, list) else str(granularities)):
        payload["words"] = timed
    if diarize:
        payload["words"] = timed
        payload["speaker_segments"] = [
            {
                "id": segment["id"],
                "speaker_id": f"SPEAKER_{segment['id'] % 2:02d}",
                "start": segment["start"],
                "end": segment["end"],
                "text": segment["text"],
                "words": [w for w in timed if segment["start"] <= w["start"] < segment["end"]],
            }
            for segment in segments
        ]
    return wire.ok(request_id, payload)


def _sentences(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if p.strip()]
    return parts or [text]


def voices(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    """``GET /voices[?model=]``: every speech model's voices, or one model's."""
    only = request.query_params().get("model")
    data = [
        {
            "model": model_id,
            "voices": [{"id": f"{model_id.split('/')[-1]}:{v}", "name": v} for v in VOICES],
        }
        for model_id, info in emu.models.items()
        if info.get("type") == "audio" and only in (None, model_id)
    ]
    return emu.wire.json({"data": data})
