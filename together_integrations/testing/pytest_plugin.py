"""Pytest fixtures for testing apps against the Together emulator (auto-loaded via pytest11)."""

from __future__ import annotations
