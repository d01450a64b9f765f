"""Connection settings shared by the LlamaIndex classes (key, base URL, timeouts, transport)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, PrivateAttr, SecretStr

from together_integrations._constants import API_KEY_ENV
from together_integrations._transport import RequestOptions, TogetherTransport


class ClientSettingsMixin:
    """Mixed into LlamaIndex pydantic components. Instances with the same key and base URL
    share one transport (one pool); ``timeout`` and ``max_retries`` travel per request.

    The key is a ``SecretStr`` excluded from ``to_dict``/``to_json``; it never appears in a repr.
    """

    api_key: SecretStr | None = Field(
        default_factory=lambda: (
            SecretStr(os.environ[API_KEY_ENV]) if os.environ.get(API_KEY_ENV) else None
        ),
        exclude=True,
        repr=False,
        description="Together API key; defaults to TOGETHER_API_KEY.",
    )
    base_url: str | None = Field(
        default=None, description="API base URL; defaults to TOGETHER_BASE_URL."
    )
    timeout: float | None = Field(default=None, description="Seconds to wait for a response.")
    max_retries: int | None = Field(
        default=None, description="Retries in the shared transport (default 2)."
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
        **kwargs: Any,
    ) -> None:
        # ``api_key`` may be a plain string; ``transport`` shares an explicit connection.
        if api_key is not None:
            kwargs["api_key"] = SecretStr(api_key) if isinstance(api_key, str) else api_key
        super().__init__(**kwargs)
        self._transport = transport

    def _get_transport(self) -> TogetherTransport:
        if self._transport is not None:
            return self._transport
        return TogetherTransport.shared(api_key=self.api_key, base_url=self.base_url)

    def _request_options(self) -> RequestOptions | None:
        if self.timeout is None and self.max_retries is None and not self.default_headers:
            return None
        return RequestOptions(
            timeout=self.timeout,
            max_retries=self.max_retries,
            extra_headers=self.default_headers or None,
        )
