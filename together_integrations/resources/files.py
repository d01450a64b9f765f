"""Files: upload (presigned PUT, multipart fallback), list, retrieve, delete, and
resumable downloads (to a path, or line by line for JSONL outputs)."""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from together_integrations._base_transport import Call, RequestOptions, json_parser
from together_integrations._downloads import split_lines
from together_integrations._exceptions import APIStatusError, ConflictError, TogetherConfigError
from together_integrations._uploads import (
    UploadInput,
    UploadSource,
    check_presigned_url,
    existing_file_id,
    file_type_for,
)
from together_integrations.schemas import FileDeleted, FileList, FileObject

from ._base import Resource, path_param

__all__ = ["Files"]

logger = logging.getLogger("together_integrations")

_PARSE = json_parser(FileObject)
_PARSE_LIST = json_parser(FileList)
_PARSE_DELETED = json_parser(FileDeleted)
_NO_PRESIGNED_FLOW = frozenset({404, 405, 501})


def _start_call(source: UploadSource, purpose: str, file_type: str) -> Call:
    form = [
        ("purpose", purpose),
        ("file_name", source.name),
        ("file_type", file_type),
        ("checksum", source.sha256),
    ]
    return Call(
        "POST",
        "/files",
        form=form,
        ok_status=frozenset({302, 303, 307}),
        final_status=frozenset({409}) | _NO_PRESIGNED_FLOW,
    )


def _multipart_call(source: UploadSource, purpose: str, file_type: str) -> Call:
    form = [("purpose", purpose), ("file_name", source.name), ("file_type", file_type)]
    return Call(
        "POST",
        "/files/upload",
        form=form,
        files=lambda: [("file", (source.name, source.open()))],
        final_status=frozenset({409}),
    )


def _preprocess_call(file_id: str) -> Call:
    return Call("POST", f"/files/{path_param('file_id', file_id)}/preprocess")


def _content_call(file_id: str) -> Call:
    return Call(
        "GET",
        f"/files/{path_param('file_id', file_id)}/content",
        headers={"Accept": "application/octet-stream"},
    )


def _presigned_put(
    started: Any, source: UploadSource, content: Callable[[], Any], allow_insecure_http: bool
) -> tuple[Call, str]:
    """The PUT of the bytes to the URL the 302 named, and the file id to finish with."""
    url = check_presigned_url(
        started.headers.get("location"), allow_insecure_http=allow_insecure_http
    )
    file_id = started.headers.get("x-together-file-id")
    if not file_id:
        raise TogetherConfigError(
            "The upload redirect named no file id (X-Together-File-Id); cannot finish it."
        )
    put = Call(
        "PUT",
        url,
        root="",
        authenticated=False,
        content=content,
        headers={"Content-Length": str(source.size)},
    )
    return put, file_id


def _already_there(error: ConflictError) -> str:
    file_id = existing_file_id(error)
    if file_id is None:
        raise error
    logger.info("The file is already uploaded as %s; using it.", file_id)
    return file_id


def _temporary_beside(target: Path) -> tuple[int, str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)


def write_atomically(target: Path, blocks: Iterator[bytes]) -> Path:
    """Stream ``blocks`` to a temporary file beside ``target``, then rename it into place:
    no half-written file ever carries the final name."""
    fd, temporary = _temporary_beside(target)
    try:
        with os.fdopen(fd, "wb") as out:
            for block in blocks:
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


async def awrite_atomically(target: Path, blocks: AsyncIterator[bytes]) -> Path:
    """Async :func:`write_atomically`."""
    fd, temporary = _temporary_beside(target)
    try:
        with os.fdopen(fd, "wb") as out:
            async for block in blocks:
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return target


