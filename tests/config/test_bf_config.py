"""bf_config renders the edge Nginx files, the uWSGI Swarm configs and the stack file from the
stack model, and validates what could break a service before it goes live."""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import Future

import pytest
import yaml
from conftest import BAD_CASES, HTTPS_PORT, Run


def _ok(run: Run) -> Run:
    assert run.returncode == 0, run.output[-4000:]
    return run


@pytest.fixture(scope="module")
def real(runs: dict[str, Future]) -> list[Run]:
    """The real app tree: first run, second run, changed uWSGI option, (broken variable)."""
    chain = runs["real"].result()
    _ok(chain[0])
    return chain


@pytest.fixture(scope="module")
def first(real: list[Run]) -> Run:
    """The first run over the real app tree."""
    return real[0]


def _stack(run: Run, name: str = "stack.yml") -> dict:
    return yaml.safe_load(run.snapshot[name].decode().replace("$$", "$"))


def test_renders_every_edge_file(first: Run) -> None:
    for path in (
        "stack.yml",
        "stack-backing.yml",
        "config/nginx/nginx.conf",
        "config/nginx/tls/fullchain.pem",
        "config/nginx/tls/privkey.pem",
        "static/frontend/css/main-style.css",
        "static/frontend/js/main-script.js",
    ):
        assert path in first.snapshot, sorted(first.snapshot)
    assert (first.stack_dir / "maintenance").is_dir()
    # No group_add in a swarm: the key belongs to the nginx user (uid 101) alone.
    key = (first.stack_dir / "config/nginx/tls/privkey.pem").stat()
    assert (key.st_uid, key.st_mode & 0o777) == (101, 0o400)


def test_uwsgi_configs_are_swarm_configs_from_manifest_and_defaults(first: Run) -> None:
    # Version 1: a later run of the chain changes an option (a new version).
    ini = first.swarm_config("uwsgi_api", 1)
    options = dict(
        line.split(" = ", 1) for line in ini.splitlines() if " = " in line and line[0] != "#"
    )
    assert options["module"] == "api.wsgi:app"
    assert options["socket"] == ":8080"
    assert options["http-socket"] == ":8081"
    assert options["harakiri"] == "30"  # the manifest's uwsgi: wins over the role default
    assert options["buffer-size"] == "32768"
    assert options["threads"] == "4"
    for flag in ("master", "strict", "need-app", "die-on-term", "vacuum", "disable-logging"):
        assert options[flag] == "true", flag
    assert "module = frontend.wsgi:app" in first.swarm_config("uwsgi_frontend", 1)
    assert "harakiri = 20" in first.swarm_config("uwsgi_frontend", 1)


