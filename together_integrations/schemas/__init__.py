"""Pydantic wire models: the only place in the package that knows Together's JSON."""

from __future__ import annotations

from ._base import RequestModel, WireModel
from .audio import (
    SpeechChunk,
    SpeechRequest,
    SpeechResponse,
    Transcription,
    TranscriptionRequest,
    TranscriptionSegment,
    TranscriptionWord,
)
from .chat import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatMessage,
    FunctionCall,
    FunctionDefinition,
    JSONSchemaFormat,
    ReasoningOptions,
    ResponseFormat,
    ToolCall,
    ToolDefinition,
)
from .common import (
    LegacyLogprobs,
    Logprobs,
    OpenAILogprobs,
    TokenLogprob,
    TopLogprob,
    Usage,
    Warning,
    normalize_logprobs,
)
from .completions import (
    Completion,
    CompletionChoice,
    CompletionChunk,
    CompletionChunkChoice,
    CompletionRequest,
)
from .embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from .errors import ErrorBody, ErrorDetail, error_message_text, parse_error_body
from .images import ImageData, ImageGenerationRequest, ImageResponse
from .models import ModelInfo, ModelPricing, parse_model_list
from .rerank import RerankRequest, RerankResponse, RerankResult

__all__ = [
    "AssistantMessage",
    "ChatChoice",
    "ChatChunkChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatDelta",
    "ChatMessage",
    "Completion",
    "CompletionChoice",
    "CompletionChunk",
    "CompletionChunkChoice",
    "CompletionRequest",
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "ErrorBody",
    "ErrorDetail",
    "FunctionCall",
    "FunctionDefinition",
    "ImageData",
    "ImageGenerationRequest",
    "ImageResponse",
    "JSONSchemaFormat",
    "LegacyLogprobs",
    "Logprobs",
    "ModelInfo",
    "ModelPricing",
    "OpenAILogprobs",
    "ReasoningOptions",
    "RequestModel",
    "RerankRequest",
    "RerankResponse",
    "RerankResult",
    "ResponseFormat",
    "SpeechChunk",
    "SpeechRequest",
    "SpeechResponse",
    "TokenLogprob",
    "ToolCall",
    "ToolDefinition",
    "TopLogprob",
    "Transcription",
    "TranscriptionRequest",
    "TranscriptionSegment",
    "TranscriptionWord",
    "Usage",
    "Warning",
    "WireModel",
    "error_message_text",
    "normalize_logprobs",
    "parse_error_body",
    "parse_model_list",
]
