"""Rate-limit keys (client address, account) and a fixed window in one Redis round trip.

Flask-Limiter's fixed window costs three Redis calls per request: the increment, then a GET and
a TTL for the ``X-RateLimit-*`` headers. :class:`OneTripFixedWindow` increments and reads the
expiry in one Lua script and answers the header query from what that script returned, in the
same request, without asking Redis again.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import g, has_app_context, request
from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from limits.util import WindowStats

STRATEGY_NAME = "fixed-window-one-trip"
_MAX_ACCOUNT_KEY = 255

# INCRBY, EXPIRE on the first hit of a window, and the time left in it (ms).
_HIT_SCRIPT = """
local current = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1]) * 1000
end
return {current, ttl}
"""


def client_key() -> str:
    """The client's address (``REMOTE_ADDR`` as rewritten by the trusted-proxy middleware)."""
    return request.remote_addr or "unknown"


def account_key() -> str:
    """The account a login or registration is for: the body's email, normalised.

    The body is read (and cached for the view) before it is validated; a body without a usable
    email falls back to the client's address, so it is still counted somewhere.

    Returns:
        ``account:<email>`` (a digest when the address is absurdly long), or ``addr:<ip>``.
    """
    from api.parsing import parse_json
    from api.services.auth import normalise_email

    try:
        body = parse_json(request.get_data(cache=True))
    except ValueError:
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip():
        return f"addr:{client_key()}"
    email = normalise_email(email)
    if len(email) > _MAX_ACCOUNT_KEY:
        email = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()
    return f"account:{email}"


class OneTripFixedWindow(FixedWindowRateLimiter):
    """The fixed-window strategy, with one Redis round trip per limit and request.

    With any other storage (the in-memory fallback while Redis is down) it is the plain
    fixed window.
    """

    def __init__(self, storage: Any) -> None:
        """Bind to ``storage`` (and register the script when it is Redis)."""
        super().__init__(storage)
        self._script = None
        if isinstance(storage, RedisStorage):
            self._script = storage.get_connection().register_script(_HIT_SCRIPT)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Consume ``cost`` from the limit and remember the window for the headers."""
        if self._script is None:
            return super().hit(item, *identifiers, cost=cost)
        key = item.key_for(*identifiers)
        current, ttl_ms = self._script([self.storage.prefixed_key(key)], [item.get_expiry(), cost])
        if has_app_context():
            windows = g.setdefault("_ratelimit_windows", {})
            windows[key] = (time.time() + int(ttl_ms) / 1000, int(current))
        return int(current) <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """The reset time and remaining amount, from this request's hit when there was one."""
        key = item.key_for(*identifiers)
        seen = g.get("_ratelimit_windows", {}).get(key) if has_app_context() else None
        if seen is None:
            return super().get_window_stats(item, *identifiers)
        reset, current = seen
        return WindowStats(reset, max(0, item.amount - current))


STRATEGIES.setdefault(STRATEGY_NAME, OneTripFixedWindow)  # type: ignore[arg-type]
