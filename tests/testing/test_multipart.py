"""Multipart bodies: parsed with the standard library, byte-exact file parts, lists, names."""

from __future__ import annotations

import httpx

from together_integrations.testing.emulator.multipart import parse_multipart


def _encode(data: dict[str, object], files: dict[str, tuple[str, bytes, str]]) -> tuple[str, bytes]:
    request = httpx.Request("POST", "https://x/", data=data, files=files)
    return request.headers["content-type"], request.read()


def test_fields_and_a_binary_file_round_trip() -> None:
    payload = bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n\r\n" + b"\x00\xff"
    ctype, body = _encode(
        {"purpose": "fine-tune", "file_name": "d\u00e9j\u00e0.jsonl"},
        {"file": ("d\u00e9j\u00e0.jsonl", payload, "application/octet-stream")},
    )
    form, filenames = parse_multipart(ctype, body)
    assert form["purpose"] == "fine-tune" and form["file_name"] == "d\u00e9j\u00e0.jsonl"
    assert form["file"] == payload
    assert filenames == {"file": "d\u00e9j\u00e0.jsonl"}


def test_repeated_and_bracketed_names_become_lists() -> None:
    ctype, body = _encode(
        {"timestamp_granularities[]": ["segment", "word"], "model": "m"},
        {"file": ("a.wav", b"RIFF", "audio/wav")},
    )
    form, _ = parse_multipart(ctype, body)
    assert form["timestamp_granularities"] == ["segment", "word"] and form["model"] == "m"


def test_a_body_without_parts_gives_an_empty_form() -> None:
    assert parse_multipart("multipart/form-data; boundary=xyz", b"garbage") == ({}, {})
