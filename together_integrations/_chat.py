"""Framework-neutral views of chat responses, shared by the LangChain and LlamaIndex adapters.

One mapping serves streams and whole responses (as pydantic-ai's ``_process_response`` /
``_process_streamed_response``): :func:`parse_chat_completion` reads a ``ChatCompletion``,
:class:`ChatStreamAccumulator` is fed ``ChatCompletionChunk`` objects and yields per-chunk
:class:`ChatDeltaView` s plus the same :class:`ChatResult` at the end. Every stream form of
NOTES §4 is handled here, once:

* tool-call ids and names only on a call's first delta, later deltas carry argument fragments;
* ``finish_reason: "tool_calls"`` repeated once per call (Llama-3.1);
* complete calls at choice level with ``index: -1`` (Qwen3-Coder), given real indexes here;
* usage inside the finish chunk (legacy), in a separate ``choices: []`` chunk, or absent;
* ``reasoning`` deltas, and ``<think>...</think>`` inside content for models that use tags;
* legacy ``finish_reason: "eos"`` reported as ``"stop"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    TokenLogprob,
    ToolCall,
    Usage,
    normalize_logprobs,
)

__all__ = [
    "ChatDeltaView",
    "ChatResult",
    "ChatStreamAccumulator",
    "ParsedToolCall",
    "ThinkTagSplitter",
    "ToolCallDelta",
    "normalize_finish_reason",
    "parse_chat_completion",
    "parse_tool_arguments",
    "split_think_tags",
]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


def _reasoning_of(message: Any) -> str:
    """``reasoning`` (Together) or ``reasoning_content`` (vLLM / DeepSeek-style servers)."""
    text = message.reasoning
    if not text:
        text = (message.model_extra or {}).get("reasoning_content")
    return text if isinstance(text, str) else ""


def normalize_finish_reason(reason: str | None) -> str | None:
    """Report the legacy engines' ``"eos"`` as the standard ``"stop"``."""
    return "stop" if reason == "eos" else reason


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call. ``id``/``name`` are set on a call's first fragment."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(slots=True)
class ParsedToolCall:
    """A complete tool call. ``args`` is the parsed JSON object, or ``None`` with ``error`` set
    when the model produced arguments that are not a JSON object."""

    id: str
    name: str
    arguments: str
    args: dict[str, Any] | None
    error: str | None = None


@dataclass(slots=True)
class ChatDeltaView:
    """What one stream chunk adds to one choice."""

    index: int
    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    usage: Usage | None = None
    id: str = ""
    model: str = ""


@dataclass(slots=True)
class ChatResult:
    """One complete choice: the assistant message and its metadata."""

    index: int
    id: str
    model: str
    created: int
    content: str
    reasoning: str | None
    tool_calls: list[ParsedToolCall]
    finish_reason: str | None
    usage: Usage | None
    logprobs: list[TokenLogprob] | None
    warnings: list[str] = field(default_factory=list)
    seed: int | None = None


