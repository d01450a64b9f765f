"""Client settings shared by every LangChain class: key, base URL, timeouts, retries, headers,
clients, the spellings other packages use for them, and the transport they resolve to.

Building an instance does no I/O and opens no pool: the transport is looked up on first
use. Instances with the same key, base URL and connect timeout share one
:class:`TogetherTransport` (one connection pool); ``timeout``, ``max_retries``,
``default_headers`` and ``default_query`` travel with each request, so they can differ
between instances without splitting the pool.

Constructor arguments are read in one place, :meth:`TogetherClientSettings._read_arguments`:

* every spelling ``langchain-together`` and ``ChatOpenAI`` use for a setting is mapped to ours
  (``openai_api_key`` → ``api_key``, ``openai_api_base`` → ``base_url``...);
* ChatOpenAI's client-side options are honoured where a class has the field, refused with
  the reason when ignoring them would change what the user gets (a proxy, socket options,
  an OpenAI SDK client), and otherwise dropped with a warning: none reaches the wire;
* anything else unknown warns and becomes a request field in ``model_kwargs``, as in
  ChatOpenAI, so a new Together parameter needs no release of ours.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from langchain_core.utils import from_env, secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)

from together_integrations._constants import API_KEY_ENV
from together_integrations._transport import RequestOptions, TogetherTransport
from together_integrations.langchain._errors import invalid_arguments
from together_integrations.schemas import RequestModel

__all__ = ["TogetherClientSettings", "split_timeout", "stop_list", "validate_request"]

R = TypeVar("R", bound=RequestModel)

_BASE_URL_ENVS = ("TOGETHER_API_BASE", "TOGETHER_BASE_URL")

# Other packages' names for our settings (langchain-together, ChatOpenAI, OpenAIEmbeddings).
_SPELLINGS: dict[str, str] = {
    "together_api_key": "api_key",
    "openai_api_key": "api_key",
    "together_api_base": "base_url",
    "openai_api_base": "base_url",
    "request_timeout": "timeout",
    "model_name": "model",
}

# Client-side options of ChatOpenAI / OpenAIEmbeddings that a class without the field cannot
# honour, and that would change behaviour if silently ignored: refused when set.
_REFUSED: dict[str, str] = {
    "openai_proxy": "pass an httpx client built with the proxy instead: "
    "http_client=httpx.Client(proxy=...), http_async_client=httpx.AsyncClient(proxy=...)",
    "http_socket_options": "pass an httpx client whose transport sets them: "
    "http_client=httpx.Client(transport=httpx.HTTPTransport(socket_options=...))",
    "client": "OpenAI SDK clients cannot send to Together through this class; pass "
    "http_client=httpx.Client(...) or transport=TogetherTransport(...)",
    "async_client": "OpenAI SDK clients cannot send to Together through this class; pass "
    "http_async_client=httpx.AsyncClient(...) or transport=TogetherTransport(...)",
    "root_client": "OpenAI SDK clients cannot send to Together through this class; pass "
    "http_client=httpx.Client(...) or transport=TogetherTransport(...)",
    "root_async_client": "OpenAI SDK clients cannot send to Together through this class; pass "
    "http_async_client=httpx.AsyncClient(...) or transport=TogetherTransport(...)",
    "use_responses_api": "Together serves /chat/completions, not OpenAI's Responses API",
    "use_previous_response_id": "Together serves /chat/completions, not OpenAI's Responses API",
    "skip_empty": "empty strings raise ValueError before any request; filter them out first",
}

# Client-side options with nothing to do here: dropped (with a warning when set), never sent.
_IGNORED: dict[str, str] = {
    "openai_organization": "it is an OpenAI account header; Together keys are per account",
    "organization": "it is an OpenAI account header; Together keys are per account",
    "tiktoken_model_name": "token counts are offline estimates here, with no tiktoken",
    "tiktoken_enabled": "token counts are offline estimates here, with no tiktoken",
    "embedding_ctx_length": "texts are sent whole; the server reports one that is too long",
    "check_embedding_ctx_length": "texts are sent whole; the server reports one that is too long",
    "allowed_special": "texts are not tokenized client-side",
    "disallowed_special": "texts are not tokenized client-side",
    "stream_chunk_timeout": "`timeout` bounds every read, between chunks too",
    "include_response_headers": "only ChatTogether reports response headers",
    "stream_usage": "only ChatTogether takes stream_usage",
    "disabled_params": "only ChatTogether takes disabled_params",
}

# Transport settings a single call may carry (``invoke(..., timeout=5)`` or ``bind``): they
# shape the request, they are not JSON fields.
_CALL_OPTIONS = frozenset({"timeout", "extra_headers", "extra_query", "max_retries"})


def _is_unset(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, (tuple, list, dict)) and not value)


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"The {what} timeout must be a number of seconds, got {value!r}.")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(
            f"The {what} timeout must be a finite number of seconds above 0, got {value!r}."
        )
    return seconds


def split_timeout(value: Any) -> tuple[float | None, float | None]:
    """``(connect, read)`` seconds from any timeout spelling LangChain users pass.

    Accepts a number (read, write and pool; connect keeps its default), a ``(connect, read)``
    pair, or an ``httpx.Timeout``-like object (duck-typed: ``connect``, ``read``, ``write``,
    ``pool``). The transport applies one value to read, write and pool, so an object whose
    write or pool differs from its read is refused rather than half-honoured, as are unbounded
    (``None``) parts.
    """
    if value is None:
        return None, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None, _seconds(value, "read")
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"A timeout pair must be (connect, read) seconds, got {len(value)} values."
            )
        return _seconds(value[0], "connect"), _seconds(value[1], "read")
    parts = [getattr(value, name, _MISSING) for name in ("connect", "read", "write", "pool")]
    if _MISSING in parts:
        raise TypeError(
            "timeout must be seconds, a (connect, read) pair or an httpx.Timeout; got "
            f"{type(value).__name__}."
        )
    connect, read, write, pool = parts
    if any(part is None for part in parts):
        raise ValueError(
            "An httpx.Timeout with unbounded (None) parts cannot be honoured: Together "
            "requests always have a deadline. Give every part a number of seconds."
        )
    if write != read or pool != read:
        raise ValueError(
            "The transport uses one timeout for read, write and pool; this httpx.Timeout sets "
            f"read={read}, write={write}, pool={pool}. Use httpx.Timeout(<seconds>, "
            "connect=<seconds>) or a (connect, read) pair."
        )
    return _seconds(connect, "connect"), _seconds(read, "read")


_MISSING = object()
_KNOWN_NAMES: dict[type, frozenset[str]] = {}


def stop_list(value: Any) -> list[str] | None:
    """Stop sequences as the list the API takes: ChatOpenAI accepts one string too."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def _as_query(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"default_query must be a mapping, got {type(value).__name__}.")
    out: dict[str, str] = {}
    for key, item in value.items():
        # httpx's spelling of booleans, so a query means the same as through the OpenAI SDK.
        out[str(key)] = ("true" if item else "false") if isinstance(item, bool) else str(item)
    return out


