"""Endpoint families, one module each, reached from a transport (``transport.chat``...).

Adding a family costs a schema module, a module here and one line on
:class:`~together_integrations.TogetherTransport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .audio import Audio
    from .batches import Batches
    from .chat import Chat
    from .completions import Completions
    from .embeddings import Embeddings
    from .endpoints import Endpoints
    from .files import Files
    from .fine_tuning import FineTuning
    from .images import Images
    from .models import Models
    from .rerank import Rerank
    from .videos import Videos

__all__ = [
    "Audio",
    "Batches",
    "Chat",
    "Completions",
    "Embeddings",
    "Endpoints",
    "Files",
    "FineTuning",
    "Images",
    "Models",
    "Rerank",
    "Videos",
]


def __getattr__(name: str) -> object:
    if name in __all__:
        import importlib

        module = {"FineTuning": "fine_tuning"}.get(name, name.lower())
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    raise AttributeError(name)
