"""LangChain integration: ``ChatTogether``, ``TogetherLLM`` (also ``Together``, the
``langchain_together`` name), ``TogetherEmbeddings``, ``TogetherRerank``,
``to_training_file`` (chat histories as a fine-tuning file), and ``TogetherBatchRun`` with
its errors (``ChatTogether(batch_api=...)`` on Together's Batch API).
Requires ``pip install "together-integrations[langchain]"``.

Classes are imported on first access, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(
        "together_integrations.langchain needs langchain-core: "
        'pip install "together-integrations[langchain]"'
    ) from exc

if TYPE_CHECKING:
    from .batch import (
        BatchNotServedError,
        TogetherBatchItemError,
        TogetherBatchJobFailedError,
        TogetherBatchResultsError,
        TogetherBatchRun,
        TogetherBatchTimeoutError,
    )
    from .chat_models import ChatTogether
    from .document_loaders import TogetherAudioLoader, TogetherAudioParser
    from .embeddings import TogetherEmbeddings
    from .fine_tuning import to_training_file
    from .llms import Together, TogetherLLM
    from .rerank import TogetherRerank
    from .tools import (
        TogetherImageGenerationTool,
        TogetherTextToSpeechTool,
        TogetherVideoGenerationTool,
        TogetherVideoToolkit,
    )

__all__ = [
    "BatchNotServedError",
    "ChatTogether",
    "Together",
    "TogetherAudioLoader",
    "TogetherAudioParser",
    "TogetherBatchItemError",
    "TogetherBatchJobFailedError",
    "TogetherBatchResultsError",
    "TogetherBatchRun",
    "TogetherBatchTimeoutError",
    "TogetherEmbeddings",
    "TogetherImageGenerationTool",
    "TogetherLLM",
    "TogetherRerank",
    "TogetherTextToSpeechTool",
    "TogetherVideoGenerationTool",
    "TogetherVideoToolkit",
    "to_training_file",
]

_MODULES = {
    "BatchNotServedError": "batch",
    "ChatTogether": "chat_models",
    "TogetherBatchItemError": "batch",
    "TogetherBatchJobFailedError": "batch",
    "TogetherBatchResultsError": "batch",
    "TogetherBatchRun": "batch",
    "TogetherBatchTimeoutError": "batch",
    "Together": "llms",
    "TogetherEmbeddings": "embeddings",
    "TogetherLLM": "llms",
    "TogetherRerank": "rerank",
    "TogetherAudioLoader": "document_loaders",
    "TogetherAudioParser": "document_loaders",
    "TogetherImageGenerationTool": "tools",
    "TogetherTextToSpeechTool": "tools",
    "TogetherVideoGenerationTool": "tools",
    "TogetherVideoToolkit": "tools",
    "to_training_file": "fine_tuning",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
