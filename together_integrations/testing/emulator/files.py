"""Files (NOTES-jobs §5): the presigned upload flow, the multipart fallback, listing,
deletion and ranged downloads.

The SDK flow, step by step:

1. ``POST /v1/files`` with form fields ``purpose``, ``file_name``, ``file_type`` and
   ``checksum`` (sha256 hex) answers **302** with ``Location:`` a presigned URL and
   ``X-Together-File-Id``. A checksum the store already holds answers **409** instead; its
   message and its ``X-Together-File-Id`` header name the existing file.
2. ``PUT`` the bytes to the presigned URL. It is served by this same emulator (same origin as
   the request, under ``/storage/uploads/``) and, like real object storage, takes no API
   key: a PUT that carries an ``Authorization`` header is refused with 403, so a client that
   leaks its key there fails its tests.
3. ``POST /v1/files/{id}/preprocess`` answers the ``FileResponse`` (400 when the bytes never
   arrived or do not match the declared checksum).

``POST /v1/files/upload`` (multipart, the spec's flow) stores and processes in one step.
Downloads (``GET /v1/files/{id}/content``) honour ``Range: bytes=N-`` / ``N-M`` / ``-K``
with 206, and 416 past the end. A ``cut_stream`` fault cuts a download after ``after=N``
pieces of 64 bytes, so a client's resume-by-Range logic can be tested.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from .state import FILE_PURPOSES, FILE_TYPES, StoredFile
from .wire import EmulatedRequest, EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["UPLOAD_PREFIX", "register"]

UPLOAD_PREFIX = "/storage/uploads"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def register(router: Router) -> None:
    router.add("POST", "/v1/files", initiate)
    router.add("PUT", UPLOAD_PREFIX + "/{file_id}", put_bytes, raw_body=True, public=True)
    router.add("POST", "/v1/files/{file_id}/preprocess", preprocess)
    router.add("POST", "/v1/files/upload", upload)
    router.add("GET", "/v1/files", list_files)
    router.add("GET", "/v1/files/{file_id}", retrieve)
    router.add("DELETE", "/v1/files/{file_id}", delete)
    router.add("GET", "/v1/files/{file_id}/content", content)


def _fields(request: EmulatedRequest) -> dict[str, Any]:
    # The SDK sends a form; a JSON body with the same names is accepted too.
    return request.form or request.body


def _validate(emu: TogetherEmulator, fields: dict[str, Any]) -> EmulatedResponse | None:
    purpose = fields.get("purpose")
    if not purpose:
        return emu.wire.error(400, "purpose is required", param="purpose")
    if purpose not in FILE_PURPOSES:
        return emu.wire.error(
            400,
            f"Invalid purpose {purpose!r}; expected one of {', '.join(sorted(FILE_PURPOSES))}",
            param="purpose",
        )
    if not fields.get("file_name"):
        return emu.wire.error(400, "file_name is required", param="file_name")
    file_type = fields.get("file_type")
    if file_type and file_type not in FILE_TYPES:
        return emu.wire.error(
            400,
            f"Invalid file_type {file_type!r}; expected csv, jsonl or parquet",
            param="file_type",
        )
    return None


def _exists(emu: TogetherEmulator, existing: StoredFile) -> EmulatedResponse:
    response = emu.wire.error(
        409,
        f"A file with the same checksum already exists: {existing.id}",
        param="checksum",
        code="file_already_exists",
    )
    response.headers["x-together-file-id"] = existing.id
    return response


def initiate(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    fields = _fields(request)
    invalid = _validate(emu, fields)
    if invalid is not None:
        return invalid
    checksum = str(fields.get("checksum") or "").lower() or None
    if checksum is not None:
        existing = emu.files.with_checksum(checksum)
        if existing is not None:
            return _exists(emu, existing)
    stored = emu.files.create(
        None,
        filename=str(fields["file_name"]),
        purpose=str(fields["purpose"]),
        file_type=fields.get("file_type") or None,
        checksum=checksum,
        processed=False,
    )
    stored.upload_token = emu.wire.token(40, "0123456789abcdef")
    location = (
        f"{request.origin}{UPLOAD_PREFIX}/{stored.id}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Expires=3600&X-Amz-Signature={stored.upload_token}"
    )
    request_id = emu.wire.id()
    headers = emu.wire.headers(request_id) | {
        "location": location,
        "x-together-file-id": stored.id,
    }
    return EmulatedResponse(302, headers, b"")


def _storage_error(status: int, code: str, message: str) -> EmulatedResponse:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return EmulatedResponse(status, {"content-type": "application/xml"}, body.encode())


def put_bytes(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    if request.authorized:
        return _storage_error(
            403,
            "AccessDenied",
            "Presigned URLs carry their own signature; a request with an Authorization "
            "header is refused (do not send your API key to object storage).",
        )
    stored = emu.files.get(request.params["file_id"])
    token = request.query_params().get("X-Amz-Signature", "")
    if stored is None or not stored.upload_token or token != stored.upload_token:
        return _storage_error(
            403, "SignatureDoesNotMatch", "The request signature does not match this object."
        )
    stored.data = request.content
    etag = '"' + hashlib.md5(request.content).hexdigest() + '"'
    return EmulatedResponse(200, {"etag": etag, "content-length": "0"}, b"")


def preprocess(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    stored = emu.files.get(request.params["file_id"])
    if stored is None:
        return _not_found(emu, request.params["file_id"])
    if stored.data is None:
        return emu.wire.error(400, f"File {stored.id} has not been uploaded yet", param="id")
    if stored.checksum and hashlib.sha256(stored.data).hexdigest() != stored.checksum:
        return emu.wire.error(
            400,
            f"The uploaded bytes of {stored.id} do not match the declared checksum",
            param="checksum",
        )
    stored.processed = True
    return emu.wire.json(stored.response())


def upload(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    fields = request.form
    invalid = _validate(emu, fields)
    if invalid is not None:
        return invalid
    data = fields.get("file")
    if not isinstance(data, bytes):
        return emu.wire.error(400, "file is required", param="file")
    existing = emu.files.with_checksum(hashlib.sha256(data).hexdigest())
    if existing is not None:
        return _exists(emu, existing)
    stored = emu.files.create(
        data,
        filename=str(fields["file_name"]),
        purpose=str(fields["purpose"]),
        file_type=fields.get("file_type") or None,
    )
    return emu.wire.json(stored.response())


def list_files(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    return emu.wire.json({"data": [f.response() for f in emu.files if f.data is not None]})


def _not_found(emu: TogetherEmulator, file_id: str) -> EmulatedResponse:
    return emu.wire.error(404, f"File {file_id} not found", param="id", code="not_found")


def retrieve(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    stored = emu.files.get(request.params["file_id"])
    if stored is None:
        return _not_found(emu, request.params["file_id"])
    return emu.wire.json(stored.response())


def delete(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    file_id = request.params["file_id"]
    if not emu.files.delete(file_id):
        return _not_found(emu, file_id)
    return emu.wire.json({"id": file_id, "deleted": True})


def content(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    stored = emu.files.get(request.params["file_id"])
    if stored is None or stored.data is None:
        return _not_found(emu, request.params["file_id"])
    data = stored.data
    headers = emu.wire.headers(emu.wire.id(), "text/plain") | {"accept-ranges": "bytes"}
    wanted = request.headers.get("range")
    if not wanted:
        return EmulatedResponse(200, headers, data)
    span = _span(wanted, len(data))
    if span is None:
        headers["content-range"] = f"bytes */{len(data)}"
        return EmulatedResponse(416, headers, b"")
    start, stop = span
    headers["content-range"] = f"bytes {start}-{stop - 1}/{len(data)}"
    return EmulatedResponse(206, headers, data[start:stop])


def _span(header: str, size: int) -> tuple[int, int] | None:
    """``[start, stop)`` of a single-range ``Range`` header, or None when unsatisfiable."""
    found = _RANGE.match(header.strip().replace(" ", ""))
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last K bytes
        count = int(last)
        return (max(0, size - count), size) if count else None
    start = int(first)
    stop = min(size, int(last) + 1) if last else size
    if start >= size or stop <= start:
        return None
    return start, stop
