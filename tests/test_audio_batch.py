"""Audio loaders on the batch path (LangChain ``TogetherAudioLoader`` and LlamaIndex
``TogetherAudioReader`` with ``batch=True``): one job for many URLs, the same Documents as
online, local files refused before anything is sent, failed items under ``on_error``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from together_integrations._media_catalog import MediaInputError
from together_integrations.batch import BatchItemError, DirectoryStore
from together_integrations.langchain import TogetherAudioLoader
from together_integrations.llama_index import TogetherAudioReader
from together_integrations.testing import TogetherEmulator, VirtualClock

URLS = [f"https://media.example.com/talks/{i}.mp3" for i in range(3)]
SAID = "Welcome to the review. Revenue grew in the spring. Questions go to finance."
BATCHES = "/v1/batches"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


@pytest.fixture
def options(clock: VirtualClock, tmp_path: Path) -> dict[str, Any]:
    return {"clock": clock, "store": DirectoryStore(tmp_path / "runs"), "poll_interval": 60}


def posts(emu: TogetherEmulator, path: str) -> int:
    return sum(1 for r in emu.requests if r.method == "POST" and r.path == path)


def batch_lines(emu: TogetherEmulator) -> list[dict[str, Any]]:
    (job,) = emu.batches
    stored = emu.files.get(job.input_file_id)
    assert stored is not None and stored.data is not None
    return [json.loads(line) for line in stored.data.splitlines()]


def lc_load(loader: TogetherAudioLoader, mode: str) -> list[Any]:
    return loader.load() if mode == "sync" else asyncio.run(loader.aload())


def li_load(reader: TogetherAudioReader, mode: str, sources: Any, **kw: Any) -> list[Any]:
    if mode == "sync":
        return reader.load_data(sources, **kw)
    return asyncio.run(reader.aload_data(sources, **kw))


def lc_view(docs: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(d.page_content, d.metadata) for d in docs]


def li_view(docs: list[Any]) -> list[tuple[str, dict[str, Any], list[str]]]:
    return [(d.text, d.metadata, d.excluded_embed_metadata_keys) for d in docs]


# ------------------------------------------------------------------ LangChain


@pytest.mark.parametrize("task", ["transcribe", "translate"])
def test_langchain_batch_documents_are_the_online_ones(
    emu: TogetherEmulator, options: dict[str, Any], mode: str, task: str
) -> None:
    settings: dict[str, Any] = {
        "transport": emu.transport(),
        "prompt": SAID,
        "task": task,
        "split": "segment",
        "timestamp_granularities": ["segment", "word"],
    }
    online = lc_load(TogetherAudioLoader(URLS, **settings), mode)
    endpoint = "/v1/audio/transcriptions" if task == "transcribe" else "/v1/audio/translations"
    assert posts(emu, endpoint) == 3
    emu.requests.clear()
    batched = lc_load(
        TogetherAudioLoader(URLS, batch=True, batch_options=options, **settings), mode
    )
    assert len(online) == 9 and lc_view(batched) == lc_view(online)
    assert [d.metadata["source"] for d in batched] == [u for u in URLS for _ in range(3)]
    assert posts(emu, BATCHES) == 1 and posts(emu, endpoint) == 0
    (job,) = emu.batches
    assert job.endpoint == endpoint
    lines = batch_lines(emu)
    assert [line["body"]["file"] for line in lines] == URLS
    assert all(line["method"] == "FILE" for line in lines)
    assert lines[0]["body"]["response_format"] == "verbose_json"


def test_langchain_batch_refuses_local_files_before_anything_is_sent(
    emu: TogetherEmulator, tmp_path: Path
) -> None:
    local = tmp_path / "talk.mp3"
    local.write_bytes(b"ID3" + bytes(64))
    with pytest.raises(MediaInputError, match="batch=True") as info:
        TogetherAudioLoader([URLS[0], local], batch=True, transport=emu.transport())
    assert info.value.argument == "file_path" and info.value.value == str(local)
    assert emu.requests == []


def test_langchain_batch_settings_are_checked(emu: TogetherEmulator) -> None:
    with pytest.raises(ValueError, match="poll_every"):
        TogetherAudioLoader(URLS, batch=True, batch_options={"poll_every": 5})
    with pytest.raises(ValueError, match="batch=True"):
        TogetherAudioLoader(URLS, batch_options={"retry": False})


def test_langchain_failed_items_follow_on_error(
    emu: TogetherEmulator, options: dict[str, Any], mode: str
) -> None:
    loader = TogetherAudioLoader(
        URLS,
        batch=True,
        batch_options={**options, "retry": False},
        on_error="skip_with_warning",
        transport=emu.transport(),
        prompt=SAID,
    )
    plan, _ = loader.parser._batch_plan(URLS)
    # The second line fails and, with retry off, stays failed.
    emu.batches.script(fail_items={plan.custom_ids[1]: "could not fetch the file"})
    with pytest.warns(UserWarning, match=r"skipped 'https://media\.example\.com/talks/1\.mp3'"):
        docs = lc_load(loader, mode)
    assert [d.metadata["source"] for d in docs] == [URLS[0], URLS[2]]
    ((source, error),) = loader.failures
    assert source == URLS[1] and isinstance(error, BatchItemError)
    assert error.message == "could not fetch the file" and error.index == 1

    raising = TogetherAudioLoader(
        URLS,
        batch=True,
        batch_options={**options, "retry": False},
        transport=emu.transport(),
        prompt=SAID,
    )
    with pytest.raises(BatchItemError, match="could not fetch"):
        lc_load(raising, mode)  # the same run, found again: nothing is sent twice
    assert posts(emu, BATCHES) == 1


def test_a_retryable_audio_item_is_transcribed_online_like_the_rest(
    emu: TogetherEmulator, options: dict[str, Any], mode: str
) -> None:
    loader = TogetherAudioLoader(
        URLS, batch=True, batch_options=options, transport=emu.transport(), prompt=SAID
    )
    plan, _ = loader.parser._batch_plan(URLS)
    emu.batches.script(fail_items={plan.custom_ids[2]: "upstream timeout"})
    docs = lc_load(loader, mode)
    online = lc_load(TogetherAudioLoader(URLS, transport=emu.transport(), prompt=SAID), mode)
    assert lc_view(docs) == lc_view(online) and loader.failures == []
    uploads = [r for r in emu.requests if r.path == "/v1/audio/transcriptions"]
    assert posts(emu, BATCHES) == 1 and len(uploads) == 1 + 3  # the fallback, then online
    assert uploads[0].form["file"] == URLS[2] and uploads[0].form["prompt"] == SAID


# ------------------------------------------------------------------ LlamaIndex


def test_llama_index_batch_documents_are_the_online_ones(
    emu: TogetherEmulator, options: dict[str, Any], mode: str
) -> None:
    settings: dict[str, Any] = {"transport": emu.transport(), "prompt": SAID, "language": "en"}
    extra = {"collection": "talks"}
    online = li_load(TogetherAudioReader(**settings), mode, URLS, extra_info=extra)
    emu.requests.clear()
    reader = TogetherAudioReader(batch=True, batch_options=options, **settings)
    batched = li_load(reader, mode, URLS, extra_info=extra)
    assert len(online) == 3 and li_view(batched) == li_view(online)
    assert batched[0].metadata["collection"] == "talks" and batched[1].metadata["source"] == URLS[1]
    assert posts(emu, BATCHES) == 1 and posts(emu, "/v1/audio/transcriptions") == 0
    assert [line["body"]["language"] for line in batch_lines(emu)] == ["en"] * 3


def test_llama_index_batch_refuses_local_files_and_fs(
    emu: TogetherEmulator, options: dict[str, Any], tmp_path: Path, mode: str
) -> None:
    reader = TogetherAudioReader(batch=True, batch_options=options, transport=emu.transport())
    with pytest.raises(MediaInputError, match="batch=True") as info:
        li_load(reader, mode, [URLS[0], str(tmp_path / "a.wav")])
    assert info.value.argument == "file"
    with pytest.raises(MediaInputError, match="fs="):
        li_load(reader, mode, URLS, fs=object())
    assert emu.requests == []
    with pytest.raises(ValueError, match="poll_every"):
        TogetherAudioReader(batch=True, batch_options={"poll_every": 5})


def test_llama_index_failed_items_follow_on_error(
    emu: TogetherEmulator, options: dict[str, Any], mode: str
) -> None:
    reader = TogetherAudioReader(
        batch=True,
        batch_options={**options, "retry": False},
        on_error="skip_with_warning",
        transport=emu.transport(),
        prompt=SAID,
    )
    plan, _ = reader._batch_plan(URLS, None)
    emu.batches.script(fail_items={plan.custom_ids[0]: "could not fetch the file"})
    with pytest.warns(UserWarning, match="skipped"):
        docs = li_load(reader, mode, URLS)
    assert [d.metadata["source"] for d in docs] == URLS[1:]
    ((source, error),) = reader.failures
    assert source == URLS[0] and isinstance(error, BatchItemError) and error.index == 0
