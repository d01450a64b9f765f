"""An offline stand-in for the Together API that speaks its real wire format (NOTES §2-§6,
NOTES-jobs §1-§8).

The request handling is written once, as :meth:`TogetherEmulator.handle` (method, path,
headers, body bytes → :class:`EmulatedResponse` with a possibly incremental body); two
front-ends serve it: an in-process httpx transport (:meth:`TogetherEmulator.httpx_transport`,
no sockets) and a loopback HTTP server (:meth:`TogetherEmulator.serve`).

Layout:
    :mod:`.router`: method + path templates with parameters, over the ``/v1`` and ``/v2``
    roots (and the emulator's own storage and short-link URLs).
    One module per family: :mod:`.chat`, :mod:`.completions`, :mod:`.embeddings`,
    :mod:`.rerank`, :mod:`.images`, :mod:`.audio` (speech, voices, transcription,
    translation), :mod:`.videos`, :mod:`.files`, :mod:`.batches`, :mod:`.fine_tuning`,
    :mod:`.endpoints` (dedicated endpoints, hardware), :mod:`.models`.
    Shared: :mod:`.wire` (envelopes, ids, headers, errors), :mod:`.faults`, :mod:`.state`
    (scripted replies, the file store), :mod:`.clock` (virtual time), :mod:`.jobs`
    (timelines), :mod:`.content` (deterministic values and media), :mod:`.multipart`,
    :mod:`.transport` (the in-process front-end).

Jobs run on ``emu.clock``: with a :class:`VirtualClock`, ``emu.clock.advance(86_400)``
finishes a day-long batch at once, and each family has a ``script(...)`` method
(``emu.batches``, ``emu.fine_tunes``, ``emu.videos``, ``emu.endpoints``).
"""

from __future__ import annotations

from together_integrations.testing._schema import example_for_schema

from .batches import Batches
from .clock import Clock, SystemClock, VirtualClock
from .content import embed_text, overlap_score
from .core import ROUTER, TogetherEmulator
from .endpoints import Endpoints
from .faults import FaultKind
from .fine_tuning import FineTunes
from .models import DEFAULT_MODELS
from .router import Router
from .state import Dialect, FileStore, LogprobsFormat, StoredFile, ToolCallStyle
from .transport import EmulatorTransport
from .videos import Videos
from .wire import DEFAULT_BASE_URL, DEFAULT_CREATED, EmulatedRequest, EmulatedResponse

_EmulatorTransport = EmulatorTransport

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CREATED",
    "DEFAULT_MODELS",
    "ROUTER",
    "Batches",
    "Clock",
    "Dialect",
    "EmulatedRequest",
    "EmulatedResponse",
    "EmulatorTransport",
    "Endpoints",
    "FaultKind",
    "FileStore",
    "FineTunes",
    "LogprobsFormat",
    "Router",
    "StoredFile",
    "SystemClock",
    "TogetherEmulator",
    "ToolCallStyle",
    "Videos",
    "VirtualClock",
    "embed_text",
    "example_for_schema",
    "overlap_score",
]