def parse_tool_arguments(raw: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """Parse tool-call arguments: ``(args, None)`` or ``(None, error)``. Empty means ``{}``."""
    if raw is None or not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return None, f"Tool call arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, f"Tool call arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def _parsed_call(
    call_id: str | None, name: str | None, arguments: str, position: int
) -> ParsedToolCall:
    args, error = parse_tool_arguments(arguments)
    return ParsedToolCall(
        id=call_id or f"call_{position}",
        name=name or "",
        arguments=arguments,
        args=args,
        error=error,
    )


def split_think_tags(text: str) -> tuple[str | None, str]:
    """Split Qwen/DeepSeek-style ``<think>reasoning</think>answer`` into (reasoning, answer).

    A closing tag without an opening one counts as reasoning from the start (the chat
    template opened it); an unclosed opening tag means the budget ran out while reasoning.
    """
    stripped = text.lstrip()
    close = stripped.find(CLOSE_TAG)
    if stripped.startswith(OPEN_TAG):
        body = stripped[len(OPEN_TAG) :]
        close = body.find(CLOSE_TAG)
        if close < 0:
            return body.strip() or None, ""
        return body[:close].strip() or None, body[close + len(CLOSE_TAG) :].lstrip()
    if close >= 0 and OPEN_TAG not in stripped[:close]:
        return stripped[:close].strip() or None, stripped[close + len(CLOSE_TAG) :].lstrip()
    return None, text


class ThinkTagSplitter:
    """Incremental :func:`split_think_tags` for streams; tags may be split across chunks.

    Text is routed to reasoning after ``<think>`` and back to content after ``</think>``; a
    stray ``</think>`` in content (the chat template opened the block) is dropped. A possible
    partial tag at the end of a chunk is held back until the next chunk decides it.
    """

    __slots__ = ("_held", "_in_think", "_strip")

    def __init__(self) -> None:
        self._held = ""
        self._in_think = False
        self._strip = False

    def feed(self, text: str) -> tuple[str, str]:
        """Return the ``(reasoning, content)`` this piece of text adds."""
        text = self._held + text
        self._held = ""
        reasoning: list[str] = []
        content: list[str] = []
        while text:
            pos = text.find(CLOSE_TAG)
            if not self._in_think:
                opening = text.find(OPEN_TAG)
                if opening >= 0 and (pos < 0 or opening < pos):
                    self._emit(text[:opening], reasoning, content)
                    self._in_think = True
                    self._strip = True
                    text = text[opening + len(OPEN_TAG) :]
                    continue
            if pos >= 0:
                self._emit(text[:pos], reasoning, content)
                self._in_think = False
                self._strip = True
                text = text[pos + len(CLOSE_TAG) :]
                continue
            keep = _partial_suffix(text, CLOSE_TAG)
            if not self._in_think:
                keep = max(keep, _partial_suffix(text, OPEN_TAG))
            self._emit(text[: len(text) - keep], reasoning, content)
            self._held = text[len(text) - keep :]
            break
        return "".join(reasoning), "".join(content)

    def flush(self) -> tuple[str, str]:
        """End of stream: release a held partial tag as text."""
        held, self._held = self._held, ""
        reasoning: list[str] = []
        content: list[str] = []
        self._emit(held, reasoning, content)
        return "".join(reasoning), "".join(content)

    def _emit(self, text: str, reasoning: list[str], content: list[str]) -> None:
        if self._strip:
            # Blank lines a model writes after a tag belong to neither part.
            text = text.lstrip()
            self._strip = not text
        if text:
            (reasoning if self._in_think else content).append(text)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


def parse_chat_completion(resp: ChatCompletion, *, think_tags: bool = False) -> list[ChatResult]:
    """One :class:`ChatResult` per choice of a non-streamed response."""
    warnings = [w.message for w in resp.warnings or []]
    results: list[ChatResult] = []
    for choice in resp.choices:
        message = choice.message
        content = message.content or ""
        reasoning = _reasoning_of(message) or None
        if think_tags and reasoning is None:
            reasoning, content = split_think_tags(content)
        calls = [
            _parsed_call(call.id, call.function.name, call.function.arguments or "", pos)
            for pos, call in enumerate(message.tool_calls or [])
        ]
        results.append(
            ChatResult(
                index=choice.index,
                id=resp.id,
                model=resp.model,
                created=resp.created,
                content=content,
                reasoning=reasoning,
                tool_calls=calls,
                finish_reason=normalize_finish_reason(choice.finish_reason),
                usage=resp.usage,
                logprobs=normalize_logprobs(choice.logprobs),
                warnings=warnings,
                seed=choice.seed,
            )
        )
    return results


@dataclass(slots=True)
class _ToolCallState:
    id: str | None
    name: str | None
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _ChoiceState:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _ToolCallState] = field(default_factory=dict)
    call_ids: set[str] = field(default_factory=set)
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)
    has_logprobs: bool = False
    seed: int | None = None
    splitter: ThinkTagSplitter | None = None


