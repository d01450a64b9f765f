"""Completions, embeddings, rerank, images, audio and models, as NOTES §5-§6 describe them."""

from __future__ import annotations

import base64
import json
import math
import re

import pytest

from together_integrations.testing import TogetherEmulator, embed_text

from ._helpers import ID_PATTERN, parse_sse, post

BASE = "mistralai/Mixtral-8x7B-v0.1"
EMBED = "BAAI/bge-base-en-v1.5"
RERANK = "Salesforce/Llama-Rank-V1"


# ------------------------------------------------------------------ completions


def test_completion_shape(emu: TogetherEmulator) -> None:
    r = post(emu, "/completions", {"model": BASE, "prompt": "Paris is"})
    body = r.json()
    assert list(body) == ["id", "object", "created", "model", "prompt", "choices", "usage"]
    assert body["object"] == "text.completion" and body["prompt"] == []
    assert r.headers["x-request-id"] == body["id"] and re.match(ID_PATTERN, body["id"])
    (choice,) = body["choices"]
    assert set(choice) == {"text", "finish_reason", "seed", "logprobs", "index"}
    assert choice["text"] == " and so the story of is continues." and choice["seed"] > 2**63
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_completion_echo_prepends_the_prompt(emu: TogetherEmulator) -> None:
    emu.reply(" a city")
    body = post(emu, "/completions", {"model": BASE, "prompt": "Paris is", "echo": True}).json()
    assert body["choices"][0]["text"] == "Paris is a city"


def test_completion_stream(emu: TogetherEmulator) -> None:
    emu.reply(" a city of love")
    r = post(emu, "/completions", {"model": BASE, "prompt": "Paris is", "stream": True})
    events = parse_sse(r.content)
    *body, last = events
    assert all(e["object"] == "completion.chunk" and e["usage"] is None for e in body)
    for e in body:
        (choice,) = e["choices"]
        assert choice["text"] == choice["delta"]["content"] and isinstance(
            choice["delta"]["token_id"], int
        )
        assert choice["seed"] is None and choice["delta"]["role"] == "assistant"
    assert "".join(e["choices"][0]["text"] for e in body) == " a city of love"
    assert last["choices"][0]["finish_reason"] == "length" and last["choices"][0]["seed"] > 2**63
    assert last["usage"]["total_tokens"] > 0
    assert "token" not in last and "finish_reason" not in last  # the spec's fields are not sent


def test_completion_logprobs_are_the_legacy_shape(emu: TogetherEmulator) -> None:
    lp = post(emu, "/completions", {"model": BASE, "prompt": "x", "logprobs": 1}).json()["choices"][
        0
    ]["logprobs"]
    assert set(lp) == {"tokens", "token_logprobs", "token_ids"}


# ------------------------------------------------------------------ embeddings


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_shape_and_determinism(emu: TogetherEmulator) -> None:
    texts = ["the cat sat on the mat", "a cat on a mat", "stock markets fell sharply"]
    body = post(emu, "/embeddings", {"model": EMBED, "input": texts}).json()
    assert body["object"] == "list" and body["model"] == EMBED
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", i) for i in range(3)]
    vectors = [d["embedding"] for d in body["data"]]
    assert all(
        len(v) == 768 and math.isclose(math.sqrt(cosine(v, v)), 1, abs_tol=1e-4) for v in vectors
    )
    single = post(emu, "/embeddings", {"model": EMBED, "input": texts[0]}).json()["data"]
    assert single[0]["embedding"] == vectors[0] == embed_text(texts[0], 768)
    assert cosine(vectors[0], vectors[1]) > 0.3 > abs(cosine(vectors[0], vectors[2]))


def test_embedding_size_depends_on_the_model(emu: TogetherEmulator) -> None:
    body = {"model": "intfloat/multilingual-e5-large-instruct", "input": "hi"}
    assert len(post(emu, "/embeddings", body).json()["data"][0]["embedding"]) == 1024


def test_dimensions_only_for_matryoshka_models(emu: TogetherEmulator) -> None:
    emu.models["acme/mrl"] = {"type": "embedding", "dims": 512, "matryoshka": True}
    r = post(emu, "/embeddings", {"model": "acme/mrl", "input": "hi", "dimensions": 64})
    assert len(r.json()["data"][0]["embedding"]) == 64
    assert (
        post(
            emu, "/embeddings", {"model": "acme/mrl", "input": "hi", "dimensions": 9999}
        ).status_code
        == 400
    )


# ------------------------------------------------------------------ rerank

DOCS = [
    "bananas are yellow",
    "the rerank endpoint orders documents",
    "documents about rerank models",
]


