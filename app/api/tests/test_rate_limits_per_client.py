"""Issue 12: rate limits count each client (trusted proxies only) and each account; the
response cache lives on its own Redis and its key space is bounded."""

from __future__ import annotations

import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from api.proxies import TrustedProxies
from api.services.cache import canonical_query
from conftest import assert_envelope_error, build_app, make_product, make_user, reset_state
from pytest_real_services import RedisServer


@pytest.fixture(autouse=True)
def _limiter_on_redis():
    """Start on Redis even if an earlier test stopped it.

    Flask-Limiter falls back to in-process counters while Redis is down (test_health stops
    it) and goes back only after a backoff; these tests count keys in Redis.
    """
    from api.extensions import limiter

    limiter._storage_dead = False


# --- the client address -------------------------------------------------------------------


class FakeDNS:
    """A resolver whose answers the test changes, counting lookups."""

    def __init__(self, answers: dict[str, set[str]]) -> None:
        self.answers = answers
        self.lookups = 0

    def __call__(self, name: str) -> set[str]:
        self.lookups += 1
        return set(self.answers.get(name, set()))


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_forwarded_for_counts_only_from_a_trusted_peer():
    proxies = TrustedProxies.from_setting("10.0.0.5, 192.168.0.0/24", resolver=FakeDNS({}))
    # Trusted peer: the right-most address it vouches for.
    assert proxies.client_address("10.0.0.5", "203.0.113.7") == "203.0.113.7"
    # What the client itself wrote further left is not believed.
    assert proxies.client_address("10.0.0.5", "6.6.6.6, 203.0.113.7") == "203.0.113.7"
    # Chains of trusted proxies are walked (edge -> frontend -> API).
    assert proxies.client_address("10.0.0.5", "6.6.6.6, 203.0.113.7, 192.168.0.9") == (
        "203.0.113.7"
    )
    # An untrusted peer's header is ignored.
    assert proxies.client_address("172.16.0.1", "203.0.113.7") == "172.16.0.1"
    # Garbage from a trusted proxy: the last real address is kept.
    assert proxies.client_address("10.0.0.5", "not-an-ip") == "10.0.0.5"
    assert proxies.client_address("10.0.0.5", None) == "10.0.0.5"
    assert not TrustedProxies.from_setting("").is_trusted("127.0.0.1")


def test_names_are_resolved_cached_and_resolved_again_when_a_task_moves():
    dns = FakeDNS({"nginx": {"10.0.1.2"}, "tasks.frontend": {"10.0.1.3"}})
    clock = Clock()
    proxies = TrustedProxies.from_setting(
        "nginx,frontend", resolver=dns, clock=clock, ttl=10, min_refresh=1
    )
    assert proxies.is_trusted("10.0.1.2")
    assert proxies.is_trusted("10.0.1.3")  # a bare name also covers tasks.<name> (Swarm)
    lookups = dns.lookups
    assert proxies.is_trusted("10.0.1.2")
    assert dns.lookups == lookups  # cached
    # An unknown peer within min_refresh costs no lookup.
    assert not proxies.is_trusted("10.0.9.9")
    assert dns.lookups == lookups
    # The frontend task is replaced: its new address is trusted after one new resolution.
    dns.answers["tasks.frontend"] = {"10.0.1.30"}
    clock.now += 1.5
    assert proxies.is_trusted("10.0.1.30")
    assert dns.lookups > lookups
    assert not proxies.is_trusted("10.0.1.3")


