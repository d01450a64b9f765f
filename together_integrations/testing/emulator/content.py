"""Deterministic content: texts, logprobs, vectors, relevance scores and media bytes.

Everything here is a pure function of its inputs, so a test can compute the expected value
itself (``embed_text``, ``overlap_score``) and recordings stay byte-stable.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import zlib
from typing import Any

__all__ = [
    "alternatives",
    "content_text",
    "continue_prompt",
    "embed_text",
    "last_user_text",
    "logprob",
    "overlap_score",
    "png",
    "prompt_chars",
    "wav",
]

WORD = re.compile(r"[a-z0-9]+")


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def prompt_chars(messages: list[Any]) -> int:
    return sum(len(content_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict))


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") in ("user", "tool"):
            return content_text(message.get("content")).strip()
    return ""


def continue_prompt(prompt: str) -> str:
    words = WORD.findall(prompt.lower())
    topic = words[-1] if words else "it"
    return f" and so the story of {topic} continues."


def logprob(token: str, index: int) -> float:
    digest = hashlib.sha256(f"{index}:{token}".encode()).digest()
    return -round(int.from_bytes(digest[:2], "big") / 65535 * 2, 6)


def alternatives(token: str, value: float, k: int) -> list[tuple[str, float]]:
    out = [(token, value)]
    for i in range(1, k):
        out.append((f"{token}{i}", round(value - 2.5 * i, 6)))
    return out[:k]


def usage(prompt_chars: int, completion: str, reasoning: str = "") -> dict[str, int]:
    p = max(1, prompt_chars // 4)
    c = max(1, (len(completion) + len(reasoning)) // 4)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def embed_text(text: str, dims: int) -> list[float]:
    """A unit vector from hashed words: texts sharing words have a higher cosine similarity.

    Args:
        text: The input text.
        dims: The vector size.

    Returns:
        A deterministic unit-norm vector (same text → same vector).
    """
    vector = [0.0] * dims
    for word in WORD.findall(text.lower()) or [text]:
        digest = hashlib.sha256(word.encode()).digest()
        for k in range(4):
            slot = int.from_bytes(digest[4 * k : 4 * k + 4], "big") % dims
            vector[slot] += 1.0 if digest[16 + k] % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def overlap_score(query: str, text: str) -> float:
    """Word-overlap relevance in [0, 1): the share of query words found in ``text``."""
    q = set(WORD.findall(query.lower()))
    d = set(WORD.findall(text.lower()))
    if not q or not d:
        return 0.0
    return round(len(q & d) / (len(q) + 1) * 0.99, 6)


def image_bytes(key: str, as_png: bool) -> bytes:
    digest = hashlib.sha256(key.encode()).digest()
    if as_png:
        return b"\x89PNG\r\n\x1a\n" + digest
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + digest + b"\xff\xd9"


def png(key: str, width: int = 8, height: int = 8) -> bytes:
    """A valid RGB PNG whose colours derive from ``key`` (stdlib zlib, no imaging library)."""
    digest = hashlib.sha256(key.encode()).digest()
    rows = b"".join(
        b"\x00"  # filter type None for every scanline
        + b"".join(bytes(digest[(x + y) % 30 : (x + y) % 30 + 3]) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def fake_audio(text: str, fmt: str) -> bytes:
    payload = hashlib.sha256(text.encode()).digest() * max(1, len(text) // 8)
    return (b"ID3\x04\x00\x00" + payload) if fmt == "mp3" else payload


def wav(length: int, sample_rate: int = 16000) -> bytes:
    """A valid mono 16-bit PCM WAV of silence, ``length * 80`` frames (at least 160)."""
    frames = b"\x00\x00" * max(160, length * 80)
    header = (
        b"RIFF"
        + (36 + len(frames)).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + sample_rate.to_bytes(4, "little")
        + (sample_rate * 2).to_bytes(4, "little")
        + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + len(frames).to_bytes(4, "little")
    )
    return header + frames
