"""Audio as LangChain documents: Whisper transcription or translation on Together.

:class:`TogetherAudioParser` is a ``BaseBlobParser`` (so it plugs into ``GenericLoader``);
:class:`TogetherAudioLoader` loads paths and URLs (a URL is fetched by Together, not by us).
Both ask for ``verbose_json``, so every Document carries the segments (and, when asked, the
words) with their timestamps, and the text can come as one Document per file or one per
segment.

A file that cannot be read is never dropped silently: by default the error is raised (a
missing file, an unsupported type, an API error); with ``on_error="skip_with_warning"`` the
loader goes on, warns with the file and the reason, and lists it in
:attr:`TogetherAudioLoader.failures`.

With ``batch=True`` the loader sends every URL through one Batch API job instead of one
request each (cheaper for large sets, on the Batch API's schedule): the Documents are the
same, an item the job could not transcribe follows ``on_error`` as a
:class:`~together_integrations.batch.BatchItemError`, and local files are refused (the Batch
API fetches files by URL).
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from langchain_core.document_loaders import BaseBlobParser, BaseLoader
from langchain_core.documents import Document
from langchain_core.documents.base import Blob
from pydantic import Field

from together_integrations._exceptions import APIError
from together_integrations._media import transcript_parts, transcription_body
from together_integrations._media_catalog import (
    DEFAULT_TRANSCRIPTION_MODEL,
    MediaInputError,
    check_audio_file,
)
from together_integrations.batch import BatchError, BatchItemError, BatchPlan
from together_integrations.batch._audio import (
    arun_audio_batch,
    check_batch_options,
    plan_audio_batch,
    require_urls,
    run_audio_batch,
)
from together_integrations.langchain._common import TogetherClientSettings, validate_request
from together_integrations.langchain._errors import langchain_errors
from together_integrations.schemas import Transcription, TranscriptionRequest, TranslationRequest

__all__ = ["AudioSource", "TogetherAudioLoader", "TogetherAudioParser", "transcription_documents"]

AudioSource = str | Path
"""A local path or an http(s) URL."""


def _is_url(source: AudioSource) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def transcription_documents(
    result: Transcription,
    *,
    source: str,
    model: str,
    split: Literal["file", "segment"] = "file",
) -> list[Document]:
    """Documents from a verbose transcription: one for the file (segments and words in its
    metadata) or one per segment (``start``/``end`` and that segment's words)."""
    return [
        Document(page_content=text, metadata=metadata)
        for text, metadata in transcript_parts(result, source=source, model=model, split=split)
    ]


def _segment_timestamps() -> list[Literal["segment", "word"]]:
    return ["segment"]


class TogetherAudioParser(TogetherClientSettings, BaseBlobParser):
    """Transcribe (or translate to English) audio blobs with Whisper on Together.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Key init args:
        model: transcription model (default ``openai/whisper-large-v3``).
        task: ``transcribe`` (default) or ``translate`` (the text comes out in English).
        split: ``file`` (one Document per file, the default) or ``segment``.
        language, prompt, temperature: passed to Whisper (``language="auto"`` detects it).
        timestamp_granularities: ``["segment"]`` (default) or ``["segment", "word"]``.
        diarize, min_speakers, max_speakers: speaker labels (transcription only).

    Instantiate:
        .. code-block:: python

            from langchain_community.document_loaders.generic import GenericLoader
            from together_integrations.langchain import TogetherAudioParser

            parser = TogetherAudioParser(split="segment", language="en")
            loader = GenericLoader.from_filesystem("talks/", glob="*.mp3", parser=parser)

    Parse:
        .. code-block:: python

            docs = parser.parse(Blob.from_path("talk.mp3"))
            docs[0].metadata["segments"]  # [{"id": 0, "start": 0.0, "end": 4.2, "text": ...}]

    Async:
        .. code-block:: python

            docs = await parser.aparse(Blob.from_path("talk.mp3"))
    """

    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "file", "response_format"})

    model: str = DEFAULT_TRANSCRIPTION_MODEL
    """Transcription model id (also ``model_name``)."""
    task: Literal["transcribe", "translate"] = "transcribe"
    """``transcribe`` keeps the spoken language; ``translate`` gives English text."""
    split: Literal["file", "segment"] = "file"
    """One Document per file, or one per timed segment."""
    language: str | None = None
    """The spoken language (``en``, ``fr``..., or ``auto``); the server's default otherwise."""
    prompt: str | None = None
    """Text to guide the model (names, spelling, the previous segment)."""
    temperature: float | None = Field(default=None, ge=0, le=1)
    """Sampling temperature (0-1)."""
    timestamp_granularities: list[Literal["segment", "word"]] = Field(
        default_factory=_segment_timestamps
    )
    """``segment`` and/or ``word`` timestamps in the metadata."""
    diarize: bool | None = None
    """Label speakers (transcription only)."""
    min_speakers: int | None = Field(default=None, ge=1)
    """Fewest speakers to label."""
    max_speakers: int | None = Field(default=None, ge=1)
    """Most speakers to label."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra form fields sent with every file."""

    def _form(self) -> TranscriptionRequest | TranslationRequest:
        model, body = transcription_body(
            model=self.model,
            task=self.task,
            language=self.language,
            prompt=self.prompt,
            temperature=self.temperature,
            timestamp_granularities=self.timestamp_granularities,
            diarize=self.diarize,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            extra=self.model_kwargs,
        )
        return validate_request(model, body, type(self).__name__)

    def _send(self, file: Any) -> Transcription:
        form = self._form()
        check_audio_file(file, self.model)
        audio = self._get_transport().audio
        with langchain_errors():
            if isinstance(form, TranslationRequest):
                return audio.translate(file, form, self._request_options())
            return audio.transcribe(file, form, self._request_options())

    async def _asend(self, file: Any) -> Transcription:
        form = self._form()
        check_audio_file(file, self.model)
        audio = self._get_transport().audio
        with langchain_errors():
            if isinstance(form, TranslationRequest):
                return await audio.atranslate(file, form, self._request_options())
            return await audio.atranscribe(file, form, self._request_options())

    def _documents(self, result: Transcription, source: str) -> list[Document]:
        return transcription_documents(result, source=source, model=self.model, split=self.split)

    @staticmethod
    def _blob_file(blob: Blob) -> tuple[Any, str]:
        source = str(blob.source or blob.path or "blob")
        if blob.data is None and blob.path is not None:
            return Path(blob.path), source
        name = Path(str(blob.path or blob.source or "")).name or "audio"
        return (name, blob.as_bytes()), source

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Transcribe one blob (its bytes, or the file at its path)."""
        file, source = self._blob_file(blob)
        yield from self._documents(self._send(file), source)

    async def aparse(self, blob: Blob) -> list[Document]:
        """Async :meth:`parse`."""
        file, source = self._blob_file(blob)
        return self._documents(await self._asend(file), source)

    def _batch_plan(self, sources: Sequence[AudioSource]) -> tuple[BatchPlan, list[str]]:
        urls = require_urls(sources, argument="file_path")
        for url in urls:
            check_audio_file(url, self.model)
        return plan_audio_batch(urls, self._form()), urls

    def transcribe_batch(
        self, sources: Sequence[AudioSource], batch_options: Mapping[str, Any] | None = None
    ) -> list[list[Document] | BatchItemError]:
        """Documents per URL, in order, through one Batch API job (the item's
        :class:`~together_integrations.batch.BatchItemError` where it failed).

        Args:
            sources: http(s) URLs (the Batch API fetches files itself).
            batch_options: :class:`~together_integrations.batch.BatchRun` settings
                (``store``, ``retry``, ``online_fallback``, ``clock``, ``poll_interval``,
                ``max_interval``) and ``results()`` ones (``timeout``, ``on_progress``,
                ``show_progress``).

        Raises:
            MediaInputError: a source is not an http(s) URL (nothing is sent).
        """
        plan, urls = self._batch_plan(sources)
        with langchain_errors():
            results = run_audio_batch(
                self._get_transport(),
                plan,
                request_options=self._request_options(),
                batch_options=batch_options,
            )
        return [self._batch_documents(r, url) for r, url in zip(results, urls, strict=True)]

    async def atranscribe_batch(
        self, sources: Sequence[AudioSource], batch_options: Mapping[str, Any] | None = None
    ) -> list[list[Document] | BatchItemError]:
        """Async :meth:`transcribe_batch`."""
        plan, urls = self._batch_plan(sources)
        with langchain_errors():
            results = await arun_audio_batch(
                self._get_transport(),
                plan,
                request_options=self._request_options(),
                batch_options=batch_options,
            )
        return [self._batch_documents(r, url) for r, url in zip(results, urls, strict=True)]

    def _batch_documents(
        self, result: Transcription | BatchItemError, source: str
    ) -> list[Document] | BatchItemError:
        return result if isinstance(result, BatchItemError) else self._documents(result, source)

    def transcribe_source(self, source: AudioSource) -> list[Document]:
        """Documents for a path or an http(s) URL (Together fetches URLs itself)."""
        file: Any = source if _is_url(source) else Path(source)
        return self._documents(self._send(file), str(source))

    async def atranscribe_source(self, source: AudioSource) -> list[Document]:
        """Async :meth:`transcribe_source`."""
        file: Any = source if _is_url(source) else Path(source)
        return self._documents(await self._asend(file), str(source))


OnError = Literal["raise", "skip_with_warning"]


class TogetherAudioLoader(BaseLoader):
    """Load audio files and URLs as transcribed (or translated) Documents.

    Setup:
        ``pip install "together-integrations[langchain]"`` and set ``TOGETHER_API_KEY``.

    Key init args:
        file_path: one path or URL, or a list of them (kept in order).
        on_error: ``raise`` (default) or ``skip_with_warning``: warn, record in
            :attr:`failures` and go on with the next file.
        batch: send every source through one Batch API job (URLs only; see the module
            docstring); ``batch_options`` tunes it (``store``, ``clock``, ``timeout``...).
        parser: a :class:`TogetherAudioParser`; otherwise the remaining keyword arguments
            build one (``task``, ``split``, ``language``, ``prompt``, ``api_key``...).

    Instantiate:
        .. code-block:: python

            from together_integrations.langchain import TogetherAudioLoader

            loader = TogetherAudioLoader(
                ["meeting.m4a", "https://example.com/talk.mp3"], split="segment"
            )

    Load:
        .. code-block:: python

            docs = loader.load()
            docs[0].metadata  # source, model, task, language, segment_id, start, end

    Async:
        .. code-block:: python

            docs = await loader.aload()
            async for doc in loader.alazy_load(): ...

    Batch:
        .. code-block:: python

            loader = TogetherAudioLoader(urls, batch=True)  # one job for every URL
            docs = loader.load()  # waits for the job (usually minutes; up to 24 h)
    """

    def __init__(
        self,
        file_path: AudioSource | Sequence[AudioSource],
        *,
        on_error: OnError = "raise",
        parser: TogetherAudioParser | None = None,
        batch: bool = False,
        batch_options: Mapping[str, Any] | None = None,
        **parser_kwargs: Any,
    ) -> None:
        if on_error not in ("raise", "skip_with_warning"):
            raise ValueError(f"on_error must be 'raise' or 'skip_with_warning', got {on_error!r}.")
        if parser is not None and parser_kwargs:
            raise ValueError(
                f"Pass parser=... or parser settings ({sorted(parser_kwargs)}), not both."
            )
        sources = [file_path] if isinstance(file_path, (str, Path)) else list(file_path)
        if not sources:
            raise ValueError("file_path names no audio: pass a path, a URL or a list of them.")
        if batch_options is not None and not batch:
            raise ValueError("batch_options=... tunes batch=True; pass batch=True as well.")
        if batch:
            require_urls(sources, argument="file_path")
        self.sources: list[AudioSource] = sources
        self.on_error: OnError = on_error
        self.batch = batch
        self.batch_options = check_batch_options(batch_options)
        self.parser = parser if parser is not None else TogetherAudioParser(**parser_kwargs)
        self.failures: list[tuple[str, Exception]] = []
        """``(source, error)`` of every file skipped in the last load."""

    def _skip(self, source: AudioSource, error: Exception) -> None:
        if self.on_error == "raise":
            raise error
        self.failures.append((str(source), error))
        warnings.warn(
            f"TogetherAudioLoader skipped {str(source)!r}: {error}",
            UserWarning,
            stacklevel=3,
        )

    def lazy_load(self) -> Iterator[Document]:
        """Documents of each source in turn (with ``batch=True``, once the job is done)."""
        self.failures = []
        if self.batch:
            results = self.parser.transcribe_batch(self.sources, self.batch_options)
            yield from self._batch_results(results)
            return
        for source in self.sources:
            try:
                documents = self.parser.transcribe_source(source)
            except (MediaInputError, APIError) as exc:
                self._skip(source, exc)
                continue
            yield from documents

    def _batch_results(
        self, results: Sequence[list[Document] | BatchItemError]
    ) -> Iterator[Document]:
        for source, result in zip(self.sources, results, strict=True):
            if isinstance(result, BatchError):
                self._skip(source, result)
                continue
            yield from result

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Async :meth:`lazy_load`."""
        self.failures = []
        if self.batch:
            results = await self.parser.atranscribe_batch(self.sources, self.batch_options)
            for document in self._batch_results(results):
                yield document
            return
        for source in self.sources:
            try:
                documents = await self.parser.atranscribe_source(source)
            except (MediaInputError, APIError) as exc:
                self._skip(source, exc)
                continue
            for document in documents:
                yield document