class ChatStreamAccumulator:
    """Turns stream chunks into per-chunk views and, at the end, whole results.

    Args:
        think_tags: Split ``<think>`` blocks out of content into reasoning (models whose
            catalog entry has ``reasoning_in_content``).
    """

    def __init__(self, *, think_tags: bool = False) -> None:
        self.think_tags = think_tags
        self.id = ""
        self.model = ""
        self.created = 0
        self.usage: Usage | None = None
        self.warnings: list[str] = []
        self._choices: dict[int, _ChoiceState] = {}

    def _state(self, index: int) -> _ChoiceState:
        state = self._choices.get(index)
        if state is None:
            state = _ChoiceState(splitter=ThinkTagSplitter() if self.think_tags else None)
            self._choices[index] = state
        return state

    def _tool_deltas(
        self, state: _ChoiceState, calls: list[ToolCall] | None, *, choice_level: bool
    ) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        for call in calls or []:
            fragment = call.function.arguments or ""
            if choice_level or call.index is None or call.index < 0:
                # Complete calls (Qwen3-Coder's index -1): one new slot each, once per id.
                if call.id is not None and call.id in state.call_ids:
                    continue
                index = len(state.calls)
            else:
                index = call.index
            slot = state.calls.get(index)
            if slot is None:
                slot = _ToolCallState(call.id, call.function.name)
                state.calls[index] = slot
                if call.id:
                    state.call_ids.add(call.id)
                first = True
            else:
                first = False
                if slot.id is None and call.id:
                    slot.id = call.id
                    state.call_ids.add(call.id)
                if slot.name is None and call.function.name:
                    slot.name = call.function.name
            slot.arguments.append(fragment)
            out.append(
                ToolCallDelta(
                    index=index,
                    id=call.id if first or call.id else None,
                    name=call.function.name if first or call.function.name else None,
                    arguments=fragment,
                )
            )
        return out

    def feed(self, chunk: ChatCompletionChunk) -> list[ChatDeltaView]:
        """Consume one chunk; return what it adds, one view per choice it touches.

        A usage-only chunk (``choices: []``) gives one view with only ``usage`` set; usage in
        a finish chunk is reported on that chunk's first choice only, never twice.
        """
        self.id = self.id or chunk.id
        self.model = chunk.model or self.model
        self.created = self.created or chunk.created
        if chunk.warnings:
            self.warnings.extend(w.message for w in chunk.warnings)
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        views: list[ChatDeltaView] = []
        for choice in chunk.choices:
            state = self._state(choice.index)
            delta = choice.delta
            content = delta.content or ""
            reasoning = _reasoning_of(delta)
            if state.splitter is not None and content:
                extra_reasoning, content = state.splitter.feed(content)
                reasoning += extra_reasoning
            finish = normalize_finish_reason(choice.finish_reason)
            if state.splitter is not None and finish is not None:
                extra_reasoning, tail = state.splitter.flush()
                reasoning += extra_reasoning
                content += tail
            if content:
                state.content.append(content)
            if reasoning:
                state.reasoning.append(reasoning)
            tool_deltas = self._tool_deltas(state, delta.tool_calls, choice_level=False)
            tool_deltas += self._tool_deltas(state, choice.tool_calls, choice_level=True)
            if finish is not None:
                state.finish_reason = finish
            if choice.seed is not None:
                state.seed = choice.seed
            logprobs = normalize_logprobs(choice.logprobs)
            if logprobs is not None:
                state.has_logprobs = True
                state.logprobs.extend(logprobs)
            views.append(
                ChatDeltaView(
                    index=choice.index,
                    content=content,
                    reasoning=reasoning,
                    tool_calls=tool_deltas,
                    finish_reason=finish,
                    logprobs=logprobs,
                    usage=usage,
                    id=chunk.id,
                    model=chunk.model,
                )
            )
            usage = None
        if usage is not None:
            views.append(ChatDeltaView(index=0, usage=usage, id=chunk.id, model=chunk.model))
        return views

    def flush(self) -> list[ChatDeltaView]:
        """End of stream: text held back by the think-tag splitter, if any."""
        views: list[ChatDeltaView] = []
        for index, state in self._choices.items():
            if state.splitter is None:
                continue
            reasoning, content = state.splitter.flush()
            if reasoning or content:
                state.reasoning.append(reasoning)
                state.content.append(content)
                views.append(
                    ChatDeltaView(
                        index=index,
                        content=content,
                        reasoning=reasoning,
                        id=self.id,
                        model=self.model,
                    )
                )
        return views

    def tool_calls(self, index: int = 0) -> list[ParsedToolCall]:
        """The tool calls of choice ``index`` so far (arguments may still be partial)."""
        state = self._choices.get(index)
        if state is None:
            return []
        return [
            _parsed_call(slot.id, slot.name, "".join(slot.arguments), pos)
            for pos, (_, slot) in enumerate(sorted(state.calls.items()))
        ]

    def results(self) -> list[ChatResult]:
        """The accumulated choices, as :func:`parse_chat_completion` would return them."""
        self.flush()
        out: list[ChatResult] = []
        for index in sorted(self._choices):
            state = self._choices[index]
            calls = [
                _parsed_call(slot.id, slot.name, "".join(slot.arguments), pos)
                for pos, (_, slot) in enumerate(sorted(state.calls.items()))
            ]
            reasoning = "".join(state.reasoning)
            out.append(
                ChatResult(
                    index=index,
                    id=self.id,
                    model=self.model,
                    created=self.created,
                    content="".join(state.content),
                    reasoning=reasoning or None,
                    tool_calls=calls,
                    finish_reason=state.finish_reason,
                    usage=self.usage,
                    logprobs=state.logprobs if state.has_logprobs else None,
                    warnings=list(self.warnings),
                    seed=state.seed,
                )
            )
        return out
