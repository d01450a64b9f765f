"""Objects shared by several endpoints: usage, logprobs, warnings."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import WireModel


class Usage(WireModel):
    """Token usage.

    Together puts ``cached_tokens`` and ``reasoning_tokens`` directly inside ``usage`` (not in
    OpenAI's nested details), and sometimes sends ``prompt_tokens_details: null``; both
    forms are read by :meth:`cached` and :meth:`reasoning`.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None

    @property
    def cached(self) -> int | None:
        """Cached prompt tokens, from whichever field the server used."""
        if self.cached_tokens is not None:
            return self.cached_tokens
        if self.prompt_tokens_details:
            value = self.prompt_tokens_details.get("cached_tokens")
            return int(value) if value is not None else None
        return None

    @property
    def reasoning(self) -> int | None:
        """Reasoning tokens, from whichever field the server used."""
        if self.reasoning_tokens is not None:
            return self.reasoning_tokens
        if self.completion_tokens_details:
            value = self.completion_tokens_details.get("reasoning_tokens")
            return int(value) if value is not None else None
        return None


class Warning(WireModel):
    """A server warning such as ``Model supports only tool_choice auto``."""

    message: str = ""


class TopLogprob(WireModel):
    """One alternative token and its log probability."""

    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(WireModel):
    """One sampled token with its log probability and alternatives (normalised shape)."""

    token: str
    logprob: float | None
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class LegacyLogprobs(WireModel):
    """Together's own logprobs shape: parallel lists."""

    tokens: list[str | None] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    token_ids: list[int | None] | None = None
    top_logprobs: list[Any] | None = None


class OpenAILogprobs(WireModel):
    """The OpenAI logprobs shape some newer engines send: ``{"content": [...]}``."""

    content: list[TokenLogprob] | None = None


Logprobs = OpenAILogprobs | LegacyLogprobs | float | None
"""Every logprobs shape seen on the wire (a bare number comes from Qwen3-Thinking chunks)."""


def _top_from_legacy(entry: Any) -> list[TopLogprob]:
    if isinstance(entry, list):
        return [TopLogprob.model_validate(item) for item in entry if isinstance(item, dict)]
    if isinstance(entry, dict):
        # {"token": logprob, ...}, the shape OpenAI's legacy completions used.
        return [TopLogprob(token=str(k), logprob=float(v)) for k, v in entry.items()]
    return []


def normalize_logprobs(value: Logprobs | dict[str, Any]) -> list[TokenLogprob] | None:
    """Convert any wire logprobs shape into one list of :class:`TokenLogprob`.

    Returns ``None`` when the server sent no per-token logprobs (``null`` or a bare number).
    """
    if value is None or isinstance(value, (int, float)):
        return None
    if isinstance(value, dict):
        value = (
            OpenAILogprobs.model_validate(value)
            if "content" in value
            else LegacyLogprobs.model_validate(value)
        )
    if isinstance(value, OpenAILogprobs):
        return list(value.content or [])
    tops = value.top_logprobs or []
    out: list[TokenLogprob] = []
    for i, token in enumerate(value.tokens):
        lp = value.token_logprobs[i] if i < len(value.token_logprobs) else None
        out.append(
            TokenLogprob(
                token=token or "",
                logprob=lp,
                top_logprobs=_top_from_legacy(tops[i]) if i < len(tops) else [],
            )
        )
    return out
