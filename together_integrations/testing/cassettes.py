"""vcrpy configuration for recording Together traffic: secrets scrubbed, bodies readable.

Used through pytest-recording: the plugin registers the ``together-yaml`` serializer and the
``together_json_body`` matcher on every VCR (``pytest_recording_configure``), and offers the
``together_vcr_config`` fixture; a project's ``conftest.py`` opts in with::

    @pytest.fixture
    def vcr_config(together_vcr_config):
        return together_vcr_config

Without pytest-recording, :func:`make_vcr` builds a configured ``vcr.VCR``.

* ``authorization`` and every other secret-bearing header and query parameter are removed;
* volatile response headers (dates, Cloudflare ids, timing headers) are dropped;
* JSON bodies are stored as YAML structures and SSE bodies as literal text blocks, and are
  turned back into the exact recorded bytes on replay;
* presigned-URL signatures and credentials (``X-Amz-*``) are removed from URLs;
* binary bodies (audio, images, raw uploads) are stored as a sha256 hash and a length, not
  raw: a request's is matched by hash, a response's replays as its first bytes (``head``,
  kept so format sniffing still works) padded with NULs to the recorded length;
* multipart requests are stored as their fields (text fields as text, file parts as a file
  name, hash and length) and matched field by field, so httpx's random boundary is free;
* requests match on method, host, path, query and body (JSON compared parsed, so key order
  is free; the host is ignored when either side is the emulator);
* loopback hosts are the emulator: ``http://127.0.0.1:<port>`` (the port changes on every
  run) is stored as ``https://`` :data:`EMULATOR_HOST` in URIs, the ``host`` header and
  text response bodies (URLs the emulator hands out), and a multipart request's boundary
  as a fixed string, so re-recording gives byte-identical cassettes;
* each cassette says whether it was recorded against the live API or the emulator
  (``recorded_against: live | emulator``).

vcrpy and PyYAML are imported lazily: importing this module needs neither.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "EMULATOR_HOST",
    "HOST_MATCHER_NAME",
    "MATCHER_NAME",
    "SERIALIZER_NAME",
    "find_secrets",
    "host_matcher",
    "json_body_matcher",
    "make_vcr",
    "register",
    "vcr_config",
]

SERIALIZER_NAME = "together-yaml"
MATCHER_NAME = "together_json_body"
HOST_MATCHER_NAME = "together_host"
EMULATOR_HOST = "together-emulator.invalid"
"""The host a loopback (emulator) URL is recorded under: its port changes on every run."""
MULTIPART_BOUNDARY = "together-cassette-boundary"
SECRET_HEADERS = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
    "x-together-api-key",
    "openai-api-key",
]
SECRET_QUERY = [
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    # Presigned upload URLs (files): the signature, the access key id and a session token.
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
]
VOLATILE_RESPONSE_HEADERS = frozenset(
    {
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
        "access-control-allow-origin",
    }
)
_LOOPBACK = ("127.", "localhost", "[::1]", "::1", "0.0.0.0", EMULATOR_HOST)
_LOOPBACK_HOST = r"(?:127(?:\.\d{1,3}){3}|localhost|\[::1\]|0\.0\.0\.0)(?::\d{1,5})?"
_LOOPBACK_URL = re.compile(r"(?i)\bhttps?://" + _LOOPBACK_HOST + r"(?![\w.\-])")
_LOOPBACK_NETLOC = re.compile(r"(?i)" + _LOOPBACK_HOST)
_TEXT_TYPES = ("json", "event-stream", "text/", "xml", "x-ndjson", "jsonl")
_BOUNDARY = re.compile(r"(?i)(boundary=)(\"?)[^\";,\s]+\2")


def _emulator_urls(text: str) -> str:
    """``text`` with every loopback ``http://host:port`` as ``https://`` :data:`EMULATOR_HOST`
    (https: clients rightly refuse a plain-http upload URL on a non-loopback host)."""
    return _LOOPBACK_URL.sub("https://" + EMULATOR_HOST, text)


def _is_emulator(host: str | None) -> bool:
    return bool(host) and (str(host).startswith(_LOOPBACK) or host == EMULATOR_HOST)


def _normalise_request(request: Any) -> Any:
    """vcrpy ``before_record_request``: a loopback (emulator) host becomes
    :data:`EMULATOR_HOST` in the URI and the ``host`` header, so a new port is no diff.
    Applied (to a copy) both when recording and when matching."""
    if _is_emulator(urlsplit(request.uri).hostname):
        request.uri = _emulator_urls(request.uri)
        for name in [k for k in request.headers if k.lower() == "host"]:
            if _LOOPBACK_NETLOC.fullmatch(str(request.headers[name])):
                request.headers[name] = EMULATOR_HOST
    return request


def _normalise_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy ``before_record_response`` (on vcrpy's copy): volatile headers dropped, and
    loopback URLs in text bodies and ``location`` headers recorded as :data:`EMULATOR_HOST`."""
    response = _drop_volatile(response)
    headers = response.get("headers") or {}
    for name, value in list(headers.items()):
        if name.lower() == "location":
            values = value if isinstance(value, list) else [value]
            fixed = [_emulator_urls(str(v)) for v in values]
            headers[name] = fixed if isinstance(value, list) else fixed[0]
    body = response.get("body") or {}
    raw = body.get("string")
    if raw and any(t in _content_type(headers).lower() for t in _TEXT_TYPES):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        except UnicodeDecodeError:
            return response
        fixed_text = _emulator_urls(text)
        if fixed_text != text:
            body["string"] = fixed_text.encode("utf-8") if isinstance(raw, bytes) else fixed_text
    return response


