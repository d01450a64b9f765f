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


def shade(key: str) -> tuple[int, int, int]:
    """An RGB colour derived from ``key`` (distinct prompts, distinct images)."""
    digest = hashlib.sha256(key.encode()).digest()
    return digest[0], digest[1], digest[2]


def png(key: str, width: int = 8, height: int = 8) -> bytes:
    """A valid RGB PNG, stripes of colours derived from ``key`` (stdlib zlib only)."""
    digest = hashlib.sha256(key.encode()).digest()
    palette = [digest[i : i + 3] for i in range(0, 30, 3)]
    row = b"\x00" + b"".join(palette[(x // 4) % len(palette)] for x in range(width))
    raw = row * height  # filter byte 0 (None) opens every scanline

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def jpeg(key: str, width: int = 8, height: int = 8) -> bytes:
    """A valid baseline greyscale JPEG of one grey level derived from ``key``.

    Every 8x8 block is flat, so each block is its DC coefficient alone: the first carries
    the level, the rest a difference of 0 and an end-of-block, two tiny Huffman tables.
    """
    level = shade(key)[0]
    dc = 8 * (level - 128)  # a flat block's DC with an all-ones quantisation table
    category = abs(dc).bit_length()
    symbols = sorted({category, 0})
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    codes = {symbol: format(i, "02b") for i, symbol in enumerate(symbols)}
    bits = codes[category]
    if category:
        bits += format(dc if dc > 0 else dc + (1 << category) - 1, f"0{category}b")
    bits += "0"  # EOB: the only AC symbol, code "0"
    bits += (codes[0] + "0") * (blocks - 1)
    bits += "1" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    dc_counts = bytes([0, len(symbols)] + [0] * 14)
    ac_counts = bytes([1] + [0] * 15)
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + b"\x01" * 64)
        + segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
        + segment(0xC4, b"\x00" + dc_counts + bytes(symbols))
        + segment(0xC4, b"\x10" + ac_counts + b"\x00")
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + data
        + b"\xff\xd9"
    )


def fake_audio(text: str, fmt: str) -> bytes:
    payload = hashlib.sha256(text.encode()).digest() * max(1, len(text) // 8)
    return (b"ID3\x04\x00\x00" + payload) if fmt == "mp3" else payload


def wav(text: str, sample_rate: int = 16000) -> bytes:
    """A valid mono 16-bit PCM WAV: a quiet tone, 0.05 s per character (at least 0.1 s).

    The text rides along in a ``LIST/INFO/ICMT`` chunk, which players ignore and the
    emulator's transcription reads back, so speech → transcription round-trips.
    """
    count = max(sample_rate // 10, len(text) * sample_rate // 20)
    period = max(2, sample_rate // 440)
    cycle = b"".join(struct.pack("<h", 800 if i < period // 2 else -800) for i in range(period))
    frames = (cycle * (count // period + 1))[: count * 2]
    note = text.encode() + b"\x00"
    note += b"\x00" * (len(note) % 2)
    info = b"INFO" + b"ICMT" + struct.pack("<I", len(note)) + note
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    body = (
        b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"LIST" + struct.pack("<I", len(info)) + info
        + b"data" + struct.pack("<I", len(frames)) + frames
    )  # fmt: skip
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wav_text(data: bytes) -> str | None:
    """The text :func:`wav` embedded, or None for any other audio."""
    marker = data.find(b"ICMT")
    if not data.startswith(b"RIFF") or marker < 0:
        return None
    size = struct.unpack("<I", data[marker + 4 : marker + 8])[0]
    return data[marker + 8 : marker + 8 + size].rstrip(b"\x00").decode("utf-8", "replace")
