"""The cassette library itself: every cassette is read by a test, none holds a secret or a
raw binary body, and the serializer's hash forms for binary and multipart bodies match what
they should and only that."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from tests.unit.test_no_secrets_in_files import find_key_like
from together_integrations.testing.cassettes import (
    EMULATOR_HOST,
    TogetherYamlSerializer,
    find_secrets,
    host_matcher,
    json_body_matcher,
    register,
    vcr_config,
)

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"


def load(relative: str) -> dict[str, Any]:
    """A cassette as stored (readable YAML), by its path under ``cassettes/``."""
    loaded = yaml.safe_load((CASSETTES / relative).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def cassette_files() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file() and p.name != "README.md")


def replay_tests() -> list[str]:
    """Node ids of the tests that use a cassette, as pytest itself collects them."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "vcr", "-p", "no:nbmake",
         "-o", "addopts=", str(ROOT / "tests" / "replay")],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return [line for line in out.splitlines() if "::" in line]


def test_every_cassette_is_used_by_a_test_and_every_test_has_one() -> None:
    expected = {
        CASSETTES / Path(module).stem / f"{name}.yaml"
        for module, _, name in (node.partition("::") for node in replay_tests())
    }
    found = set(cassette_files())
    assert len(found) >= 30
    assert sorted(map(str, found - expected)) == []  # orphans: no test reads them
    assert sorted(map(str, expected - found)) == []  # tests whose cassette is missing


def test_no_cassette_holds_a_key() -> None:
    files = cassette_files()
    assert find_secrets(files) == []
    assert {str(p): hits for p in files if (hits := find_key_like(p.read_text()))} == {}


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cassette_is_readable_and_scrubbed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "!!binary" not in text  # binary bodies are a hash and a length, never raw
    # No loopback port (it changes on every run) and no random multipart boundary.
    assert not re.search(r"(127\.0\.0\.1|localhost):\d+", text)
    assert not re.search(r"boundary=(?!together-cassette-boundary)", text)
    doc = yaml.safe_load(text)
    assert doc["recorded_against"] in ("emulator", "live")
    assert doc["interactions"]
    for item in doc["interactions"]:
        headers = {k.lower() for k in item["request"]["headers"]}
        assert "authorization" not in headers and "x-api-key" not in headers
        body = item["response"]["body"]
        assert set(body) & {"json", "sse", "binary", "string"}


# ------------------------------------------------------------------ the serializer


def request(body: bytes, ctype: str) -> Any:
    return SimpleNamespace(body=body, headers={"content-type": ctype})


def form(boundary: str, audio: bytes) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + audio
        + f"\r\n--{boundary}--\r\n".encode()
    )


def cassette(req_body: bytes, req_type: str, resp_body: bytes, resp_type: str) -> dict[str, Any]:
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "http://127.0.0.1:1/v1/x",
                    "body": req_body,
                    "headers": {"content-type": [req_type]},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"content-type": [resp_type]},
                    "body": {"string": resp_body},
                },
            }
        ],
    }


AUDIO = bytes(range(256)) * 4


def test_multipart_requests_are_fields_and_match_across_boundaries() -> None:
    text = TogetherYamlSerializer.serialize(
        cassette(form("aaa", AUDIO), "multipart/form-data; boundary=aaa", b"{}", "application/json")
    )
    stored = yaml.safe_load(text)["interactions"][0]["request"]["body_multipart"]
    assert stored == {
        "model": "whisper",
        "file": {"filename": "a.wav", "sha256": hashlib.sha256(AUDIO).hexdigest(), "length": 1024},
    }
    replayed = TogetherYamlSerializer.deserialize(text)["interactions"][0]["request"]
    recorded = request(replayed["body"].encode(), "multipart/form-data; boundary=aaa")
    json_body_matcher(request(form("zzz", AUDIO), "multipart/form-data; boundary=zzz"), recorded)
    with pytest.raises(AssertionError):
        other = form("zzz", AUDIO[::-1])
        json_body_matcher(request(other, "multipart/form-data; boundary=zzz"), recorded)


