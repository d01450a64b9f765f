"""Model capabilities, shared by the LangChain and LlamaIndex adapters.

A catalog of well-known Together models ships with the package, so ``profile`` (LangChain)
and ``metadata`` (LlamaIndex) are right offline. ``ModelCatalog.refresh`` updates it from
``GET /models`` (context lengths and types change as Together updates its fleet). Models the
catalog does not know get a profile guessed from their name, marked ``known=False``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._transport import TogetherTransport
    from .schemas import ModelInfo

__all__ = ["DEFAULT_CATALOG", "ModelCapabilities", "ModelCatalog", "get_model_capabilities"]


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What a model is and can do.

    Attributes:
        id: The model id as the API expects it.
        type: ``chat``, ``language``, ``code``, ``embedding``, ``rerank``, ``image``,
            ``audio``, ``transcribe``, ``moderation`` or ``video``.
        context_window: Maximum prompt + completion tokens.
        max_output_tokens: Maximum completion tokens, when limited below the context window.
        tool_calling: Accepts ``tools`` / ``tool_choice``.
        structured_output: Accepts a ``json_schema`` response format.
        image_input: Accepts ``image_url`` content parts.
        reasoning: Produces reasoning text (``message.reasoning`` or ``<think>`` in content).
        reasoning_in_content: Reasoning arrives as ``<think>...</think>`` inside ``content``.
        embedding_dimensions: Output size, for embedding models.
        supports_dimensions: Accepts the ``dimensions`` request field (Matryoshka models).
        batch_api: Served by the Batch API (``POST /batches``): ``True`` for the catalogued
            chat models, ``False`` for the models Together lists as failing in batch jobs
            (DeepSeek-R1, DeepSeek-V3.1, ...), ``None`` when not known.
        batch_discount: On Together's list of models billed at up to 50% off in batch jobs.
        known: ``False`` when the profile was guessed from the name.
    """

    id: str
    type: str = "chat"
    context_window: int = 32_768
    max_output_tokens: int | None = None
    tool_calling: bool = True
    structured_output: bool = True
    image_input: bool = False
    reasoning: bool = False
    reasoning_in_content: bool = False
    embedding_dimensions: int | None = None
    supports_dimensions: bool = False
    batch_api: bool | None = None
    batch_discount: bool = False
    known: bool = True

    @property
    def is_chat(self) -> bool:
        """True for models served on ``/chat/completions``."""
        return self.type in ("chat", "code")


def _chat(model_id: str, context: int, **kw: object) -> ModelCapabilities:
    kw.setdefault("batch_api", True)
    return ModelCapabilities(id=model_id, type="chat", context_window=context, **kw)  # type: ignore[arg-type]


def _embed(model_id: str, context: int, dims: int, **kw: object) -> ModelCapabilities:
    return ModelCapabilities(
        id=model_id,
        type="embedding",
        context_window=context,
        tool_calling=False,
        structured_output=False,
        embedding_dimensions=dims,
        **kw,  # type: ignore[arg-type]
    )


def _rerank(model_id: str, context: int) -> ModelCapabilities:
    return ModelCapabilities(
        id=model_id,
        type="rerank",
        context_window=context,
        tool_calling=False,
        structured_output=False,
    )


_BUILTIN: tuple[ModelCapabilities, ...] = (
    # Llama
    _chat("meta-llama/Llama-3.3-70B-Instruct-Turbo", 131_072, batch_discount=True),
    _chat("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", 131_072),
    _chat("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", 131_072),
    _chat("meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo", 130_815),
    _chat("meta-llama/Llama-3.2-3B-Instruct-Turbo", 131_072),
    _chat("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", 1_048_576, image_input=True),
    _chat("meta-llama/Llama-4-Scout-17B-16E-Instruct", 1_048_576, image_input=True),
    # OpenAI open weights (reasoning in message.reasoning)
    _chat("openai/gpt-oss-20b", 131_072, reasoning=True),
    _chat("openai/gpt-oss-120b", 131_072, reasoning=True),
    # DeepSeek
    _chat("deepseek-ai/DeepSeek-V3", 131_072),
    _chat("deepseek-ai/DeepSeek-V3.1", 131_072, reasoning=True, batch_api=False),
    _chat(
        "deepseek-ai/DeepSeek-R1",
        163_840,
        reasoning=True,
        reasoning_in_content=True,
        batch_api=False,
    ),
    _chat(
        "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
        131_072,
        reasoning=True,
        reasoning_in_content=True,
    ),
    # Qwen
    _chat("Qwen/Qwen3-235B-A22B-Thinking-2507", 262_144, reasoning=True, reasoning_in_content=True),
    _chat("Qwen/Qwen3-235B-A22B-Instruct-2507-tput", 262_144),
    _chat("Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", 262_144),
    _chat("Qwen/Qwen3-Next-80B-A3B-Instruct", 262_144),
    _chat("Qwen/Qwen2.5-72B-Instruct-Turbo", 32_768),
    _chat("Qwen/Qwen2.5-7B-Instruct-Turbo", 32_768, batch_discount=True),
    _chat("Qwen/Qwen2.5-VL-72B-Instruct", 32_768, image_input=True),
    _chat("Qwen/QwQ-32B", 32_768, reasoning=True, reasoning_in_content=True),
    # Others
    _chat("moonshotai/Kimi-K2-Instruct", 131_072),
    _chat("moonshotai/Kimi-K2-Instruct-0905", 262_144),
    _chat("zai-org/GLM-4.5-Air-FP8", 131_072, reasoning=True, batch_discount=True),
    _chat("mistralai/Mixtral-8x7B-Instruct-v0.1", 32_768, tool_calling=False, batch_discount=True),
    _chat("mistralai/Mistral-7B-Instruct-v0.3", 32_768, tool_calling=False),
    _chat("mistralai/Mistral-Small-24B-Instruct-2501", 32_768),
    _chat("google/gemma-3n-E4B-it", 32_768, tool_calling=False, structured_output=False),
    _chat("arcee-ai/virtuoso-large", 131_072),
    ModelCapabilities(
        id="mistralai/Mixtral-8x7B-v0.1",
        type="language",
        context_window=32_768,
        tool_calling=False,
        structured_output=False,
    ),
    ModelCapabilities(
        id="meta-llama/Llama-3.3-70B-Instruct-Turbo-Free", type="chat", context_window=131_072
    ),  # free tier: not offered by the Batch API
    # Embeddings
    _embed("BAAI/bge-base-en-v1.5", 512, 768),
    _embed("BAAI/bge-large-en-v1.5", 512, 1024),
    _embed("togethercomputer/m2-bert-80M-32k-retrieval", 32_768, 768),
    _embed("intfloat/multilingual-e5-large-instruct", 514, 1024),
    _embed("Alibaba-NLP/gte-modernbert-base", 8_192, 768),
    # Rerank
    _rerank("Salesforce/Llama-Rank-V1", 8_192),
    _rerank("mixedbread-ai/Mxbai-Rerank-Large-V2", 32_768),
)

