from __future__ import annotations

import importlib

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
    import sys

    for mod in list(sys.modules):
        if mod.startswith(("langchain", "llama_index")):
            pytest.skip("a framework was already imported by another test")
    importlib.reload(together_integrations)
    assert not any(m.startswith(("langchain_core", "llama_index")) for m in sys.modules)
