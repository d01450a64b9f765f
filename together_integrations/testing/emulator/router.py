"""Method + path routing with path parameters (``GET /v1/files/{file_id}``).

Routes are full paths, so families under another root (``/v2/videos``) sit beside the
``/v1`` ones. A path that matches no route, or matches one only under another method,
answers 404 like the real server's edge.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .wire import EmulatedRequest, EmulatedResponse

__all__ = ["Handler", "Route", "Router"]

Handler = Callable[["TogetherEmulator", "EmulatedRequest"], "EmulatedResponse"]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Route:
    """One route.

    Attributes:
        method: Upper-case HTTP method.
        pattern: The path template, e.g. ``/v1/files/{file_id}/content``.
        handler: Called with the emulator and the request (``request.params`` filled in).
        needs_model: The JSON body must name a known ``model`` (400 / 404 otherwise).
        raw_body: The body is opaque bytes (an upload), not JSON or a form.
        public: Served without the API key, like a presigned storage URL.
    """

    method: str
    pattern: str
    handler: Handler
    needs_model: bool = False
    raw_body: bool = False
    public: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        parts = _PARAM.split(self.pattern)
        # split() alternates literal text and parameter names.
        source = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
        )
        return re.compile(f"^{source}$")

    @property
    def specificity(self) -> tuple[int, int]:
        # Literal routes win over parameterised ones: /fine-tunes/estimate-price before /{id}.
        return (len(_PARAM.findall(self.pattern)), -len(self.pattern))


class Router:
    """An ordered table of routes; the most literal match wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[Route, re.Pattern[str]]] = []

    def add(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        needs_model: bool = False,
        raw_body: bool = False,
        public: bool = False,
    ) -> None:
        """Register ``handler`` for ``method`` on ``pattern`` (flags as on :class:`Route`)."""
        route = Route(
            method.upper(), pattern.rstrip("/") or "/", handler, needs_model, raw_body, public
        )
        self._routes.append((route, route.regex))
        self._routes.sort(key=lambda item: item[0].specificity)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for ``method path`` and its path parameters, or None."""
        target = path.rstrip("/") or "/"
        for route, regex in self._routes:
            if route.method != method.upper():
                continue
            found = regex.match(target)
            if found is not None:
                return route, found.groupdict()
        return None

    @property
    def routes(self) -> list[Route]:
        """Every registered route, most literal first."""
        return [route for route, _ in self._routes]
