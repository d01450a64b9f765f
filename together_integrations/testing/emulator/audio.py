"""Speech (``/v1/audio/speech``), voices (``/v1/voices``), transcription and translation
(``/v1/audio/transcriptions``, ``/v1/audio/translations``)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from .content import fake_audio, wav
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
    body = request.body
    wire = emu.wire
    text = body.get("input")
    if not isinstance(text, str) or not text or not body.get("voice"):
        return wire.error(400, "Input validation error", param="input" if not text else "voice")
    fmt = body.get("response_format") or "wav"
    audio = wav(len(text)) if fmt == "wav" else fake_audio(text, fmt)
    request_id = wire.id()
    if body.get("stream"):
        events = [
            {
                "object": "audio.tts.chunk",
                "model": body["model"],
                "b64": base64.b64encode(p).decode(),
            }
            for p in slices(audio, 1024)
        ]
        return wire.stream(request_id, events)
    ctype = {"wav": "audio/wav", "mp3": "audio/mpeg"}.get(fmt, "application/octet-stream")
    return EmulatedResponse(200, wire.headers(request_id, ctype), audio)


def transcriptions(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    return _transcribe(emu, request, "transcribe")


def translations(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    """Like transcriptions, but the text is English whatever was spoken (``task: translate``)."""
    return _transcribe(emu, request, "translate")


def _transcribe(emu: TogetherEmulator, request: EmulatedRequest, task: str) -> EmulatedResponse:
    # A batch line arrives as JSON with the same field names (``file`` then being a URL).
    form = request.form or request.body
    wire = emu.wire
    model = form.get("model") or "openai/whisper-large-v3"
    if model not in emu.models:
        return wire.model_not_available(model)
    if "file" not in form:
        return wire.error(400, "Input validation error: file is required", param="file")
    text = str(form.get("prompt") or "Hello from the emulator.")
    request_id = wire.id()
    if form.get("response_format") != "verbose_json":
        return wire.ok(request_id, {"text": text})
    words = text.split()
    duration = round(0.4 * max(1, len(words)), 2)
    payload: dict[str, Any] = {
        "task": task,
        "language": "en" if task == "translate" else form.get("language") or "en",
        "duration": duration,
        "text": text,
        "segments": [{"id": 0, "start": 0.0, "end": duration, "text": text}],
    }
    if "word" in str(form.get("timestamp_granularities", "")):
        payload["words"] = [
            {"word": w, "start": round(0.4 * i, 2), "end": round(0.4 * (i + 1), 2)}
            for i, w in enumerate(words)
        ]
    return wire.ok(request_id, payload)


def voices(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    data = [
        {
            "model": model_id,
            "voices": [{"id": f"{model_id.split('/')[-1]}:{v}", "name": v} for v in VOICES],
        }
        for model_id, info in emu.models.items()
        if info.get("type") == "audio"
    ]
    return emu.wire.json({"data": data})
