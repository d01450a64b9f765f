from __future__ import annotations

import subprocess
import sys

import pytest

import together_integrations
import together_integrations.schemas


@pytest.mark.parametrize("module", [together_integrations, together_integrations.schemas])
def test_all_is_sorted_and_importable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names)
    for name in names:
        assert hasattr(module, name), name


def test_core_does_not_import_frameworks() -> None:
    # A fresh interpreter: the core must not pull in LangChain or LlamaIndex.
    code = (
        "import sys, together_integrations, together_integrations.schemas;"
        "print(sorted(m for m in sys.modules if m.startswith(('langchain', 'llama_index'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_extra_message_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "try:\n    import together_integrations.langchain\n"
        "except ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "together-integrations[langchain]"' in out.stdout


@pytest.mark.parametrize(
    "name",
    [
        "together_integrations.langchain",
        "together_integrations.llama_index",
        "together_integrations.testing",
    ],
)
def test_adapter_packages_export_sorted_names_lazily(name: str) -> None:
    code = (
        f"import sys, {name} as m\n"
        "lazy = [k for k in sys.modules if k.startswith(m.__name__ + '.') and not k.endswith('_common')]\n"
        "assert m.__all__ == sorted(m.__all__), m.__all__\n"
        "assert all(getattr(m, n) is not None for n in m.__all__)\n"
        "print(len(m.__all__), lazy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, _ = out.stdout.split(" ", 1)
    assert int(count) >= 3
    if name != "together_integrations.testing":
        assert (
            "chat_models" not in out.stdout and "llms" not in out.stdout
        )  # nothing heavy before use
