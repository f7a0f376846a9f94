import json
from pathlib import Path

import yaml
from conftest import assert_envelope_error, build_app, reset_state


def test_unknown_route_is_404_json(client):
    body = assert_envelope_error(client.get("/api/does-not-exist"), 404)
    assert body["data"] is None
    assert_envelope_error(client.get("/not-even-api"), 404)


def test_wrong_method_is_405_json(client):
    resp = client.delete("/api/health/live")
    assert_envelope_error(resp, 405)
    assert "GET" in resp.headers["Allow"]


def test_body_too_large_is_413_json(database_url, redis_url, app):
    small = build_app(database_url, redis_url, MAX_CONTENT_LENGTH=64)
    resp = small.test_client().post(
        "/api/auth/register", data=b"x" * 1000, content_type="application/json"
    )
    assert_envelope_error(resp, 413)


def test_default_max_content_length_is_one_mib(session_app):
    assert session_app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_the_edge_body_limit_is_the_apps_own(session_app):
    # The edge's client_max_body_size for this app is its manifest's max_body (an Nginx size):
    # a larger one lets through bodies the app then refuses itself, a smaller one refuses
    # bodies the app takes.
    manifest = yaml.safe_load((Path(__file__).parents[1] / "service.yml").read_text())
    size = manifest["max_body"]
    factor = {"k": 1024, "m": 1024 * 1024}.get(size[-1], 1)
    assert int(size.rstrip("km")) * factor == session_app.config["MAX_CONTENT_LENGTH"]


def test_invalid_json_is_400(client):
    resp = client.post("/api/auth/register", data=b"{not json", content_type="application/json")
    body = assert_envelope_error(resp, 400, "Invalid JSON")
    assert "body" in body["data"]["fields"]


def test_unexpected_exception_is_500_json_and_logged(database_url, redis_url, app, capsys):
    broken = build_app(database_url, redis_url)

    @broken.route("/api/boom")
    def boom():
        raise RuntimeError("secret internals")

    resp = broken.test_client().get("/api/boom", headers={"X-Request-ID": "req-500-test"})
    body = assert_envelope_error(resp, 500, "Internal server error")
    text = resp.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert body["data"] == {"request_id": "req-500-test"}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    errors = [rec for rec in lines if rec["level"] == "ERROR"]
    assert errors and errors[0]["request_id"] == "req-500-test"
    assert "secret internals" in errors[0]["exc_info"]


def test_request_id_echoed_or_generated(client):
    resp = client.get("/api/health/live", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/api/health/live").headers["X-Request-ID"]
    assert len(generated) == 32
    # Header injection or absurd ids are replaced, not echoed.
    bad = client.get("/api/health/live", headers={"X-Request-ID": "x" * 500})
    assert bad.headers["X-Request-ID"] != "x" * 500
    assert_envelope_error(client.get("/api/nope", headers={"X-Request-ID": "r-404"}), 404)


def test_logs_are_json_lines_with_request_id(client, capsys):
    capsys.readouterr()
    client.get("/api/health/live", headers={"X-Request-ID": "log-test-1"})
    out = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in out]
    access = [r for r in records if r.get("logger") == "api.access"]
    assert access, out
    record = access[-1]
    assert record["request_id"] == "log-test-1"
    assert record["path"] == "/api/health/live" and record["status"] == 200
    assert {"time", "level", "message", "duration_ms"} <= set(record)


def test_without_access_log_only_server_errors_are_logged(database_url, redis_url, capsys):
    # The deployed stack's setting: Nginx logs every request, but not the frontend's calls.
    quiet = build_app(database_url, redis_url, ACCESS_LOG="false")

    @quiet.route("/api/boom")
    def boom():
        raise RuntimeError("boom")

    client = quiet.test_client()
    capsys.readouterr()
    assert client.get("/api/health/live").status_code == 200
    assert client.get("/api/boom", headers={"X-Request-ID": "quiet-500"}).status_code == 500
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    access = [r for r in records if r.get("logger") == "api.access"]
    assert [(r["path"], r["status"], r["level"]) for r in access] == [
        ("/api/boom", 500, "WARNING")
    ], access
    assert access[0]["request_id"] == "quiet-500"


def test_session_app_unaffected(session_app, redis_url):
    # The extra apps above share extension objects; the shared one must still work.
    reset_state(session_app, redis_url)
    assert session_app.test_client().get("/api/categories").status_code == 200


def test_each_status_has_its_code(database_url, redis_url, app):
    """Issue 13: a machine-readable code beside the message, one of the documented ones."""
    from api.errors import ERROR_CODES
    from werkzeug.exceptions import RequestHeaderFieldsTooLarge

    small = build_app(database_url, redis_url, MAX_CONTENT_LENGTH=64)

    @small.route("/api/header-too-large")
    def too_large():
        raise RequestHeaderFieldsTooLarge()

    @small.route("/api/boom")
    def boom():
        raise RuntimeError("internals")

    client = small.test_client()
    big = {"data": b"x" * 1000, "content_type": "application/json"}
    cases = [
        (client.get("/api/nope"), 404, "not_found"),
        (client.delete("/api/health/live"), 405, "method_not_allowed"),
        (client.post("/api/auth/login", **big), 413, "payload_too_large"),
        (client.get("/api/header-too-large"), 431, "bad_request"),
        (client.get("/api/boom"), 500, "internal_error"),
        (client.get("/api/auth/me"), 401, "unauthorized"),
    ]
    for response, status, code in cases:
        assert_envelope_error(response, status, code=code)
        assert code in ERROR_CODES
