"""Client settings shared by the LangChain classes: key, base URL, timeouts, headers and the
transport they resolve to.

Building an instance does no I/O and opens no pool: the transport is looked up on first
use. Instances with the same key and base URL share one :class:`TogetherTransport` (one
connection pool); ``timeout``, ``max_retries``, ``default_headers`` and ``default_query``
travel with each request, so they can differ between instances without splitting the pool.
"""

from __future__ import annotations

from typing import Any

from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from together_integrations._constants import API_KEY_ENV
from together_integrations._transport import RequestOptions, TogetherTransport

__all__ = ["TogetherClientSettings"]


class TogetherClientSettings(BaseModel):
    """Connection settings for a LangChain class talking to Together.

    Mix in before the LangChain base class::

        class ChatTogether(TogetherClientSettings, BaseChatModel): ...

    and call :meth:`_get_transport` / :meth:`_request_options` when sending.
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True, populate_by_name=True, protected_namespaces=()
    )

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(API_KEY_ENV, default=None),
        alias="together_api_key",
    )
    """Together API key (alias ``together_api_key``). Defaults to ``TOGETHER_API_KEY``."""
    base_url: str | None = Field(
        default_factory=from_env("TOGETHER_API_BASE", default=None),
        alias="together_api_base",
    )
    """API base URL (alias ``together_api_base``). Defaults to ``TOGETHER_API_BASE``, then
    ``TOGETHER_BASE_URL``, then ``https://api.together.xyz/v1``."""
    timeout: float | None = Field(default=None, alias="request_timeout", gt=0)
    """Seconds to wait for a response (alias ``request_timeout``; default 600)."""
    max_retries: int | None = Field(default=None, ge=0)
    """Retries for connection errors, timeouts, 408/409/429 and 5xx (default 2). Retries
    happen only in the transport."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request."""
    default_query: dict[str, str] | None = None
    """Query parameters sent with every request."""
    transport: TogetherTransport | None = Field(default=None, exclude=True, repr=False)
    """An explicit transport (its key and base URL win over the fields above)."""
    http_client: Any | None = Field(default=None, exclude=True, repr=False)
    """An ``httpx.Client`` to send sync requests with (used, never closed)."""
    http_async_client: Any | None = Field(default=None, exclude=True, repr=False)
    """An ``httpx.AsyncClient`` to send async requests with (used, never closed)."""

    _transport_cache: tuple[Any, TogetherTransport] | None = PrivateAttr(default=None)

    @property
    def together_api_key(self) -> SecretStr | None:
        """The API key (``langchain_together`` spelling of :attr:`api_key`)."""
        return self.api_key

    @property
    def together_api_base(self) -> str | None:
        """The base URL (``langchain_together`` spelling of :attr:`base_url`)."""
        return self.base_url

    def __getstate__(self) -> dict[Any, Any]:
        # As with TogetherTransport, the key never travels in a pickle: an unpickled
        # instance reads TOGETHER_API_KEY in the process that loads it. Transports and
        # user-supplied httpx clients hold sockets and stay behind too.
        state = super().__getstate__()
        dropped = {"api_key": None, "transport": None, "http_client": None}
        state["__dict__"] = {**state["__dict__"], **dropped, "http_async_client": None}
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_transport_cache": None}
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        if self.api_key is None:
            self.__dict__["api_key"] = secret_from_env(API_KEY_ENV, default=None)()

    def _get_transport(self) -> TogetherTransport:
        """The transport to send with, resolved once per settings (no I/O until a request)."""
        if self.transport is not None:
            return self.transport
        settings = (self.api_key, self.base_url, id(self.http_client), id(self.http_async_client))
        cached = self._transport_cache
        if cached is not None and cached[0] == settings:
            return cached[1]
        if self.http_client is not None or self.http_async_client is not None:
            # The caller's own clients: a transport of our own around them, never shared.
            transport = TogetherTransport(
                api_key=self.api_key,
                base_url=self.base_url,
                http_client=self.http_client,
                http_async_client=self.http_async_client,
            )
        else:
            transport = TogetherTransport.shared(api_key=self.api_key, base_url=self.base_url)
        self._transport_cache = (settings, transport)
        return transport

    def _request_options(self) -> RequestOptions | None:
        """Per-request settings, so instances that differ only in these share one pool."""
        if (
            self.timeout is None
            and self.max_retries is None
            and not self.default_headers
            and not self.default_query
        ):
            return None
        return RequestOptions(
            timeout=self.timeout,
            max_retries=self.max_retries,
            extra_headers=self.default_headers or None,
            extra_query=self.default_query or None,
        )
