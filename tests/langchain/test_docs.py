"""Every public field of every LangChain class has a docstring, and every class docstring has
the sections LangChain users look for (as ChatOpenAI's)."""

from __future__ import annotations

import ast
import inspect

import pytest

from together_integrations.langchain import (
    ChatTogether,
    TogetherEmbeddings,
    TogetherLLM,
    TogetherRerank,
)
from together_integrations.langchain._common import TogetherClientSettings

COMMON = ["Setup:", "Key init args", "Instantiate:", "Async:"]
SECTIONS: dict[type, list[str]] = {
    ChatTogether: [
        *COMMON,
        "Invoke:",
        "Stream:",
        "Tool calling:",
        "Structured output:",
        "Image input:",
        "Token usage:",
        "Logprobs:",
        "Response metadata:",
    ],
    TogetherLLM: [
        *COMMON,
        "Invoke:",
        "Stream:",
        "Token usage:",
        "Logprobs:",
        "Response metadata:",
    ],
    TogetherEmbeddings: [*COMMON, "Embed:"],
    TogetherRerank: [*COMMON, "Invoke (compress retrieved documents):"],
}


def _documented_fields(cls: type) -> set[str]:
    body = ast.parse(inspect.getsource(cls)).body[0]
    assert isinstance(body, ast.ClassDef)
    out: set[str] = set()
    for node, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            out.add(node.target.id)
    return out


@pytest.mark.parametrize("cls", list(SECTIONS), ids=lambda c: c.__name__)
def test_every_public_field_has_a_docstring(cls: type) -> None:
    ours = set(cls.__annotations__) | set(TogetherClientSettings.model_fields)
    fields = [n for n in cls.model_fields if n in ours and not n.startswith("_")]  # type: ignore[attr-defined]
    documented = _documented_fields(cls) | _documented_fields(TogetherClientSettings)
    assert [n for n in fields if n not in documented] == []
    assert len(fields) >= 14


@pytest.mark.parametrize(
    ("cls", "sections"), list(SECTIONS.items()), ids=lambda c: getattr(c, "__name__", "")
)
def test_class_docstrings_have_the_sections_users_look_for(cls: type, sections: list[str]) -> None:
    doc = inspect.getdoc(cls) or ""
    assert [s for s in sections if s not in doc] == []
