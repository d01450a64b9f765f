"""Files: the presigned upload flow (302 → PUT without the key → preprocess), the multipart
fallback, 409 on a repeated checksum, listing, deletion and ranged, cut-and-resumed downloads."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from together_integrations.testing import TogetherEmulator

DATA = b'{"custom_id": "a", "body": {}}\n' * 40
FILE_KEYS = ["id", "object", "created_at", "filename", "bytes", "purpose", "FileType", "Processed"]


def initiate(client: httpx.Client, data: bytes = DATA, **fields: Any) -> httpx.Response:
    form = {
        "purpose": "batch-api",
        "file_name": "in.jsonl",
        "file_type": "jsonl",
        "checksum": hashlib.sha256(data).hexdigest(),
    } | fields
    return client.post("/files", data=form, follow_redirects=False)


def upload(client: httpx.Client, data: bytes = DATA) -> dict[str, Any]:
    """The SDK's flow on plain httpx: the PUT goes out on a bare request, without the key."""
    started = initiate(client, data)
    assert started.status_code == 302, started.text
    put = httpx.Request("PUT", started.headers["location"], content=data)
    assert "authorization" not in put.headers
    assert client.send(put).status_code == 200
    done = client.post(f"/files/{started.headers['x-together-file-id']}/preprocess")
    assert done.status_code == 200, done.text
    result: dict[str, Any] = done.json()
    return result


def test_the_presigned_flow(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        started = initiate(client)
        assert started.status_code == 302 and started.content == b""
        file_id = started.headers["x-together-file-id"]
        location = httpx.URL(started.headers["location"])
        # Served by the same emulator, at the origin the client used.
        assert (location.scheme, location.host) == ("https", "api.together.xyz")
        assert location.path == f"/storage/uploads/{file_id}" and location.params["X-Amz-Signature"]
        assert client.post(f"/files/{file_id}/preprocess").status_code == 400  # no bytes yet
        assert client.send(httpx.Request("PUT", location, content=DATA)).status_code == 200
        info = client.post(f"/files/{file_id}/preprocess").json()
        assert list(info) == FILE_KEYS
        assert info == {
            "id": file_id,
            "object": "file",
            "created_at": emu.clock.now(),
            "filename": "in.jsonl",
            "bytes": len(DATA),
            "purpose": "batch-api",
            "FileType": "jsonl",
            "Processed": True,
        }
        assert client.get(f"/files/{file_id}").json() == info
        assert client.get("/files").json() == {"data": [info]}
        downloaded = client.get(f"/files/{file_id}/content")
    assert downloaded.content == DATA and downloaded.headers["content-type"] == "text/plain"
    assert downloaded.headers["content-length"] == str(len(DATA))
    assert file_id.startswith("file-") and emu.files.get(file_id) is not None


def test_a_put_carrying_the_key_is_refused(emu: TogetherEmulator) -> None:
    with emu.http_client(headers={"Authorization": "Bearer sk-leaky"}) as client:
        started = initiate(client)
        leaked = client.put(started.headers["location"], content=DATA)  # client headers go too
        assert leaked.status_code == 403 and b"AccessDenied" in leaked.content
        file_id = started.headers["x-together-file-id"]
        assert client.post(f"/files/{file_id}/preprocess").status_code == 400
    assert emu.files.get(file_id) is not None and emu.files.get(file_id).data is None  # type: ignore[union-attr]


def test_a_forged_signature_is_refused(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        started = initiate(client)
        url = httpx.URL(started.headers["location"]).copy_set_param("X-Amz-Signature", "0" * 40)
        r = client.send(httpx.Request("PUT", url, content=DATA))
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content


def test_the_presigned_put_needs_no_key_when_the_api_does() -> None:
    emu = TogetherEmulator(api_key="right-key")
    with emu.http_client() as client:
        assert initiate(client).status_code == 401
        authed = {"Authorization": "Bearer right-key"}
        started = client.post(
            "/files",
            data={"purpose": "fine-tune", "file_name": "t.jsonl"},
            headers=authed,
            follow_redirects=False,
        )
        assert started.status_code == 302
        put = client.send(httpx.Request("PUT", started.headers["location"], content=b"{}\n"))
        assert put.status_code == 200
        done = client.post(
            f"/files/{started.headers['x-together-file-id']}/preprocess", headers=authed
        )
    assert done.json()["purpose"] == "fine-tune" and done.json()["bytes"] == 3


def test_a_repeated_checksum_is_409_naming_the_existing_file(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        first = upload(client)
        again = initiate(client)
        fallback = client.post(
            "/files/upload",
            data={"purpose": "batch-api", "file_name": "copy.jsonl"},
            files={"file": ("copy.jsonl", DATA)},
        )
    for r in (again, fallback):
        assert r.status_code == 409
        assert first["id"] in r.json()["error"]["message"]
        assert r.headers["x-together-file-id"] == first["id"]
    assert len(emu.files) == 1


def test_bytes_that_do_not_match_the_checksum_fail_preprocess(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        started = initiate(client)
        client.send(httpx.Request("PUT", started.headers["location"], content=b"other bytes"))
        r = client.post(f"/files/{started.headers['x-together-file-id']}/preprocess")
    assert r.status_code == 400 and r.json()["error"]["param"] == "checksum"


def test_the_multipart_fallback(emu: TogetherEmulator) -> None:
    payload = bytes(range(256)) * 3
    with emu.http_client() as client:
        r = client.post(
            "/files/upload",
            data={"purpose": "fine-tune", "file_name": "train.parquet", "file_type": "parquet"},
            files={"file": ("train.parquet", payload, "application/octet-stream")},
        )
        info = r.json()
        assert client.get(f"/files/{info['id']}/content").content == payload
    assert r.status_code == 200 and list(info) == FILE_KEYS
    assert (info["FileType"], info["Processed"], info["bytes"]) == ("parquet", True, 768)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"purpose": "homework"}, "purpose"),
        ({"purpose": ""}, "purpose"),
        ({"file_name": ""}, "file_name"),
        ({"file_type": "xlsx"}, "file_type"),
    ],
)
def test_invalid_fields_are_400(emu: TogetherEmulator, fields: dict[str, str], param: str) -> None:
    with emu.http_client() as client:
        r = initiate(client, **fields)
    assert r.status_code == 400 and r.json()["error"]["param"] == param