def _login(client, email, xff=None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    body = {"email": email, "password": "wrong-pass"}
    return client.post("/api/auth/login", json=body, headers=headers)


def test_two_clients_behind_a_trusted_proxy_have_their_own_login_budget(
    database_url, redis_url, app
):
    strict = build_app(
        database_url,
        redis_url,
        RATELIMIT_LOGIN="2 per minute",
        TRUSTED_PROXY_HOSTS="127.0.0.1",
    )
    reset_state(strict, redis_url)
    client = strict.test_client()
    for i in range(2):
        assert _login(client, f"a{i}@example.com", "203.0.113.1").status_code == 401
    refused = _login(client, "a9@example.com", "203.0.113.1")
    assert_envelope_error(refused, 429, code="rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    # The other client, through the same proxy, is still served.
    assert _login(client, "b0@example.com", "203.0.113.2").status_code == 401
    keys = redis.Redis.from_url(redis_url).keys("LIMITS:LIMITER/api-rl/203.0.113.*")
    assert keys


def test_an_untrusted_peers_forwarded_for_is_ignored(database_url, redis_url, app):
    strict = build_app(
        database_url,
        redis_url,
        RATELIMIT_LOGIN="2 per minute",
        TRUSTED_PROXY_HOSTS="10.255.255.1",  # the test client's 127.0.0.1 is not a proxy
    )
    reset_state(strict, redis_url)
    client = strict.test_client()
    for i in range(2):
        assert _login(client, f"a{i}@example.com", f"203.0.113.{i}").status_code == 401
    # Changing X-Forwarded-For does not buy an untrusted client a new budget.
    assert_envelope_error(_login(client, "c@example.com", "203.0.113.99"), 429)


def test_default_limit_counts_each_client_through_the_frontend_address(
    database_url, redis_url, app
):
    strict = build_app(
        database_url, redis_url, RATELIMIT_DEFAULT="3 per minute", TRUSTED_PROXY_HOSTS="127.0.0.1"
    )
    reset_state(strict, redis_url)
    client = strict.test_client()
    first = {"X-Forwarded-For": "198.51.100.1"}
    for _ in range(3):
        response = client.get("/api/categories", headers=first)
        assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert_envelope_error(client.get("/api/categories", headers=first), 429)
    second = client.get("/api/categories", headers={"X-Forwarded-For": "198.51.100.2"})
    assert second.status_code == 200
    assert second.headers["X-RateLimit-Remaining"] == "2"
    assert second.headers["X-RateLimit-Limit"] == "3"


def test_login_is_also_limited_per_account_from_any_address(database_url, redis_url, app):
    make_user(app, "victim@example.com")
    strict = build_app(
        database_url,
        redis_url,
        RATELIMIT_LOGIN="100 per minute",
        RATELIMIT_LOGIN_ACCOUNT="3 per minute",
        TRUSTED_PROXY_HOSTS="127.0.0.1",
    )
    client = strict.test_client()
    # The account's email, in any spelling, from ever new addresses.
    spellings = ["victim@example.com", " Victim@Example.com", "VICTIM@example.com "]
    for i, email in enumerate(spellings):
        assert _login(client, email, f"192.0.2.{i}").status_code == 401
    assert_envelope_error(_login(client, "victim@example.com", "192.0.2.50"), 429)
    # Another account is not affected.
    assert _login(client, "other@example.com", "192.0.2.51").status_code == 401


def test_registration_is_also_limited_per_account(database_url, redis_url, app):
    strict = build_app(
        database_url,
        redis_url,
        RATELIMIT_REGISTER="100 per minute",
        RATELIMIT_REGISTER_ACCOUNT="2 per minute",
        TRUSTED_PROXY_HOSTS="127.0.0.1",
    )
    reset_state(strict, redis_url)
    client = strict.test_client()

    def register(email, address):
        body = {"email": email, "password": "longenough", "name": "N"}
        headers = {"X-Forwarded-For": address}
        return client.post("/api/auth/register", json=body, headers=headers)

    assert register("new@example.com", "192.0.2.1").status_code == 202
    assert register("NEW@example.com", "192.0.2.2").status_code == 202
    assert_envelope_error(register("new@example.com", "192.0.2.3"), 429)
    assert register("fresh@example.com", "192.0.2.3").status_code == 202


def test_one_redis_round_trip_per_limit(database_url, redis_url, app):
    strict = build_app(database_url, redis_url, RATELIMIT_DEFAULT="50 per minute")
    client = strict.test_client()
    client.get("/api/categories")
    main = redis.Redis.from_url(redis_url)
    main.config_resetstat()
    response = client.get("/api/categories")
    assert response.headers["X-RateLimit-Remaining"] == "48"
    calls = {
        name: stats["calls"]
        for name, stats in main.info("commandstats").items()
        if name.startswith("cmdstat_") and name not in ("cmdstat_info", "cmdstat_config")
    }
    # One EVALSHA (INCRBY and PTTL inside it); no GET/TTL for the headers.
    assert calls.pop("cmdstat_evalsha") == 1, calls
    assert "cmdstat_get" not in calls and "cmdstat_ttl" not in calls, calls


# --- the response cache ---------------------------------------------------------------------


def test_cache_keys_are_canonical():
    base = {"page": 1, "per_page": 20, "sort": "name", "include_inactive": False}
    assert canonical_query({**base, "min_price": Decimal("10")}) == canonical_query(
        {**base, "min_price": Decimal("10.00")}
    )
    # Unknown arguments (had they got past the schema) and unset ones make no new key.
    assert canonical_query({**base, "utm_source": "x", "q": None}) == canonical_query(base)
    assert canonical_query(dict(reversed(list(base.items())))) == canonical_query(base)


def test_unknown_query_parameters_make_no_cache_entry(client, app, redis_url):
    make_product(app, "Pen", "1.00", 3)
    cache = redis.Redis.from_url(redis_url)
    for i in range(5):
        client.get(f"/api/products?per_page=20&utm_{i}=x")
    client.get("/api/products?per_page=20&min_price=1")
    client.get("/api/products?per_page=20&min_price=1.00")
    assert len(cache.keys("api:products:v*:*")) <= 2


@pytest.fixture
def lru_cache_redis():
    """A second Redis as the deploy runs the cache: small maxmemory, allkeys-lru."""
    base = Path(tempfile.mkdtemp(prefix="bf-redis-cache-"))
    server = RedisServer(
        base, extra_args=["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]
    )
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_filling_the_cache_evicts_only_cache_entries(database_url, redis_url, app, lru_cache_redis):
    cached = build_app(
        database_url,
        redis_url,
        CACHE_REDIS_URL=lru_cache_redis.url(0),
        RATELIMIT_DEFAULT="100000 per minute",
    )
    reset_state(cached, redis_url)
    for i in range(30):
        make_product(app, f"Lamp {i:02d}", f"{10 + i}.00", 3, description="x" * 2000)
    user = make_user(app, "alice@example.com")
    main = redis.Redis.from_url(redis_url)
    session_key = "frontend:session:alice-session"
    main.set(session_key, b"logged-in session of alice", ex=3600)
    client = cached.test_client()
    assert client.get("/api/products", headers=user["headers"]).status_code == 200
    counters = main.keys("LIMITS:LIMITER/api-rl/*")
    assert counters

    # Many distinct listings (each about 70 kB), far more than the cache's 3 MB.
    for i in range(120):
        response = client.get(f"/api/products?per_page=30&q=Lamp&max_price={100 + i}")
        assert response.status_code == 200

    cache = redis.Redis.from_url(lru_cache_redis.url(0))
    assert int(cache.info("stats")["evicted_keys"]) > 0
    assert int(cache.info("memory")["used_memory"]) <= 4 * 1024 * 1024
    assert not main.keys("api:products:*")  # nothing of the cache on the main Redis
    assert main.get(session_key) == b"logged-in session of alice"
    assert set(counters) <= set(main.keys("LIMITS:LIMITER/api-rl/*"))
    # The logged-in user is still served, and the listing still answers.
    assert client.get("/api/auth/me", headers=user["headers"]).status_code == 200
    assert client.get("/api/products?per_page=30&q=Lamp").get_json()["data"]["total"] == 30


# --- the deploy and the two copies of the proxy module ------------------------------------


def test_proxy_module_is_the_same_in_api_and_frontend():
    app_dir = Path(__file__).resolve().parents[2]
    assert (app_dir / "api" / "proxies.py").read_bytes() == (
        app_dir / "frontend" / "proxies.py"
    ).read_bytes()
