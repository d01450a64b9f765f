"""Fine-tuning from LangChain: chat histories to a training file, and the result as a
``ChatTogether``.

::

    from together_integrations import TogetherFineTuning
    from together_integrations.langchain import ChatTogether, to_training_file

    to_training_file(histories, "train.jsonl", tools=[get_weather])   # checked on write
    ft = TogetherFineTuning()
    job = ft.wait(ft.create("train.jsonl", model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"))
    llm = ChatTogether.from_fine_tune(job, temperature=0)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from together_integrations._exceptions import APIStatusError
from together_integrations.fine_tuning import (
    TrainingFileReport,
    with_endpoint_hint,
    write_training_file,
)
from together_integrations.langchain._convert import convert_message_to_wire
from together_integrations.langchain._errors import LCNonServerlessModelError

__all__ = [
    "LCNonServerlessModelError",
    "endpoint_hints",
    "history_to_sample",
    "to_training_file",
]


@contextlib.contextmanager
def endpoint_hints() -> Iterator[None]:
    """Within the block, a chat request naming a model that needs a dedicated endpoint
    raises :class:`LCNonServerlessModelError`, whose ``hint`` names the endpoints API."""
    try:
        yield
    except APIStatusError as error:
        hinted = with_endpoint_hint(error, LCNonServerlessModelError)
        if hinted is error:
            raise
        raise hinted from error


def history_to_sample(
    history: Sequence[BaseMessage], *, tools: Sequence[Any] | None = None
) -> dict[str, Any]:
    """One conversation as a conversational training sample: ``{"messages": [...]}`` with
    tool calls and tool results, and ``tools`` (any LangChain tool, function or schema)."""
    messages = []
    for message in history:
        wire = convert_message_to_wire(message).to_wire()
        wire.pop("name", None)  # not part of the training format
        messages.append(wire)
    sample: dict[str, Any] = {"messages": messages}
    if tools:
        sample["tools"] = [convert_to_openai_tool(tool) for tool in tools]
    return sample


def to_training_file(
    histories: Iterable[Sequence[BaseMessage]],
    path: str | os.PathLike[str],
    *,
    tools: Sequence[Any] | None = None,
) -> TrainingFileReport:
    """Write LangChain chat histories (lists of messages, tool calls included) as a
    conversational JSONL training file, checked as the server would.

    Args:
        histories: One list of messages per training sample; each needs an ``AIMessage``.
        path: Where to write (``*.jsonl``).
        tools: Tools offered in every conversation (written as each sample's ``tools``).

    Returns:
        The report of the check (format, sample count, size).

    Raises:
        TrainingFileError: a sample would be refused (its line and the problem named); the
            file is removed.
    """
    return write_training_file((history_to_sample(h, tools=tools) for h in histories), path)