def test_delete_then_404(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        file_id = upload(client)["id"]
        assert client.delete(f"/files/{file_id}").json() == {"id": file_id, "deleted": True}
        assert client.get(f"/files/{file_id}").status_code == 404
        assert client.get(f"/files/{file_id}/content").status_code == 404
        assert client.delete(f"/files/{file_id}").status_code == 404
        assert client.get("/files").json() == {"data": []}


@pytest.mark.parametrize(
    ("header", "status", "span"),
    [
        ("bytes=100-", 206, (100, len(DATA))),
        ("bytes=10-19", 206, (10, 20)),
        ("bytes=-5", 206, (len(DATA) - 5, len(DATA))),
        ("bytes=0-999999", 206, (0, len(DATA))),
        (f"bytes={len(DATA)}-", 416, None),
        ("bytes=abc", 416, None),
    ],
)
def test_range_downloads(
    emu: TogetherEmulator, header: str, status: int, span: tuple[int, int] | None
) -> None:
    stored = emu.files.create(DATA)
    with emu.http_client() as client:
        r = client.get(f"/files/{stored.id}/content", headers={"Range": header})
    assert r.status_code == status
    if span is None:
        assert r.headers["content-range"] == f"bytes */{len(DATA)}"
    else:
        assert r.content == DATA[span[0] : span[1]]
        assert r.headers["content-range"] == f"bytes {span[0]}-{span[1] - 1}/{len(DATA)}"


def download_resuming(client: httpx.Client, file_id: str, attempts: int = 5) -> tuple[bytes, int]:
    """Download like the SDK: on a broken body, resume from what arrived with ``Range``."""
    got = b""
    for attempt in range(attempts):
        headers = {"Range": f"bytes={len(got)}-"} if got else {}
        try:
            with client.stream("GET", f"/files/{file_id}/content", headers=headers) as r:
                assert r.status_code == (206 if got else 200)
                for piece in r.iter_raw():
                    got += piece
            return got, attempt
        except httpx.TransportError:  # a reset reads as ReadError on sockets
            continue
    raise AssertionError("download never completed")


def test_a_cut_download_resumes_with_range(emu: TogetherEmulator) -> None:
    stored = emu.files.create(DATA)
    emu.fail("cut_stream", after=3, times=2)
    with emu.http_client() as client:
        data, retries = download_resuming(client, stored.id)
    assert data == DATA and retries == 2
    ranges = [r.headers.get("range") for r in emu.requests]
    assert ranges == [None, "bytes=192-", "bytes=384-"]


@pytest.mark.network
def test_the_flow_and_a_resumed_download_over_loopback(emu: TogetherEmulator) -> None:
    with emu.serve() as server, httpx.Client(base_url=server.base_url) as client:
        info = upload(client)
        location = emu.requests[1]
        assert location.method == "PUT" and location.path.startswith("/storage/uploads/")
        emu.fail("cut_stream", after=2)
        data, retries = download_resuming(client, info["id"])
    assert data == DATA and retries == 1
