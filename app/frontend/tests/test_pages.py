"""Pages, CSRF, sessions, error pages and health endpoints, with real Redis.

The API is either absent (a port nothing listens on) or the scripted server, to produce the
failures a real API does not produce on demand. Rendering real API data is covered by
test_integration_api.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
import yaml

from frontend.tests.conftest import csrf_token, free_port
from frontend.tests.scripted_server import Action, fail, ok

USER = {"id": 3, "email": "ann@example.com", "name": "Ann", "is_admin": False}
PRODUCT = {
    "id": 4,
    "name": "Desk lamp",
    "slug": "desk-lamp",
    "description": "Warm light",
    "price": "19.99",
    "stock": 5,
    "category_id": None,
    "is_active": True,
}


def _login(client, server):
    server.on("POST", "/api/auth/login", ok({"access_token": "jwt-ann", "user": USER}))
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": USER["email"], "password": "password1", "csrf_token": token}
    )
    assert response.status_code == 302


def test_health_live_touches_nothing(make_app, dead_api_url):
    app = make_app(API_URL=dead_api_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/health/live")
    assert response.status_code == 200
    assert response.json == {
        "success": True,
        "data": {"status": "ok", "release": "dev"},
        "error": None,
    }
    assert response.headers["X-Release"] == "dev"
    assert "Set-Cookie" not in response.headers


def test_health_ready_ok(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/health/live", ok({"status": "ok"}))
    response = make_app(API_URL=url).test_client().get("/health/ready")
    assert response.status_code == 200
    body = response.json
    assert body["success"] is True and body["error"] is None
    assert body["data"]["checks"]["api"]["ok"] is True
    assert body["data"]["checks"]["redis"]["ok"] is True
    assert "Set-Cookie" not in response.headers


def test_health_ready_names_the_api_when_it_is_down(make_app, dead_api_url):
    response = make_app(API_URL=dead_api_url).test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["success"] is False
    assert response.json["error"] == "api unavailable"
    assert response.json["data"]["checks"]["redis"]["ok"] is True


def test_health_ready_names_redis_when_it_is_down(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/health/live", ok({"status": "ok"}))
    app = make_app(API_URL=url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    assert response.json["error"] == "redis unavailable"
    assert response.json["data"]["checks"]["api"]["ok"] is True


def test_login_page_renders_with_csrf_token_and_secure_session_cookie(make_app, dead_api_url):
    client = make_app(API_URL=dead_api_url).test_client()
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Log in</h1>" in html
    assert csrf_token(html)
    assert "main-style.css" in html and "http" not in html.split("main-style.css")[0][-60:]
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_register_page_renders(make_app, dead_api_url):
    response = make_app(API_URL=dead_api_url).test_client().get("/register")
    assert response.status_code == 200
    assert 'name="confirm"' in response.get_data(as_text=True)


def test_csrf_rejects_a_form_without_token(make_app, scripted_api):
    server, url = scripted_api
    client = make_app(API_URL=url).test_client()
    client.get("/login")
    response = client.post("/login", data={"email": "ann@example.com", "password": "password1"})
    assert response.status_code == 400
    assert "Request refused" in response.get_data(as_text=True)
    assert server.calls("POST", "/api/auth/login") == []


def test_csrf_rejects_a_wrong_token(make_app, scripted_api):
    server, url = scripted_api
    client = make_app(API_URL=url).test_client()
    client.get("/login")
    data = {"email": "ann@example.com", "password": "password1", "csrf_token": "forged"}
    assert client.post("/login", data=data).status_code == 400
    assert server.calls("POST", "/api/auth/login") == []


def test_api_down_shows_the_friendly_503_page(make_app, dead_api_url):
    response = make_app(API_URL=dead_api_url).test_client().get("/")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "temporarily unavailable" in html
    assert "Traceback" not in html and "ConnectionError" not in html
    assert response.headers["Retry-After"] == "30"


def test_api_failing_with_5xx_shows_503_after_bounded_retries(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/products", fail(500, "Internal server error"))
    response = make_app(API_URL=url, API_RETRIES=2).test_client().get("/")
    assert response.status_code == 503
    assert "temporarily unavailable" in response.get_data(as_text=True)
    # 500 is not in the retry list (only 502/503/504): a bug is not retried.
    assert len(server.calls("GET", "/api/products")) == 1


def test_redis_down_shows_the_friendly_503_page(make_app, dead_api_url):
    # Production settings: under TESTING Flask re-raises errors from opening the session
    # instead of handing them to the error handlers.
    app = make_app(
        FLASK_ENV="production",
        SECRET_KEY="k" * 32,
        API_URL=dead_api_url,
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    assert not app.testing
    client = app.test_client()
    client.set_cookie("bf_session", "a" * 43)
    response = client.get("/login")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "temporarily unavailable" in html and "Traceback" not in html


def test_unknown_page_is_a_404_page(make_app, dead_api_url):
    response = make_app(API_URL=dead_api_url).test_client().get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_product_list_renders_api_data_and_passes_filters(make_app, scripted_api):
    server, url = scripted_api
    page = {"items": [PRODUCT], "page": 1, "per_page": 12, "total": 13, "pages": 2}
    server.on("GET", "/api/products", ok(page))
    server.on("GET", "/api/categories", ok([{"id": 2, "name": "Lighting", "slug": "lighting"}]))
    client = make_app(API_URL=url).test_client()
    response = client.get("/?q=lamp&category_id=2", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Desk lamp" in html and "19.99" in html and "Lighting" in html
    assert "page=2" in html and "13 products" in html
    (call,) = server.calls("GET", "/api/products")
    assert call.query["q"] == ["lamp"] and call.query["category_id"] == ["2"]
    assert call.headers["X-Request-ID"] == "abc-123"
    assert response.headers["X-Request-ID"] == "abc-123"


def test_my_orders_requires_login(make_app, dead_api_url):
    response = make_app(API_URL=dead_api_url).test_client().get("/orders")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/orders")


def test_login_keeps_the_token_in_redis_only(make_app, scripted_api, redis_server):
    server, url = scripted_api
    client = make_app(API_URL=url).test_client()
    _login(client, server)
    cookie = client.get_cookie("bf_session")
    assert cookie is not None and "jwt-ann" not in cookie.value
    stored = redis.Redis.from_url(redis_server.url(1)).get(f"frontend:session:{cookie.value}")
    assert stored is not None and b"jwt-ann" in stored


def test_order_post_failing_is_not_retried_and_shows_503(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/products/4", ok(PRODUCT))
    server.on("POST", "/api/orders", Action(drop=True), ok({"id": 1, "total": "19.99"}, 201))
    client = make_app(API_URL=url).test_client()
    _login(client, server)
    token = csrf_token(client.get("/products/4").get_data(as_text=True))
    response = client.post("/products/4/order", data={"quantity": "1", "csrf_token": token})
    assert response.status_code == 503
    assert len(server.calls("POST", "/api/orders")) == 1


def test_expired_token_logs_the_user_out(make_app, scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/orders", fail(401, "Token has expired"))
    client = make_app(API_URL=url).test_client()
    _login(client, server)
    response = client.get("/orders")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert client.get("/orders").status_code == 302
    assert len(server.calls("GET", "/api/orders")) == 1


@pytest.mark.parametrize("status", [400, 401])
def test_bad_credentials_show_a_message(make_app, scripted_api, status):
    server, url = scripted_api
    server.on("POST", "/api/auth/login", fail(status, "Invalid email or password"))
    client = make_app(API_URL=url).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": "ann@example.com", "password": "wrong-pass", "csrf_token": token}
    )
    assert response.status_code == status
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_logout_needs_csrf_and_clears_the_session(make_app, scripted_api):
    server, url = scripted_api
    server.on(
        "GET", "/api/orders", ok({"items": [], "page": 1, "per_page": 20, "total": 0, "pages": 0})
    )
    client = make_app(API_URL=url).test_client()
    _login(client, server)
    assert client.post("/logout").status_code == 400
    assert client.get("/orders").status_code == 200
    token = csrf_token(client.get("/orders").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/orders").status_code == 302
    # The API revoked the token: a copy of the session's JWT is no longer good anywhere.
    revoked = server.calls("POST", "/api/auth/logout")
    assert len(revoked) == 1 and revoked[0].headers["Authorization"] == "Bearer jwt-ann"


def test_logout_when_the_api_is_down_still_logs_out(make_app, scripted_api):
    server, url = scripted_api
    server.on(
        "GET", "/api/orders", ok({"items": [], "page": 1, "per_page": 20, "total": 0, "pages": 0})
    )
    server.on("POST", "/api/auth/logout", fail(503, "unavailable"))
    client = make_app(API_URL=url).test_client()
    _login(client, server)
    token = csrf_token(client.get("/orders").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/orders").status_code == 302


def test_login_redirect_target_must_be_local(make_app, scripted_api):
    server, url = scripted_api
    server.on("POST", "/api/auth/login", ok({"access_token": "jwt-ann", "user": USER}))
    client = make_app(API_URL=url).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    data = {"email": USER["email"], "password": "password1", "csrf_token": token}
    response = client.post("/login?next=//evil.example/", data=data)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "query",
    [
        "next=/%09/evil.example",  # browsers drop the tab: //evil.example
        "next=/%0a/evil.example",
        "next=/%0d%0a/evil.example",
        "next=/orders%0d%0aSet-Cookie:%20bf_session=x",  # used to be a 500 (newline in a header)
        "next=%2F%2Fevil.example",
        "next=/%5Cevil.example",  # a backslash reads as a slash
        "next=https://evil.example/",
        "next=javascript:alert(1)",
        "next=%20//evil.example",
        "next=/%00",
        "next=/%C2%85/evil.example",  # NEL, a C1 control character
        "next=",
    ],
)
def test_login_redirect_refuses_every_off_site_or_broken_target(make_app, scripted_api, query):
    """Issue 13: only a plain local path is followed after login; anything else goes home."""
    server, url = scripted_api
    server.on("POST", "/api/auth/login", ok({"access_token": "jwt-ann", "user": USER}))
    client = make_app(API_URL=url).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    data = {"email": USER["email"], "password": "password1", "csrf_token": token}
    response = client.post(f"/login?{query}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/orders", "/orders?page=2", "/products/4", "/?q=tea%20pot"])
def test_login_redirect_keeps_local_paths(make_app, scripted_api, target):
    server, url = scripted_api
    server.on("POST", "/api/auth/login", ok({"access_token": "jwt-ann", "user": USER}))
    client = make_app(API_URL=url).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    data = {"email": USER["email"], "password": "password1", "csrf_token": token}
    response = client.post("/login", query_string={"next": target}, data=data)
    assert response.headers["Location"] == target


def test_the_edge_body_limit_is_the_apps_own(make_app, dead_api_url):
    # The edge's client_max_body_size for the frontend is its manifest's max_body (an Nginx
    # size): it must be what the app itself accepts, no more and no less.
    manifest = yaml.safe_load((Path(__file__).parents[1] / "service.yml").read_text())
    size = manifest["max_body"]
    factor = {"k": 1024, "m": 1024 * 1024}.get(size[-1], 1)
    app = make_app(API_URL=dead_api_url)
    assert int(size.rstrip("km")) * factor == app.config["MAX_CONTENT_LENGTH"]
    # And a body one byte over is refused by the app too (413), not only by the edge.
    body = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = app.test_client().post("/login", data=body, content_type="text/plain")
    assert response.status_code == 413


def test_proxy_headers_trusted_are_only_those_nginx_sets(make_app, dead_api_url):
    """Issue 13: X-Forwarded-For/Proto come from Nginx; Host/Port headers are the client's."""
    app = make_app(API_URL=dead_api_url)

    @app.get("/health/proxy-probe")
    def probe():
        from flask import request, url_for

        return {
            "host": request.host,
            "scheme": request.scheme,
            "remote_addr": request.remote_addr,
            "external": url_for("shop.product_list", _external=True),
        }

    response = app.test_client().get(
        "/health/proxy-probe",
        headers={
            "Host": "shop.example",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Port": "8443",
            "X-Forwarded-Prefix": "/evil",
        },
    )
    assert response.json == {
        "host": "shop.example",
        "scheme": "https",
        "remote_addr": "203.0.113.9",
        "external": "https://shop.example/",
    }


