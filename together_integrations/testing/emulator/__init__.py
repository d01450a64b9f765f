"""An offline stand-in for the Together API that speaks its real wire format (NOTES §2-§6).

The request handling is written once, as :meth:`TogetherEmulator.handle` (method, path,
headers, body bytes → :class:`EmulatedResponse` with a possibly incremental body); two
front-ends serve it: an in-process httpx transport (:meth:`TogetherEmulator.httpx_transport`,
no sockets) and a loopback HTTP server (:meth:`TogetherEmulator.serve`).

Layout: :mod:`.router` (method + path templates), one module per endpoint family
(:mod:`.chat`, :mod:`.completions`, :mod:`.embeddings`, :mod:`.rerank`, :mod:`.images`,
:mod:`.audio`, :mod:`.models`), :mod:`.wire` (envelopes, ids, headers, errors),
:mod:`.faults`, :mod:`.clock` (virtual time), :mod:`.state` (scripted replies),
:mod:`.content` (deterministic values), :mod:`.multipart` and :mod:`.transport` (the
in-process front-end).
"""

from __future__ import annotations

from together_integrations.testing._schema import example_for_schema

from .clock import Clock, SystemClock, VirtualClock
from .content import embed_text, overlap_score
from .core import ROUTER, TogetherEmulator
from .faults import FaultKind
from .models import DEFAULT_MODELS
from .router import Router
from .state import Dialect, LogprobsFormat, ToolCallStyle
from .transport import EmulatorTransport
from .wire import DEFAULT_BASE_URL, DEFAULT_CREATED, EmulatedRequest, EmulatedResponse

_EmulatorTransport = EmulatorTransport

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CREATED",
    "DEFAULT_MODELS",
    "ROUTER",
    "Clock",
    "Dialect",
    "EmulatedRequest",
    "EmulatedResponse",
    "EmulatorTransport",
    "FaultKind",
    "LogprobsFormat",
    "Router",
    "SystemClock",
    "TogetherEmulator",
    "ToolCallStyle",
    "VirtualClock",
    "embed_text",
    "example_for_schema",
    "overlap_score",
]