def test_rerank_orders_by_overlap(emu: TogetherEmulator) -> None:
    r = post(
        emu, "/rerank", {"model": RERANK, "query": "rerank documents models", "documents": DOCS}
    )
    body = r.json()
    assert body["object"] == "rerank" and r.headers["x-request-id"] == body["id"]
    assert [x["index"] for x in body["results"]] == [2, 1, 0]
    scores = [x["relevance_score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1] > scores[2] == 0
    assert all(x["document"] == {} for x in body["results"])
    assert body["usage"]["completion_tokens"] == 0 and body["usage"]["prompt_tokens"] > 0


def test_rerank_top_n_and_return_documents(emu: TogetherEmulator) -> None:
    body = {
        "model": RERANK,
        "query": "rerank documents models",
        "documents": DOCS,
        "top_n": 1,
        "return_documents": True,
    }
    (only,) = post(emu, "/rerank", body).json()["results"]
    assert only == {
        "index": 2,
        "relevance_score": only["relevance_score"],
        "document": {"text": DOCS[2]},
    }


def test_rerank_rank_fields_for_objects(emu: TogetherEmulator) -> None:
    docs = [{"title": "cats", "body": "dogs"}, {"title": "dogs", "body": "cats"}]
    body = {
        "model": RERANK,
        "query": "dogs",
        "documents": docs,
        "rank_fields": ["title"],
        "return_documents": True,
    }
    results = post(emu, "/rerank", body).json()["results"]
    assert results[0]["index"] == 1 and results[0]["document"] == docs[1]


# ------------------------------------------------------------------ images, audio, models


@pytest.mark.parametrize("fmt", ["base64", "url"])
def test_images(emu: TogetherEmulator, fmt: str) -> None:
    body = {
        "model": "black-forest-labs/FLUX.1-schnell",
        "prompt": "a cat",
        "n": 2,
        "response_format": fmt,
    }
    r = post(emu, "/images/generations", body)
    payload = r.json()
    assert payload["id"].endswith("-SEA") and r.headers["x-image-version"] == "v2"
    assert payload["object"] == "list" and "type" not in payload
    assert [d["index"] for d in payload["data"]] == [0, 1]
    for item in payload["data"]:
        assert isinstance(item["timings"]["inference"], float) and "type" not in item
        if fmt == "base64":
            assert base64.b64decode(item["b64_json"]).startswith(b"\xff\xd8")
        else:
            # Served by the emulator itself, at the origin the client used (see test_images).
            assert item["url"].startswith("https://api.together.xyz/shrt/")


def test_speech_is_a_wav_body(emu: TogetherEmulator) -> None:
    r = post(emu, "/audio/speech", {"model": "cartesia/sonic", "input": "hello", "voice": "v"})
    assert r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    assert int.from_bytes(r.content[4:8], "little") == len(r.content) - 8


def test_speech_stream_is_b64_chunks_of_the_same_audio(emu: TogetherEmulator) -> None:
    body = {"model": "cartesia/sonic", "input": "hello there, a longer sentence", "voice": "v"}
    whole = post(emu, "/audio/speech", body).content
    events = parse_sse(post(emu, "/audio/speech", {**body, "stream": True}).content)
    assert len(events) > 1
    assert all(
        set(e) == {"object", "model", "b64"} and e["object"] == "audio.tts.chunk" for e in events
    )
    assert b"".join(base64.b64decode(e["b64"]) for e in events) == whole


@pytest.mark.parametrize("verbose", [False, True])
def test_transcription_multipart(emu: TogetherEmulator, verbose: bool) -> None:
    data = {"model": "openai/whisper-large-v3", "prompt": "hello big world"}
    if verbose:
        data |= {"response_format": "verbose_json", "timestamp_granularities": ["segment", "word"]}
    with emu.http_client() as client:
        r = client.post(
            "/audio/transcriptions", data=data, files={"file": ("a.wav", b"RIFF....", "audio/wav")}
        )
    body = r.json()
    assert body["text"] == "hello big world"
    assert emu.requests[-1].form["file"] == b"RIFF...." and emu.requests[-1].json is None
    if verbose:
        assert body["task"] == "transcribe" and body["language"] == "en"
        assert body["segments"][0]["end"] == body["duration"] > 0
        assert [w["word"] for w in body["words"]] == ["hello", "big", "world"]
    else:
        assert body == {"text": "hello big world"}


def test_transcription_needs_a_file(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        r = client.post(
            "/audio/transcriptions",
            data={"model": "openai/whisper-large-v3"},
            files={"x": ("a", b"1")},
        )
    assert r.status_code == 400 and r.json()["error"]["param"] == "file"


def test_models_is_a_bare_array(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        r = client.get("/models")
    assert r.headers["content-type"] == "application/json"
    models = r.json()
    assert isinstance(models, list) and len(models) == len(emu.models) >= 15
    first = models[0]
    assert {
        "id",
        "object",
        "created",
        "type",
        "running",
        "display_name",
        "organization",
        "context_length",
        "config",
        "pricing",
    } <= set(first)
    assert {m["type"] for m in models} >= {
        "chat",
        "language",
        "embedding",
        "rerank",
        "image",
        "audio",
        "transcribe",
    }
    assert json.loads(r.text) == models
