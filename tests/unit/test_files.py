"""Files on httpx.MockTransport: the presigned upload flow (no key on the PUT), 409 reuse,
the multipart fallback, and resumable, atomic downloads. Sync and async (``api``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from together_integrations import APIConnectionError, TogetherConfigError

from .fixtures import wire
from .fixtures.mock import Api, Body, Script, json_response

PRESIGNED = "https://uploads.example-bucket.com/abc?X-Signature=s3cr3t"
FILE = {
    "id": "file-1",
    "object": "file",
    "created_at": 1733000000,
    "filename": "train.jsonl",
    "bytes": 12,
    "purpose": "fine-tune",
    "FileType": "jsonl",
    "Processed": True,
}


def redirect(request: httpx.Request) -> httpx.Response:
    return httpx.Response(302, headers={"location": PRESIGNED, "x-together-file-id": "file-1"})


def stored(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def run(api: Api, coro_or_value: Any) -> Any:
    return asyncio.run(coro_or_value) if api.is_async else coro_or_value


def upload(api: Api, transport: Any, *args: Any, **kwargs: Any) -> Any:
    method = transport.files.aupload if api.is_async else transport.files.upload
    return run(api, method(*args, **kwargs))


def test_upload_follows_the_presigned_flow_without_the_key(api: Api, tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"text":"a"}')
    script = Script(redirect, stored, json_response(200, FILE))
    transport = script.transport(default_headers={"X-App": "mine"})
    result = upload(api, transport, path, purpose="fine-tune")
    assert result.id == "file-1" and result.file_type == "jsonl" and result.processed is True

    start, put, preprocess = script.requests
    assert (start.method, start.url.path) == ("POST", "/v1/files")
    form = {k: v[0] for k, v in parse_qs(start.content.decode()).items()}
    assert form == {
        "purpose": "fine-tune",
        "file_name": "train.jsonl",
        "file_type": "jsonl",
        "checksum": hashlib.sha256(b'{"text":"a"}').hexdigest(),
    }

    assert put.method == "PUT" and str(put.url) == PRESIGNED
    assert put.content == b'{"text":"a"}' and put.headers["content-length"] == "12"
    assert "authorization" not in put.headers and "x-app" not in put.headers
    assert wire.KEY not in str(put.headers)
    assert (preprocess.method, preprocess.url.path) == ("POST", "/v1/files/file-1/preprocess")


def test_the_put_streams_the_file_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * (3 * (1 << 20) + 5))
    seen: list[int] = []

    class Server(httpx.BaseTransport):
        # Not MockTransport: it reads the whole request body before answering.
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                seen.extend(len(block) for block in request.stream)  # type: ignore[union-attr]
                return httpx.Response(200)
            request.read()
            if request.url.path.endswith("/preprocess"):
                return json_response(200, FILE)
            return redirect(request)

    client = httpx.Client(transport=Server())
    from together_integrations import TogetherTransport

    TogetherTransport(api_key=wire.KEY, http_client=client).files.upload(path)
    assert sum(seen) == path.stat().st_size and len(seen) == 4 and max(seen) == 1 << 20


def test_a_repeated_upload_returns_the_existing_file(api: Api) -> None:
    conflict = json_response(409, {"error": {"message": "File already exists: file-1"}})
    script = Script(conflict, json_response(200, FILE))
    result = upload(api, script.transport(), (("train.jsonl", b'{"text":"a"}')))
    assert result.id == "file-1" and script.calls == 2
    assert script.requests[1].url.path == "/v1/files/file-1"


def test_without_the_presigned_flow_it_falls_back_to_multipart(api: Api) -> None:
    script = Script(json_response(404, wire.ERROR_404), json_response(200, FILE))
    result = upload(api, script.transport(), b'{"text":"a"}', file_name="train.jsonl")
    assert result.id == "file-1"
    fallback = script.requests[1]
    assert fallback.url.path == "/v1/files/upload"
    assert fallback.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="train.jsonl"' in fallback.content and b'{"text":"a"}' in fallback.content


@pytest.mark.parametrize("location", ["http://uploads.example-bucket.com/abc", "ftp://x/y", None])
def test_an_unsafe_or_missing_presigned_url_is_refused(api: Api, location: str | None) -> None:
    headers = {"x-together-file-id": "file-1"} | ({"location": location} if location else {})
    script = Script(httpx.Response(302, headers=headers))
    with pytest.raises(TogetherConfigError):
        upload(api, script.transport(), b"{}", file_name="a.jsonl")
    assert script.calls == 1  # nothing was PUT


def test_bad_upload_input_is_refused_before_any_request(api: Api, tmp_path: Path) -> None:
    script = Script(redirect)
    with pytest.raises(TogetherConfigError, match="not found"):
        upload(api, script.transport(), tmp_path / "missing.jsonl")
    with pytest.raises(TogetherConfigError, match="file_name"):
        upload(api, script.transport(), b"{}")
    with pytest.raises(TogetherConfigError, match=r"\.jsonl"):
        upload(api, script.transport(), b"{}", file_name="notes.txt")
    assert script.calls == 0


# ------------------------------------------------------------------------- downloads

DATA = b"".join(f'{{"custom_id":"r{i}"}}\n'.encode() for i in range(200))


def cut_after(n: int, total: bytes = DATA) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            stream=Body([total[:n]], fail_with=httpx.ReadError("connection reset")),
            headers={"content-length": str(len(total))},
        )

    return answer


def ranged(request: httpx.Request) -> httpx.Response:
    start = int(request.headers["range"].removeprefix("bytes=").rstrip("-"))
    return httpx.Response(
        206,
        content=DATA[start:],
        headers={"content-range": f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"},
    )


def ignores_range(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=DATA, headers={"content-length": str(len(DATA))})


def download(api: Api, transport: Any, *args: Any) -> Any:
    method = transport.files.adownload if api.is_async else transport.files.download
    return run(api, method(*args))


@pytest.mark.parametrize("resume", [ranged, ignores_range], ids=["206", "200-again"])
def test_a_cut_download_resumes_without_gaps_or_repeats(
    api: Api, tmp_path: Path, sleeps: list[float], resume: Any
) -> None:
    script = Script(cut_after(1000), resume)
    target = download(api, script.transport(), "file-9", tmp_path / "out.jsonl")
    assert target.read_bytes() == DATA
    assert script.requests[1].headers["range"] == "bytes=1000-"
    assert script.requests[0].headers["accept-encoding"] == "identity"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary left


def test_a_download_that_keeps_failing_leaves_no_file(
    api: Api, tmp_path: Path, sleeps: list[float]
) -> None:
    script = Script(cut_after(10))
    with pytest.raises(APIConnectionError):
        download(api, script.transport(), "file-9", tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == [] and script.calls == 6  # first try + 5 resumes


def test_iter_lines_streams_jsonl_across_cuts(api: Api, sleeps: list[float]) -> None:
    script = Script(cut_after(1001), ranged)
    transport = script.transport()
    if api.is_async:

        async def collect() -> list[str]:
            return [line async for line in transport.files.aiter_lines("file-9")]

        lines = asyncio.run(collect())
    else:
        lines = list(transport.files.iter_lines("file-9"))
    assert [json.loads(line)["custom_id"] for line in lines] == [f"r{i}" for i in range(200)]


def test_list_retrieve_delete(api: Api) -> None:
    script = Script(
        json_response(200, {"data": [FILE]}),
        json_response(200, FILE),
        json_response(200, {"id": "file-1", "deleted": True}),
    )
    transport = script.transport()
    assert [f.id for f in api.call(transport, "files.list")] == ["file-1"]
    assert api.call(transport, "files.retrieve", "file-1").filename == "train.jsonl"
    assert api.call(transport, "files.delete", "file-1").deleted is True
    assert [r.method for r in script.requests] == ["GET", "GET", "DELETE"]
    with pytest.raises(TogetherConfigError):
        api.call(transport, "files.retrieve", "..")
