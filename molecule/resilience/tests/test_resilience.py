"""Failures the converged stack must survive without a redeploy, checked through 127.0.0.1.

The tests break the scenario's own tasks with the docker CLI (a crashed API, `docker kill` of an
app task and of Redis, PostgreSQL and Redis scaled to 0 by an operator), check what users and
clients see meanwhile, and heal only by what the engine does itself or by scaling back what was
scaled down: never `docker stack deploy`, never a converge. State carries from one test to the
next, so every test restores what it broke in a `finally` or a fixture teardown, and a failed
one does not take the following ones down with it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from conftest import SERVICES, Scenario, running_containers, service_spec

# Bounds of the waits (no timing is asserted; a wait that runs out fails with what it last saw).
# Back and healthy: the restart policy, then the first passing healthcheck (5 s interval).
RECOVERY_TIMEOUT = 120
# An outage must show as soon as a request needs the stopped service.
OUTAGE_TIMEOUT = 30
POLL_INTERVAL = 1
# The frontend's own 503 page (app/frontend/templates/errors/service_unavailable.html) and the
# Retry-After it sends (app/frontend/errors.py); Nginx's fallback page has neither.
FRIENDLY_503 = "We'll be right back"
FRONTEND_RETRY_AFTER = "30"
LOGGED_IN_MARKER = "Log out"


# --- Helpers ----------------------------------------------------------------------------


def _wait(what: str, probe: Callable[[], str | None], timeout: float = RECOVERY_TIMEOUT) -> None:
    """Call probe until it returns None; after timeout, fail with its last complaint."""
    deadline = time.monotonic() + timeout
    while True:
        complaint = probe()
        if complaint is None:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still not so after {timeout:.0f}s; last seen: {complaint}")
        time.sleep(POLL_INTERVAL)


def _inspect(host: Any, container_id: str) -> dict[str, Any]:
    return json.loads(host.check_output("docker inspect %s", container_id))[0]


def _describe(container: dict[str, Any]) -> str:
    state = container["State"]
    health = state.get("Health", {}).get("Status", "no healthcheck")
    return (
        f"id={container['Id'][:12]} status={state['Status']} health={health} "
        f"exit={state['ExitCode']} started={state['StartedAt']}"
    )


def _task(host: Any, project: str, service: str) -> dict[str, Any] | None:
    """The running task container of a service (one task per service here), or None."""
    return running_containers(host, project).get(service) if _any_task(host, project) else None


def _any_task(host: Any, project: str) -> bool:
    return bool(
        host.check_output(
            "docker ps --quiet --filter label=com.docker.stack.namespace=%s", project
        ).split()
    )


def _healthy_task(host: Any, project: str, service: str, not_id: str = "") -> str | None:
    """None when the service has a running, healthy task (other than not_id); else why not."""
    task = _task(host, project, service)
    if task is None:
        return f"no running task of {service}"
    if task["Id"] == not_id:
        return f"still the old task {_describe(task)}"
    if task["State"].get("Health", {}).get("Status") != "healthy":
        return _describe(task)
    return None


def _failed_tasks(host: Any, project: str, service: str) -> int:
    """How many tasks of the service the engine saw fail (a crash, a kill), in its history."""
    states = host.check_output(
        "docker service ps --no-trunc --format '{{.CurrentState}}' %s_%s", project, service
    ).splitlines()
    return sum(1 for state in states if state.startswith("Failed"))


def _status(
    http: requests.Session, expected: int, method: str, url: str, **kwargs: Any
) -> str | None:
    """None when url answers expected; else what it answered (or why it did not)."""
    try:
        response = http.request(method, url, timeout=15, **kwargs)
    except requests.RequestException as exc:
        return f"{method} {url}: {type(exc).__name__}: {exc}"
    if response.status_code == expected:
        return None
    return f"{method} {url}: HTTP {response.status_code} {response.text[:300]!r}"


def _envelope(response: requests.Response) -> dict[str, Any]:
    """The API's JSON envelope; fails on anything else (an HTML error page, a traceback)."""
    where = f"{response.request.method} {response.url}: HTTP {response.status_code}"
    content_type = response.headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), f"{where} {content_type}: {response.text}"
    body = response.json()
    # Errors add a machine-readable code (and a validation error its fields).
    assert set(body) - {"code", "fields"} == {"success", "data", "error"}, f"{where}: {body}"
    return body


