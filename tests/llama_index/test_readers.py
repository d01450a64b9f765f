"""TogetherAudioReader on the emulator: transcription and translation with segment metadata
kept out of embeddings, a SimpleDirectoryReader extractor for recordings, no file dropped
silently, and a RAG over a transcribed recording end to end."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.schema import Document, MetadataMode

from together_integrations import NotFoundError, TogetherTransport
from together_integrations._media_catalog import MediaInputError
from together_integrations.llama_index import TogetherAudioReader, TogetherEmbedding, TogetherLLM
from together_integrations.llama_index.readers import READER_EXTENSIONS
from together_integrations.testing import TogetherEmulator

ORPHEUS = "canopylabs/orpheus-3b-0.1-ft"
CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
TALK = (
    "Welcome to the quarterly review. Revenue grew by twelve percent in the spring. "
    "The Lisbon office opens in September. Questions go to the finance team."
)


def speak(transport: TogetherTransport, text: str, path: Path) -> Path:
    """A WAV from the emulator's speech endpoint; the emulator transcribes it to ``text``."""
    path.write_bytes(
        transport.audio.speech({"model": ORPHEUS, "input": text, "voice": "tara"}).content
    )
    return path


@pytest.fixture
def recording(emu: TogetherEmulator, transport: TogetherTransport, tmp_path: Path) -> Path:
    path = speak(transport, TALK, tmp_path / "review.wav")
    emu.requests.clear()
    return path


def read(reader: TogetherAudioReader, mode: str, source: Any, **kw: Any) -> list[Document]:
    if mode == "sync":
        return reader.load_data(source, **kw)
    return asyncio.run(reader.aload_data(source, **kw))


def uploads(emu: TogetherEmulator) -> list[Any]:
    return [r for r in emu.requests if r.path.startswith("/v1/audio/")]


def test_one_document_per_recording_with_hidden_segments(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, recording: Path
) -> None:
    reader = TogetherAudioReader(transport=transport, language="en")
    (doc,) = read(reader, mode, recording)
    assert doc.text == TALK and doc.metadata["source"] == str(recording)
    assert len(doc.metadata["segments"]) == 4 and doc.metadata["language"] == "en"
    # Timestamps stay out of what is embedded and shown to the LLM.
    for metadata_mode in (MetadataMode.EMBED, MetadataMode.LLM):
        shown = doc.get_metadata_str(metadata_mode)
        assert "segments" not in shown and "source" in shown
    (sent,) = uploads(emu)
    assert sent.form["response_format"] == "verbose_json" and sent.filenames["file"] == "review.wav"


def test_one_document_per_segment(mode: str, transport: TogetherTransport, recording: Path) -> None:
    reader = TogetherAudioReader(
        transport=transport, split="segment", timestamp_granularities=["segment", "word"]
    )
    docs = read(reader, mode, recording)
    assert [d.text for d in docs][1] == "Revenue grew by twelve percent in the spring."
    assert [d.metadata["segment_id"] for d in docs] == [0, 1, 2, 3]
    assert all(a.metadata["end"] == b.metadata["start"] for a, b in itertools.pairwise(docs))
    assert docs[2].metadata["words"][0]["word"] == "The"
    assert "words" not in docs[2].get_metadata_str(MetadataMode.EMBED)


def test_translation_and_urls(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport
) -> None:
    reader = TogetherAudioReader(transport=transport, task="translate", prompt="Bonjour.")
    (doc,) = read(reader, mode, "https://example.com/fr.mp3")
    assert doc.metadata["task"] == "translate" and doc.text == "Bonjour."
    (sent,) = uploads(emu)
    assert (
        sent.path == "/v1/audio/translations" and sent.form["file"] == "https://example.com/fr.mp3"
    )


def test_bad_files_are_refused_before_any_request(
    emu: TogetherEmulator, transport: TogetherTransport, tmp_path: Path
) -> None:
    reader = TogetherAudioReader(transport=transport)
    with pytest.raises(MediaInputError, match="no such file"):
        reader.load_data(tmp_path / "missing.flac")
    (tmp_path / "slides.pdf").write_bytes(b"%PDF")
    with pytest.raises(MediaInputError, match=r"\.pdf"):
        asyncio.run(reader.aload_data(tmp_path / "slides.pdf"))
    assert emu.requests == []


def test_skipping_warns_and_lists_every_failure(
    mode: str, transport: TogetherTransport, recording: Path, tmp_path: Path
) -> None:
    reader = TogetherAudioReader(transport=transport, on_error="skip_with_warning")
    missing = tmp_path / "missing.ogg"
    with pytest.warns(UserWarning, match="missing.ogg"):
        docs = read(reader, mode, [missing, recording])
    assert [d.metadata["source"] for d in docs] == [str(recording)]
    assert [s for s, _ in reader.failures] == [str(missing)]
    unknown = TogetherAudioReader(transport=transport, model="nobody/whisper")
    with pytest.raises(NotFoundError):
        read(unknown, mode, recording)


def test_as_a_simple_directory_reader_extractor(
    emu: TogetherEmulator, transport: TogetherTransport, recording: Path, tmp_path: Path
) -> None:
    speak(transport, "A second recording.", tmp_path / "second.wav")
    (tmp_path / "notes.txt").write_text("Plain notes, read by the default reader.")
    reader = TogetherAudioReader(transport=transport)
    assert set(reader.file_extractor()) == set(READER_EXTENSIONS)
    docs = SimpleDirectoryReader(
        str(tmp_path), file_extractor=reader.file_extractor(), raise_on_error=True
    ).load_data()
    by_name = {d.metadata["file_name"]: d for d in docs}
    assert (
        by_name["review.wav"].text == TALK and by_name["second.wav"].text == "A second recording."
    )
    assert (
        by_name["review.wav"].metadata["segments"]
        and "segments" not in by_name["notes.txt"].metadata
    )
    assert by_name["notes.txt"].text.startswith("Plain notes")
    # A broken recording is not dropped silently: with raise_on_error it stops the load.
    (tmp_path / "broken.m4a").write_bytes(b"")
    with pytest.raises(Exception, match="Error loading file") as info:
        SimpleDirectoryReader(
            str(tmp_path), file_extractor=reader.file_extractor(), raise_on_error=True
        ).load_data()
    assert isinstance(info.value.__cause__, MediaInputError)


def test_rag_over_a_transcribed_recording(
    mode: str, emu: TogetherEmulator, transport: TogetherTransport, recording: Path
) -> None:
    docs = TogetherAudioReader(transport=transport, split="segment").load_data(recording)
    index = VectorStoreIndex.from_documents(
        docs, embed_model=TogetherEmbedding(model_name="BAAI/bge-base-en-v1.5", transport=transport)
    )
    engine = index.as_query_engine(
        llm=TogetherLLM(model=CHAT, transport=transport), similarity_top_k=1
    )
    emu.reply("The Lisbon office opens in September.")
    question = "When does the Lisbon office open?"
    answer = engine.query(question) if mode == "sync" else asyncio.run(engine.aquery(question))
    assert str(answer) == "The Lisbon office opens in September."
    (source,) = answer.source_nodes
    assert source.node.get_content() == "The Lisbon office opens in September."
    assert source.node.metadata["start"] < source.node.metadata["end"]
    prompt = str(emu.requests[-1].json["messages"])
    assert "The Lisbon office opens in September." in prompt and "Revenue grew" not in prompt
