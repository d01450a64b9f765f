"""The offline test rig: a Together emulator (in-process or on loopback) and cassette helpers.

>>> from together_integrations.testing import TogetherEmulator
>>> emu = TogetherEmulator()
>>> transport = emu.transport()          # a TogetherTransport answering in-process
"""

from __future__ import annotations

from .emulator import EmulatedRequest, EmulatedResponse, TogetherEmulator
from .server import EmulatorServer

__all__ = ["EmulatedRequest", "EmulatedResponse", "EmulatorServer", "TogetherEmulator"]
