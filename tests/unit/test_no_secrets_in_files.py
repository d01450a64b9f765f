"""Nothing that looks like a Together (or any bearer) key may be committed in recorded
traffic or notebooks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("cassettes", "notebooks")
KEY_PATTERNS = [
    re.compile(r"Bearer\s+(?!\*|<|\{|REDACTED|test|fake|offline)[A-Za-z0-9_\-\.]{16,}"),
    re.compile(r"tgp_v1_[A-Za-z0-9_\-]{8,}"),
    re.compile(
        r"(?i)(api[_-]?key|authorization)[\"']?\s*[:=]\s*[\"']?(?!\*|<|REDACTED)[A-Za-z0-9_\-]{32,}"
    ),
]


def find_key_like(text: str) -> list[str]:
    return [m.group(0) for pattern in KEY_PATTERNS for m in pattern.finditer(text)]


def scanned_files() -> list[Path]:
    return [p for d in SCANNED for p in (ROOT / d).rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "leak",
    [
        "Authorization: Bearer 3f9c2b7a1d8e4f6a9b0c5d2e7f1a8b3c",
        "tgp_v1_AbCdEfGhIjKlMnOp",
        '"api_key": "0123456789abcdef0123456789abcdef0123"',
    ],
)
def test_detector_finds_keys(leak: str) -> None:
    assert find_key_like(f"some text\n{leak}\nmore")


@pytest.mark.parametrize(
    "clean",
    ["authorization: Bearer REDACTED", "api_key='test-key'", "Bearer <TOGETHER_API_KEY>"],
)
def test_detector_ignores_placeholders(clean: str) -> None:
    assert find_key_like(clean) == []


def test_no_key_in_cassettes_or_notebooks() -> None:
    files = scanned_files()
    assert files, "cassettes/ and notebooks/ should not be empty"
    leaks = {
        str(p.relative_to(ROOT)): hits
        for p in files
        if (hits := find_key_like(p.read_text(encoding="utf-8", errors="replace")))
    }
    assert leaks == {}
