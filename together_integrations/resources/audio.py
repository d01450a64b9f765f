"""Audio: speech (``POST /audio/speech``, binary or SSE), transcriptions and translations
(multipart uploads of a file or a URL), and ``GET /voices``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from together_integrations._base_transport import Call, RequestOptions, chunk_parser, json_parser
from together_integrations._exceptions import TogetherConfigError
from together_integrations._streaming import AsyncStream, Stream
from together_integrations.schemas import (
    SpeechChunk,
    SpeechRequest,
    SpeechResponse,
    Transcription,
    TranscriptionRequest,
    TranslationRequest,
    VoiceList,
)

from ._base import Resource, as_request

__all__ = ["Audio", "AudioFile"]

AudioFile = bytes | str | Path | tuple[str, bytes] | IO[bytes]
"""Bytes, a path, a ``(filename, bytes)`` pair, a binary file object, or an http(s) URL."""

_PARSE_TRANSCRIPTION = json_parser(Transcription)
_PARSE_SPEECH_CHUNK = chunk_parser(SpeechChunk)
_PARSE_VOICES = json_parser(VoiceList)


def _never_final(_: Any) -> bool:
    return False


def _file_parts(file: AudioFile) -> tuple[list[tuple[str, str]], Any]:
    """The form field (for a URL) or the file-part factory (called once per attempt)."""
    if isinstance(file, str) and file.startswith(("http://", "https://")):
        return [("file", file)], None
    if isinstance(file, tuple):
        name, data = file
        return [], lambda: [("file", (name, data))]
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
        return [], lambda: [("file", ("audio", data))]
    if isinstance(file, str | Path):
        path = Path(file)
        if not path.is_file():
            raise TogetherConfigError(
                f"Audio file not found: {str(path)!r}. Pass bytes, a path or a URL."
            )
        # Opened again for every attempt: a retry sends the file from its start, and a
        # large recording streams from disk instead of being held in memory.
        return [], lambda: [("file", (path.name, path.open("rb")))]
    if hasattr(file, "read"):
        handle = file
        start = handle.tell() if hasattr(handle, "tell") else 0
        name = Path(str(getattr(handle, "name", "audio"))).name

        def parts() -> list[tuple[str, Any]]:
            if hasattr(handle, "seek"):
                handle.seek(start)
            return [("file", (name, handle))]

        return [], parts
    raise TypeError(
        f"file must be bytes, a path, a URL, a (filename, bytes) pair or a binary file object; "
        f"got {type(file).__name__}."
    )


def _upload_call(path: str, file: AudioFile, form: list[tuple[str, str]]) -> Call:
    fields, files = _file_parts(file)
    # Always multipart, also for a URL: the endpoint accepts only multipart/form-data.
    return Call("POST", path, form=[*form, *fields], files=files, multipart=True)


def _transcribe_call(
    file: AudioFile, request: TranscriptionRequest | Mapping[str, Any] | None
) -> Call:
    form = as_request(TranscriptionRequest, request or {}).to_form()
    return _upload_call("/audio/transcriptions", file, form)


def _translate_call(
    file: AudioFile, request: TranslationRequest | Mapping[str, Any] | None
) -> Call:
    form = as_request(TranslationRequest, request or {}).to_form()
    return _upload_call("/audio/translations", file, form)


def _speech_call(request: SpeechRequest | Mapping[str, Any], stream: bool) -> Call:
    body = as_request(SpeechRequest, request, stream=stream)
    return Call("POST", "/audio/speech", json=body.to_wire_json())


def _speech(content: bytes, headers: Mapping[str, str]) -> SpeechResponse:
    return SpeechResponse(
        content=content, content_type=headers.get("content-type", "application/octet-stream")
    )


class Audio(Resource):
    """Text to speech and speech to text."""

    __slots__ = ()

    def speech(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> SpeechResponse:
        """``POST /audio/speech``: the whole audio file as bytes."""
        response = self._transport.send(_speech_call(request, False), options)
        return _speech(response.content, response.headers)

    async def aspeech(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> SpeechResponse:
        """Async :meth:`speech`."""
        response = await self._transport.asend(_speech_call(request, False), options)
        return _speech(response.content, response.headers)

    def speech_stream(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> Stream[SpeechChunk]:
        """``POST /audio/speech`` with ``stream: true``: base64 audio chunks over SSE."""
        return self._transport.stream(
            _speech_call(request, True), _PARSE_SPEECH_CHUNK, _never_final, options
        )

    async def aspeech_stream(
        self, request: SpeechRequest | Mapping[str, Any], options: RequestOptions | None = None
    ) -> AsyncStream[SpeechChunk]:
        """Async :meth:`speech_stream`."""
        return await self._transport.astream(
            _speech_call(request, True), _PARSE_SPEECH_CHUNK, _never_final, options
        )

    def transcribe(
        self,
        file: AudioFile,
        request: TranscriptionRequest | Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Transcription:
        """``POST /audio/transcriptions`` (multipart)."""
        return self._transport.request(
            _transcribe_call(file, request), _PARSE_TRANSCRIPTION, options
        )

    async def atranscribe(
        self,
        file: AudioFile,
        request: TranscriptionRequest | Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Transcription:
        """Async :meth:`transcribe`."""
        call = _transcribe_call(file, request)
        return await self._transport.arequest(call, _PARSE_TRANSCRIPTION, options)

    def translate(
        self,
        file: AudioFile,
        request: TranslationRequest | Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Transcription:
        """``POST /audio/translations`` (multipart): the speech as English text."""
        return self._transport.request(
            _translate_call(file, request), _PARSE_TRANSCRIPTION, options
        )

    async def atranslate(
        self,
        file: AudioFile,
        request: TranslationRequest | Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Transcription:
        """Async :meth:`translate`."""
        call = _translate_call(file, request)
        return await self._transport.arequest(call, _PARSE_TRANSCRIPTION, options)

    def voices(self, *, options: RequestOptions | None = None) -> VoiceList:
        """``GET /voices``: the voices of each speech model."""
        return self._transport.request(Call("GET", "/voices"), _PARSE_VOICES, options)

    async def avoices(self, *, options: RequestOptions | None = None) -> VoiceList:
        """Async :meth:`voices`."""
        return await self._transport.arequest(Call("GET", "/voices"), _PARSE_VOICES, options)
