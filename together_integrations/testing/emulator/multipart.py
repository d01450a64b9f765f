"""``multipart/form-data`` bodies, parsed with the standard library's ``email`` package."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

__all__ = ["parse_multipart"]


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """Split a form into fields and file names.

    Args:
        content_type: The request's ``Content-Type`` (carries the boundary).
        body: The raw body.

    Returns:
        ``(form, filenames)``: field name → value (``str`` for plain fields, ``bytes`` for
        file parts; repeated names and ``name[]`` become lists), and field name → the file
        name its part declared.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    form: dict[str, Any] = {}
    filenames: dict[str, str] = {}
    parts = message.get_payload() if message.is_multipart() else []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Message):
            continue
        name = _disposition_name(part)
        if name is None:
            continue
        key = name.removesuffix("[]")
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        filename = part.get_filename()
        value: Any
        if filename is not None:
            value = data
            filenames[key] = filename
        else:
            value = data.decode(part.get_content_charset() or "utf-8", errors="replace")
        if key in form:
            previous = form[key]
            form[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            form[key] = value
    return form, filenames


def _disposition_name(part: Message) -> str | None:
    name = part.get_param("name", header="content-disposition")
    if isinstance(name, tuple):  # RFC 2231 (charset, language, value)
        name = name[2]
    return name if isinstance(name, str) and name else None