_EMBED_RE = re.compile(r"(embed|bge-|e5-|m2-bert|gte-|retrieval|nomic)", re.IGNORECASE)
_RERANK_RE = re.compile(r"rerank", re.IGNORECASE)
_VISION_RE = re.compile(r"(vision|-vl-|vl-|llama-4|gemma-3|pixtral|llava)", re.IGNORECASE)
_THINK_RE = re.compile(r"(thinking|-r1|qwq|reason)", re.IGNORECASE)
_REASONING_RE = re.compile(r"(gpt-oss|glm-4\.[5-9]|deepseek-v3\.[1-9]|deepseek-v4)", re.IGNORECASE)
_CONTEXT_RE = re.compile(r"(\d+)k", re.IGNORECASE)


def guess_capabilities(model_id: str) -> ModelCapabilities:
    """A sensible profile for a model the catalog does not know, guessed from its name."""
    if _RERANK_RE.search(model_id):
        return replace(_rerank(model_id, 8_192), known=False)
    if _EMBED_RE.search(model_id):
        match = _CONTEXT_RE.search(model_id)
        context = int(match.group(1)) * 1024 if match else 512
        return replace(_embed(model_id, context, 768), known=False)
    thinks = bool(_THINK_RE.search(model_id))
    return ModelCapabilities(
        id=model_id,
        context_window=32_768,
        image_input=bool(_VISION_RE.search(model_id)),
        reasoning=thinks or bool(_REASONING_RE.search(model_id)),
        reasoning_in_content=thinks,
        known=False,
    )


class ModelCatalog:
    """Model id → :class:`ModelCapabilities`, case-insensitive, refreshable from the API."""

    def __init__(self, models: Iterable[ModelCapabilities] = _BUILTIN) -> None:
        self._models = {m.id.lower(): m for m in models}
        self._lock = threading.Lock()

    def get(self, model_id: str) -> ModelCapabilities:
        """The capabilities of ``model_id``; guessed (``known=False``) when not catalogued."""
        found = self._models.get(model_id.lower())
        return found if found is not None else guess_capabilities(model_id)

    def __contains__(self, model_id: object) -> bool:
        return isinstance(model_id, str) and model_id.lower() in self._models

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[ModelCapabilities]:
        """Every catalogued model."""
        return iter(list(self._models.values()))

    def register(self, capabilities: ModelCapabilities) -> None:
        """Add or replace one model's entry (a fine-tuned model, a private deployment)."""
        with self._lock:
            self._models[capabilities.id.lower()] = capabilities

    def update(self, models: Iterable[ModelInfo]) -> int:
        """Merge a ``GET /models`` listing: context lengths and types from the server win,
        capabilities the listing does not state are kept or guessed. Returns the count."""
        count = 0
        with self._lock:
            for info in models:
                base = self._models.get(info.id.lower()) or guess_capabilities(info.id)
                changes: dict[str, object] = {"known": True}
                if info.context_length:
                    changes["context_window"] = info.context_length
                if info.type:
                    changes["type"] = info.type
                self._models[info.id.lower()] = replace(base, **changes)  # type: ignore[arg-type]
                count += 1
        return count

    def refresh(self, transport: TogetherTransport) -> int:
        """Fetch ``GET /models`` and merge it (see :meth:`update`)."""
        return self.update(transport.models.list())

    async def arefresh(self, transport: TogetherTransport) -> int:
        """Async :meth:`refresh`."""
        return self.update(await transport.models.alist())


DEFAULT_CATALOG = ModelCatalog()
"""The process-wide catalog the adapters read."""


def get_model_capabilities(model_id: str) -> ModelCapabilities:
    """Capabilities of ``model_id`` from :data:`DEFAULT_CATALOG`."""
    return DEFAULT_CATALOG.get(model_id)
