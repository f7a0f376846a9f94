"""Redis cache of product listings, invalidated by bumping a version counter.

Every product/category write (and every order, which changes stock) increments
``products:version``; listing keys embed the version, so old entries are never read again and
expire on their own. Redis failures are logged and ignored: the listing is then served from
PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from api.extensions import get_redis

log = logging.getLogger(__name__)
VERSION_KEY = "api:products:version"


def _listing_key(version: int, args: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: str(v) for k, v in sorted(args.items())}, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return f"api:products:v{version}:{digest}"


def get_listing(args: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """Look a listing up in the cache.

    Args:
        args: The parsed query arguments.

    Returns:
        ``(payload, key)``: the cached payload or None, and the key to store under (None when
        Redis is unavailable, so nothing is stored).
    """
    try:
        client = get_redis()
        version = int(client.get(VERSION_KEY) or 0)
        key = _listing_key(version, args)
        raw = client.get(key)
    except RedisError as exc:
        log.warning("product cache unavailable: %s", type(exc).__name__)
        return None, None
    return (json.loads(raw) if raw else None), key


def store_listing(key: str | None, payload: dict[str, Any]) -> None:
    """Store a listing payload (already serialised to JSON types).

    Args:
        key: Key from :func:`get_listing`; None skips storing.
        payload: The listing.
    """
    ttl = current_app.config["CACHE_TTL_SECONDS"]
    if key is None or ttl <= 0:
        return
    try:
        get_redis().set(key, json.dumps(payload), ex=ttl)
    except RedisError as exc:
        log.warning("product cache store failed: %s", type(exc).__name__)


def invalidate_products() -> None:
    """Make every cached listing stale."""
    try:
        get_redis().incr(VERSION_KEY)
    except RedisError as exc:
        # The entries still expire after CACHE_TTL_SECONDS, which bounds the staleness.
        log.warning("product cache invalidation failed: %s", type(exc).__name__)