class TogetherClientSettings(BaseModel):
    """Connection settings for a LangChain class talking to Together.

    Mix in before the LangChain base class::

        class ChatTogether(TogetherClientSettings, BaseChatModel): ...

    and call :meth:`_call_settings` (per call) or :meth:`_get_transport` /
    :meth:`_request_options` when sending. Subclasses declare ``model`` and ``model_kwargs``
    and may extend ``_ALIASES`` (more spellings) and ``_RESERVED`` (body keys the class sets
    itself, refused in ``model_kwargs``).
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True, populate_by_name=True, protected_namespaces=()
    )

    _ALIASES: ClassVar[dict[str, str]] = {}
    _RESERVED: ClassVar[frozenset[str]] = frozenset({"model", "stream"})

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(API_KEY_ENV, default=None),
        alias="together_api_key",
        repr=False,
    )
    """Together API key (also ``together_api_key``, ``openai_api_key``). Defaults to
    ``TOGETHER_API_KEY``. A secret: never in a repr, a dump, a pickle or a trace."""
    base_url: str | None = Field(
        default_factory=from_env(_BASE_URL_ENVS[0], default=None),
        alias="together_api_base",
    )
    """API base URL (also ``together_api_base``, ``openai_api_base``). Defaults to
    ``TOGETHER_API_BASE``, then ``TOGETHER_BASE_URL``, then ``https://api.together.xyz/v1``."""
    timeout: float | None = Field(default=None, alias="request_timeout", gt=0)
    """Seconds to wait for a read, a write or a pool slot (also ``request_timeout``; default
    600). A ``(connect, read)`` pair or an ``httpx.Timeout`` sets ``connect_timeout`` too."""
    connect_timeout: float | None = Field(default=None, gt=0)
    """Seconds to wait for a connection (default 10)."""
    max_retries: int | None = Field(default=None, ge=0)
    """Retries for connection errors, timeouts, 408/409/429 and 5xx (default 2). Retries
    happen only in the transport."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request."""
    default_query: dict[str, str] | None = None
    """Query parameters sent with every request."""
    transport: TogetherTransport | None = Field(default=None, exclude=True, repr=False)
    """An explicit transport (its key, base URL and connect timeout win over the fields
    above)."""
    http_client: Any | None = Field(default=None, exclude=True, repr=False)
    """An ``httpx.Client`` to send sync requests with (used, never closed)."""
    http_async_client: Any | None = Field(default=None, exclude=True, repr=False)
    """An ``httpx.AsyncClient`` to send async requests with (used, never closed)."""

    _transport_cache: tuple[Any, TogetherTransport] | None = PrivateAttr(default=None)

    # ------------------------------------------------------------ arguments

    @classmethod
    def _known_names(cls) -> frozenset[str]:
        names = _KNOWN_NAMES.get(cls)
        if names is None:
            collected: set[str] = set()
            for name, info in cls.model_fields.items():
                collected.add(name)
                if info.alias:
                    collected.add(info.alias)
            names = _KNOWN_NAMES[cls] = frozenset(collected)
        return names

    @classmethod
    def _spelling(cls, name: str) -> str | None:
        """The field another package's ``name`` means here, if any."""
        target = cls._ALIASES.get(name) or _SPELLINGS.get(name)
        return target if target in cls.model_fields else None

    @model_validator(mode="before")
    @classmethod
    def _read_arguments(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        known = cls._known_names()
        values = dict(values)
        out: dict[str, Any] = {}
        given: dict[str, str] = {}  # field -> the spelling it came as
        unknown: list[str] = []
        for key, value in values.items():
            target = cls._spelling(key) if key not in cls.model_fields else None
            if target is None and key in known:
                info_target = _field_for_alias(cls, key)
                target = info_target if info_target != key else None
            if target is not None:
                _set_once(out, given, target, key, value)
                continue
            if key in known:
                _set_once(out, given, key, key, value)
                continue
            if key in _REFUSED:
                if not _is_unset(value):
                    # The value is not echoed: a proxy URL may carry credentials.
                    raise ValueError(f"{cls.__name__} does not take {key}=...: {_REFUSED[key]}.")
                continue
            if key in _IGNORED:
                if not _is_unset(value):
                    warnings.warn(
                        f"{cls.__name__} ignores {key}=...: {_IGNORED[key]}. It is not sent.",
                        UserWarning,
                        stacklevel=4,
                    )
                continue
            unknown.append(key)
        if out.get("timeout") is not None:
            connect, read = split_timeout(out["timeout"])
            out["timeout"] = read
            if connect is not None:
                if out.get("connect_timeout") not in (None, connect):
                    raise ValueError(
                        "The connect timeout is given twice (in timeout and connect_timeout)."
                    )
                out["connect_timeout"] = connect
        key_value = out.get("api_key")
        if key_value is not None and not isinstance(key_value, (str, SecretStr)):
            raise TypeError(
                f"api_key must be a string or SecretStr, got {type(key_value).__name__}; call "
                "a key-providing function yourself and pass its result."
            )
        if "stop" in cls.model_fields and isinstance(out.get("stop"), str):
            out["stop"] = [out["stop"]]
        if "default_query" in out:
            out["default_query"] = _as_query(out["default_query"])
        if unknown:
            extra = dict(out.get("model_kwargs") or {})
            for key in unknown:
                if key in extra:
                    raise ValueError(f"{key!r} is given both directly and in model_kwargs.")
                warnings.warn(
                    f"{key!r} is not a {cls.__name__} parameter; it is sent as a request field "
                    "(pass it in model_kwargs to silence this warning).",
                    UserWarning,
                    stacklevel=4,
                )
                extra[key] = values[key]
            out["model_kwargs"] = extra
        return out

    @model_validator(mode="after")
    def _check_model_kwargs(self) -> TogetherClientSettings:
        extra: Mapping[str, Any] = getattr(self, "model_kwargs", None) or {}
        cls = type(self)
        clash = sorted(
            k
            for k in extra
            if k in cls._known_names()
            or cls._spelling(k) is not None
            or k in _SPELLINGS
            or k in cls._RESERVED
        )
        if clash:
            raise ValueError(
                f"Pass {clash} as {cls.__name__}(...) arguments, not in model_kwargs: "
                "model_kwargs holds extra request fields only."
            )
        return self

    # ------------------------------------------------------------ spellings

    @property
    def model_name(self) -> str:
        """The model id (``langchain_together`` / ``ChatOpenAI`` spelling of ``model``)."""
        name: str = getattr(self, "model")  # noqa: B009 - declared by each subclass
        return name

    @property
    def together_api_key(self) -> SecretStr | None:
        """The API key (``langchain_together`` spelling of :attr:`api_key`)."""
        return self.api_key

    @property
    def together_api_base(self) -> str | None:
        """The base URL (``langchain_together`` spelling of :attr:`base_url`)."""
        return self.base_url

    @property
    def openai_api_key(self) -> SecretStr | None:
        """The API key (``ChatOpenAI`` spelling of :attr:`api_key`)."""
        return self.api_key

    @property
    def openai_api_base(self) -> str | None:
        """The base URL (``ChatOpenAI`` spelling of :attr:`base_url`)."""
        return self.base_url

    @property
    def request_timeout(self) -> float | None:
        """The read timeout (``ChatOpenAI`` / ``langchain_together`` spelling of
        :attr:`timeout`)."""
        return self.timeout

    # ------------------------------------------------------------- pickling

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

    # ------------------------------------------------------------- sending

    def _get_transport(self, connect_timeout: float | None = None) -> TogetherTransport:
        """The transport to send with, resolved once per settings (no I/O until a request).

        ``connect_timeout`` (a call's own) picks the transport for that connect timeout.
        """
        if self.transport is not None:
            if connect_timeout is not None and connect_timeout != self.transport.connect_timeout:
                raise ValueError(
                    "A call's connect timeout cannot change an explicit transport's "
                    f"({self.transport.connect_timeout}s); pass the timeout as one number, or "
                    "build the transport with connect_timeout=..."
                )
            return self.transport
        connect = self.connect_timeout if connect_timeout is None else connect_timeout
        settings = (
            self.api_key,
            self.base_url,
            connect,
            id(self.http_client),
            id(self.http_async_client),
        )
        cached = self._transport_cache
        if cached is not None and cached[0] == settings:
            return cached[1]
        if self.http_client is not None or self.http_async_client is not None:
            # The caller's own clients: a transport of our own around them, never shared.
            transport = TogetherTransport(
                api_key=self.api_key,
                base_url=self.base_url,
                connect_timeout=connect,
                http_client=self.http_client,
                http_async_client=self.http_async_client,
            )
        else:
            transport = TogetherTransport.shared(
                api_key=self.api_key, base_url=self.base_url, connect_timeout=connect
            )
        if connect == self.connect_timeout:
            self._transport_cache = (settings, transport)
        return transport

    def _request_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> RequestOptions | None:
        """Per-request settings (the instance's, overridden by a call's), so instances that
        differ only in these share one pool."""
        headers = {**(self.default_headers or {}), **(extra_headers or {})}
        query = {**(self.default_query or {}), **(_as_query(extra_query) or {})}
        read = self.timeout if timeout is None else timeout
        retries = self.max_retries if max_retries is None else max_retries
        if read is None and retries is None and not headers and not query:
            return None
        return RequestOptions(
            timeout=read,
            max_retries=retries,
            extra_headers=headers or None,
            extra_query=query or None,
        )

    def _call_settings(
        self, kwargs: dict[str, Any]
    ) -> tuple[TogetherTransport, RequestOptions | None]:
        """Take a call's transport options (``timeout``, ``extra_headers``, ``extra_query``,
        ``max_retries``) out of ``kwargs`` and return what to send with.

        Client settings passed per call (``api_key=``, ``base_url=``...) are refused: they
        would otherwise be sent as JSON fields.
        """
        misplaced = sorted(
            k
            for k in kwargs
            if (_SPELLINGS.get(k, k) in TogetherClientSettings.model_fields and k != "model")
            and k not in _CALL_OPTIONS
        )
        if misplaced:
            raise ValueError(
                f"{misplaced} are client settings: pass them when constructing "
                f"{type(self).__name__}, not per call."
            )
        found = {k: kwargs.pop(k) for k in _CALL_OPTIONS if k in kwargs}
        connect, read = split_timeout(found.get("timeout"))
        retries = found.get("max_retries")
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)):
            raise TypeError(f"max_retries must be an integer, got {retries!r}.")
        options = self._request_options(
            timeout=read,
            max_retries=retries,
            extra_headers=found.get("extra_headers"),
            extra_query=found.get("extra_query"),
        )
        return self._get_transport(connect), options


def validate_request(model: type[R], body: dict[str, Any], owner: str) -> R:
    """``body`` as a request model; invalid arguments raise
    :class:`~together_integrations.langchain._errors.LCInvalidArgumentsError` (a
    ``ValueError`` and a LangChain ``ModelInvalidRequestError``) before any request."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid_arguments(exc, owner) from exc


def _field_for_alias(cls: type[BaseModel], alias: str) -> str:
    for name, info in cls.model_fields.items():
        if info.alias == alias:
            return name
    return alias


def _set_once(out: dict[str, Any], given: dict[str, str], field: str, key: str, value: Any) -> None:
    if field in out and out[field] != value:
        raise ValueError(
            f"{given[field]!r} and {key!r} both set {field!r}, to different values; pass one."
        )
    out[field] = value
    given[field] = key
