import redis
from conftest import assert_envelope_error, build_app, reset_state


def test_register_login_me(client):
    # 202, not 201 with the user: the answer must be the same for an address that has an account.
    resp = client.post(
        "/api/auth/register",
        json={"email": "Bob@Example.com", "password": "longenough", "name": " Bob "},
    )
    assert resp.status_code == 202
    assert resp.get_json() == {"success": True, "data": {"email": "bob@example.com"}, "error": None}

    resp = client.post(
        "/api/auth/login", json={"email": "bob@example.com", "password": "longenough"}
    )
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    user = data["user"]
    assert set(user) == {"id", "email", "name", "is_admin", "created_at", "updated_at"}
    assert (user["email"], user["name"], user["is_admin"]) == ("bob@example.com", "Bob", False)
    token = data["access_token"]

    resp = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert resp.get_json()["data"]["id"] == user["id"]


def test_register_does_not_reveal_existing_accounts(app, client, user):
    """Issue 13: a 409 "Email already registered" told anyone which addresses have accounts."""
    new = client.post(
        "/api/auth/register",
        json={"email": "carol@example.com", "password": "longenough", "name": "Carol"},
    )
    taken = client.post(
        "/api/auth/register",
        json={"email": "ALICE@example.com", "password": "other-password", "name": "Mallory"},
    )
    assert (new.status_code, taken.status_code) == (202, 202)
    assert taken.get_json() == {
        "success": True,
        "data": {"email": "alice@example.com"},
        "error": None,
    }
    assert set(new.get_json()) == set(taken.get_json())
    # The existing account is untouched: its owner's password still works, the new one does not.
    good = {"email": "alice@example.com", "password": "secret-pass"}
    assert client.post("/api/auth/login", json=good).status_code == 200
    bad = {"email": "alice@example.com", "password": "other-password"}
    assert client.post("/api/auth/login", json=bad).status_code == 401
    from api.extensions import db
    from api.models import User

    with app.app_context():
        assert db.session.get(User, user["id"]).name == "alice"


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
    # Issue 12 added a limit per account too (test_rate_limits_per_client.py); this test is
    # about the per-client one.
    strict = build_app(
        database_url,
        redis_url,
        RATELIMIT_LOGIN="2 per minute",
        RATELIMIT_LOGIN_ACCOUNT="100 per minute",
    )
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


# --- Issue 13: token revocation -----------------------------------------------------------


def _login(client, email="alice@example.com", password="secret-pass"):  # noqa: S107
    resp = client.post("/api/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['data']['access_token']}"}


def test_logout_revokes_the_token(client, user):
    first = _login(client)
    second = _login(client)
    assert client.get("/api/auth/me", headers=first).status_code == 200
    resp = client.post("/api/auth/logout", headers=first)
    assert resp.status_code == 204 and resp.get_data() == b""
    # Every token of the account is revoked (log out everywhere), on every route.
    for headers in (first, second):
        assert_envelope_error(
            client.get("/api/auth/me", headers=headers), 401, "revoked", "token_revoked"
        )
        assert_envelope_error(client.get("/api/orders", headers=headers), 401, "revoked")
    assert_envelope_error(client.post("/api/auth/logout", headers=first), 401)
    # Logging in again works.
    assert client.get("/api/auth/me", headers=_login(client)).status_code == 200


def test_logout_leaves_other_accounts_alone(app, client, user):
    from conftest import make_user

    other = make_user(app, "bob@example.com")
    assert client.post("/api/auth/logout", headers=_login(client)).status_code == 204
    assert client.get("/api/auth/me", headers=other["headers"]).status_code == 200


def test_logout_needs_a_token(client):
    assert_envelope_error(client.post("/api/auth/logout"), 401, "Authentication required")


def test_tokens_issued_before_token_versions_stay_valid(client, user):
    # make_user's tokens carry no "ver" claim, like tokens issued before this change.
    assert client.get("/api/auth/me", headers=user["headers"]).status_code == 200


def test_new_admin_password_revokes_old_tokens(app, client, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("first-password\n")
    runner = app.test_cli_runner()
    args = ["create-admin", "--email", "root@example.com", "--password-file", str(pw)]
    assert runner.invoke(args=args).exit_code == 0
    old = _login(client, "root@example.com", "first-password")
    pw.write_text("second-password\n")
    assert "updated" in runner.invoke(args=args).output
    assert_envelope_error(client.get("/api/auth/me", headers=old), 401, code="token_revoked")


# --- Issue 13: registration is rate limited before it costs a password hash -------------


def test_registration_limit_is_429_before_any_password_hash(
    database_url, redis_url, app, monkeypatch
):
    from api.services import auth as auth_service

    hashes = []
    real_hash = auth_service.hash_password
    monkeypatch.setattr(auth_service, "hash_password", lambda pw: hashes.append(1) or real_hash(pw))
    strict = build_app(database_url, redis_url, RATELIMIT_REGISTER="2 per minute")
    reset_state(strict, redis_url)
    client = strict.test_client()

    def register(i, **kw):
        body = {"email": f"u{i}@example.com", "password": "longenough", "name": "U"}
        return client.post("/api/auth/register", json=body, **kw)

    assert [register(i).status_code for i in range(2)] == [202, 202]
    assert len(hashes) == 2
    for i in range(2, 6):
        assert_envelope_error(register(i), 429, "Too many requests", code="rate_limited")
    assert len(hashes) == 2  # refused attempts cost no scrypt
    # The budget is per client address (ProxyFix x_for=1 behind Nginx).
    assert register(9, headers={"X-Forwarded-For": "10.9.9.9"}).status_code == 202


def test_registration_limit_default_is_10_per_hour(session_app):
    assert session_app.config["RATELIMIT_REGISTER"] == "100000 per minute"  # tests' override
    from api.config import load_config

    config = load_config(
        {"FLASK_ENV": "testing", "DATABASE_URL": "postgresql://x", "REDIS_URL": "redis://r"}
    )
    assert config["RATELIMIT_REGISTER"] == "10 per hour"
