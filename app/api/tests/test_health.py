from conftest import assert_envelope_error, build_app, make_product


def test_live(client):
    resp = client.get("/api/health/live")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "success": True,
        "data": {"status": "ok", "release": "dev"},
        "error": None,
    }
    assert resp.headers["X-Release"] == "dev"


def test_the_release_comes_from_the_deploy(monkeypatch, database_url, redis_url):
    monkeypatch.setenv("BF_RELEASE", "0123abcd4567")
    other = build_app(database_url, redis_url)
    resp = other.test_client().get("/api/health/live")
    assert resp.get_json()["data"]["release"] == "0123abcd4567"
    assert resp.headers["X-Release"] == "0123abcd4567"


def test_ready_reports_each_check(client):
    resp = client.get("/api/health/ready")
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["status"] == "ok"
    for name in ("postgres", "redis"):
        assert data["checks"][name]["ok"] is True
        assert isinstance(data["checks"][name]["latency_ms"], float)


def test_ready_reports_no_replication_without_a_replica(client):
    assert "replication" not in client.get("/api/health/ready").get_json()["data"]


def test_ready_reports_a_missing_replica_and_stays_ready(database_url, redis_url):
    # The test server is a primary with no standby: the replica the deploy expects is not
    # streaming, which shows, but the API still serves.
    other = build_app(database_url, redis_url, POSTGRES_REPLICAS_EXPECTED="1")
    resp = other.test_client().get("/api/health/ready")
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["status"] == "ok"
    assert data["replication"] == {"role": "primary", "expected": 1, "standbys": [], "ok": False}


def test_ready_503_while_postgres_is_down(app, client, postgres_server):
    make_product(app, "Pen", "1.00", 3)
    postgres_server.stop()
    try:
        resp = client.get("/api/health/ready")
        body = assert_envelope_error(resp, 503, "postgres unavailable")
        assert body["data"]["checks"]["postgres"]["ok"] is False
        assert body["data"]["checks"]["redis"]["ok"] is True
        assert client.get("/api/health/live").status_code == 200
        # A route that needs the database answers 503 JSON, not a 500.
        assert_envelope_error(client.get("/api/products/1"), 503, "database unavailable")
        assert_envelope_error(client.get("/api/products?q=uncached"), 503)
    finally:
        postgres_server.start()
    assert client.get("/api/health/ready").status_code == 200
    assert client.get("/api/products/1").status_code == 200


def test_ready_503_while_redis_is_down_and_api_degrades(app, client, redis_server, user):
    pid = make_product(app, "Pen", "1.00", 3)
    redis_server.stop()
    try:
        resp = client.get("/api/health/ready")
        body = assert_envelope_error(resp, 503, "redis unavailable")
        assert body["data"]["checks"]["redis"]["ok"] is False
        assert body["data"]["checks"]["postgres"]["ok"] is True
        # Cache and rate limiter degrade: listings come from PostgreSQL, writes still work.
        resp = client.get("/api/products")
        assert resp.status_code == 200
        assert [p["id"] for p in resp.get_json()["data"]["items"]] == [pid]
        resp = client.post(
            "/api/orders",
            headers=user["headers"],
            json={"items": [{"product_id": pid, "quantity": 1}]},
        )
        assert resp.status_code == 201
        login = client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": "secret-pass"}
        )
        assert login.status_code == 200
    finally:
        redis_server.start()
    assert client.get("/api/health/ready").status_code == 200
    assert client.get("/api/products").get_json()["data"]["items"][0]["stock"] == 2


def _redis_commands(server) -> dict:
    return {
        name: stats["calls"]
        for name, stats in server.info("commandstats").items()
        if not name.startswith(("cmdstat_info", "cmdstat_config"))  # the test's own
    }


def test_live_makes_no_redis_round_trip(client, redis_url):
    import redis

    main = redis.Redis.from_url(redis_url)
    client.get("/api/categories")  # the limiter's script is loaded, its connection open
    main.config_resetstat()
    for _ in range(3):
        resp = client.get("/api/health/live")
        assert resp.status_code == 200
        assert "X-RateLimit-Limit" not in resp.headers
    assert _redis_commands(main) == {}


def test_live_skips_the_limiters_recovery_check_while_redis_is_marked_down(app, monkeypatch):
    from api.extensions import limiter

    checks = []

    def check() -> bool:
        checks.append(1)
        return True  # "recovered": the limiter goes back to Redis for the next tests

    monkeypatch.setattr(limiter.storage, "check", check)
    monkeypatch.setattr(limiter, "_storage_dead", True)
    # A recovery check is due on the next request the limiter's hooks see.
    monkeypatch.setattr(limiter, "_Limiter__last_check_backend", 0.0)
    monkeypatch.setattr(limiter, "_Limiter__check_backend_count", 0)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/health/live").status_code == 200
    assert checks == []
    # The same state does make a rate-limited route check (so the probe above was exercised).
    assert client.get("/api/categories").status_code == 200
    assert checks == [1]
    assert limiter._storage_dead is False