def test_stack_file_is_valid_for_docker_stack_deploy(first: Run) -> None:
    for name in ("stack.yml", "stack-backing.yml"):
        result = subprocess.run(
            ["docker", "stack", "config", "--compose-file", str(first.stack_dir / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr


def test_stack_publishes_only_the_edge_and_isolates_backends(first: Run) -> None:
    stack = _stack(first)
    services = stack["services"]
    assert set(services) == {
        "api", "frontend", "nginx", "postgres", "pgbackrest", "redis", "cache", "pgadmin",
    }  # fmt: skip
    published = {name: svc["ports"] for name, svc in services.items() if "ports" in svc}
    assert set(published) == {"nginx", "pgadmin"}
    assert [(p["published"], p["target"], p["mode"]) for p in published["nginx"]] == [
        (18080, 8080, "host"),
        (HTTPS_PORT, 8443, "host"),
    ]
    assert stack["networks"]["backend"]["internal"] is True
    assert services["postgres"]["networks"] == ["backend"]
    # The pgBackRest repository: internal only, nothing published.
    assert services["pgbackrest"]["networks"] == ["backend"]
    assert services["redis"]["networks"] == ["backend"]
    assert services["nginx"]["networks"] == ["edge"]
    for name, svc in services.items():
        assert svc["deploy"]["endpoint_mode"] == "dnsrr", name
        assert svc["cap_drop"] == ["ALL"], name
        assert "start_interval" not in svc["healthcheck"], name
    # The backing file holds what the migrations need, and nothing else.
    # The backing services the apps need, started healthy before the migrations.
    assert set(_stack(first, "stack-backing.yml")["services"]) == {"postgres", "redis", "cache"}


def test_secrets_are_external_swarm_secrets_never_values(first: Run) -> None:
    stack = _stack(first)
    api = stack["services"]["api"]
    assert api["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert stack["secrets"]["postgres_password"] == {
        "external": True,
        "name": f"{first.stack}_postgres_password_v1",
    }
    values = [
        p.read_text() for p in (first.stack_dir.parent / "credentials").iterdir() if p.is_file()
    ]
    assert len(values) >= 7
    for path, content in first.snapshot.items():
        for value in values:
            assert value.encode() not in content, f"a secret value leaked into {path}"
    for value in values:
        assert value not in first.output


def test_nginx_conf_has_routes_headers_and_limits(first: Run) -> None:
    conf = first.snapshot["config/nginx/nginx.conf"].decode()
    assert "server_tokens off;" in conf
    # Looked up per request through Docker's DNS (every task's address: dnsrr).
    assert "resolver 127.0.0.11 valid=5s ipv6=off;" in conf
    assert "set $bf_upstream api:8080;\n            uwsgi_pass $bf_upstream;" in conf
    assert "set $bf_upstream frontend:8000;\n            uwsgi_pass $bf_upstream;" in conf
    assert conf.index("location /api/ {") < conf.index("location / {\n            limit_req")
    # The login and registration POSTs of the API and of the frontend count per client.
    for path in ("/api/auth/login", "/login", "/register"):
        block = conf[conf.index(f"location = {path} {{") :]
        block = block[: block.index("}")]
        assert "limit_req zone=bf_login" in block and "limit_req zone=bf_app" in block, path
    assert "POST $binary_remote_addr;" in conf
    assert "alias /srv/static/frontend/;" in conf
    for header in (
        "Strict-Transport-Security",
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Permissions-Policy",
        "Cross-Origin-Opener-Policy",
        "X-Request-ID",
    ):
        assert re.search(rf"add_header {header} .* always;", conf), header
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "uwsgi_param HTTP_X_REQUEST_ID $bf_request_id;" in conf
    api_block = conf[conf.index("location /api/ {") :]
    api_block = api_block[: api_block.index("}")]
    assert "error_page 429 @bf_json_429;" in api_block
    # Each app's own body limit (its manifest's max_body), and only what Nginx sets is forwarded.
    assert "client_max_body_size 1m;" in api_block
    # The HTTPS server's `location /` (the HTTP server's one only redirects).
    https_server = conf[conf.index("ssl http2 default_server") :]
    frontend_block = https_server[https_server.index("location / {\n") :]
    frontend_block = frontend_block[: frontend_block.index("}")]
    assert "client_max_body_size 64k;" in frontend_block
    # Every forwarded header the apps' proxy handling reads is set by Nginx in each app's block,
    # which replaces the client's own copy of it.
    forwarded = {
        "FOR": "$remote_addr",
        "PROTO": "$scheme",
        "HOST": "$host",
        "PORT": str(HTTPS_PORT),
        "PREFIX": '""',
    }
    for block in (api_block, frontend_block):
        for name, value in forwarded.items():
            assert f"uwsgi_param HTTP_X_FORWARDED_{name} {value};" in block, name
    assert (
        """return 429 '{"success":false,"data":null,"error":"Too many requests","""
        """"code":"rate_limited"}';"""
    ) in conf
    maintenance = "if (-f /srv/maintenance/on) {\n                return 503;"
    assert conf.count(maintenance) == conf.count("uwsgi_pass $bf_upstream;"), conf
    for kind in ("json", "html"):
        page = conf[conf.index(f"location @bf_{kind}_503 {{") :]
        page = page[: page.index("return 503")]
        assert "add_header Retry-After 120 always;" in page
        assert "add_header Content-Security-Policy" in page and "X-Frame-Options" in page
    assert f"return 301 https://localhost:{HTTPS_PORT}$request_uri;" in conf


def test_second_run_changes_nothing(real: list[Run]) -> None:
    second = _ok(real[1])
    assert second.changed == 0, second.output[-6000:]
    assert second.snapshot == real[0].snapshot


def test_changed_uwsgi_option_is_a_new_config_version_of_the_apps_only(real: list[Run]) -> None:
    before, after = _stack(real[1]), _stack(_ok(real[2]))
    assert after["configs"]["uwsgi_api"]["name"].endswith("_uwsgi_api_v2")
    assert "threads = 2" in real[2].swarm_config("uwsgi_api")
    label = "io.backend-framework.release"
    changed = {
        name
        for name in before["services"]
        if before["services"][name]["labels"][label] != after["services"][name]["labels"][label]
    }
    assert changed == {"api", "frontend"}
    assert (
        real[2].snapshot["config/nginx/nginx.conf"] == real[1].snapshot["config/nginx/nginx.conf"]
    )


def test_broken_nginx_variable_fails_validation_and_keeps_live_config(real: list[Run]) -> None:
    if len(real) < 4:
        pytest.skip("no bf/nginx image: build it (make images); only nginx -t needs it")
    good, broken = real[2], real[3]
    assert broken.returncode != 0
    assert "Render nginx.conf, tested with nginx -t before it goes live" in broken.output
    assert "client_max_body_size" in broken.output
    assert broken.snapshot["config/nginx/nginx.conf"] == good.snapshot["config/nginx/nginx.conf"]


def test_fixture_service_joins_without_role_change(runs: dict[str, Future]) -> None:
    run = _ok(runs["extra"].result())
    conf = run.snapshot["config/nginx/nginx.conf"].decode()
    assert "location /reports/ {" in conf
    assert "set $bf_upstream reports:8100;" in conf
    ini = run.swarm_config("uwsgi_reports")
    assert "module = reports.wsgi:app" in ini
    assert "processes = 3" in ini
    reports = _stack(run)["services"]["reports"]
    assert reports["networks"] == ["edge", "backend"]
    assert reports["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "ports" not in reports
    assert reports["configs"][0]["target"] == "/etc/uwsgi/uwsgi.ini"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_key", [r"api/service\.yml: required key 'wsgi' is missing"]),
        ("bad_port", [r"api/service\.yml: key 'port' must be an integer from 1024 to 65535"]),
        (
            "route_twice",
            [r"route '/api/' is claimed by both \S+/api/service\.yml and \S+/reports/service\.yml"],
        ),
    ],
)
def test_bad_manifest_stops_the_model_and_writes_nothing(
    runs: dict[str, Future], case: str, expected: list[str]
) -> None:
    assert case in BAD_CASES
    run = runs[case].result()
    assert run.returncode != 0
    for pattern in expected:
        assert re.search(pattern, run.output), run.output[-3000:]
    assert run.snapshot == {}
    listed = subprocess.run(
        ["docker", "secret", "ls", "--format", "{{.Name}}", "--filter", f"name={run.stack}_"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout.split() == []
