"""Speech (``/v1/audio/speech``) and transcription (``/v1/audio/transcriptions``)."""

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
        "task": "transcribe",
        "language": form.get("language") or "en",
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
