"""together-integrations: Together AI for LangChain and LlamaIndex, on one shared transport.

The core (this package) depends only on httpx and pydantic. The adapters live in
``together_integrations.langchain`` and ``together_integrations.llama_index`` (extras
``[langchain]`` and ``[llama-index]``); the offline emulator in ``together_integrations.testing``.
"""

from __future__ import annotations

from ._catalog import ModelCapabilities, ModelCatalog, get_model_capabilities
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientCreditsError,
    InternalServerError,
    JobError,
    JobFailedError,
    JobTimeoutError,
    MediaInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TogetherConfigError,
    TogetherError,
    UnprocessableEntityError,
)
from ._jobs import Clock, PollPolicy, SystemClock
from ._journal import EmbeddingJournal, SupportsEmbeddingJournal
from ._streaming import AsyncStream, ServerSentEvent, SSEDecoder, Stream
from ._transport import RequestOptions, TogetherTransport
from ._version import __version__
from .fine_tuning import (
    NonServerlessModelError,
    TogetherDedicatedEndpoints,
    TogetherFineTuning,
    TrainingFileError,
    validate_training_file,
)
from .schemas import response_headers

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "Clock",
    "ConflictError",
    "EmbeddingJournal",
    "InsufficientCreditsError",
    "InternalServerError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "MediaInputError",
    "ModelCapabilities",
    "ModelCatalog",
    "NonServerlessModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "PollPolicy",
    "RateLimitError",
    "RequestOptions",
    "SSEDecoder",
    "ServerSentEvent",
    "Stream",
    "SupportsEmbeddingJournal",
    "SystemClock",
    "TogetherConfigError",
    "TogetherDedicatedEndpoints",
    "TogetherError",
    "TogetherFineTuning",
    "TogetherTransport",
    "TrainingFileError",
    "UnprocessableEntityError",
    "__version__",
    "get_model_capabilities",
    "response_headers",
    "validate_training_file",
]
