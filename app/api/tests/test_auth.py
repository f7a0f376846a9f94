import redis
from conftest import assert_envelope_error, build_app, reset_state


def test_register_login_me(client):
    resp = client.post(
        "/api/auth/register",
        json={"email": "Bob@Example.com", "password": "longenough", "name": "Bob"},
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["success"] is True and body["error"] is None
    user = body["data"]
    assert user["email"] == "bob@example.com"
    assert set(user) == {"id", "email", "name", "is_admin", "created_at", "updated_at"}
    assert user["is_admin"] is False

    resp = client.post(
        "/api/auth/login", json={"email": "bob@example.com", "password": "longenough"}
    )
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["user"]["id"] == user["id"]
    token = data["access_token"]

    resp = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert resp.get_json()["data"]["email"] == "bob@example.com"


def test_register_duplicate_email_is_409(client, user):
    resp = client.post(
        "/api/auth/register",
        json={"email": "ALICE@example.com", "password": "longenough", "name": "A"},
    )
    assert_envelope_error(resp, 409, "Email already registered")


def test_register_validation_names_fields(client):
    resp = client.post(
        "/api/auth/register", json={"email": "not-an-email", "password": "short", "name": "x"}
    )
    body = assert_envelope_error(resp, 400, "Validation failed")
    assert "email" in body["error"] and "password" in body["error"]
    assert set(body["data"]["fields"]) == {"email", "password"}

    resp = client.post(
        "/api/auth/register",
        json={"email": "a@b.co", "password": "longenough", "name": "x", "is_admin": True},
    )
    body = assert_envelope_error(resp, 400, "is_admin")


def test_login_bad_credentials_is_401(client, user):
    resp = client.post("/api/auth/login", json={"email": "alice@example.com", "password": "nope"})
    assert_envelope_error(resp, 401, "Invalid email or password")
    resp = client.post("/api/auth/login", json={"email": "ghost@example.com", "password": "nope"})
    assert_envelope_error(resp, 401, "Invalid email or password")


def test_me_requires_valid_token(client):
    assert_envelope_error(client.get("/api/auth/me"), 401, "Authentication required")
    resp = client.get("/api/auth/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert_envelope_error(resp, 401)


def test_token_of_deleted_user_is_401(app, client, user):
    from api.extensions import db
    from api.models import User

    with app.app_context():
        db.session.delete(db.session.get(User, user["id"]))
        db.session.commit()
    assert_envelope_error(client.get("/api/auth/me", headers=user["headers"]), 401)


def test_login_rate_limit_is_429_and_per_client(database_url, redis_url, user, app):
    strict = build_app(database_url, redis_url, RATELIMIT_LOGIN="2 per minute")
    reset_state(strict, redis_url)
    client = strict.test_client()
    creds = {"email": "alice@example.com", "password": "wrong-pass"}
    assert client.post("/api/auth/login", json=creds).status_code == 401
    assert client.post("/api/auth/login", json=creds).status_code == 401
    resp = client.post("/api/auth/login", json=creds)
    assert_envelope_error(resp, 429, "Too many requests")
    assert resp.headers.get("Retry-After")
    # Behind Nginx (ProxyFix x_for=1) another client address has its own budget.
    resp = client.post("/api/auth/login", json=creds, headers={"X-Forwarded-For": "10.1.2.3"})
    assert resp.status_code == 401


def test_default_rate_limit_is_429_but_health_is_exempt(database_url, redis_url, app):
    strict = build_app(database_url, redis_url, RATELIMIT_DEFAULT="3 per minute")
    reset_state(strict, redis_url)
    client = strict.test_client()
    for _ in range(3):
        assert client.get("/api/categories").status_code == 200
    assert_envelope_error(client.get("/api/categories"), 429)
    # The counters live in Redis (shared by every uWSGI worker), not in process memory.
    assert redis.Redis.from_url(redis_url).keys("LIMITS:LIMITER/api-rl/127.0.0.1/*")
    for _ in range(6):
        assert client.get("/api/health/live").status_code == 200
        assert client.get("/api/health/ready").status_code == 200