def test_register_says_the_same_whether_or_not_the_email_is_new(make_app, scripted_api):
    server, url = scripted_api
    server.on("POST", "/api/auth/register", ok({"email": "ann@example.com"}, 202))
    client = make_app(API_URL=url).test_client()
    token = csrf_token(client.get("/register").get_data(as_text=True))
    form = {
        "name": "Ann",
        "email": "ann@example.com",
        "password": "password1",
        "confirm": "password1",
        "csrf_token": token,
    }
    response = client.post("/register", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    html = client.get("/login").get_data(as_text=True)
    assert "You can now log in with this email and password." in html
    assert "already registered" not in html


def test_without_access_log_a_server_error_page_is_still_logged(make_app, monkeypatch, caplog):
    # The deployed setting: Nginx logs every page, the frontend only its own 5xx (here the API,
    # at make_app's unreachable address, is down: the home page is the friendly 503).
    monkeypatch.setenv("ACCESS_LOG", "false")
    client = make_app().test_client()
    with caplog.at_level("INFO", logger="frontend"):
        assert client.get("/login").status_code == 200
        assert client.get("/").status_code == 503
    lines = [r for r in caplog.records if r.name == "frontend" and r.getMessage() == "request"]
    assert [(r.path, r.status, r.levelname) for r in lines] == [("/", 503, "WARNING")]


@pytest.mark.parametrize(("setting", "logged"), [(None, True), ("false", False)])
def test_access_log_follows_its_setting(make_app, monkeypatch, caplog, setting, logged):
    """One line per page by default; none with ACCESS_LOG=false, as the deploy sets it."""
    if setting is not None:
        monkeypatch.setenv("ACCESS_LOG", setting)
    client = make_app().test_client()
    with caplog.at_level("INFO", logger="frontend"):
        assert client.get("/login").status_code == 200
    lines = [r for r in caplog.records if r.name == "frontend" and r.getMessage() == "request"]
    assert bool(lines) is logged
