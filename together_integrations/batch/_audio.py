"""Many recordings through one batch job: the batch path of both frameworks' audio loaders.

The LangChain :class:`TogetherAudioLoader` and the LlamaIndex :class:`TogetherAudioReader`
build their form fields exactly as online (one validated ``TranscriptionRequest`` or
``TranslationRequest``); here each URL becomes one line ``{**fields, "file": url}`` on
``/v1/audio/transcriptions`` (or ``/translations``), and each result comes back, in input
order, as the :class:`~together_integrations.schemas.Transcription` the online call would
have parsed, or as the item's :class:`BatchItemError`. The Batch API fetches every file by
URL, so a local path is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from together_integrations._base_transport import RequestOptions
from together_integrations._exceptions import TogetherConfigError
from together_integrations._media_catalog import MediaInputError
from together_integrations._transport import TogetherTransport
from together_integrations.schemas import Transcription, TranscriptionRequest, TranslationRequest

from ._errors import BatchItemError
from ._plan import BatchPlan, plan_batch
from ._runner import BatchRun

__all__ = [
    "BATCH_OPTIONS",
    "arun_audio_batch",
    "check_batch_options",
    "plan_audio_batch",
    "require_urls",
    "run_audio_batch",
]

_RUN_OPTIONS = frozenset(
    {"store", "retry", "online_fallback", "clock", "poll_interval", "max_interval"}
)
_RESULT_OPTIONS = frozenset({"timeout", "on_progress", "show_progress"})
BATCH_OPTIONS = tuple(sorted(_RUN_OPTIONS | _RESULT_OPTIONS))
"""What ``batch_options=`` may hold: :class:`BatchRun` settings and ``results()`` ones."""

AudioForm = TranscriptionRequest | TranslationRequest


def check_batch_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``batch_options``; an unknown key raises :class:`TogetherConfigError` (a
    ``ValueError``) naming the accepted ones."""
    given = dict(options or {})
    unknown = sorted(set(given) - set(BATCH_OPTIONS))
    if unknown:
        raise TogetherConfigError(
            f"Unknown batch_options {unknown}; accepted: {', '.join(BATCH_OPTIONS)}."
        )
    return given


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def require_urls(sources: Sequence[Any], *, argument: str) -> list[str]:
    """The sources as URLs; the first that is not one raises :class:`MediaInputError`."""
    for source in sources:
        if not _is_url(source):
            raise MediaInputError(
                f"{argument}={str(source)!r} is not an http(s) URL. With batch=True every "
                "recording goes into a batch job, and the Batch API fetches each file by URL: "
                "upload local files somewhere the server can fetch them, or load them with "
                "batch=False.",
                argument=argument,
                value=str(source),
                allowed="http(s) URLs with batch=True",
            )
    return [str(source) for source in sources]


def plan_audio_batch(urls: Sequence[str], form: AudioForm) -> BatchPlan:
    """One batch line per URL, with the same fields an online upload would send."""
    endpoint = (
        "/v1/audio/translations"
        if isinstance(form, TranslationRequest)
        else "/v1/audio/transcriptions"
    )
    fields = form.to_wire()
    return plan_batch([{**fields, "file": url} for url in urls], endpoint=endpoint)


def _split(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    run = {k: v for k, v in options.items() if k in _RUN_OPTIONS}
    results = {k: v for k, v in options.items() if k in _RESULT_OPTIONS}
    return run, results


def _parsed(results: Sequence[Any]) -> list[Transcription | BatchItemError]:
    return [
        r if isinstance(r, BatchItemError) else Transcription.model_validate(r) for r in results
    ]


def run_audio_batch(
    transport: TogetherTransport,
    plan: BatchPlan,
    *,
    request_options: RequestOptions | None = None,
    batch_options: Mapping[str, Any] | None = None,
) -> list[Transcription | BatchItemError]:
    """Run ``plan`` to its end; one transcription or item error per URL, in order."""
    run_kwargs, result_kwargs = _split(check_batch_options(batch_options))
    run = BatchRun(plan, transport=transport, options=request_options, **run_kwargs)
    return _parsed(run.results(return_exceptions=True, **result_kwargs))


async def arun_audio_batch(
    transport: TogetherTransport,
    plan: BatchPlan,
    *,
    request_options: RequestOptions | None = None,
    batch_options: Mapping[str, Any] | None = None,
) -> list[Transcription | BatchItemError]:
    """Async :func:`run_audio_batch`."""
    run_kwargs, result_kwargs = _split(check_batch_options(batch_options))
    run = BatchRun(plan, transport=transport, options=request_options, **run_kwargs)
    return _parsed(await run.aresults(return_exceptions=True, **result_kwargs))
