"""bf_config renders Nginx, uWSGI and Compose from the manifests and validates before going live."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import Future

import pytest
import yaml
from conftest import BAD_CASES, HTTPS_PORT, SECRET_NAMES, Run


def _ok(run: Run) -> Run:
    assert run.returncode == 0, run.output[-4000:]
    return run


@pytest.fixture(scope="module")
def real(runs: dict[str, Future]) -> list[Run]:
    """The real app tree: first run, second run, (broken-variable run)."""
    chain = runs["real"].result()
    _ok(chain[0])
    return chain


@pytest.fixture(scope="module")
def first(real: list[Run]) -> Run:
    """The first run over the real app tree."""
    return real[0]


def _compose(run: Run) -> dict:
    return yaml.safe_load(run.snapshot["compose.yml"])


def test_renders_every_file_for_the_real_app_tree(first: Run) -> None:
    for path in (
        "compose.yml",
        "config/nginx/nginx.conf",
        "config/nginx/tls/fullchain.pem",
        "config/nginx/tls/privkey.pem",
        "config/uwsgi/api.ini",
        "config/uwsgi/frontend.ini",
        "static/frontend/css/main-style.css",
        "static/frontend/js/main-script.js",
    ):
        assert path in first.snapshot, sorted(first.snapshot)
    key = first.stack_dir / "config/nginx/tls/privkey.pem"
    assert key.stat().st_mode & 0o777 == 0o440
    assert key.stat().st_gid == 10001


def test_uwsgi_ini_follows_manifest_and_host(first: Run) -> None:
    ini = first.snapshot["config/uwsgi/api.ini"].decode()
    lines = [line for line in ini.splitlines() if " = " in line and not line.startswith("#")]
    options = dict(line.split(" = ", 1) for line in lines)
    assert options["module"] == "api.wsgi:app"
    assert options["socket"] == ":8080"
    assert options["http-socket"] == ":8081"
    assert options["chdir"] == "/srv"
    assert options["harakiri"] == "30"  # the manifest's uwsgi: wins over the role default
    assert options["buffer-size"] == "32768"
    assert options["processes"] == str(max(2, os.cpu_count() or 1))
    assert options["threads"] == "4"
    for flag in ("master", "strict", "need-app", "die-on-term", "vacuum", "disable-logging"):
        assert options[flag] == "true", flag
    somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
    assert int(options["listen"]) <= somaxconn
    frontend = first.snapshot["config/uwsgi/frontend.ini"].decode()
    assert "harakiri = 20" in frontend
    assert "module = frontend.wsgi:app" in frontend


def test_compose_is_valid_for_docker_compose(first: Run) -> None:
    result = subprocess.run(
        ["docker", "compose", "-f", str(first.stack_dir / "compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_publishes_only_nginx_and_isolates_backends(first: Run) -> None:
    compose = _compose(first)
    services = compose["services"]
    assert set(services) == {"api", "frontend", "nginx", "postgres", "redis", "pgadmin"}
    published = {name: svc["ports"] for name, svc in services.items() if "ports" in svc}
    assert set(published) <= {"nginx", "pgadmin"}
    assert {p["host_ip"] for p in published["nginx"]} == {"127.0.0.1"}
    assert {p["published"] for p in published["nginx"]} == {"18080", str(HTTPS_PORT)}
    assert {p["target"] for p in published["nginx"]} == {8080, 8443}
    assert all(p["host_ip"] == "127.0.0.1" for p in published.get("pgadmin", []))
    assert compose["networks"]["backend"]["internal"] is True
    assert services["postgres"]["networks"] == ["backend"]
    assert services["redis"]["networks"] == ["backend"]
    assert services["nginx"]["networks"] == ["edge"]
    for name, svc in services.items():
        assert svc["restart"] == "unless-stopped", name
        assert svc["init"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["logging"]["driver"] == "json-file", name
        assert "mem_limit" in svc, name
        assert "start_interval" not in svc["healthcheck"], name
    assert services["api"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_secrets_are_files_never_values(first: Run) -> None:
    compose = _compose(first)
    api = compose["services"]["api"]
    assert api["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert api["group_add"] == ["10001"]
    assert compose["secrets"]["postgres_password"]["file"] == str(
        first.stack_dir / "secrets" / "postgres_password"
    )
    values = [(first.stack_dir / "secrets" / name).read_text() for name in SECRET_NAMES]
    for path, content in first.snapshot.items():
        if path.startswith("secrets/"):
            continue
        for value in values:
            assert value.encode() not in content, f"a secret value leaked into {path}"
    for value in values:
        assert value not in first.output


def test_nginx_conf_has_routes_headers_and_limits(first: Run) -> None:
    conf = first.snapshot["config/nginx/nginx.conf"].decode()
    assert "server_tokens off;" in conf
    # Looked up per request through Docker's DNS, not once at start (see the template).
    assert "resolver 127.0.0.11 valid=10s ipv6=off;" in conf
    assert "set $bf_upstream api:8080;\n            uwsgi_pass $bf_upstream;" in conf
    assert "set $bf_upstream frontend:8000;\n            uwsgi_pass $bf_upstream;" in conf
    assert conf.index("location /api/ {") < conf.index("location / {\n            limit_req")
    assert "location = /api/auth/login {\n            limit_req zone=bf_login" in conf
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
    assert "log_format bf_json escape=json" in conf
    api_block = conf[conf.index("location /api/ {") :]
    api_block = api_block[: api_block.index("}")]
    assert "error_page 429 @bf_json_429;" in api_block
    # The maintenance flag (restore.yml) takes every app route out of traffic with a 503 whose
    # answer carries Retry-After and, having its own add_header, the security headers again.
    maintenance = "if (-f /srv/maintenance/on) {\n                return 503;"
    assert conf.count(maintenance) == conf.count("uwsgi_pass $bf_upstream;"), conf
    for kind in ("json", "html"):
        page = conf[conf.index(f"location @bf_{kind}_503 {{") :]
        page = page[: page.index("return 503")]
        assert "add_header Retry-After 120 always;" in page
        assert "add_header Content-Security-Policy" in page and "X-Frame-Options" in page
    assert """return 429 '{"success":false,"data":null,"error":"Too many requests"}';""" in conf
    assert f"return 301 https://localhost:{HTTPS_PORT}$request_uri;" in conf


def test_second_run_changes_nothing(real: list[Run]) -> None:
    assert len(real) >= 2, real[0].output[-3000:]
    second = _ok(real[1])
    assert second.changed == 0, second.output[-6000:]
    assert second.snapshot == real[0].snapshot


def test_broken_nginx_variable_fails_validation_and_keeps_live_config(real: list[Run]) -> None:
    if len(real) < 3:
        pytest.skip(
            "no nginx image: set BF_TEST_NGINX_IMAGE, build bf/nginx, or add playbooks/images.yml "
            "(only the nginx -t step needs it)"
        )
    good, broken = real[1], real[2]
    assert broken.returncode != 0
    assert "Test the candidate configuration with nginx -t" in broken.output
    assert "client_max_body_size" in broken.output
    assert broken.snapshot["config/nginx/nginx.conf"] == good.snapshot["config/nginx/nginx.conf"]
    assert b"potatoes" in broken.snapshot["config/staging/nginx/nginx.conf"]


def test_fixture_service_joins_without_role_change(runs: dict[str, Future]) -> None:
    run = _ok(runs["extra"].result())
    conf = run.snapshot["config/nginx/nginx.conf"].decode()
    assert "location /reports/ {" in conf
    assert "set $bf_upstream reports:8100;" in conf
    ini = run.snapshot["config/uwsgi/reports.ini"].decode()
    assert "module = reports.wsgi:app" in ini
    assert "processes = 3" in ini
    compose = _compose(run)
    reports = compose["services"]["reports"]
    assert reports["networks"] == ["edge", "backend"]
    assert reports["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "ports" not in reports
    assert "reports" in compose["services"]["nginx"]["depends_on"]


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
def test_bad_manifest_fails_preflight_and_writes_nothing(
    runs: dict[str, Future], case: str, expected: list[str]
) -> None:
    assert case in BAD_CASES
    run = runs[case].result()
    assert run.returncode != 0
    for pattern in expected:
        assert re.search(pattern, run.output), run.output[-3000:]
    assert all(path.startswith("secrets/") for path in run.snapshot), sorted(run.snapshot)
    assert not (run.stack_dir / "config").exists()
