"""The offline test rig: a Together emulator and cassette configuration."""

from __future__ import annotations

__all__: list[str] = []
