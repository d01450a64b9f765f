"""Every endpoint through the transport (sync and async): the request it sends and the
response shapes of NOTES §3 and §6 it reads."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from together_integrations import APIResponseValidationError, TogetherConfigError
from together_integrations.schemas import (
    ChatCompletion,
    Completion,
    EmbeddingResponse,
    ImageResponse,
    LegacyLogprobs,
    ModelInfo,
    OpenAILogprobs,
    RerankResponse,
    SpeechChunk,
    SpeechResponse,
    Transcription,
    normalize_logprobs,
)

from .fixtures import wire
from .fixtures.mock import SSE, Api, Script, json_response

BODY = wire.CHAT_BODY


def chat(api: Api, body: dict[str, Any]) -> tuple[ChatCompletion, httpx.Request]:
    script = Script(json_response(200, body))
    reply = api.call(script.transport(), "chat.create", BODY)
    assert isinstance(reply, ChatCompletion)
    return reply, script.requests[0]


# ------------------------------------------------------------------------- chat shapes


def test_chat_plain_answer(api: Api) -> None:
    reply, sent = chat(api, wire.chat_completion())
    choice = reply.choices[0]
    assert choice.message.content == "Hello!" and choice.finish_reason == "stop"
    assert choice.seed == wire.BIG_SEED  # > 2**63, kept exactly
    assert choice.message.tool_calls == []
    assert reply.model_extra == {"prompt": []}
    assert reply.usage is not None and reply.usage.total_tokens == 15
    assert sent.url.path == "/v1/chat/completions" and sent.method == "POST"


def test_chat_tool_calls_with_null_content(api: Api) -> None:
    reply, _ = chat(api, wire.TOOL_CALL_COMPLETION)
    message = reply.choices[0].message
    assert message.content is None and reply.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.type, call.index) == ("call_3xdm9hr8hghhxh9xjmclmt8s", "function", 0)
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments or "") == {"city": "Paris"}
    assert reply.usage is not None and reply.usage.cached == 0


def test_chat_reasoning_empty_content_extras_and_warnings(api: Api) -> None:
    reply, _ = chat(api, wire.REASONING_COMPLETION)
    message = reply.choices[0].message
    assert message.content == "" and message.reasoning == "The user greets me."
    assert reply.choices[0].seed is None
    usage = reply.usage
    assert usage is not None and usage.prompt_tokens_details is None
    assert usage.reasoning == 40 and usage.cached is None
    assert reply.warnings is not None and reply.warnings[0].message.startswith("Model supports")
    assert reply.model_extra is not None
    assert reply.model_extra["metadata"] == {"weight_version": "default"}
    assert {"service_tier", "system_fingerprint", "kv_transfer_params", "prompt"} <= set(
        reply.model_extra
    )


def test_chat_gemma_without_finish_reason(api: Api) -> None:
    reply, _ = chat(api, wire.GEMMA_COMPLETION)
    assert reply.id.startswith("chatcmpl-") and reply.choices[0].finish_reason is None
    assert reply.choices[0].message.tool_calls is None


@pytest.mark.parametrize(
    ("logprobs", "shape", "tokens"),
    [
        (wire.LEGACY_LOGPROBS, LegacyLogprobs, ["Hello", "<|im_end|>"]),
        (wire.OPENAI_LOGPROBS, OpenAILogprobs, ["<|return|>"]),
    ],
    ids=["legacy", "openai"],
)
def test_chat_logprobs_both_shapes(
    api: Api, logprobs: dict[str, Any], shape: type, tokens: list[str]
) -> None:
    body = wire.chat_completion()
    body["choices"][0]["logprobs"] = logprobs
    reply, _ = chat(api, body)
    raw = reply.choices[0].logprobs
    assert isinstance(raw, shape)
    normal = normalize_logprobs(raw)
    assert normal is not None and [t.token for t in normal] == tokens
    assert all(isinstance(t.logprob, float) for t in normal)


# ---------------------------------------------------------------------- other endpoints


def test_completions(api: Api) -> None:
    script = Script(json_response(200, wire.COMPLETION))
    reply = api.call(
        script.transport(),
        "completions.create",
        {"model": "mistralai/Mixtral-8x7B-v0.1", "prompt": "Paris is"},
    )
    assert isinstance(reply, Completion)
    assert reply.choices[0].text.startswith(" a city of love")
    assert reply.choices[0].seed == 16804105058607157000
    sent = script.requests[0]
    assert sent.url.path == "/v1/completions"
    assert json.loads(sent.content) == {
        "model": "mistralai/Mixtral-8x7B-v0.1",
        "prompt": "Paris is",
        "stream": False,
    }


def test_embeddings(api: Api) -> None:
    script = Script(json_response(200, wire.EMBEDDINGS))
    reply = api.call(
        script.transport(),
        "embeddings.create",
        {"model": "BAAI/bge-base-en-v1.5", "input": ["a", "b"]},
    )
    assert isinstance(reply, EmbeddingResponse)
    assert [d.index for d in reply.data] == [0, 1] and reply.data[0].embedding[0] == -0.0112
    assert reply.usage is None
    sent = script.requests[0]
    assert sent.url.path == "/v1/embeddings"
    assert json.loads(sent.content) == {"model": "BAAI/bge-base-en-v1.5", "input": ["a", "b"]}


@pytest.mark.parametrize(
    ("body", "document"),
    [(wire.RERANK, {}), (wire.RERANK_WITH_DOCS, {"text": "Paris"})],
    ids=["document-empty", "document-text"],
)
def test_rerank(api: Api, body: dict[str, Any], document: dict[str, Any]) -> None:
    script = Script(json_response(200, body))
    reply = api.call(
        script.transport(),
        "rerank.create",
        {
            "model": "Salesforce/Llama-Rank-V1",
            "query": "capital",
            "documents": ["a", "b"],
            "top_n": 2,
        },
    )
    assert isinstance(reply, RerankResponse)
    assert reply.results[0].document == document
    assert reply.results[0].relevance_score == body["results"][0]["relevance_score"]
    assert script.requests[0].url.path == "/v1/rerank"
    assert json.loads(script.requests[0].content)["top_n"] == 2


@pytest.mark.parametrize("body", [wire.IMAGES_B64, wire.IMAGES_URL], ids=["b64", "url"])
def test_images_without_type_and_with_timings(api: Api, body: dict[str, Any]) -> None:
    script = Script(json_response(200, body))
    reply = api.call(
        script.transport(),
        "images.generate",
        {"model": body["model"], "prompt": "a cat", "response_format": "base64", "steps": 4},
    )
    assert isinstance(reply, ImageResponse)
    image = reply.data[0]
    assert image.type is None and image.timings is not None and "inference" in image.timings
    assert (image.b64_json or image.url) == (
        body["data"][0].get("b64_json") or body["data"][0]["url"]
    )
    sent = json.loads(script.requests[0].content)
    assert (
        sent["response_format"] == "base64"
        and script.requests[0].url.path == "/v1/images/generations"
    )


@pytest.mark.parametrize("envelope", [False, True], ids=["bare-array", "data-envelope"])
def test_list_models_both_forms(api: Api, envelope: bool) -> None:
    body: Any = {"object": "list", "data": wire.MODELS} if envelope else wire.MODELS
    script = Script(json_response(200, body))
    models = api.call(script.transport(), "models.list")
    assert all(isinstance(m, ModelInfo) for m in models)
    assert [m.id for m in models] == [m["id"] for m in wire.MODELS]
    kimi = models[0]
    assert kimi.context_length == 1_000_000 and kimi.type == "chat" and kimi.running is False
    assert kimi.model_extra == {"uuid": "endpoint-00000000-0000-0000-0000-000000000000"}
    assert kimi.pricing is not None and kimi.pricing.cached_input == 0.3
    assert kimi.pricing.model_extra == {"batch_input": 1.5}
    assert models[1].created == 0
    sent = script.requests[0]
    assert sent.method == "GET" and sent.url.path == "/v1/models" and not sent.url.query
    assert "content-type" not in sent.headers


def test_list_models_dedicated(api: Api) -> None:
    script = Script(json_response(200, []))
    assert api.call(script.transport(), "models.list", dedicated=True) == []
    assert script.requests[0].url.params["dedicated"] == "true"


def test_list_models_not_json(api: Api) -> None:
    script = Script(httpx.Response(200, content=b"<html/>"))
    with pytest.raises(APIResponseValidationError):
        api.call(script.transport(), "models.list")


def test_audio_speech_binary(api: Api) -> None:
    audio = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256))
    script = Script(httpx.Response(200, content=audio, headers={"content-type": "audio/wav"}))
    reply = api.call(
        script.transport(),
        "audio.speech",
        {
            "model": "cartesia/sonic",
            "input": "Hello",
            "voice": "laidback woman",
            "response_format": "wav",
        },
    )
    assert isinstance(reply, SpeechResponse)
    assert reply.content == audio and reply.content_type == "audio/wav"
    sent = json.loads(script.requests[0].content)
    assert sent["stream"] is False and sent["voice"] == "laidback woman"
    assert script.requests[0].url.path == "/v1/audio/speech"


def test_audio_speech_stream(api: Api) -> None:
    script = Script(SSE(wire.SPEECH_CHUNKS, piece=9))
    chunks = api.stream(
        script.transport(),
        "audio.speech_stream",
        {"model": "cartesia/sonic", "input": "Hello", "voice": "v"},
    )
    assert all(isinstance(c, SpeechChunk) for c in chunks) and len(chunks) == 2
    assert b"".join(c.audio for c in chunks) == base64.b64decode("UklGRg==") + base64.b64decode(
        "AAEC"
    )
    assert json.loads(script.requests[0].content)["stream"] is True


def _multipart(request: httpx.Request) -> tuple[str, bytes]:
    return request.headers["content-type"], request.content


@pytest.mark.parametrize("form", ["bytes", "tuple", "path"])
def test_audio_transcription_multipart(api: Api, tmp_path: Path, form: str) -> None:
    audio = b"RIFF\x00\x01fake-wav-bytes\xff\xfe"
    upload: Any = {
        "bytes": audio,
        "tuple": ("speech.wav", audio),
        "path": tmp_path / "speech.wav",
    }[form]
    (tmp_path / "speech.wav").write_bytes(audio)
    script = Script(json_response(200, wire.TRANSCRIPTION_VERBOSE))
    reply = api.call(
        script.transport(),
        "audio.transcribe",
        upload,
        {
            "model": "openai/whisper-large-v3",
            "language": "en",
            "response_format": "verbose_json",
            "timestamp_granularities": ["segment", "word"],
            "diarize": True,
            "temperature": 0.0,
        },
    )
    assert isinstance(reply, Transcription)
    assert reply.text == "Hello world" and reply.words is not None
    assert reply.words[0].speaker_id == "SPEAKER_00" and reply.segments is not None
    ctype, body = _multipart(script.requests[0])
    assert ctype.startswith("multipart/form-data; boundary=")
    assert audio in body
    assert b'name="file"; filename="' in body
    for name, value in [
        ("model", b"openai/whisper-large-v3"),
        ("language", b"en"),
        ("response_format", b"verbose_json"),
        ("diarize", b"true"),
        ("temperature", b"0.0"),
    ]:
        assert f'name="{name}"\r\n\r\n'.encode() + value + b"\r\n" in body
    assert body.count(b'name="timestamp_granularities"') == 2
    assert "authorization" in script.requests[0].headers


def test_transcription_upload_is_sent_again_on_retry(api: Api, sleeps: list[float]) -> None:
    audio = b"bytes-of-audio" * 10
    script = Script(json_response(503, wire.ERROR_500), json_response(200, {"text": "ok"}))
    reply = api.call(script.transport(), "audio.transcribe", ("a.wav", audio))
    assert reply.text == "ok" and script.calls == 2
    assert all(audio in r.content for r in script.requests)


def test_transcription_of_a_url_is_still_multipart(api: Api) -> None:
    script = Script(json_response(200, {"text": "ok"}))
    api.call(script.transport(), "audio.transcribe", "https://example.com/a.wav")
    ctype, body = _multipart(script.requests[0])
    assert b"https://example.com/a.wav" in body
    assert ctype.startswith("multipart/form-data")


def test_transcription_of_a_missing_file_is_refused_before_sending(
    api: Api, tmp_path: Path
) -> None:
    script = Script(json_response(200, {"text": "ok"}))
    with pytest.raises(TogetherConfigError, match="not found"):
        api.call(script.transport(), "audio.transcribe", tmp_path / "missing.wav")
    assert script.calls == 0


def test_translation_is_multipart_and_voices_are_listed(api: Api) -> None:
    voices = {
        "data": [
            {"model": "canopylabs/orpheus-3b-0.1-ft", "voices": [{"id": "tara", "name": "tara"}]}
        ]
    }
    script = Script(
        json_response(200, {"task": "translate", "text": "hello", "language": "fr"}),
        json_response(200, voices),
    )
    transport = script.transport()
    reply = api.call(
        transport, "audio.translate", ("a.wav", b"RIFF"), {"model": "openai/whisper-large-v3"}
    )
    assert reply.text == "hello" and reply.task == "translate"
    sent = script.requests[0]
    assert sent.url.path == "/v1/audio/translations"
    assert sent.headers["content-type"].startswith("multipart/form-data")
    listed = api.call(transport, "audio.voices")
    assert listed.data[0].voices[0].id == "tara"