def test_binary_bodies_are_a_hash_a_length_and_a_head() -> None:
    text = TogetherYamlSerializer.serialize(
        cassette(AUDIO, "application/octet-stream", b"RIFF" + AUDIO, "audio/wav")
    )
    doc = yaml.safe_load(text)["interactions"][0]
    assert doc["request"]["body_binary"] == {
        "sha256": hashlib.sha256(AUDIO).hexdigest(),
        "length": len(AUDIO),
    }
    assert doc["response"]["body"]["binary"]["length"] == len(AUDIO) + 4
    replayed = TogetherYamlSerializer.deserialize(text)["interactions"][0]
    body = replayed["response"]["body"]["string"]
    assert len(body) == len(AUDIO) + 4 and body.startswith(b"RIFF" + AUDIO[:60])
    recorded = request(replayed["request"]["body"].encode(), "application/octet-stream")
    json_body_matcher(request(AUDIO, "application/octet-stream"), recorded)
    with pytest.raises(AssertionError):
        json_body_matcher(request(AUDIO[:-1], "application/octet-stream"), recorded)


def vcr_request(method: str, uri: str, body: bytes | None = None, **headers: str) -> Any:
    from vcr.request import Request

    return Request(method, uri, body, headers)


def test_loopback_hosts_are_recorded_as_the_emulator_host() -> None:
    config = vcr_config()
    sent = vcr_request("GET", "http://127.0.0.1:40855/v1/videos/v-1?x=1", host="127.0.0.1:40855")
    recorded = config["before_record_request"](sent)
    assert recorded.uri == f"https://{EMULATOR_HOST}/v1/videos/v-1?x=1"
    assert recorded.headers["host"] == EMULATOR_HOST
    live = config["before_record_request"](vcr_request("GET", "https://api.together.xyz/v1/x"))
    assert live.uri == "https://api.together.xyz/v1/x"  # a live host is kept
    body = b'{"url":"http://127.0.0.1:5123/shrt/a","other":"http://127.0.0.1.example.com:1/"}'
    response = config["before_record_response"](
        {
            "status": {"code": 302, "message": "Found"},
            "headers": {
                "content-type": ["application/json"],
                "location": ["http://localhost:5123/storage/uploads/f?X-Amz-Signature=s"],
            },
            "body": {"string": body},
        }
    )
    assert response["headers"]["location"] == [f"https://{EMULATOR_HOST}/storage/uploads/f"]
    assert (
        response["body"]["string"]
        == (
            f'{{"url":"https://{EMULATOR_HOST}/shrt/a","other":"http://127.0.0.1.example.com:1/"}}'
        ).encode()
    )


def test_host_matcher_ignores_the_host_only_for_the_emulator() -> None:
    emulated = vcr_request("GET", f"https://{EMULATOR_HOST}/v1/models")
    host_matcher(vcr_request("GET", "https://api.together.xyz/v1/models"), emulated)
    host_matcher(vcr_request("GET", "http://127.0.0.1:9/v1/models"), emulated)
    live = vcr_request("GET", "https://api.together.xyz/v1/models")
    host_matcher(vcr_request("GET", "https://api.together.xyz/v1/models"), live)
    with pytest.raises(AssertionError):
        host_matcher(vcr_request("GET", "https://api.together.ai/v1/models"), live)


def test_a_changed_query_does_not_match() -> None:
    from vcr import VCR
    from vcr.matchers import requests_match

    config = vcr_config()
    recorder = VCR()
    register(recorder)
    matchers = recorder._get_matchers(tuple(config["match_on"]))
    clean = config["before_record_request"]
    recorded = clean(vcr_request("GET", "http://127.0.0.1:1/v1/hardware?model=a"))
    same = clean(vcr_request("GET", "https://api.together.xyz/v1/hardware?model=a"))
    other = clean(vcr_request("GET", "https://api.together.xyz/v1/hardware?model=b"))
    assert requests_match(same, recorded, matchers)
    assert not requests_match(other, recorded, matchers)
