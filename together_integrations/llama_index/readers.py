"""Audio as LlamaIndex documents: Whisper transcription or translation on Together.

:class:`TogetherAudioReader` reads paths and URLs, and is a ``SimpleDirectoryReader`` file
extractor for recordings::

    reader = TogetherAudioReader(split="segment")
    SimpleDirectoryReader("talks/", file_extractor=reader.file_extractor(),
                          raise_on_error=True).load_data()

(``SimpleDirectoryReader`` prints and skips a file its extractor fails on unless
``raise_on_error=True``; pass it, so no recording disappears from the index silently.)

With ``batch=True`` a list of URLs goes through one Batch API job instead of one request
each; the Documents are the same, an item the job could not transcribe follows ``on_error``
as a :class:`~together_integrations.batch.BatchItemError`, and local files (or ``fs=``) are
refused: the Batch API fetches files by URL.

Documents carry the timed segments (and words, speakers when asked) in their metadata.
Those lists are kept out of the text that is embedded and shown to the LLM
(``excluded_embed_metadata_keys`` / ``excluded_llm_metadata_keys``): they would swamp the
chunks, and LlamaIndex's splitters refuse metadata longer than a chunk.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from llama_index.core.readers.base import BasePydanticReader
from llama_index.core.schema import Document
from pydantic import Field, field_validator

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
from together_integrations.llama_index._common import ClientSettingsMixin
from together_integrations.schemas import Transcription, TranscriptionRequest, TranslationRequest

__all__ = ["READER_EXTENSIONS", "TogetherAudioReader"]

READER_EXTENSIONS = (".mp3", ".wav", ".m4a", ".flac", ".ogg", ".webm")
"""The suffixes :meth:`TogetherAudioReader.file_extractor` maps to the reader."""

_HIDDEN = ["segments", "words", "speaker_segments"]

AudioSource = str | Path | PurePosixPath


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def _timestamps() -> list[Literal["segment", "word"]]:
    return ["segment"]


class TogetherAudioReader(ClientSettingsMixin, BasePydanticReader):
    """Transcribe (or translate to English) recordings with Whisper on Together.

    Example:
        .. code-block:: python

            from together_integrations.llama_index import TogetherAudioReader

            docs = TogetherAudioReader(split="segment").load_data("meeting.m4a")
            docs[0].metadata  # source, model, task, language, segment_id, start, end

    Args:
        model: Transcription model (default ``openai/whisper-large-v3``).
        task: ``transcribe`` (default) or ``translate`` (English text).
        split: ``file`` (one Document per recording, default) or ``segment``.
        language, prompt, temperature: Passed to Whisper (``language="auto"`` detects it).
        timestamp_granularities: ``["segment"]`` (default) or ``["segment", "word"]``.
        diarize, min_speakers, max_speakers: Speaker labels (transcription only).
        on_error: For lists of files: ``raise`` (default) or ``skip_with_warning`` (warn,
            record in :attr:`failures`, go on).
        batch: Send the URLs of each call through one Batch API job (URLs only).
        batch_options: Tunes it: :class:`~together_integrations.batch.BatchRun` settings
            (``store``, ``retry``, ``online_fallback``, ``clock``, ``poll_interval``,
            ``max_interval``) and ``results()`` ones (``timeout``, ``on_progress``,
            ``show_progress``).
        api_key, base_url, timeout, max_retries, transport...: Client settings, as on every
            LlamaIndex class of this package.
    """

    is_remote: bool = True
    model: str = Field(default=DEFAULT_TRANSCRIPTION_MODEL, description="Transcription model.")
    task: Literal["transcribe", "translate"] = Field(
        default="transcribe", description="transcribe, or translate to English."
    )
    split: Literal["file", "segment"] = Field(
        default="file", description="One Document per file, or one per timed segment."
    )
    language: str | None = Field(default=None, description="Spoken language, or 'auto'.")
    prompt: str | None = Field(default=None, description="Text that guides the model.")
    temperature: float | None = Field(default=None, ge=0, le=1, description="Temperature.")
    timestamp_granularities: list[Literal["segment", "word"]] = Field(
        default_factory=_timestamps, description="segment and/or word timestamps."
    )
    diarize: bool | None = Field(default=None, description="Label speakers.")
    min_speakers: int | None = Field(default=None, ge=1, description="Fewest speakers.")
    max_speakers: int | None = Field(default=None, ge=1, description="Most speakers.")
    on_error: Literal["raise", "skip_with_warning"] = Field(
        default="raise", description="What a failed file in a list does."
    )
    failures: list[tuple[str, Any]] = Field(
        default_factory=list, exclude=True, description="(source, error) of skipped files."
    )
    batch: bool = Field(default=False, description="One Batch API job per call (URLs only).")
    batch_options: dict[str, Any] = Field(
        default_factory=dict, exclude=True, description="BatchRun and results() settings."
    )

    @field_validator("batch_options")
    @classmethod
    def _known_batch_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_batch_options(value)

    @classmethod
    def class_name(cls) -> str:
        return "TogetherAudioReader"

    def file_extractor(self, extensions: Iterable[str] = READER_EXTENSIONS) -> dict[str, Any]:
        """``{".mp3": self, ".wav": self, ...}`` for ``SimpleDirectoryReader(file_extractor=)``."""
        return {suffix: self for suffix in extensions}

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
        )
        return model.model_validate(body)

    @staticmethod
    def _file(source: AudioSource, fs: Any) -> Any:
        if _is_url(source):
            return source
        if fs is not None:
            # Another filesystem (s3, gcs...): read it here, upload the bytes under its name.
            with fs.open(str(source), "rb") as handle:
                return (PurePosixPath(str(source)).name, handle.read())
        return Path(source)

    def _documents(
        self, result: Transcription, source: str, extra_info: dict[str, Any] | None
    ) -> list[Document]:
        documents = []
        for text, metadata in transcript_parts(
            result, source=source, model=self.model, split=self.split
        ):
            documents.append(
                Document(
                    text=text,
                    metadata={**(extra_info or {}), **metadata},
                    excluded_embed_metadata_keys=list(_HIDDEN),
                    excluded_llm_metadata_keys=list(_HIDDEN),
                )
            )
        return documents

    def _one(
        self, source: AudioSource, extra_info: dict[str, Any] | None, fs: Any
    ) -> list[Document]:
        form = self._form()
        file = self._file(source, fs)
        check_audio_file(file, self.model)
        audio = self._get_transport().audio
        options = self._request_options()
        if isinstance(form, TranslationRequest):
            result = audio.translate(file, form, options)
        else:
            result = audio.transcribe(file, form, options)
        return self._documents(result, str(source), extra_info)

    async def _aone(
        self, source: AudioSource, extra_info: dict[str, Any] | None, fs: Any
    ) -> list[Document]:
        form = self._form()
        file = self._file(source, fs)
        check_audio_file(file, self.model)
        audio = self._get_transport().audio
        options = self._request_options()
        if isinstance(form, TranslationRequest):
            result = await audio.atranslate(file, form, options)
        else:
            result = await audio.atranscribe(file, form, options)
        return self._documents(result, str(source), extra_info)

    def _batch_plan(self, sources: Sequence[AudioSource], fs: Any) -> tuple[BatchPlan, list[str]]:
        if fs is not None:
            raise MediaInputError(
                "fs=... reads files here, but with batch=True the Batch API fetches every "
                "file by URL itself: pass URLs without fs=, or use batch=False.",
                argument="fs",
                value=type(fs).__name__,
                allowed="no fs with batch=True",
            )
        urls = require_urls(sources, argument="file")
        for url in urls:
            check_audio_file(url, self.model)
        return plan_audio_batch(urls, self._form()), urls

    def _batch_documents(
        self,
        results: Sequence[Transcription | BatchItemError],
        urls: Sequence[str],
        extra_info: dict[str, Any] | None,
    ) -> Iterator[Document]:
        for url, result in zip(urls, results, strict=True):
            if isinstance(result, BatchError):
                self._skip(url, result)
                continue
            yield from self._documents(result, url, extra_info)

    def _load_batch(
        self, sources: Sequence[AudioSource], extra_info: dict[str, Any] | None, fs: Any
    ) -> Iterator[Document]:
        plan, urls = self._batch_plan(sources, fs)
        results = run_audio_batch(
            self._get_transport(),
            plan,
            request_options=self._request_options(),
            batch_options=self.batch_options,
        )
        yield from self._batch_documents(results, urls, extra_info)

    async def _aload_batch(
        self, sources: Sequence[AudioSource], extra_info: dict[str, Any] | None, fs: Any
    ) -> list[Document]:
        plan, urls = self._batch_plan(sources, fs)
        results = await arun_audio_batch(
            self._get_transport(),
            plan,
            request_options=self._request_options(),
            batch_options=self.batch_options,
        )
        return list(self._batch_documents(results, urls, extra_info))

    @staticmethod
    def _sources(file: AudioSource | Sequence[AudioSource]) -> list[AudioSource]:
        if isinstance(file, (str, Path, PurePosixPath)):
            return [file]
        sources = list(file)
        if not sources:
            raise ValueError("No audio to read: pass a path, a URL or a list of them.")
        return sources

    def _skip(self, source: AudioSource, error: Exception) -> None:
        if self.on_error == "raise":
            raise error
        self.failures.append((str(source), error))
        warnings.warn(
            f"TogetherAudioReader skipped {str(source)!r}: {error}", UserWarning, stacklevel=3
        )

    def lazy_load_data(
        self,
        file: AudioSource | Sequence[AudioSource],
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> Iterator[Document]:
        """Documents for one recording or a list of them (paths or http(s) URLs), one
        recording at a time.

        ``extra_info`` (what ``SimpleDirectoryReader`` passes: file name, size...) is merged
        into each Document's metadata; ``fs`` is an fsspec filesystem to read paths from.
        With ``batch=True``, every URL goes through one batch job first.
        """
        self.failures = []
        if self.batch:
            yield from self._load_batch(self._sources(file), extra_info, fs)
            return
        for source in self._sources(file):
            try:
                documents = self._one(source, extra_info, fs)
            except (MediaInputError, APIError) as exc:
                self._skip(source, exc)
                continue
            yield from documents

    def load_data(
        self,
        file: AudioSource | Sequence[AudioSource],
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> list[Document]:
        """All of :meth:`lazy_load_data`."""
        return list(self.lazy_load_data(file, extra_info, fs))

    async def aload_data(
        self,
        file: AudioSource | Sequence[AudioSource],
        extra_info: dict[str, Any] | None = None,
        fs: Any = None,
    ) -> list[Document]:
        """Async :meth:`load_data`."""
        self.failures = []
        if self.batch:
            return await self._aload_batch(self._sources(file), extra_info, fs)
        documents: list[Document] = []
        for source in self._sources(file):
            try:
                documents.extend(await self._aone(source, extra_info, fs))
            except (MediaInputError, APIError) as exc:
                self._skip(source, exc)
        return documents
