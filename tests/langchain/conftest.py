"""LangChain adapter tests run offline: no network socket unless marked ``network``."""

from __future__ import annotations
