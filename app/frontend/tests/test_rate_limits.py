"""Issue 12: the frontend passes each visitor's address to the API and limits its own login
and registration posts per visitor; a 429 is a friendly page with Retry-After, never a 500;
anonymous visitors get no session."""

from __future__ import annotations

import threading

import pytest
import redis
from werkzeug.serving import make_server

from frontend import create_app
from frontend.tests.conftest import csrf_token
from frontend.tests.scripted_server import Action, fail, ok

PAGE = {"items": [], "page": 1, "per_page": 12, "total": 0, "pages": 0}


def _visitor(address: str) -> dict[str, str]:
    # What the edge Nginx (a trusted peer: the test client is 127.0.0.1) sends.
    return {"X-Forwarded-For": address}


@pytest.fixture
def clean_redis(redis_server):
    """A Redis db of its own, emptied: rate counters outlive the test that made them."""
    url = redis_server.url(9)
    redis.Redis.from_url(url).flushdb()
    return url


def test_every_api_call_carries_the_visitors_address(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/products", ok(PAGE))
    server.on("GET", "/api/categories", ok([]))
    client = make_app(API_URL=url).test_client()
    assert client.get("/", headers=_visitor("203.0.113.5")).status_code == 200
    (call,) = server.calls("GET", "/api/products")
    assert call.headers["X-Forwarded-For"] == "203.0.113.5"


def test_an_untrusted_peer_cannot_choose_its_address(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/products", ok(PAGE))
    server.on("GET", "/api/categories", ok([]))
    client = make_app(API_URL=url, TRUSTED_PROXY_HOSTS="10.255.255.1").test_client()
    client.get("/", headers=_visitor("203.0.113.5"))
    (call,) = server.calls("GET", "/api/products")
    assert call.headers["X-Forwarded-For"] == "127.0.0.1"


def test_categories_are_fetched_once_for_many_pages(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/products", *[ok(PAGE)] * 3)
    server.on("GET", "/api/categories", ok([{"id": 1, "name": "Lighting", "slug": "l"}]))
    client = make_app(API_URL=url, CATEGORIES_CACHE_SECONDS=60).test_client()
    for _ in range(3):
        assert "Lighting" in client.get("/").get_data(as_text=True)
    assert len(server.calls("GET", "/api/categories")) == 1


def test_anonymous_pages_create_no_session(make_app, scripted_api, clean_redis):
    server, url = scripted_api
    server.on("GET", "/api/products", ok(PAGE))
    server.on("GET", "/api/categories", ok([]))
    client = make_app(API_URL=url, REDIS_URL=clean_redis).test_client()
    response = client.get("/")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert not redis.Redis.from_url(clean_redis).keys("frontend:session:*")


def test_a_429_from_the_api_is_a_friendly_page_with_retry_after(make_app, scripted_api):
    server, url = scripted_api
    refused = fail(429, "Too many requests")
    server.on(
        "GET", "/api/products", Action(refused.status, refused.body, headers={"Retry-After": "17"})
    )
    server.on("GET", "/api/categories", ok([]))
    response = make_app(API_URL=url).test_client().get("/")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "17"
    assert "Please slow down" in response.get_data(as_text=True)


def test_login_posts_are_limited_per_visitor(make_app, scripted_api, clean_redis):
    server, url = scripted_api
    server.on("POST", "/api/auth/login", *[fail(401, "Invalid email or password")] * 10)
    client = make_app(API_URL=url, REDIS_URL=clean_redis, RATELIMIT_LOGIN="2 per minute")
    client = client.test_client()

    def attempt(address: str):
        token = csrf_token(client.get("/login", headers=_visitor(address)).get_data(as_text=True))
        data = {"email": "ann@example.com", "password": "wrong-pass", "csrf_token": token}
        return client.post("/login", data=data, headers=_visitor(address))

    assert [attempt("198.51.100.1").status_code for _ in range(2)] == [401, 401]
    refused = attempt("198.51.100.1")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Please slow down" in refused.get_data(as_text=True)
    assert len(server.calls("POST", "/api/auth/login")) == 2  # refused before the API
    # Another visitor is still served.
    assert attempt("198.51.100.2").status_code == 401
    assert redis.Redis.from_url(clean_redis).keys("LIMITS:LIMITER/frontend-rl/*")


def test_two_visitors_through_the_frontend_and_the_real_api(
    postgres_server, redis_server, clean_redis
):
    """The API limits each visitor: one exhausts its budget, the other is still served."""
    import flask_migrate
    from api import create_app as create_api_app

    database = postgres_server.create_database()
    api_redis = redis_server.url(10)
    redis.Redis.from_url(api_redis).flushdb()
    api_app = create_api_app(
        {
            "FLASK_ENV": "testing",
            "DATABASE_URL": postgres_server.url(database),
            "REDIS_URL": api_redis,
            "RATELIMIT_DEFAULT": "4 per minute",
            "TRUSTED_PROXY_HOSTS": "127.0.0.1",  # the frontend, here in this process
            "LOG_LEVEL": "WARNING",
        }
    )
    with api_app.app_context():
        flask_migrate.upgrade()
    server = make_server("127.0.0.1", 0, api_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        frontend = create_app(
            {
                "FLASK_ENV": "testing",
                "API_URL": f"http://127.0.0.1:{server.server_port}",
                "REDIS_URL": clean_redis,
                "API_RETRIES": 0,
                "CATEGORIES_CACHE_SECONDS": 300,  # one categories call in all
            }
        )
        client = frontend.test_client()
        first = _visitor("203.0.113.10")
        # The default limit is per route: four listings, then the fifth is refused.
        for _ in range(4):
            assert client.get("/", headers=first).status_code == 200
        refused = client.get("/", headers=first)
        assert refused.status_code == 429, refused.get_data(as_text=True)
        assert int(refused.headers["Retry-After"]) > 0
        assert "Please slow down" in refused.get_data(as_text=True)
        # The second visitor, through the same frontend, is still served.
        assert client.get("/", headers=_visitor("203.0.113.11")).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
