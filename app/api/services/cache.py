"""Redis cache of product listings, invalidated by bumping a version counter.

Every product/category write (and every order, which changes stock) increments
``products:version``; listing keys embed the version, so old entries are never read again and
expire on their own. Redis failures are logged and ignored: the listing is then served from
PostgreSQL.

The cache lives on ``CACHE_REDIS_URL`` (its own instance in the deploy, ``allkeys-lru``). The key
space is bounded: a key is built from the validated query only (the schema refuses unknown
parameters), each value in one canonical form (``min_price=10`` and ``10.00`` are one key). One
Lua call reads the version and the entry together (one round trip). Were the version key
evicted, the version would read 0 again and entries of an old version 0 could be served: every
entry expires after ``CACHE_TTL_SECONDS``, which bounds that, and a key read on every listing is
the last one LRU evicts.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from api.extensions import get_cache_redis

log = logging.getLogger(__name__)
VERSION_KEY = "api:products:version"
_KEY_PREFIX = "api:products:v"
# The parameters of ProductQuerySchema; anything else never reaches a key.
LISTING_PARAMETERS = (
    "page",
    "per_page",
    "category_id",
    "q",
    "min_price",
    "max_price",
    "in_stock",
    "include_inactive",
    "sort",
)
# Version and entry in one round trip: KEYS[1] the version key, ARGV[1] prefix, ARGV[2] digest.
_GET_SCRIPT = """
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. version .. ':' .. ARGV[2])}
"""


def _canonical_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    return str(value)


def canonical_query(args: Mapping[str, Any]) -> str:
    """Return the canonical text of a validated listing query.

    Args:
        args: The arguments as ``ProductQuerySchema`` loaded them.

    Returns:
        Sorted JSON of the known parameters that are set, each value in one form.
    """
    known = {
        name: _canonical_value(args[name])
        for name in LISTING_PARAMETERS
        if args.get(name) is not None
    }
    return json.dumps(known, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(args: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_query(args).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _listing_key(version: int | str, args: Mapping[str, Any]) -> str:
    return f"{_KEY_PREFIX}{version}:{_digest(args)}"


def get_listing(args: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    """Look a listing up in the cache.

    Args:
        args: The parsed query arguments.

    Returns:
        ``(payload, key)``: the cached payload as JSON text (from :func:`encode_listing`) or
        None, and the key to store under (None when Redis is unavailable, so nothing is stored).
    """
    digest = _digest(args)
    try:
        client = get_cache_redis()
        script = current_app.extensions.get("cache_get_script")
        if script is None or script.registered_client is not client:
            script = current_app.extensions["cache_get_script"] = client.register_script(
                _GET_SCRIPT
            )
        version, raw = script([VERSION_KEY], [_KEY_PREFIX, digest])
    except RedisError as exc:
        log.warning("product cache unavailable: %s", type(exc).__name__)
        return None, None
    key = f"{_KEY_PREFIX}{int(version)}:{digest}"
    return (raw or None), key


def encode_listing(payload: dict[str, Any]) -> bytes:
    """Serialise a listing payload (of JSON types) as the cache keeps it and the API sends it.

    Compact and ASCII-only, as Flask's ``jsonify`` writes outside debug mode: a page answered
    from the cache is byte for byte the page answered from PostgreSQL.

    Args:
        payload: The listing, as the schema dumped it.

    Returns:
        The JSON text.
    """
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


def store_listing(key: str | None, payload: bytes) -> None:
    """Store a listing's JSON text.

    Args:
        key: Key from :func:`get_listing`; None skips storing.
        payload: The listing, from :func:`encode_listing`.
    """
    ttl = current_app.config["CACHE_TTL_SECONDS"]
    if key is None or ttl <= 0:
        return
    try:
        get_cache_redis().set(key, payload, ex=ttl)
    except RedisError as exc:
        log.warning("product cache store failed: %s", type(exc).__name__)


def invalidate_products() -> None:
    """Make every cached listing stale."""
    try:
        get_cache_redis().incr(VERSION_KEY)
    except RedisError as exc:
        # The entries still expire after CACHE_TTL_SECONDS, which bounds the staleness.
        log.warning("product cache invalidation failed: %s", type(exc).__name__)
