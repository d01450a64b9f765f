"""Resumable embeddings through both adapters: ``journal=`` on LangChain's
``TogetherEmbeddings`` and LlamaIndex's ``TogetherEmbedding``.

Every test body runs for each adapter, sync and async, against the in-process emulator.
"What was sent" is read from ``emu.requests``; "what the journal holds" from a fresh
:class:`EmbeddingJournal` on the same directory, as the next process would see it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pickle
import subprocess
import sys
import textwrap
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from together_integrations import EmbeddingJournal, InternalServerError, TogetherTransport
from together_integrations._journal import request_namespace, text_digest
from together_integrations.testing import TogetherEmulator

MODEL = "BAAI/bge-base-en-v1.5"
OTHER_MODEL = "BAAI/bge-large-en-v1.5"
MATRYOSHKA = "example-org/matryoshka-embed"  # not in the catalog: the server decides
KEY = "tk-journal-secret-4f1c9a7e2b"
BATCH = 8
CONCURRENCY = 4


def corpus(n: int) -> list[str]:
    return [
        f"passage {i} on the history of bridge number {i % 17} in town {i // 17}" for i in range(n)
    ]


def emulator(**kwargs: Any) -> TogetherEmulator:
    emu = TogetherEmulator(**kwargs)
    emu.models[MATRYOSHKA] = {
        "type": "embedding",
        "context_length": 8192,
        "dims": 768,
        "matryoshka": True,
    }
    return emu


@dataclass(frozen=True)
class Adapter:
    """How a test builds an adapter, embeds with it, and gives a copy a transport."""

    name: str
    build: Callable[..., Any]
    documents: Callable[[Any, list[str], str], list[list[float]]]
    attach: Callable[[Any, TogetherTransport | None], None]


def _langchain(
    transport: TogetherTransport | None,
    journal: Any,
    model: str = MODEL,
    dimensions: int | None = None,
    extra: dict[str, Any] | None = None,
    api_key: str | None = None,
) -> Any:
    from together_integrations.langchain import TogetherEmbeddings

    return TogetherEmbeddings(
        model=model,
        transport=transport,
        api_key=api_key,
        journal=journal,
        batch_size=BATCH,
        max_concurrency=CONCURRENCY,
        dimensions=dimensions,
        model_kwargs=extra or {},
    )


def _langchain_documents(model: Any, texts: list[str], mode: str) -> list[list[float]]:
    if mode == "sync":
        result: list[list[float]] = model.embed_documents(texts)
        return result
    return list(asyncio.run(model.aembed_documents(texts)))


def _langchain_attach(model: Any, transport: TogetherTransport | None) -> None:
    model.transport = transport


def _llama_index(
    transport: TogetherTransport | None,
    journal: Any,
    model: str = MODEL,
    dimensions: int | None = None,
    extra: dict[str, Any] | None = None,
    api_key: str | None = None,
) -> Any:
    from together_integrations.llama_index import TogetherEmbedding

    return TogetherEmbedding(
        model_name=model,
        transport=transport,
        api_key=api_key,
        journal=journal,
        embed_batch_size=BATCH,
        max_concurrency=CONCURRENCY,
        dimensions=dimensions,
        additional_kwargs=extra or {},
    )


def _llama_index_documents(model: Any, texts: list[str], mode: str) -> list[list[float]]:
    if mode == "sync":
        result: list[list[float]] = model.get_text_embedding_batch(texts)
        return result
    return list(asyncio.run(model.aget_text_embedding_batch(texts)))


def _llama_index_attach(model: Any, transport: TogetherTransport | None) -> None:
    model._transport = transport


ADAPTERS = {
    "langchain": Adapter("langchain", _langchain, _langchain_documents, _langchain_attach),
    "llama_index": Adapter(
        "llama_index", _llama_index, _llama_index_documents, _llama_index_attach
    ),
}


@pytest.fixture(params=sorted(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Adapter:
    pytest.importorskip("langchain_core" if request.param == "langchain" else "llama_index.core")
    return ADAPTERS[request.param]


def sent(emu: TogetherEmulator) -> list[str]:
    return [text for r in emu.requests for text in r.body["input"]]


def journaled(path: Path, texts: list[str], **request: Any) -> set[str]:
    """The texts a new process would find in the journal at ``path``."""
    namespace = request_namespace({"model": MODEL, **request})
    with EmbeddingJournal(path) as journal:
        found = journal.lookup(namespace, [text_digest(t) for t in texts])
    return {t for t, v in zip(texts, found, strict=True) if v is not None}


def reference(adapter: Adapter, texts: list[str], **settings: Any) -> list[list[float]]:
    """The vectors of an uninterrupted run without a journal."""
    emu = emulator()
    return adapter.documents(
        adapter.build(emu.transport(max_retries=0), None, **settings), texts, "sync"
    )


# ------------------------------------------------------------------ crash and resume

TEXTS = 200  # 25 requests of 8
FAIL_AT = 23  # the 23rd request: ~90% through


def test_a_failure_near_the_end_then_a_rerun_sends_only_what_is_missing(
    adapter: Adapter, mode: str, tmp_path: Path
) -> None:
    texts = corpus(TEXTS)
    emu = emulator()
    arrivals = itertools.count(1)
    refused: list[str] = []

    def fail_one(body: dict[str, Any]) -> bool:
        # Concurrent requests reach the fault in one order and emu.requests in another:
        # note which one failed here.
        if next(arrivals) == FAIL_AT:
            refused.extend(body["input"])
            return True
        return False

    emu.fail("status", status=500, when=fail_one)
    model = adapter.build(emu.transport(max_retries=0), tmp_path)
    with pytest.raises(InternalServerError):
        adapter.documents(model, texts, mode)

    answered = set(sent(emu)) - set(refused)
    kept = journaled(tmp_path, texts)
    assert kept <= answered  # nothing recorded that the server did not answer
    if (adapter.name, mode) == ("llama_index", "async"):
        # LlamaIndex gathers its own concurrent calls and cancels them when one fails: what
        # they had in flight is lost (what they had been answered is recorded, shielded).
        assert len(kept) >= (FAIL_AT - 1 - CONCURRENCY) * BATCH
    else:  # the requests in flight finish and are recorded: nothing is paid for twice
        assert kept == answered

    rerun = emulator()
    again = adapter.build(rerun.transport(max_retries=0), tmp_path)
    vectors = adapter.documents(again, texts, mode)
    resent = sent(rerun)
    assert Counter(resent) == Counter(set(texts) - kept)  # each missing text once, nothing else
    assert vectors == reference(adapter, texts)

    third = emulator()
    assert adapter.documents(adapter.build(third.transport(), tmp_path), texts, mode) == vectors
    assert third.requests == []


CHILD = textwrap.dedent(
    """
    import itertools, os, sys
    sys.path.insert(0, sys.argv[3])
    from tests.test_embeddings_journal import ADAPTERS, FAIL_AT, TEXTS, corpus, emulator

    adapter, path = ADAPTERS[sys.argv[1]], sys.argv[2]
    emu = emulator()
    arrivals = itertools.count(1)

    def die(_body):
        if next(arrivals) == FAIL_AT:
            os._exit(70)  # as a kill would: no cleanup, no flush, other requests in flight
        return False

    emu.fail("status", status=500, when=die)
    model = adapter.build(emu.transport(max_retries=0), path)
    adapter.documents(model, corpus(TEXTS), "sync")
    sys.exit(1)  # never reached
    """
)


def test_a_killed_process_resumes_from_its_journal(tmp_path: Path) -> None:
    # One adapter is enough here: the kill lands in the shared batcher's threads, and the
    # in-process test above already runs both adapters' resume paths.
    pytest.importorskip("langchain_core")
    adapter = ADAPTERS["langchain"]
    journal = tmp_path / "journal"
    env = {**os.environ, "TOGETHER_API_KEY": ""}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, adapter.name, str(journal), str(Path(__file__).parents[1])],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert child.returncode == 70, child.stderr
    texts = corpus(TEXTS)
    kept = journaled(journal, texts)
    assert len(kept) >= (FAIL_AT - 1 - CONCURRENCY) * BATCH
    rerun = emulator()
    vectors = adapter.documents(
        adapter.build(rerun.transport(max_retries=0), journal), texts, "sync"
    )
    assert Counter(sent(rerun)) == Counter(set(texts) - kept)
    assert vectors == reference(adapter, texts)


def test_a_float32_journal_returns_the_stored_values_on_the_first_call_too(
    adapter: Adapter, mode: str, tmp_path: Path
) -> None:
    texts = corpus(20)
    journal = EmbeddingJournal(tmp_path, precision="float32")
    first = adapter.documents(adapter.build(emulator().transport(), journal), texts, mode)
    exact = reference(adapter, texts)
    assert first == [array("f", v).tolist() for v in exact] != exact
    rerun = emulator()
    assert adapter.documents(adapter.build(rerun.transport(), tmp_path), texts, mode) == first
    assert rerun.requests == []


# --------------------------------------------------------------------- one call


def test_a_text_repeated_in_one_call_is_sent_once(
    adapter: Adapter, mode: str, tmp_path: Path
) -> None:
    base = corpus(12)
    # 27 texts, 12 distinct, in 4 requests' worth: LlamaIndex's async path embeds its
    # chunks as concurrent calls, so repeats in other chunks are answers in flight.
    texts = [*base, *base[::2], *base[:3], base[0], base[5]]
    emu = emulator()
    vectors = adapter.documents(adapter.build(emu.transport(), tmp_path), texts, mode)
    assert sorted(sent(emu)) == sorted(base)
    assert vectors == reference(adapter, texts)
    vectors[0].append(1.0)  # each position is its own list
    assert vectors[12] != vectors[0]


# -------------------------------------------------------------------- damage on disk


def damage(segment: Path, how: str) -> None:
    data = bytearray(segment.read_bytes())
    if how == "torn_tail":
        del data[-5:]
    else:  # one bit of the first record's first value
        data[8 + 12 + 65] ^= 0x10
    segment.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["torn_tail", "flipped_value_bit"])
def test_a_damaged_record_is_fetched_again_never_served(
    adapter: Adapter, mode: str, tmp_path: Path, how: str
) -> None:
    texts = corpus(20)
    first = emulator()
    vectors = adapter.documents(adapter.build(first.transport(), tmp_path), texts, mode)
    (segment,) = tmp_path.glob("*.tej")
    damage(segment, how)
    lost = set(texts) - journaled(tmp_path, texts)
    assert len(lost) == 1

    rerun = emulator()
    again = adapter.documents(adapter.build(rerun.transport(), tmp_path), texts, mode)
    assert sent(rerun) == sorted(lost)
    assert again == vectors


# ------------------------------------------------------------ what makes a new vector


@pytest.mark.parametrize(
    "change",
    [
        {"model": OTHER_MODEL},
        {"model": MATRYOSHKA, "dimensions": 256},
        {"extra": {"input_type": "query"}},
    ],
    ids=["model", "dimensions", "extra_field"],
)
def test_other_request_fields_never_reuse_an_entry(
    adapter: Adapter, mode: str, tmp_path: Path, change: dict[str, Any]
) -> None:
    texts = corpus(5)
    base = dict(change, dimensions=None) if "dimensions" in change else {}
    first = emulator()
    adapter.documents(adapter.build(first.transport(), tmp_path, **base), texts, mode)
    assert sorted(sent(first)) == sorted(texts)

    changed = emulator()
    model = adapter.build(changed.transport(), tmp_path, **change)
    vectors = adapter.documents(model, texts, mode)
    assert sorted(sent(changed)) == sorted(texts)  # nothing reused across the change
    assert vectors == reference(adapter, texts, **change)

    same = emulator()
    assert (
        adapter.documents(adapter.build(same.transport(), tmp_path, **change), texts, mode)
        == vectors
    )
    assert same.requests == []


# ------------------------------------------------------------------- secrets, copies


def test_neither_the_key_nor_the_texts_reach_the_journal(
    adapter: Adapter, mode: str, tmp_path: Path
) -> None:
    texts = ["confidential: merger with Initech closes on 2027-03-01", *corpus(9)]
    emu = emulator(api_key=KEY)
    model = adapter.build(None, tmp_path, api_key=KEY)
    adapter.attach(model, emu.transport(api_key=KEY, max_retries=0))
    adapter.documents(model, texts, mode)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert KEY.encode() not in data
        assert not [t for t in texts if t.encode() in data]
        if os.name == "posix":
            assert path.stat().st_mode & 0o077 == 0  # vectors are the user's data


@pytest.mark.parametrize("given", ["path", "journal"])
def test_a_pickled_copy_resumes_from_the_same_journal(
    adapter: Adapter, tmp_path: Path, given: str
) -> None:
    texts = corpus(12)
    journal: Any = tmp_path if given == "path" else EmbeddingJournal(tmp_path)
    emu = emulator()
    model = adapter.build(None, journal)
    adapter.attach(model, emu.transport())
    vectors = adapter.documents(model, texts, "sync")
    adapter.attach(model, None)  # transports with httpx clients cannot travel

    copy = pickle.loads(pickle.dumps(model))
    rerun = emulator()
    adapter.attach(copy, rerun.transport())
    assert adapter.documents(copy, [*texts, "one more text"], "sync")[:-1] == vectors
    assert sent(rerun) == ["one more text"]


@pytest.mark.parametrize("precision", ["exact", "float32"])
def test_a_settings_dump_carries_the_journal_and_its_options(
    adapter: Adapter, tmp_path: Path, precision: Any
) -> None:
    model = adapter.build(None, EmbeddingJournal(tmp_path, precision=precision))
    dumped = json.loads(model.model_dump_json(exclude={"api_key"}))["journal"]
    if precision == "exact":
        assert dumped == str(tmp_path)
    else:
        assert dumped == {"path": str(tmp_path), "fsync": True, "precision": "float32"}
    rebuilt = adapter.build(None, dumped)
    adapter.attach(rebuilt, emulator().transport())
    adapter.documents(rebuilt, ["a text"], "sync")
    (segment,) = tmp_path.glob("*.tej")
    width = 4 if precision == "float32" else 8  # the emulator's values are not float32
    assert segment.stat().st_size == 8 + 12 + 65 + 768 * width
    if adapter.name == "llama_index":
        from together_integrations.llama_index import TogetherEmbedding

        assert TogetherEmbedding.from_json(model.to_json()).journal == rebuilt.journal


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_bad_journal_argument_is_refused_at_construction(name: str) -> None:
    adapter = ADAPTERS[name]
    with pytest.raises((TypeError, ValueError), match="journal must be"):
        adapter.build(None, 42)
