"""Connection settings shared by the LlamaIndex classes (key, base URL, timeouts, transport).

Building an instance does no I/O and opens no pool: the transport is looked up at the first
request. Instances with the same key and base URL share one :class:`TogetherTransport` (one
connection pool); ``timeout``, ``max_retries`` and ``default_headers`` travel with each
request as :class:`RequestOptions`, so they can differ between instances without splitting
the pool, and retries happen in exactly one place: the transport.

Pickles (``IngestionPipeline(num_workers=...)`` pickles its transformations) never carry the
key: the copy reads ``TOGETHER_API_KEY`` again where it is unpickled. An explicit
``transport=`` travels as its settings (base URL, timeouts, retries, headers); httpx clients
cannot travel at all, so an object built with one refuses to pickle instead of letting the
copy send somewhere else.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import Any

from pydantic import AliasChoices, Field, PrivateAttr, SecretStr

from together_integrations._catalog import ModelCapabilities
from together_integrations._constants import API_KEY_ENV
from together_integrations._exceptions import TogetherConfigError
from together_integrations._transport import RequestOptions, TogetherTransport

__all__ = ["ClientSettingsMixin", "log_guessed_capabilities"]

logger = logging.getLogger("together_integrations.llama_index")

# Where __getstate__ puts the explicit transport: LlamaIndex's BaseComponent.__setstate__
# re-runs __init__ from the fields, which would reset every private attribute.
_TRANSPORT_STATE = "_together_transport"


def _key_from_env() -> SecretStr | None:
    value = os.environ.get(API_KEY_ENV, "").strip()
    return SecretStr(value) if value else None


def _checked_key(api_key: str | SecretStr) -> SecretStr:
    """The key without surrounding whitespace; a key that cannot be sent is refused now,
    with a message that does not contain it."""
    raw = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    key = raw.strip()
    if not key:
        raise TogetherConfigError(
            f"api_key is empty. Pass your Together API key, or leave api_key unset to read "
            f"{API_KEY_ENV}."
        )
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise TogetherConfigError(
            "api_key contains whitespace, control or non-ASCII characters, so it cannot be "
            "sent in an HTTP header. Copy the key again from "
            "https://api.together.ai/settings/api-keys."
        )
    return SecretStr(key)


_guessed_lock = threading.Lock()
_guessed_logged: set[str] = set()


def log_guessed_capabilities(
    caps: ModelCapabilities, guessed: str, overrides: str | None = None
) -> None:
    """Say once per model id that its capabilities are a guess, and how to state them."""
    if caps.known:
        return
    key = caps.id.lower()
    with _guessed_lock:
        if key in _guessed_logged:
            return
        _guessed_logged.add(key)
    state = f"Pass {overrides} to state them, or load" if overrides else "Load"
    logger.warning(
        "%s is not in the bundled model catalog, so its capabilities are guessed from its "
        "name: %s. %s the live model list once with "
        "together_integrations._catalog.DEFAULT_CATALOG.refresh(TogetherTransport.shared()).",
        caps.id,
        guessed,
        state,
    )


def _accepted_names(cls: type[Any]) -> set[str]:
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(c for c in alias.choices if isinstance(c, str))
    return names


def _drop_unknown(cls: type[Any], kwargs: dict[str, Any]) -> None:
    """Warn about (and drop) arguments no field takes: pydantic would ignore them silently,
    so a typo such as ``temprature=`` would look accepted."""
    unknown = sorted(set(kwargs) - _accepted_names(cls))
    if not unknown:
        return
    hint = (
        " Request fields the class has no argument for go in additional_kwargs={...}."
        if "additional_kwargs" in cls.model_fields
        else ""
    )
    warnings.warn(
        f"{cls.__name__} ignores unknown argument(s): {', '.join(unknown)}.{hint}",
        UserWarning,
        stacklevel=4,
    )
    for name in unknown:
        del kwargs[name]


class ClientSettingsMixin:
    """Mixed in before a LlamaIndex pydantic base class::

        class TogetherLLM(ClientSettingsMixin, FunctionCallingLLM): ...

    then :meth:`_get_transport` and :meth:`_request_options` are used when sending.

    Keyword-only extras of the constructor (not fields, never serialised):
    ``transport`` (an explicit :class:`TogetherTransport`; its key and base URL win),
    ``http_client`` / ``async_http_client`` (httpx clients to send with; used, never closed).

    The key is a ``SecretStr`` excluded from ``to_dict``/``to_json``/``to_payload`` and from
    pickles; it never appears in a repr.
    """

    api_key: SecretStr | None = Field(
        default_factory=_key_from_env,
        exclude=True,
        repr=False,
        description="Together API key; defaults to TOGETHER_API_KEY. Never serialised or "
        "pickled: an unpickled copy reads TOGETHER_API_KEY again.",
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
    allow_insecure_http: bool = Field(
        default=False,
        description="Allow a plain http:// base_url to a host other than loopback (the key "
        "is then sent unencrypted).",
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
            kwargs["api_key"] = _checked_key(api_key)
        _drop_unknown(type(self), kwargs)
        super().__init__(**kwargs)
        if transport is None and (http_client is not None or async_http_client is not None):
            # The caller's own clients get a transport of their own, never the shared one.
            transport = TogetherTransport(
                api_key=self.api_key,
                base_url=self.base_url,
                http_client=http_client,
                http_async_client=async_http_client,
                allow_insecure_http=self.allow_insecure_http,
            )
        self._transport = transport

    def _get_transport(self) -> TogetherTransport:
        """The transport to send with: the explicit one, else the shared one (no I/O)."""
        if self._transport is not None:
            return self._transport
        return TogetherTransport.shared(
            api_key=self.api_key,
            base_url=self.base_url,
            allow_insecure_http=self.allow_insecure_http,
        )

    def _request_options(self) -> RequestOptions | None:
        """Per-request settings, so instances differing only in these share one pool."""
        if self.timeout is None and self.max_retries is None and not self.default_headers:
            return None
        return RequestOptions(
            timeout=self.timeout,
            max_retries=self.max_retries,
            extra_headers=self.default_headers or None,
        )

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        transport = self._transport
        if transport is not None and transport.carries_user_clients:
            raise TypeError(
                f"Cannot pickle this {type(self).__name__}: it sends through httpx clients "
                "(http_client=, async_http_client=, or a transport= built with them), which "
                "cannot be pickled, and a copy without them would send to the default Together "
                "host instead. Build the object inside each worker, or configure it with "
                "base_url=, timeout=, default_headers= (or a transport= without clients), which "
                "do travel."
            )
        state: dict[str, Any] = super().__getstate__()  # type: ignore[misc]
        # The mixin's private attribute lives in the instance __dict__ (a plain mixin has no
        # pydantic private slots), so it is dropped from there too.
        state["__dict__"] = {
            k: v for k, v in state["__dict__"].items() if k not in ("api_key", "_transport")
        }
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {k: v for k, v in private.items() if k != "_transport"}
        state[_TRANSPORT_STATE] = transport
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        transport = state.pop(_TRANSPORT_STATE, None)
        super().__setstate__(state)  # type: ignore[misc]
        if "api_key" not in self.__dict__:
            # pydantic's own __setstate__ (LlamaIndex's fallback) does not run __init__.
            self.__dict__["api_key"] = _key_from_env()
        self._transport = transport
