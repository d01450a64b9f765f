"""Audio parser and loader on the emulator: transcription and translation, segments and words
in the metadata, one Document per file or per segment, paths and URLs, and no file that
disappears silently."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from langchain_core.exceptions import ModelNotFoundError

from together_integrations import NotFoundError, TogetherTransport
from together_integrations._media_catalog import MediaInputError
from together_integrations.langchain import TogetherAudioLoader, TogetherAudioParser
from together_integrations.testing import TogetherEmulator

SPOKEN = "Together serves open models. Whisper writes down what was said!"
ORPHEUS = "canopylabs/orpheus-3b-0.1-ft"


@pytest.fixture
def emu() -> TogetherEmulator:
    return TogetherEmulator()


@pytest.fixture
def transport(emu: TogetherEmulator) -> TogetherTransport:
    result: TogetherTransport = emu.transport(max_retries=0)
    return result


@pytest.fixture
def recording(transport: TogetherTransport, emu: TogetherEmulator, tmp_path: Path) -> Path:
    """A WAV made by the emulator's speech endpoint: its transcription is the text spoken."""
    speech = transport.audio.speech({"model": ORPHEUS, "input": SPOKEN, "voice": "tara"})
    path = tmp_path / "talk.wav"
    path.write_bytes(speech.content)
    emu.requests.clear()
    return path


def load(loader: TogetherAudioLoader, mode: str) -> list[Document]:
    return loader.load() if mode == "sync" else asyncio.run(loader.aload())


def parse(parser: TogetherAudioParser, blob: Blob, mode: str) -> list[Document]:
    return parser.parse(blob) if mode == "sync" else asyncio.run(parser.aparse(blob))


def uploads(emu: TogetherEmulator) -> list[Any]:
    return [r for r in emu.requests if r.path.startswith("/v1/audio/")]


def test_one_document_per_file_with_timed_segments(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, recording: Path
) -> None:
    parser = TogetherAudioParser(transport=transport, language="en", prompt="Together, Whisper")
    (doc,) = parse(parser, Blob.from_path(recording), mode)
    assert doc.page_content == SPOKEN
    meta = doc.metadata
    assert meta["source"] == str(recording) and meta["task"] == "transcribe"
    assert meta["model"] == "openai/whisper-large-v3" and meta["language"] == "en"
    assert [s["text"] for s in meta["segments"]] == [
        "Together serves open models.",
        "Whisper writes down what was said!",
    ]
    first, second = meta["segments"]
    assert first["start"] == 0.0 and first["end"] == second["start"] < second["end"]
    assert meta["duration"] == second["end"] and "words" not in meta
    (sent,) = uploads(emu)
    assert sent.path == "/v1/audio/transcriptions" and sent.filenames["file"] == "talk.wav"
    assert sent.form["response_format"] == "verbose_json" and sent.form["language"] == "en"
    assert sent.form["prompt"] == "Together, Whisper" and sent.form["file"][:4] == b"RIFF"


def test_one_document_per_segment_with_its_words(
    mode: str, transport: TogetherTransport, recording: Path
) -> None:
    parser = TogetherAudioParser(
        transport=transport, split="segment", timestamp_granularities=["segment", "word"]
    )
    docs = parse(parser, Blob.from_path(recording), mode)
    assert [d.page_content for d in docs] == [
        "Together serves open models.",
        "Whisper writes down what was said!",
    ]
    assert [d.metadata["segment_id"] for d in docs] == [0, 1]
    assert docs[0].metadata["end"] == docs[1].metadata["start"]
    assert [w["word"] for w in docs[0].metadata["words"]] == [
        "Together",
        "serves",
        "open",
        "models.",
    ]
    assert all(d.metadata["start"] <= w["start"] < d.metadata["end"]
               for d in docs for w in d.metadata["words"])  # fmt: skip


def test_translation_goes_to_its_endpoint(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, recording: Path
) -> None:
    parser = TogetherAudioParser(transport=transport, task="translate")
    (doc,) = parse(parser, Blob.from_path(recording), mode)
    assert doc.metadata["task"] == "translate" and doc.page_content == SPOKEN
    (sent,) = uploads(emu)
    assert sent.path == "/v1/audio/translations" and "diarize" not in sent.form