class Files(Resource):
    """Stored files (training data, batch inputs and outputs)."""

    __slots__ = ()

    def upload(
        self,
        file: UploadInput,
        *,
        purpose: str = "fine-tune",
        file_name: str | None = None,
        file_type: str | None = None,
        options: RequestOptions | None = None,
    ) -> FileObject:
        """Upload a file; if the server already has these bytes (409), return that file.

        Args:
            file: A path, a binary file object, ``(name, bytes)`` or bytes with ``file_name``.
            purpose: ``fine-tune``, ``batch-api``, ``eval``...
            file_name: The name stored on the server (defaults to the file's own).
            file_type: ``jsonl``, ``csv`` or ``parquet`` (defaults to the name's suffix).
        """
        source = UploadSource.of(file, file_name)
        kind = file_type_for(source.name, file_type)
        t = self._transport
        try:
            started = t.send(_start_call(source, purpose, kind), options)
        except ConflictError as error:
            return self.retrieve(_already_there(error), options=options)
        except APIStatusError as error:
            if error.status_code not in _NO_PRESIGNED_FLOW:
                raise
            try:
                return t.request(_multipart_call(source, purpose, kind), _PARSE, options)
            except ConflictError as conflict:
                return self.retrieve(_already_there(conflict), options=options)
        if started.status_code < 300:
            return t.parse(_PARSE, started, started.content)
        put, file_id = _presigned_put(started, source, source.chunks, t.allow_insecure_http)
        t.send(put, options)
        return t.request(_preprocess_call(file_id), _PARSE, options)

    async def aupload(
        self,
        file: UploadInput,
        *,
        purpose: str = "fine-tune",
        file_name: str | None = None,
        file_type: str | None = None,
        options: RequestOptions | None = None,
    ) -> FileObject:
        """Async :meth:`upload`."""
        source = UploadSource.of(file, file_name)
        kind = file_type_for(source.name, file_type)
        t = self._transport
        try:
            started = await t.asend(_start_call(source, purpose, kind), options)
        except ConflictError as error:
            return await self.aretrieve(_already_there(error), options=options)
        except APIStatusError as error:
            if error.status_code not in _NO_PRESIGNED_FLOW:
                raise
            try:
                return await t.arequest(_multipart_call(source, purpose, kind), _PARSE, options)
            except ConflictError as conflict:
                return await self.aretrieve(_already_there(conflict), options=options)
        if started.status_code < 300:
            return t.parse(_PARSE, started, started.content)
        put, file_id = _presigned_put(started, source, source.achunks, t.allow_insecure_http)
        await t.asend(put, options)
        return await t.arequest(_preprocess_call(file_id), _PARSE, options)

    def list(self, *, options: RequestOptions | None = None) -> builtins.list[FileObject]:
        """``GET /files``."""
        return self._transport.request(Call("GET", "/files"), _PARSE_LIST, options).data

    async def alist(self, *, options: RequestOptions | None = None) -> builtins.list[FileObject]:
        """Async :meth:`list`."""
        return (await self._transport.arequest(Call("GET", "/files"), _PARSE_LIST, options)).data

    def retrieve(self, file_id: str, *, options: RequestOptions | None = None) -> FileObject:
        """``GET /files/{id}``."""
        call = Call("GET", f"/files/{path_param('file_id', file_id)}")
        return self._transport.request(call, _PARSE, options)

    async def aretrieve(self, file_id: str, *, options: RequestOptions | None = None) -> FileObject:
        """Async :meth:`retrieve`."""
        call = Call("GET", f"/files/{path_param('file_id', file_id)}")
        return await self._transport.arequest(call, _PARSE, options)

    def delete(self, file_id: str, *, options: RequestOptions | None = None) -> FileDeleted:
        """``DELETE /files/{id}``."""
        call = Call("DELETE", f"/files/{path_param('file_id', file_id)}")
        return self._transport.request(call, _PARSE_DELETED, options)

    async def adelete(self, file_id: str, *, options: RequestOptions | None = None) -> FileDeleted:
        """Async :meth:`delete`."""
        call = Call("DELETE", f"/files/{path_param('file_id', file_id)}")
        return await self._transport.arequest(call, _PARSE_DELETED, options)

    def content(self, file_id: str, *, options: RequestOptions | None = None) -> Iterator[bytes]:
        """The file's bytes in blocks, resumed with ``Range`` after a cut."""
        return self._transport.iter_content(_content_call(file_id), options)

    def acontent(
        self, file_id: str, *, options: RequestOptions | None = None
    ) -> AsyncIterator[bytes]:
        """Async :meth:`content`."""
        return self._transport.aiter_content(_content_call(file_id), options)

    def iter_lines(self, file_id: str, *, options: RequestOptions | None = None) -> Iterator[str]:
        """The file's lines (JSONL outputs), streamed: the file is never loaded whole."""
        splitter = split_lines()
        for block in self.content(file_id, options=options):
            for line in splitter.feed(block):
                yield line.decode("utf-8", errors="replace")
        for line in splitter.flush():
            yield line.decode("utf-8", errors="replace")

    async def aiter_lines(
        self, file_id: str, *, options: RequestOptions | None = None
    ) -> AsyncIterator[str]:
        """Async :meth:`iter_lines`."""
        splitter = split_lines()
        async for block in self.acontent(file_id, options=options):
            for line in splitter.feed(block):
                yield line.decode("utf-8", errors="replace")
        for line in splitter.flush():
            yield line.decode("utf-8", errors="replace")

    def download(
        self, file_id: str, path: str | os.PathLike[str], *, options: RequestOptions | None = None
    ) -> Path:
        """Download to ``path``: streamed to a temporary file beside it, resumed after a cut,
        then renamed into place atomically (no half-written file under the final name)."""
        return write_atomically(Path(path), self.content(file_id, options=options))

    async def adownload(
        self, file_id: str, path: str | os.PathLike[str], *, options: RequestOptions | None = None
    ) -> Path:
        """Async :meth:`download`."""
        return await awrite_atomically(Path(path), self.acontent(file_id, options=options))