def _friendly_503(response: requests.Response) -> None:
    where = f"{response.request.method} {response.url}"
    assert response.status_code == 503, f"{where}: HTTP {response.status_code} {response.text}"
    assert response.headers.get("Content-Type", "").startswith("text/html"), where
    assert FRIENDLY_503 in response.text, f"{where}: not the frontend's page: {response.text}"
    assert response.headers.get("Retry-After") == FRONTEND_RETRY_AFTER, response.headers


def _host_now(host: Any) -> str:
    """The engine's host clock, in the form `docker logs --since` takes."""
    return host.check_output("date -u +%Y-%m-%dT%H:%M:%S.%NZ")


def _logged_statuses(host: Any, project: str, service: str, since: str) -> list[tuple[int, str]]:
    """(status, line) of every request line the service's tasks logged since `since`.

    Nginx's access log and the apps' request log are JSON lines with an integer `status`.
    """
    result = host.run("docker service logs --raw --since %s %s_%s", since, project, service)
    assert result.rc == 0, result.stderr
    statuses = []
    for line in (result.stdout + "\n" + result.stderr).splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("status"), int):
            statuses.append((record["status"], line))
    return statuses


def _assert_no_500_logged(
    host: Any, project: str, since: str, outage: str, outage_seen: bool = True
) -> None:
    seen = {
        service: _logged_statuses(host, project, service, since)
        for service in ("nginx", "api", "frontend")
    }
    # The outage's own 503s prove the logs were read at all (an empty read would pass below).
    assert not outage_seen or any(status == 503 for status, _ in seen["api"] + seen["frontend"]), (
        f"no 503 logged by the api or the frontend since {since} ({outage} stopped): {seen}"
    )
    errors = [
        f"{service}: {line}"
        for service, lines in seen.items()
        for status, line in lines
        if status == 500
    ]
    assert errors == [], f"HTTP 500 answered while {outage} was stopped:\n" + "\n".join(errors)


def _scale(host: Any, project: str, service: str, replicas: int) -> None:
    """`docker service scale`, what an operator does to take a service down and back.

    Called from teardowns: a failure here is reported but must not hide the test's own.
    """
    result = host.run("docker service scale --detach %s_%s=%s", project, service, str(replicas))
    if result.rc != 0:
        warnings.warn(f"scaling {service} to {replicas} failed: {result.stderr}", stacklevel=2)