def host_matcher(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the same scheme, host and port, unless either side is the emulator
    (a loopback host or :data:`EMULATOR_HOST`): an emulator cassette replays on any host.

    Raises:
        AssertionError: When the hosts differ (vcrpy's matcher protocol).
    """
    if _is_emulator(r1.host) or _is_emulator(r2.host):
        return
    if (r1.scheme, r1.host, r1.port) != (r2.scheme, r2.host, r2.port):
        raise AssertionError(f"{r1.host} != {r2.host}")


# Encodings tried, in order, to find one that reproduces a JSON body byte for byte.
_JSON_STYLES: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":"), "ensure_ascii": False},
    "indent2": {"indent": 2, "ensure_ascii": False},
    "python": {"ensure_ascii": False},
    "compact-ascii": {"separators": (",", ":")},
    "indent2-ascii": {"indent": 2},
    "python-ascii": {},
}


_PRESIGNED_SECRETS = frozenset(q.lower() for q in SECRET_QUERY)


def _unsigned(url: str) -> str:
    """``url`` without its secret-bearing query parameters (a presigned URL's signature)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _PRESIGNED_SECRETS
    ]
    return urlunsplit(parts._replace(query=urlencode(kept, safe="/")))


def _drop_volatile(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers") or {}
    kept: dict[str, Any] = {}
    for name, value in headers.items():
        if name.lower() in VOLATILE_RESPONSE_HEADERS:
            continue
        if name.lower() == "location":  # the 302 to a presigned upload URL
            value = [_unsigned(v) for v in value] if isinstance(value, list) else _unsigned(value)
        kept[name] = value
    response["headers"] = kept
    return response


_MULTIPART_MARK = "<together-cassette:multipart>"
_BINARY_MARK = "<together-cassette:binary>"
_BINARY_TYPES = ("audio/", "image/", "video/", "application/octet-stream", "application/zip")
HEAD_BYTES = 64
"""How many leading bytes of a binary response a cassette keeps (magic numbers, headers)."""


def _as_bytes(body: Any) -> bytes:
    raw = body.read() if hasattr(body, "read") else body
    if raw is None:
        return b""
    return raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)


def _digest(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}


def _is_binary(data: bytes, ctype: str) -> bool:
    if any(ctype.lower().lstrip().startswith(t) for t in _BINARY_TYPES):
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _multipart_fields(ctype: str, data: bytes) -> dict[str, Any]:
    """A multipart body as ``{field: text | {filename, sha256, length}}`` (lists for repeats)."""
    from together_integrations.testing.emulator.multipart import parse_multipart

    form, filenames = parse_multipart(ctype, data)

    def one(name: str, value: Any) -> Any:
        if isinstance(value, bytes):
            return {"filename": filenames.get(name), **_digest(value)}
        return value

    return {
        name: [one(name, v) for v in value] if isinstance(value, list) else one(name, value)
        for name, value in form.items()
    }


def _opaque_request(data: bytes, ctype: str) -> bool:
    # Raw uploads (the presigned PUT) declare no type: opaque bytes, whatever they hold.
    return bool(data) and (not ctype.strip() or _is_binary(data, ctype))


def _comparable(request: Any) -> Any:
    """What the matcher compares: parsed JSON, multipart fields, a binary digest or text."""
    data = _as_bytes(request.body)
    text = data.decode("utf-8", errors="replace")
    if text.startswith(_MULTIPART_MARK):
        return ("multipart", json.loads(text[len(_MULTIPART_MARK) :]))
    if text.startswith(_BINARY_MARK):
        return ("binary", json.loads(text[len(_BINARY_MARK) :]))
    ctype = _content_type(dict(request.headers or {}))
    if data and "multipart/" in ctype:
        return ("multipart", _multipart_fields(ctype, data))
    if _opaque_request(data, ctype):
        return ("binary", _digest(data))
    return _parsed(data)


def _parsed(body: Any) -> Any:
    raw = body.read() if hasattr(body, "read") else body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(raw) if raw else None
    except (TypeError, ValueError):
        return raw


def json_body_matcher(r1: Any, r2: Any) -> None:
    """vcrpy matcher: bodies equal as parsed JSON (or as text when not JSON); multipart
    bodies field by field (file parts by hash); binary bodies by hash and length.

    Raises:
        AssertionError: When the bodies differ (vcrpy's matcher protocol).
    """
    if _comparable(r1) != _comparable(r2):
        raise AssertionError("request bodies differ")


def _yaml_suffix(path: str) -> str:
    return path if path.endswith(".yaml") else path + ".yaml"


def vcr_config(*, record_mode: str | None = None) -> dict[str, Any]:
    """The vcrpy keyword arguments for Together cassettes.

    Args:
        record_mode: Left out by default, so pytest-recording's ``--record-mode`` decides
            (its default is ``none``: replay only). A value set here wins over the command
            line, which would make re-recording impossible.

    Returns:
        A dict for pytest-recording's ``vcr_config`` fixture or ``vcr.VCR(**...)``.
    """
    config: dict[str, Any] = {
        "serializer": SERIALIZER_NAME,
        "filter_headers": list(SECRET_HEADERS),
        "filter_query_parameters": list(SECRET_QUERY),
        "before_record_request": _normalise_request,
        "before_record_response": _normalise_response,
        "match_on": ["method", HOST_MATCHER_NAME, "path", "query", MATCHER_NAME],
        "path_transformer": _yaml_suffix,
        "decode_compressed_response": True,
    }
    if record_mode is not None:
        config["record_mode"] = record_mode
    return config


def make_vcr(cassette_library_dir: str | Path, *, record_mode: str = "none") -> Any:
    """A ``vcr.VCR`` with the Together config and serializer, for use without pytest-recording.

    Args:
        cassette_library_dir: Where cassettes live.
        record_mode: vcrpy record mode; ``none`` (replay only) unless told otherwise.

    Returns:
        A configured ``vcr.VCR``; ``with my_vcr.use_cassette("name"): ...``.
    """
    import vcr

    config = vcr_config(record_mode=record_mode)
    config.pop("serializer")
    recorder = vcr.VCR(cassette_library_dir=str(cassette_library_dir), **config)
    register(recorder)
    recorder.serializer = SERIALIZER_NAME
    return recorder


def _encode_json(text: str) -> dict[str, Any] | None:
    """``{"json": value, "style": name}`` when a style reproduces ``text`` exactly."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    for name, options in _JSON_STYLES.items():
        for trailer in ("", "\n"):
            if json.dumps(value, **options) + trailer == text:
                out: dict[str, Any] = {"json": value, "style": name}
                if trailer:
                    out["trailing_newline"] = True
                return out
    return None


def _decode_json(stored: dict[str, Any]) -> str:
    options = _JSON_STYLES.get(stored.get("style", "python"), {})
    text = json.dumps(stored["json"], **options)
    return text + ("\n" if stored.get("trailing_newline") else "")


def _content_type(headers: dict[str, Any]) -> str:
    return " ".join(
        str(v)
        for k, vs in (headers or {}).items()
        if k.lower() == "content-type"
        for v in (vs if isinstance(vs, list) else [vs])
    )


class TogetherYamlSerializer:
    """vcrpy serializer: YAML with readable bodies that round-trip to the exact bytes."""

    @staticmethod
    def serialize(data: dict[str, Any]) -> str:
        """Cassette dict (vcrpy's format) → YAML text."""
        import yaml

        hosts = set()
        interactions = []
        for item in data["interactions"]:
            request = dict(item["request"])
            hosts.add(urlsplit(request.get("uri", "")).netloc)
            body = request.pop("body", None)
            encoded = _encode_json(body) if isinstance(body, str) else None
            request_type = _content_type(request.get("headers") or {})
            sent = _as_bytes(body)
            if encoded is not None:
                request["body_json"] = encoded
            elif sent and "multipart/" in request_type:
                request["body_multipart"] = _multipart_fields(request_type, sent)
                # httpx picks a random boundary; the fields are stored, so it is free.
                request["headers"] = {
                    k: [_BOUNDARY.sub(r"\g<1>" + MULTIPART_BOUNDARY, str(x)) for x in v]
                    if k.lower() == "content-type" and isinstance(v, list)
                    else v
                    for k, v in (request.get("headers") or {}).items()
                }
            elif _opaque_request(sent, request_type):
                request["body_binary"] = _digest(sent)
            else:
                request["body"] = body
            response = dict(item["response"])
            raw = (response.get("body") or {}).get("string")
            ctype = _content_type(response.get("headers") or {})
            if raw and (isinstance(raw, bytes) or any(t in ctype for t in _BINARY_TYPES)):
                received = _as_bytes(raw)
                if _is_binary(received, ctype):
                    head = base64.b64encode(received[:HEAD_BYTES]).decode("ascii")
                    response["body"] = {"binary": {**_digest(received), "head": head}}
            elif isinstance(raw, str) and raw and "json" in ctype:
                stored = _encode_json(raw)
                if stored is not None:
                    response["body"] = stored
            elif isinstance(raw, str) and raw and "event-stream" in ctype:
                response["body"] = {"sse": raw}
            interactions.append({"request": request, "response": response})
        live = any(h and not h.startswith(_LOOPBACK) for h in hosts)
        doc = {
            "recorded_against": "live" if live else "emulator",
            "version": data.get("version", 1),
            "interactions": interactions,
        }
        return str(yaml.dump(doc, Dumper=_dumper(), allow_unicode=True, sort_keys=False, width=100))

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        """YAML text → cassette dict (vcrpy's format), bodies restored byte for byte."""
        import yaml

        doc = yaml.safe_load(text) or {}
        interactions = []
        for item in doc.get("interactions", []):
            request = dict(item["request"])
            if "body_json" in request:
                stored = request.pop("body_json")
                request["body"] = _decode_json(stored) if "style" in stored else json.dumps(stored)
            elif "body_multipart" in request:
                fields = request.pop("body_multipart")
                request["body"] = _MULTIPART_MARK + json.dumps(fields, sort_keys=True)
            elif "body_binary" in request:
                digest = request.pop("body_binary")
                request["body"] = _BINARY_MARK + json.dumps(digest, sort_keys=True)
            request.setdefault("body", None)
            response = dict(item["response"])
            body = response.get("body") or {}
            if "json" in body:
                response["body"] = {"string": _decode_json(body)}
            elif "sse" in body:
                response["body"] = {"string": body["sse"]}
            elif "binary" in body:
                stored = body["binary"]
                head = base64.b64decode(stored["head"])
                response["body"] = {"string": head + b"\0" * (stored["length"] - len(head))}
            interactions.append({"request": request, "response": response})
        return {"version": doc.get("version", 1), "interactions": interactions}


_Serializer = TogetherYamlSerializer
_DUMPER: Any = None


def _dumper() -> Any:
    global _DUMPER
    if _DUMPER is None:
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        def text(dumper: Any, value: str) -> Any:
            # Multi-line text (SSE streams, HTML pages) as literal blocks: readable diffs.
            style = "|" if "\n" in value else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, text)
        _DUMPER = Dumper
    return _DUMPER


def register(vcr: Any) -> None:
    """Register the serializer and the body matcher on a ``vcr.VCR`` instance."""
    vcr.register_serializer(SERIALIZER_NAME, TogetherYamlSerializer)
    vcr.register_matcher(MATCHER_NAME, json_body_matcher)
    vcr.register_matcher(HOST_MATCHER_NAME, host_matcher)


# ------------------------------------------------------------------ secret scanning

_PLACEHOLDER = (
    r"(?!\*|<|\{|\$|REDACTED|redacted|test|fake|dummy|offline|replay|emulator|example|xxx)"
)
_SECRET_PATTERNS = [
    re.compile(r"Bearer\s+" + _PLACEHOLDER + r"[A-Za-z0-9_\-\.=+/]{16,}"),
    re.compile(r"tgp_v1_[A-Za-z0-9_\-]{8,}"),
    re.compile(
        r"(?i)(api[_-]?key|authorization|x-api-key|secret|access[_-]?token|password)"
        r"[\"']?\s*[:=]\s*(?:-\s*)?[\"']?(?:Bearer\s+)?"
        + _PLACEHOLDER
        + r"(?:[A-Fa-f0-9]{40,}|[A-Za-z0-9_\-+/=]{32,})"
    ),
]


def find_secrets_in_text(text: str) -> list[tuple[int, str]]:
    """``(line number, match)`` for each thing in ``text`` that looks like an API key."""
    hits: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern in _SECRET_PATTERNS:
            hits.extend((number, m.group(0)) for m in pattern.finditer(line))
    return hits


def find_secrets(paths: Iterable[str | Path]) -> list[tuple[Path, int]]:
    """Scan files (directories recursively) for anything that looks like an API key.

    Looks for ``Bearer <16+ chars>``, Together keys (``tgp_v1_…``) and long hex or
    base64-looking tokens after ``api_key``/``authorization``-like names. Obvious
    placeholders (``<…>``, ``{…}``, ``REDACTED``, ``test``, ``fake``…) are ignored.

    Args:
        paths: Files or directories.

    Returns:
        ``(path, line number)`` for every hit, sorted.
    """
    found: set[tuple[Path, int]] = set()
    for root in paths:
        root = Path(root)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if not path.exists():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            found.update((path, line) for line, _ in find_secrets_in_text(text))
    return sorted(found)
