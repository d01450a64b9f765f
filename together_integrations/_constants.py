"""Defaults, in one place."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.together.xyz/v1"
API_KEY_ENV = "TOGETHER_API_KEY"
BASE_URL_ENV = "TOGETHER_BASE_URL"

DEFAULT_TIMEOUT = 600.0
"""Seconds to wait for a read, write or pool slot (long generations stream slowly)."""
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
"""A server asking to wait longer than this is not retried: the error is raised at once."""

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Plus every 5xx."""

DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_KEEPALIVE = 20

SHARED_TRANSPORTS_MAX = 32
"""Transports ``TogetherTransport.shared()`` keeps alive (one per distinct settings)."""

DEFAULT_ONLINE_FALLBACK = 20
"""Batch runs send at most this many retryable leftovers online instead of in a follow-up job."""