def _frontend_client(http: requests.Session) -> requests.Session:
    """A browser of its own (own cookie jar) over the same pinned-TLS loopback adapter."""
    browser = requests.Session()
    browser.mount("https://", http.get_adapter("https://"))
    browser.verify = http.verify
    browser.headers.update(http.headers)
    browser.trust_env = False
    return browser


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline(host: Any, scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Each service's spec as converge left it, taken before anything is broken."""
    specs = {service: service_spec(host, scenario.project, service) for service in SERVICES}
    assert set(running_containers(host, scenario.project)) == set(SERVICES)
    return specs


@pytest.fixture(scope="module")
def expected_failures(host: Any, scenario: Scenario) -> dict[str, int]:
    """Failed tasks per service: those before the tests, plus the crashes the tests cause."""
    return {service: _failed_tasks(host, scenario.project, service) for service in SERVICES}


@pytest.fixture(scope="module")
def broken() -> set[str]:
    """Which outages did happen, so a recovery check is skipped rather than vacuous."""
    return set()


@pytest.fixture(scope="module")
def product(http: requests.Session, scenario: Scenario, admin_token: str) -> dict[str, Any]:
    """A product stored before the outages; it must be readable again once they are over."""
    created = http.post(
        f"{scenario.base_url}/api/products",
        json={"name": f"Resilience check {uuid.uuid4().hex[:12]}", "price": "4.20", "stock": 7},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=15,
    )
    assert created.status_code == 201, created.text
    return _envelope(created)["data"]


def _outage(host: Any, scenario: Scenario, broken: set[str], service: str) -> Iterator[str]:
    """Scale service to 0 for one test class, then back to 1 whatever the tests did.

    Yields the host time just before the scaling (for `docker service logs --since`).
    """
    since = _host_now(host)
    try:
        _scale(host, scenario.project, service, 0)
        _wait(
            f"{service} has no running task",
            lambda: (
                None if _task(host, scenario.project, service) is None else f"{service} still runs"
            ),
            OUTAGE_TIMEOUT,
        )
        broken.add(service)
        yield since
    finally:
        _scale(host, scenario.project, service, 1)


@pytest.fixture(scope="class")
def postgres_outage(host: Any, scenario: Scenario, broken: set[str]) -> Iterator[str]:
    yield from _outage(host, scenario, broken, "postgres")


@pytest.fixture(scope="class")
def redis_outage(host: Any, scenario: Scenario, broken: set[str]) -> Iterator[str]:
    yield from _outage(host, scenario, broken, "redis")


def _api_probes(
    scenario: Scenario, product: dict[str, Any], admin_token: str
) -> dict[str, dict[str, Any]]:
    """A request on each kind of API route: public reads, authenticated reads, a write."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    # A search nobody made before: the answer cannot come from the Redis listing cache.
    fresh_search = {"q": f"nothing-cached-{uuid.uuid4().hex}"}
    base = scenario.base_url
    return {
        "product list": {"method": "GET", "url": f"{base}/api/products", "params": fresh_search},
        "product": {"method": "GET", "url": f"{base}/api/products/{product['id']}"},
        "categories": {"method": "GET", "url": f"{base}/api/categories"},
        "me": {"method": "GET", "url": f"{base}/api/auth/me", "headers": auth},
        "my orders": {"method": "GET", "url": f"{base}/api/orders", "headers": auth},
        "create product": {
            "method": "POST",
            "url": f"{base}/api/products",
            "headers": auth,
            "json": {"name": f"Outage {uuid.uuid4().hex[:12]}", "price": "1.00", "stock": 1},
        },
    }


# --- Before anything breaks ---------------------------------------------------------------


@pytest.mark.logs_from("nginx", "api", "postgres", "redis")
def test_stack_is_ready_before_anything_breaks(
    host: Any,
    http: requests.Session,
    scenario: Scenario,
    baseline: dict[str, dict[str, Any]],
    expected_failures: dict[str, int],
    product: dict[str, Any],
) -> None:
    for service in baseline:
        assert _healthy_task(host, scenario.project, service) is None, service
    assert _status(http, 200, "GET", f"{scenario.base_url}/api/health/ready") is None
    assert _status(http, 200, "GET", f"{scenario.base_url}/") is None


# --- Tasks crash or are killed: the engine replaces them ----------------------------------


def _back_in_service(http: requests.Session, scenario: Scenario, product: dict[str, Any]) -> None:
    base = scenario.base_url
    _wait(
        "Nginx reaches the API again",
        lambda: _status(http, 200, "GET", f"{base}/api/health/ready"),
    )
    _wait(
        "the API serves data again",
        lambda: _status(http, 200, "GET", f"{base}/api/products/{product['id']}"),
    )
    _wait("the frontend serves pages again", lambda: _status(http, 200, "GET", f"{base}/"))


@pytest.mark.logs_from("api", "nginx", "frontend")
@pytest.mark.parametrize(
    ("service", "how"),
    [("api", "SIGKILL of its main process"), ("frontend", "docker kill")],
    ids=["api-crash", "frontend-docker-kill"],
)
def test_killed_app_task_is_replaced_without_a_redeploy(
    host: Any,
    http: requests.Session,
    scenario: Scenario,
    baseline: dict[str, dict[str, Any]],
    expected_failures: dict[str, int],
    product: dict[str, Any],
    service: str,
    how: str,
) -> None:
    before = _task(host, scenario.project, service)
    assert before is not None and before["State"]["Running"], service
    version = service_spec(host, scenario.project, service)["Version"]
    if how.startswith("SIGKILL"):
        # From the host, like the OOM killer or a crash.
        host.check_output("kill -s KILL %s", str(before["State"]["Pid"]))
    else:
        # What stops a Compose container for good: the swarm starts a new task anyway.
        host.check_output("docker kill %s", before["Id"])
    expected_failures[service] += 1
    _wait(
        f"the engine starts a new, healthy {service} task",
        lambda: _healthy_task(host, scenario.project, service, not_id=before["Id"]),
    )
    _back_in_service(http, scenario, product)
    # The engine replaced the task on its own: nobody updated the service.
    assert service_spec(host, scenario.project, service)["Version"] == version


# --- PostgreSQL stops ---------------------------------------------------------------------


@pytest.mark.logs_from("api", "postgres", "nginx", "frontend")
@pytest.mark.usefixtures("postgres_outage")
class TestPostgresStopped:
    """PostgreSQL is stopped for the whole class (the postgres_outage fixture)."""

    def test_readiness_is_503_json_naming_the_database(
        self, http: requests.Session, scenario: Scenario
    ) -> None:
        url = f"{scenario.base_url}/api/health/ready"
        _wait(
            "readiness reports the outage", lambda: _status(http, 503, "GET", url), OUTAGE_TIMEOUT
        )
        response = http.get(url, timeout=15)
        assert response.status_code == 503, response.text
        body = _envelope(response)
        assert body["success"] is False
        assert body["error"] == "postgres unavailable", body
        assert body["data"]["status"] == "unavailable", body
        assert body["data"]["checks"]["postgres"]["ok"] is False, body
        assert body["data"]["checks"]["redis"]["ok"] is True, body
        assert response.headers.get("Retry-After"), response.headers

    def test_liveness_still_answers(self, http: requests.Session, scenario: Scenario) -> None:
        response = http.get(f"{scenario.base_url}/api/health/live", timeout=15)
        assert response.status_code == 200, response.text
        assert _envelope(response)["success"] is True

    @pytest.mark.parametrize(
        "route", ["product list", "product", "categories", "me", "my orders", "create product"]
    )
    def test_api_route_is_503_json_not_500_not_html(
        self,
        http: requests.Session,
        scenario: Scenario,
        admin_token: str,
        product: dict[str, Any],
        route: str,
    ) -> None:
        request = _api_probes(scenario, product, admin_token)[route]
        response = http.request(timeout=15, **request)
        body = _envelope(response)
        assert response.status_code == 503, body
        assert body["success"] is False and body["data"] is None, body
        assert "database" in body["error"], body
        assert response.headers.get("Retry-After"), response.headers

    def test_login_is_503_json(self, http: requests.Session, scenario: Scenario) -> None:
        credentials = {"email": scenario.admin_email, "password": scenario.secret("admin_password")}
        response = http.post(f"{scenario.base_url}/api/auth/login", json=credentials, timeout=15)
        body = _envelope(response)
        assert response.status_code == 503, body
        assert "database" in body["error"], body

    # A listing the API's cache cannot hold (a search no one made before): a cached one may keep
    # being served during the outage, for up to CACHE_TTL_SECONDS, which is the cache's point.
    @pytest.mark.parametrize("page", ["/?q=outage-{nonce}", "/products/{id}"])
    def test_frontend_page_is_its_friendly_503(
        self, http: requests.Session, scenario: Scenario, product: dict[str, Any], page: str
    ) -> None:
        path = page.format(id=product["id"], nonce=uuid.uuid4().hex[:12])
        response = http.get(scenario.base_url + path, timeout=30)
        _friendly_503(response)

    def test_frontend_pages_without_data_still_answer(
        self, http: requests.Session, scenario: Scenario
    ) -> None:
        response = http.get(f"{scenario.base_url}/login", timeout=15)
        assert response.status_code == 200, response.text

    def test_no_500_anywhere_during_the_outage(
        self, host: Any, scenario: Scenario, postgres_outage: str
    ) -> None:
        _assert_no_500_logged(host, scenario.project, postgres_outage, "postgres")


@pytest.mark.logs_from("api", "postgres", "nginx", "frontend")
def test_postgres_started_again_everything_recovers(
    host: Any,
    http: requests.Session,
    scenario: Scenario,
    admin_token: str,
    product: dict[str, Any],
    broken: set[str],
) -> None:
    if "postgres" not in broken:
        pytest.skip("PostgreSQL was not stopped (run the TestPostgresStopped tests first)")
    base = scenario.base_url
    _scale(host, scenario.project, "postgres", 1)
    _wait("PostgreSQL is healthy again", lambda: _healthy_task(host, scenario.project, "postgres"))
    _wait("readiness is 200 again", lambda: _status(http, 200, "GET", f"{base}/api/health/ready"))
    for name, request in _api_probes(scenario, product, admin_token).items():
        expected = 201 if request["method"] == "POST" else 200
        _wait(
            f"the API route '{name}' works again",
            lambda r=request, e=expected: _status(http, e, **r),
        )
    # Data written before the outage is still there: a restart, not a fresh database.
    response = http.get(f"{base}/api/products/{product['id']}", timeout=15)
    assert _envelope(response)["data"]["name"] == product["name"]
    _wait("the frontend serves pages again", lambda: _status(http, 200, "GET", f"{base}/"))
    _wait(
        "the product page is back",
        lambda: _status(http, 200, "GET", f"{base}/products/{product['id']}"),
    )


# --- Redis stops, then restarts -----------------------------------------------------------


def _log_in_to_the_frontend(browser: requests.Session, scenario: Scenario) -> None:
    """Log the admin in through the frontend's form: its session lives in Redis."""
    form = browser.get(f"{scenario.base_url}/login", timeout=15)
    assert form.status_code == 200, form.text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
    assert token, f"no CSRF token in the login form: {form.text}"
    response = browser.post(
        f"{scenario.base_url}/login",
        data={
            "csrf_token": token.group(1),
            "email": scenario.admin_email,
            "password": scenario.secret("admin_password"),
        },
        # Flask-WTF checks the Referer of HTTPS form posts against the Host.
        headers={"Referer": f"https://{scenario.server_name}:{scenario.https_port}/login"},
        allow_redirects=False,
        timeout=15,
    )
    assert response.status_code == 302, f"login failed: HTTP {response.status_code} {response.text}"


def _logged_in_page(browser: requests.Session, scenario: Scenario) -> str | None:
    """None when /orders shows the logged-in user's page; else what it answered."""
    try:
        response = browser.get(f"{scenario.base_url}/orders", allow_redirects=False, timeout=15)
    except requests.RequestException as exc:
        return f"GET /orders: {type(exc).__name__}: {exc}"
    if response.status_code == 200 and LOGGED_IN_MARKER in response.text:
        return None
    where = response.headers.get("Location", "")
    return f"GET /orders: HTTP {response.status_code} {where} {response.text[:300]!r}"


@pytest.mark.logs_from("api", "redis", "nginx", "frontend")
@pytest.mark.usefixtures("redis_outage")
class TestRedisStopped:
    """Redis is stopped for the whole class (the redis_outage fixture)."""

    def test_readiness_is_503_json_naming_redis(
        self, http: requests.Session, scenario: Scenario
    ) -> None:
        url = f"{scenario.base_url}/api/health/ready"
        _wait(
            "readiness reports the outage", lambda: _status(http, 503, "GET", url), OUTAGE_TIMEOUT
        )
        response = http.get(url, timeout=15)
        assert response.status_code == 503, response.text
        body = _envelope(response)
        assert body["success"] is False
        assert body["error"] == "redis unavailable", body
        assert body["data"]["checks"]["redis"]["ok"] is False, body
        assert body["data"]["checks"]["postgres"]["ok"] is True, body

    @pytest.mark.parametrize(
        "route", ["product list", "product", "categories", "me", "my orders", "create product"]
    )
    def test_api_route_still_answers_from_postgres(
        self,
        http: requests.Session,
        scenario: Scenario,
        admin_token: str,
        product: dict[str, Any],
        route: str,
    ) -> None:
        # Redis is only the API's cache and rate-limit store: both degrade, the data does not.
        request = _api_probes(scenario, product, admin_token)[route]
        response = http.request(timeout=15, **request)
        body = _envelope(response)
        assert response.status_code == (201 if request["method"] == "POST" else 200), body
        assert body["success"] is True, body

    @pytest.mark.parametrize("page", ["/", "/login"])
    def test_frontend_page_is_its_friendly_503(
        self, http: requests.Session, scenario: Scenario, page: str
    ) -> None:
        # Every page opens its session in Redis, even for an anonymous visitor.
        _friendly_503(http.get(scenario.base_url + page, timeout=30))

    def test_frontend_readiness_is_503_json_naming_redis(
        self, http: requests.Session, scenario: Scenario
    ) -> None:
        response = http.get(f"{scenario.base_url}/health/ready", timeout=15)
        body = _envelope(response)
        assert response.status_code == 503, body
        assert body["error"] == "redis unavailable", body

    def test_no_500_anywhere_during_the_outage(
        self, host: Any, scenario: Scenario, redis_outage: str
    ) -> None:
        _assert_no_500_logged(host, scenario.project, redis_outage, "redis")


@pytest.mark.logs_from("api", "redis", "nginx", "frontend")
def test_redis_started_again_everything_recovers(
    host: Any, http: requests.Session, scenario: Scenario, broken: set[str]
) -> None:
    if "redis" not in broken:
        pytest.skip("Redis was not stopped (run the TestRedisStopped tests first)")
    base = scenario.base_url
    _scale(host, scenario.project, "redis", 1)
    _wait("Redis is healthy again", lambda: _healthy_task(host, scenario.project, "redis"))
    _wait(
        "API readiness is 200 again", lambda: _status(http, 200, "GET", f"{base}/api/health/ready")
    )
    _wait(
        "frontend readiness is 200 again", lambda: _status(http, 200, "GET", f"{base}/health/ready")
    )
    _wait("the frontend serves pages again", lambda: _status(http, 200, "GET", f"{base}/"))


@pytest.mark.logs_from("api", "redis", "nginx", "frontend")
def test_redis_docker_killed_is_replaced_and_keeps_frontend_sessions(
    host: Any,
    http: requests.Session,
    scenario: Scenario,
    baseline: dict[str, dict[str, Any]],
    expected_failures: dict[str, int],
) -> None:
    base = scenario.base_url
    browser = _frontend_client(http)
    _log_in_to_the_frontend(browser, scenario)
    assert _logged_in_page(browser, scenario) is None
    before = _task(host, scenario.project, "redis")
    assert before is not None
    version = service_spec(host, scenario.project, "redis")["Version"]
    since = _host_now(host)
    host.check_output("docker kill %s", before["Id"])
    expected_failures["redis"] += 1
    _wait(
        "the engine starts a new, healthy Redis task",
        lambda: _healthy_task(host, scenario.project, "redis", not_id=before["Id"]),
    )
    _wait(
        "API readiness is 200 again",
        lambda: _status(http, 200, "GET", f"{base}/api/health/ready"),
    )
    # Redis keeps its data on its volume (append-only file): the session outlives the task.
    _wait("the logged-in session works again", lambda: _logged_in_page(browser, scenario))
    assert service_spec(host, scenario.project, "redis")["Version"] == version
    _assert_no_500_logged(host, scenario.project, since, "redis", outage_seen=False)


# --- After everything: healed in place, not redeployed ------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_the_release_converge_deployed(
    host: Any, scenario: Scenario, baseline: dict[str, dict[str, Any]], service: str
) -> None:
    now = service_spec(host, scenario.project, service)["Spec"]
    then = baseline[service]["Spec"]
    assert now["Labels"] == then["Labels"], "another release was deployed"
    assert now["TaskTemplate"] == then["TaskTemplate"], "the task definition changed"


@pytest.mark.parametrize("service", SERVICES)
def test_task_is_running_and_healthy_at_the_end(
    host: Any, scenario: Scenario, service: str
) -> None:
    _wait(
        f"{service} is running and healthy",
        lambda: _healthy_task(host, scenario.project, service),
    )


@pytest.mark.parametrize("service", SERVICES)
def test_failed_tasks_are_only_the_kills(
    host: Any, scenario: Scenario, expected_failures: dict[str, int], service: str
) -> None:
    # Scaling down and up does not count; a crash loop during an outage would.
    assert _failed_tasks(host, scenario.project, service) == expected_failures[service]
