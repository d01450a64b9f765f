"""vcrpy configuration for recording Together traffic: secrets scrubbed, bodies readable.

Used through pytest-recording: the plugin registers the ``together-yaml`` serializer and
offers the ``together_vcr_config`` fixture; a project's ``conftest.py`` sets
``vcr_config = together_vcr_config`` (or merges it into its own).

* ``authorization`` and every other secret-bearing header and query parameter are removed;
* volatile response headers (dates, Cloudflare ids, timing headers) are dropped;
* JSON bodies are stored as YAML structures and SSE bodies as literal text blocks;
* requests match on method, path and body (JSON compared parsed, so key order is free);
* each cassette says whether it was recorded against the live API or the emulator.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

__all__ = ["SERIALIZER_NAME", "json_body_matcher", "register", "vcr_config"]

SERIALIZER_NAME = "together-yaml"
SECRET_HEADERS = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "x-together-api-key",
]
SECRET_QUERY = ["api_key", "key", "token", "access_token"]
VOLATILE_RESPONSE_HEADERS = {
    "date",
    "cf-ray",
    "cf-cache-status",
    "etag",
    "set-cookie",
    "x-api-received",
    "x-api-call-start",
    "x-api-call-end",
    "x-amzn-trace-id",
    "strict-transport-security",
    "alt-svc",
    "nel",
    "report-to",
    "server",
    "vary",
}
_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def _drop_volatile(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers") or {}
    response["headers"] = {
        k: v for k, v in headers.items() if k.lower() not in VOLATILE_RESPONSE_HEADERS
    }
    return response


def json_body_matcher(r1: Any, r2: Any) -> None:
    """vcrpy matcher: bodies equal as parsed JSON (or as bytes when not JSON)."""

    def parsed(body: Any) -> Any:
        raw = body.read() if hasattr(body, "read") else body
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        try:
            return json.loads(raw) if raw else None
        except (TypeError, ValueError):
            return raw

    if parsed(r1.body) != parsed(r2.body):
        raise AssertionError("request bodies differ")


def _yaml_suffix(path: str) -> str:
    return path if path.endswith(".yaml") else path + ".yaml"


def vcr_config() -> dict[str, Any]:
    """The vcrpy keyword arguments for Together cassettes.

    The record mode is left to pytest-recording's ``--record-mode`` (default ``none``).
    """
    return {
        "serializer": SERIALIZER_NAME,
        "filter_headers": SECRET_HEADERS,
        "filter_query_parameters": SECRET_QUERY,
        "before_record_response": _drop_volatile,
        "match_on": ["method", "path", "together_json_body"],
        "path_transformer": _yaml_suffix,
        "decode_compressed_response": True,
    }


class _Serializer:
    """YAML with readable bodies; round-trips to the bytes vcrpy expects."""

    @staticmethod
    def serialize(data: dict[str, Any]) -> str:
        import yaml

        hosts = set()
        interactions = []
        for item in data["interactions"]:
            request = dict(item["request"])
            hosts.add(urlsplit(request.get("uri", "")).netloc)
            body = request.pop("body", None)
            if body:
                try:
                    request["body_json"] = json.loads(body)
                except (TypeError, ValueError):
                    request["body"] = body
            response = dict(item["response"])
            text = (response.get("body") or {}).get("string")
            ctype = " ".join(
                v
                for k, vs in (response.get("headers") or {}).items()
                if k.lower() == "content-type"
                for v in vs
            )
            if text and "json" in ctype:
                with contextlib.suppress(ValueError):
                    response["body"] = {"json": json.loads(text)}
            elif text and "event-stream" in ctype:
                response["body"] = {"sse": text}
            interactions.append({"request": request, "response": response})
        live = any(h and not h.startswith(_LOOPBACK) for h in hosts)
        doc = {
            "recorded_against": "live" if live else "emulator",
            "version": data.get("version", 1),
            "interactions": interactions,
        }
        return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        import yaml

        doc = yaml.safe_load(text) or {}
        interactions = []
        for item in doc.get("interactions", []):
            request = dict(item["request"])
            if "body_json" in request:
                request["body"] = json.dumps(request.pop("body_json"))
            request.setdefault("body", None)
            response = dict(item["response"])
            body = response.get("body") or {}
            if "json" in body:
                response["body"] = {"string": json.dumps(body["json"])}
            elif "sse" in body:
                response["body"] = {"string": body["sse"]}
            interactions.append({"request": request, "response": response})
        return {"version": doc.get("version", 1), "interactions": interactions}


def _make_dumper() -> Any:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


_Dumper: Any = None


def register(vcr: Any) -> None:
    """Register the serializer and the body matcher on a ``vcr.VCR`` instance."""
    global _Dumper
    if _Dumper is None:
        _Dumper = _make_dumper()
    vcr.register_serializer(SERIALIZER_NAME, _Serializer)
    vcr.register_matcher("together_json_body", json_body_matcher)