def test_a_blob_of_bytes_is_uploaded_under_its_name(
    emu: TogetherEmulator, transport: TogetherTransport, recording: Path
) -> None:
    blob = Blob.from_data(recording.read_bytes(), path="meeting.wav")
    (doc,) = TogetherAudioParser(transport=transport).parse(blob)
    assert doc.page_content == SPOKEN and uploads(emu)[0].filenames["file"] == "meeting.wav"


def test_loader_takes_paths_and_urls_in_order(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, recording: Path
) -> None:
    url = "https://example.com/keynote.mp3"
    loader = TogetherAudioLoader([recording, url], transport=transport, prompt="Keynote.")
    docs = load(loader, mode)
    assert [d.metadata["source"] for d in docs] == [str(recording), url]
    assert docs[1].page_content == "Keynote."  # the emulator hears the prompt at a URL
    by_url = uploads(emu)[1]
    assert by_url.form["file"] == url and "file" not in by_url.filenames


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("missing.mp3", None, "no such file"), ("notes.txt", b"text", ".txt"),
     ("empty.wav", b"", "empty")],
)  # fmt: skip
def test_a_bad_file_is_refused_before_any_request(
    mode: str,
    emu: TogetherEmulator,
    transport: TogetherTransport,
    tmp_path: Path,
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MediaInputError, match=message):
        load(TogetherAudioLoader(path, transport=transport), mode)
    assert emu.requests == []


def test_skipped_files_are_warned_about_and_listed(
    mode: str, transport: TogetherTransport, recording: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    sources = [tmp_path / "missing.mp3", recording, notes]
    loader = TogetherAudioLoader(sources, transport=transport, on_error="skip_with_warning")
    with pytest.warns(UserWarning) as caught:
        docs = load(loader, mode)
    assert [d.metadata["source"] for d in docs] == [str(recording)]
    assert [source for source, _ in loader.failures] == [str(sources[0]), str(notes)]
    assert all(isinstance(error, MediaInputError) for _, error in loader.failures)
    texts = [str(w.message) for w in caught]
    assert any("missing.mp3" in t and "no such file" in t for t in texts)
    assert any("notes.txt" in t for t in texts)


def test_api_errors_are_ours_and_langchains(
    mode: str, transport: TogetherTransport, recording: Path
) -> None:
    loader = TogetherAudioLoader(recording, transport=transport, model="nobody/whisper")
    with pytest.raises(NotFoundError) as info:
        load(loader, mode)
    assert isinstance(info.value, ModelNotFoundError)
    skipping = TogetherAudioLoader(
        recording, transport=transport, model="nobody/whisper", on_error="skip_with_warning"
    )
    with pytest.warns(UserWarning, match="nobody/whisper"):
        assert load(skipping, mode) == []
    assert isinstance(skipping.failures[0][1], NotFoundError)


def test_bad_settings_are_refused_before_any_request(
    emu: TogetherEmulator, transport: TogetherTransport, recording: Path
) -> None:
    with pytest.raises(MediaInputError, match="'auto'"):
        TogetherAudioLoader(recording, transport=transport, language="French").load()
    with pytest.raises(MediaInputError, match="diarize"):
        TogetherAudioLoader(recording, transport=transport, task="translate", diarize=True).load()
    assert emu.requests == []
    with pytest.raises(ValueError, match="on_error"):
        TogetherAudioLoader(recording, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="names no audio"):
        TogetherAudioLoader([])


def test_diarized_speakers_reach_the_metadata(
    transport: TogetherTransport, recording: Path
) -> None:
    (doc,) = TogetherAudioLoader(recording, transport=transport, diarize=True).load()
    speakers = {s["speaker_id"] for s in doc.metadata["speaker_segments"]}
    assert speakers == {"SPEAKER_00", "SPEAKER_01"}
    assert all("speaker_id" in w for w in doc.metadata["words"])
