"""Text completions: ``POST /completions``, plain and streamed (NOTES §5)."""

from __future__ import annotations

from pydantic import Field

from ._base import RequestModel, WireModel
from .common import Logprobs, Usage


class CompletionRequest(RequestModel):
    """A ``POST /completions`` body."""

    model: str
    prompt: str
    max_tokens: int | None = None
    stop: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    stream: bool | None = None
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool | None = None
    safety_model: str | None = None


class CompletionChoice(WireModel):
    """One choice of a completion."""

    index: int = 0
    text: str = ""
    finish_reason: str | None = None
    logprobs: Logprobs = None
    seed: int | None = None


class Completion(WireModel):
    """A ``text.completion`` object."""

    id: str = ""
    object: str = "text.completion"
    created: int = 0
    model: str = ""
    choices: list[CompletionChoice] = Field(min_length=1)
    """At least one: a 200 without a choice is not an answer (it raises
    ``APIResponseValidationError`` instead of an ``IndexError`` in the adapters)."""
    usage: Usage | None = None


class CompletionChunkChoice(WireModel):
    """One choice of a completion stream chunk (text is in ``text``, echoed in ``delta``)."""

    index: int = 0
    text: str | None = None
    finish_reason: str | None = None
    logprobs: Logprobs = None
    seed: int | None = None


class CompletionChunk(WireModel):
    """A ``completion.chunk``."""

    id: str = ""
    object: str = "completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[CompletionChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
