"""LlamaIndex integration: ``TogetherLLM`` (function calling; ``batch_chat`` through the Batch
API, with ``TogetherLLMBatchRun``), ``TogetherEmbedding``, ``TogetherRerank``,
``TogetherFinetuneEngine`` (fine-tuning, ending in a ``TogetherLLM``), and
``InvalidToolCallError`` (tool calls whose arguments are not JSON).
Requires ``pip install "together-integrations[llama-index]"``.

Classes are imported on first access, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(
        "together_integrations.llama_index needs llama-index-core: "
        'pip install "together-integrations[llama-index]"'
    ) from exc

if TYPE_CHECKING:
    from ._convert import InvalidToolCallError
    from .batch import BatchNotServedError, TogetherLLMBatchRun
    from .embeddings import TogetherEmbedding
    from .finetuning import TogetherFinetuneEngine
    from .llms import TogetherLLM
    from .postprocessor import TogetherRerank
    from .readers import TogetherAudioReader
    from .tools import (
        TogetherImageGenerationToolSpec,
        TogetherTextToSpeechToolSpec,
        TogetherVideoGenerationToolSpec,
    )

__all__ = [
    "BatchNotServedError",
    "InvalidToolCallError",
    "TogetherAudioReader",
    "TogetherEmbedding",
    "TogetherFinetuneEngine",
    "TogetherImageGenerationToolSpec",
    "TogetherLLM",
    "TogetherLLMBatchRun",
    "TogetherRerank",
    "TogetherTextToSpeechToolSpec",
    "TogetherVideoGenerationToolSpec",
]

_MODULES = {
    "BatchNotServedError": "batch",
    "InvalidToolCallError": "_convert",
    "TogetherEmbedding": "embeddings",
    "TogetherFinetuneEngine": "finetuning",
    "TogetherLLM": "llms",
    "TogetherLLMBatchRun": "batch",
    "TogetherRerank": "postprocessor",
    "TogetherAudioReader": "readers",
    "TogetherImageGenerationToolSpec": "tools",
    "TogetherTextToSpeechToolSpec": "tools",
    "TogetherVideoGenerationToolSpec": "tools",
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
