"""Connection settings shared by the LlamaIndex classes (key, base URL, timeouts, transport).

Building an instance does no I/O and opens no pool: the transport is looked up at the first
request. Instances with the same key and base URL share one :class:`TogetherTransport` (one
connection pool); ``timeout``, ``max_retries`` and ``default_headers`` travel with each
request as :class:`RequestOptions`, so they can differ between instances without splitting
the pool, and retries happen in exactly one place: the transport.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import AliasChoices, Field, PrivateAttr, SecretStr

from together_integrations._constants import API_KEY_ENV
from together_integrations._transport import RequestOptions, TogetherTransport

__all__ = ["ClientSettingsMixin"]


def _key_from_env() -> SecretStr | None:
    value = os.environ.get(API_KEY_ENV)
    return SecretStr(value) if value else None


class ClientSettingsMixin:
    """Mixed in before a LlamaIndex pydantic base class::

        class TogetherLLM(ClientSettingsMixin, FunctionCallingLLM): ...

    then :meth:`_get_transport` and :meth:`_request_options` are used when sending.

    Keyword-only extras of the constructor (not fields, never serialised):
    ``transport`` (an explicit :class:`TogetherTransport`; its key and base URL win),
    ``http_client`` / ``async_http_client`` (httpx clients to send with; used, never closed).

    The key is a ``SecretStr`` excluded from ``to_dict``/``to_json``/``to_payload``; it never
    appears in a repr.
    """

    api_key: SecretStr | None = Field(
        default_factory=_key_from_env,
        exclude=True,
        repr=False,
        description="Together API key; defaults to TOGETHER_API_KEY.",
    )
    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("base_url", "api_base"),
        description="API base URL (alias api_base); defaults to TOGETHER_BASE_URL, then "
        "https://api.together.xyz/v1.",
    )
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds to wait for a response (default 600)."
    )
    max_retries: int | None = Field(
        default=None,
        ge=0,
        description="Retries for connection errors, timeouts, 408/409/429 and 5xx, done by "
        "the shared transport only (default 2).",
    )
    default_headers: dict[str, str] | None = Field(
        default=None, description="Headers sent with every request."
    )
    _transport: TogetherTransport | None = PrivateAttr(default=None)

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        transport: TogetherTransport | None = None,
        http_client: Any | None = None,
        async_http_client: Any | None = None,
        **kwargs: Any,
    ) -> None:
        if api_key is not None:
            kwargs["api_key"] = SecretStr(api_key) if isinstance(api_key, str) else api_key
        super().__init__(**kwargs)
        if transport is None and (http_client is not None or async_http_client is not None):
            # The caller's own clients get a transport of their own, never the shared one.
            transport = TogetherTransport(
                api_key=self.api_key,
                base_url=self.base_url,
                http_client=http_client,
                http_async_client=async_http_client,
            )
        self._transport = transport

    def _get_transport(self) -> TogetherTransport:
        """The transport to send with: the explicit one, else the shared one (no I/O)."""
        if self._transport is not None:
            return self._transport
        return TogetherTransport.shared(api_key=self.api_key, base_url=self.base_url)

    def _request_options(self) -> RequestOptions | None:
        """Per-request settings, so instances differing only in these share one pool."""
        if self.timeout is None and self.max_retries is None and not self.default_headers:
            return None
        return RequestOptions(
            timeout=self.timeout,
            max_retries=self.max_retries,
            extra_headers=self.default_headers or None,
        )
