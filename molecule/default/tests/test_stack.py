"""What a user of the converged stack would check, from this machine, through 127.0.0.1 only."""

from __future__ import annotations

import random
import re
import socket
import ssl
import time
import uuid
from typing import Any

import pytest
import requests
from conftest import SERVICES, Scenario, service_spec

# The stack's own listeners inside its networks: none may be published on the host.
INTERNAL_PORTS = {
    "postgres": 5432,
    "redis": 6379,
    "api uwsgi": 8080,
    "api http": 8081,
    "frontend uwsgi": 8000,
    "frontend http": 8001,
}
# Response headers every HTTPS answer carries, errors included (bf_config's Nginx).
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# One page of each kind: the frontend, the API, and an error page.
HEADER_PAGES = {"frontend": ("/", 200), "api": ("/api/health/live", 200), "error": ("/nope", 404)}


def _envelope(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    # Errors add a machine-readable code (and a validation error its fields).
    assert set(body) - {"code", "fields"} == {"success", "data", "error"}, body
    assert body["success"] or isinstance(body.get("code"), str), body
    return body


# --- Sockets -------------------------------------------------------------------------------


@pytest.mark.logs_from("nginx", "pgadmin")
@pytest.mark.parametrize("which", ["http", "https", "pgadmin"])
def test_published_port_listens_on_loopback_only(host: Any, scenario: Scenario, which: str) -> None:
    port = getattr(scenario, f"{which}_port")
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    assert not host.socket(f"tcp://:::{port}").is_listening


@pytest.mark.parametrize("service", SERVICES)
def test_only_nginx_and_pgadmin_publish_ports(host: Any, scenario: Scenario, service: str) -> None:
    ports = service_spec(host, scenario.project, service)["Spec"]["EndpointSpec"].get("Ports", [])
    published = sorted((p["PublishMode"], p["PublishedPort"]) for p in ports)
    expected = {
        "nginx": [("host", scenario.http_port), ("host", scenario.https_port)],
        "pgadmin": [("host", scenario.pgadmin_port)],
    }.get(service, [])
    # Host mode only: no ingress routing mesh (and its VIPs) on any port.
    assert published == sorted(expected)


@pytest.mark.parametrize("port", INTERNAL_PORTS.values(), ids=INTERNAL_PORTS.keys())
def test_internal_port_is_not_reachable_from_the_host(host: Any, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        if probe.connect_ex(("127.0.0.1", port)) != 0:
            return
    # Something answers: the stack's own publishing goes through docker-proxy.
    listeners = host.check_output("ss -Hltnp 'sport = :%s'", port)
    assert "docker-proxy" not in listeners, listeners
    pytest.skip(f"127.0.0.1:{port} belongs to a host service, not the stack: {listeners}")


# --- HTTP and TLS --------------------------------------------------------------------------


@pytest.mark.logs_from("nginx")
@pytest.mark.parametrize("path", ["/", "/api/health/live"])
def test_http_redirects_to_https(scenario: Scenario, path: str) -> None:
    response = requests.get(
        f"http://127.0.0.1:{scenario.http_port}{path}",
        headers={"Host": scenario.server_name},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 301
    assert response.headers["Location"] == (
        f"https://{scenario.server_name}:{scenario.https_port}{path}"
    )


def _tls_connect(scenario: Scenario, context: ssl.SSLContext) -> str:
    with socket.create_connection(("127.0.0.1", scenario.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=scenario.server_name) as tls:
            return tls.version() or ""


@pytest.mark.logs_from("nginx")
def test_tls_handshake_verifies_against_the_generated_certificate(scenario: Scenario) -> None:
    context = ssl.create_default_context(cafile=str(scenario.cert_file))
    assert _tls_connect(scenario, context) in ("TLSv1.2", "TLSv1.3")


@pytest.mark.logs_from("nginx")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_1_and_below_are_refused(scenario: Scenario, version: ssl.TLSVersion) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Security level 0 lets this client offer the old versions, so a refusal is the server's.
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    with pytest.raises(ssl.SSLError) as refused:
        _tls_connect(scenario, context)
    # The server's alert, not this client failing to offer the version (NO_CIPHERS_AVAILABLE).
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", refused.value


@pytest.mark.logs_from("nginx", "api", "frontend")
@pytest.mark.parametrize("header", SECURITY_HEADERS)
@pytest.mark.parametrize("page", HEADER_PAGES)
def test_security_header(
    http: requests.Session, scenario: Scenario, page: str, header: str
) -> None:
    path, status = HEADER_PAGES[page]
    response = http.get(scenario.base_url + path, timeout=10)
    assert response.status_code == status
    # A header set twice (app and Nginx) arrives joined with ", " and fails here.
    assert response.headers.get(header) == SECURITY_HEADERS[header]


@pytest.mark.logs_from("nginx")
@pytest.mark.parametrize("page", HEADER_PAGES)
def test_server_header_has_no_version(
    http: requests.Session, scenario: Scenario, page: str
) -> None:
    response = http.get(scenario.base_url + HEADER_PAGES[page][0], timeout=10)
    assert response.headers.get("Server", "") in ("", "nginx")


# --- The API and the frontend through Nginx ------------------------------------------------


@pytest.mark.logs_from("nginx", "api")
def test_api_live(host: Any, http: requests.Session, scenario: Scenario) -> None:
    response = http.get(f"{scenario.base_url}/api/health/live", timeout=10)
    assert response.status_code == 200
    # The API names the release that answered: the label of its service.
    release = service_spec(host, scenario.project, "api")["Spec"]["Labels"][
        "io.backend-framework.release"
    ]
    assert _envelope(response) == {
        "success": True,
        "data": {"status": "ok", "release": release},
        "error": None,
    }
    assert response.headers["X-Release"] == release


@pytest.mark.logs_from("nginx", "api", "postgres", "redis")
def test_api_ready_lists_its_checks(http: requests.Session, scenario: Scenario) -> None:
    response = http.get(f"{scenario.base_url}/api/health/ready", timeout=10)
    assert response.status_code == 200
    body = _envelope(response)
    assert body["success"] is True and body["error"] is None
    assert body["data"]["status"] == "ok"
    checks = body["data"]["checks"]
    assert set(checks) >= {"postgres", "redis"}
    assert all(check["ok"] is True for check in checks.values()), checks


@pytest.mark.logs_from("nginx", "api", "frontend")
def test_product_created_by_the_admin_shows_on_the_home_page(
    http: requests.Session, scenario: Scenario, admin_token: str
) -> None:
    name = f"Molecule check {uuid.uuid4().hex[:12]}"
    created = http.post(
        f"{scenario.base_url}/api/products",
        json={"name": name, "price": "12.50", "stock": 3},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert _envelope(created)["data"]["name"] == name
    # The home page with its search box filled, so the product is on page 1 whatever else exists.
    home = http.get(f"{scenario.base_url}/", params={"q": name}, timeout=10)
    assert home.status_code == 200
    assert home.headers["Content-Type"].startswith("text/html")
    assert name in home.text


@pytest.mark.logs_from("nginx", "api")
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/no-such-resource", 404), ("DELETE", "/api/health/live", 405)],
    ids=["404", "405"],
)
def test_api_errors_are_json(
    http: requests.Session, scenario: Scenario, method: str, path: str, status: int
) -> None:
    response = http.request(method, scenario.base_url + path, timeout=10)
    assert response.status_code == status
    body = _envelope(response)
    assert body["success"] is False and body["data"] is None and body["error"]


# --- Forged X-Forwarded-* headers ----------------------------------------------------------
# The apps believe X-Forwarded-For/-Proto from the edge Nginx; the edge must replace whatever
# a client sent under those names (and -Host/-Port/-Prefix), or a client could pick them.

_CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# The frontend's answer (a 400 page) when the Referer is of another origin than its own.
_FOREIGN_REFERER = "The referrer does not match the host."


def _frontend_login(http: requests.Session, scenario: Scenario, headers: dict[str, str]) -> Any:
    """POST the frontend's login form, with a valid CSRF token, and ``headers`` added."""
    # A cookie jar of its own: the frontend session must not leak into the other tests' client.
    browser = requests.Session()
    browser.mount("https://", http.get_adapter(scenario.base_url))
    browser.verify, browser.trust_env = http.verify, False
    browser.headers.update(http.headers)
    page = browser.get(f"{scenario.base_url}/login", timeout=10)
    assert page.status_code == 200, page.text
    token = _CSRF_TOKEN.search(page.text)
    assert token, page.text
    form = {
        "email": f"forged-{uuid.uuid4().hex[:12]}@example.com",
        "password": "not-the-password",
        "csrf_token": token.group(1),
    }
    # A verify re-run within a minute meets the login rate limit the last one exhausted.
    deadline = time.monotonic() + 75
    while True:
        response = browser.post(
            f"{scenario.base_url}/login",
            data=form,
            headers=headers,
            allow_redirects=False,
            timeout=10,
        )
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        time.sleep(5)


@pytest.mark.logs_from("nginx", "frontend")
def test_forged_forwarded_proto_and_host_do_not_reach_the_frontend(
    http: requests.Session, scenario: Scenario
) -> None:
    """Flask-WTF checks, on HTTPS only, that a form's Referer is of the request's own origin.

    A forged X-Forwarded-Proto: http that reached the app would make it skip that check (uWSGI
    itself takes the scheme from that header: with the edge's overwrite removed, this test
    fails); a forged X-Forwarded-Host that reached it would make the forged origin its own.
    Either way the post from evil.example would get past CSRF to the login (a 401), not the 400.
    """
    own = f"https://{scenario.server_name}:{scenario.https_port}/login"
    # The control: the same post from the site's own page passes CSRF and reaches the login.
    control = _frontend_login(http, scenario, {"Referer": own})
    assert control.status_code == 401, control.text
    assert _FOREIGN_REFERER not in control.text
    forged = {
        "proto": {"X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.7"},
        "host": {
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Prefix": "/evil",
        },
    }
    for name, headers in forged.items():
        response = _frontend_login(
            http, scenario, {"Referer": "https://evil.example/login", **headers}
        )
        assert response.status_code == 400, (name, response.status_code, response.text)
        assert _FOREIGN_REFERER in response.text, (name, response.text)


@pytest.mark.logs_from("nginx", "api")
def test_forged_forwarded_for_does_not_reach_the_api(
    http: requests.Session, scenario: Scenario
) -> None:
    """The API counts its default rate limit per client address (X-RateLimit-Remaining).

    Two requests that each claim another, never used, address: had the API believed either, it
    would have counted each in a fresh bucket (the same Remaining twice). Counted as the real
    client, the second has one less. Over uwsgi the API's peer is the REMOTE_ADDR Nginx gives
    (the client), so the forged header is believed only if that address is trusted and the
    edge passed the client's header on: the edge's overwrite is what keeps a TRUSTED_PROXY_HOSTS
    that covers the clients safe.
    """
    url = f"{scenario.base_url}/api/categories"
    for _ in range(3):
        claimed = random.sample(range(1, 255), 2)  # noqa: S311 - not security, just unused
        first, second = (
            http.get(url, headers={"X-Forwarded-For": f"198.51.100.{octet}"}, timeout=10)
            for octet in claimed
        )
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        before, after = (int(r.headers["X-RateLimit-Remaining"]) for r in (first, second))
        # More left the second time is a new window begun between the two: count again.
        if after <= before:
            break
    assert after == before - 1, (before, after)


# --- Containers ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_task_runs_healthy_and_the_engine_restarts_it(
    host: Any, containers: dict[str, dict[str, Any]], scenario: Scenario, service: str
) -> None:
    assert service in containers, f"no running task of the service {service}"
    state = containers[service]["State"]
    assert state["Status"] == "running"
    assert state.get("Health", {}).get("Status") == "healthy"
    spec = service_spec(host, scenario.project, service)["Spec"]
    # The swarm replaces a task that exits, whoever stopped it (docker kill included).
    assert spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "any"
    # No IPVS here: every name resolves to its tasks' own addresses.
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"


@pytest.mark.parametrize("service", SERVICES)
def test_container_processes_are_not_root(
    host: Any, containers: dict[str, dict[str, Any]], service: str
) -> None:
    # docker top runs ps on the host: uids are the host's (no user namespace remapping here).
    processes = [
        line.split(None, 2)[1:]
        for line in host.check_output(
            "docker top %s -o pid,uid,comm", containers[service]["Id"]
        ).splitlines()[1:]
    ]
    # runc's own bootstrap of a process the engine execs (a health probe) shows as
    # runc:[1:CHILD] or runc:[2:INIT] for the moment before it becomes the probe: the engine's,
    # not the image's (seen once for pgbackrest's probe, whose exec starts as root).
    processes = [p for p in processes if not p[1].strip().startswith("runc:[")]
    if service in ("postgres", "pgbackrest"):
        # Both run the postgres image, whose user is root: its entrypoint (postgres's, to fix
        # the data dir's owner; bf-pgbackrest's, only to drop) becomes postgres. Root are only the
        # container's init and, for a moment, a health probe the engine execs (pg_isready, or
        # setpriv on its way to postgres); every long-lived process must not be.
        transient = {"docker-init", "pg_isready", "setpriv"}
        assert [p for p in processes if p[1].strip() == "docker-init"], processes
        processes = [p for p in processes if p[1].strip() not in transient]
    assert processes, f"no process found in {service}"
    assert all(uid != "0" for uid, _ in processes), processes


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_in_container_config(
    containers: dict[str, dict[str, Any]], scenario: Scenario, service: str
) -> None:
    config = containers[service]["Config"]
    exposed = "\n".join(
        (config.get("Env") or [])
        + (config.get("Cmd") or [])
        + (config.get("Entrypoint") or [])
        + (containers[service].get("Args") or [])
        + [containers[service].get("Path") or ""]
    )
    secrets = scenario.secrets()
    assert len(secrets) >= 7, sorted(secrets)
    leaked = sorted(name for name, value in secrets.items() if value in exposed)
    assert leaked == []


def test_secret_files_are_not_world_readable(host: Any, scenario: Scenario) -> None:
    secret_files = host.check_output("find %s -type f", str(scenario.credentials_dir)).split()
    assert len(secret_files) >= 7
    readable = [path for path in secret_files if host.file(path).mode & 0o007]
    assert readable == []
    # The TLS key is on the edge host, readable by the nginx user (uid 101) alone.
    key = host.file(str(scenario.stack_dir / "config" / "nginx" / "tls" / "privkey.pem"))
    assert (key.uid, key.mode) == (101, 0o400)
    assert not host.file(str(scenario.stack_dir / "secrets")).exists


def test_secrets_are_versioned_swarm_secrets(host: Any, scenario: Scenario) -> None:
    names = host.check_output(
        "docker secret ls --format '{{.Name}}' --filter label=com.docker.stack.namespace=%s",
        scenario.project,
    ).split()
    expected = {f"{scenario.project}_{name}_v1" for name in scenario.secrets()}
    assert expected <= set(names), names


@pytest.mark.parametrize("service", ["api", "postgres"])
def test_secret_is_a_file_of_the_service_user_only(
    host: Any, containers: dict[str, dict[str, Any]], service: str
) -> None:
    name = "postgres_password"
    out = host.check_output(
        "docker exec %s stat -c '%%u %%a' /run/secrets/%s", containers[service]["Id"], name
    )
    uid = {"api": "10001", "postgres": "999"}[service]
    assert out.split() == [uid, "400"]


# --- Last: this exhausts the login rate limit --------------------------------------------


@pytest.mark.logs_from("nginx", "api")
def test_login_rate_limit_answers_429_json(
    http: requests.Session, scenario: Scenario, admin_token: str
) -> None:
    assert admin_token  # taken before the limit is exhausted
    body = {"email": "nobody@example.com", "password": "not-the-password"}
    statuses = []
    for _ in range(30):
        response = http.post(f"{scenario.base_url}/api/auth/login", json=body, timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    envelope = _envelope(response)
    assert envelope["success"] is False and envelope["error"], envelope
