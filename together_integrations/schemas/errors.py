"""Error bodies (NOTES §2).

Real shape: ``{"id": ..., "error": {"message", "type", "param", "code"}}``. ``message`` can be an
object (``{"message": {"message": "...", "type": "BadRequestError", ...}}``), ``GET /models``
answers 401 with ``{"error": {"message": "Unauthorized"}}``, batch endpoints send
``{"error": "string"}``, and a proxy may answer with an HTML page.
"""

from __future__ import annotations

import json
from typing import Any

from ._base import WireModel


class ErrorDetail(WireModel):
    """The ``error`` member of an error body."""

    message: str | dict[str, Any] | list[Any] | None = None
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class ErrorBody(WireModel):
    """A parsed error response body."""

    id: str | None = None
    error: ErrorDetail | str | None = None

    @property
    def detail(self) -> ErrorDetail | None:
        """The error detail, whichever form the server used."""
        if isinstance(self.error, str):
            return ErrorDetail(message=self.error)
        return self.error


def error_message_text(message: Any) -> str | None:
    """Flatten a server message (a string, or an object nesting one) into text."""
    while isinstance(message, dict) and "message" in message:
        message = message["message"]
    if message is None:
        return None
    if isinstance(message, str):
        return message
    return json.dumps(message, default=str)


def parse_error_body(raw: bytes) -> tuple[Any, ErrorBody | None]:
    """Return the decoded body (JSON value or text) and its :class:`ErrorBody` if it has one."""
    try:
        value: Any = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace"), None
    if isinstance(value, dict) and "error" in value:
        try:
            return value, ErrorBody.model_validate(value)
        except ValueError:
            return value, None
    return value, None
