"""Data made through the API -> backup.yml -> verify-backup.yml -> data destroyed -> restore.yml ->
the same data through the API and by SQL checksum; corrupt backups refused with nothing touched.

The tests run in file order on one stack: each step starts from what the last one left.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from backup_helpers import SCRIPT, BackupStack, sh
from conftest import Scenario

STATE: dict[str, Any] = {}
# A file the tests put into the PgAdmin data volume before the backup (and remove after it).
PGADMIN_MARKER = "/var/lib/pgadmin/bf-backup-marker"


@pytest.fixture(scope="module")
def stack(host: Any, scenario: Scenario) -> BackupStack:
    return BackupStack.of(host, scenario)


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code} {response.text[:500]}"
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_view(http: requests.Session, scenario: Scenario) -> dict[str, Any]:
    """What the users of the shop see through Nginx: categories, products, each user's orders."""
    base = scenario.base_url
    view: dict[str, Any] = {
        "categories": _ok(http.get(f"{base}/api/categories", timeout=10)),
        "products": _ok(http.get(f"{base}/api/products?per_page=100&sort=name", timeout=10)),
    }
    for email, token in sorted(STATE["tokens"].items()):
        view[email] = _ok(http.get(f"{base}/api/orders", headers=_auth(token), timeout=10))
    return view


def pgadmin_files(stack: BackupStack) -> set[str]:
    """Names of the markers the tests put into the PgAdmin data volume."""
    out = stack.exec("pgadmin", "sh", "-c", "ls -1 /var/lib/pgadmin | grep bf-backup || true")
    return set(out.split())


@pytest.mark.logs_from("api", "nginx")
def test_data_created_through_the_api(
    http: requests.Session, scenario: Scenario, admin_token: str, stack: BackupStack
) -> None:
    base, run = scenario.base_url, uuid.uuid4().hex[:8]
    admin = _auth(admin_token)
    category = _ok(
        http.post(
            f"{base}/api/categories",
            json={"name": f"Backup {run}", "description": "Quotes ' and \\ backslashes, é"},
            headers=admin,
            timeout=10,
        ),
        201,
    )
    products = [
        _ok(
            http.post(
                f"{base}/api/products",
                json={"name": f"Item {run} {i}", "price": f"{i}.25", "stock": 50,
                      "category_id": category["id"], "description": "x" * (i * 100)},
                headers=admin,
                timeout=10,
            ),
            201,
        )
        for i in range(1, 6)
    ]  # fmt: skip
    STATE["tokens"] = {}
    for i in range(2):
        email, password = f"buyer{i}-{run}@example.com", f"Backup-pass-{run}-{i}"
        _ok(
            http.post(
                f"{base}/api/auth/register",
                json={"email": email, "password": password, "name": f"Buyer {i}"},
                timeout=10,
            ),
            202,
        )
        login = http.post(
            f"{base}/api/auth/login", json={"email": email, "password": password}, timeout=10
        )
        STATE["tokens"][email] = _ok(login)["access_token"]
        for product in products[i : i + 3]:
            _ok(
                http.post(
                    f"{base}/api/orders",
                    json={"items": [{"product_id": product["id"], "quantity": 1 + i}]},
                    headers=_auth(STATE["tokens"][email]),
                    timeout=10,
                ),
                201,
            )
    STATE["api"] = api_view(http, scenario)
    assert len(STATE["api"][next(iter(sorted(STATE["tokens"])))]["items"]) == 3
    STATE["sql"] = stack.data_checksum()
    # PgAdmin's data volume is backed up too: mark it to see the marker come back on restore.
    stack.exec("pgadmin", "sh", "-c", f"echo {run} > {PGADMIN_MARKER}")
    assert pgadmin_files(stack) == {"bf-backup-marker"}


def test_backup_playbook(stack: BackupStack, scenario: Scenario) -> None:
    before = stack.backups()
    run = stack.playbook("backup.yml", check=True)
    assert "failed=0" in run.stdout
    names = [name for name in stack.backups() if name not in before]
    assert len(names) == 1 and names[0].startswith(f"{stack.project}_{stack.database}_")
    STATE["name"] = names[0]
    manifest = json.loads((stack.backup_dir / names[0] / "manifest.json").read_text())
    for table in ("users", "products", "orders", "order_items"):
        live = int(stack.psql(f"SELECT count(*) FROM public.{table}"))  # noqa: S608 - fixed
        assert manifest["tables"][f"public.{table}"]["rows"] == live, table
    assert manifest["environment"] == stack.environment
    assert manifest["pgadmin"] == "pgadmin.tar.gz" and "pgadmin.tar.gz" in manifest["files"]
    # The script and its package, as shipped: nothing more (no bytecode), nothing older.
    installed = scenario.stack_dir / "backup"
    shipped = SCRIPT.parent
    assert (installed / "bf_backup.py").read_bytes() == SCRIPT.read_bytes()
    assert sorted(p.name for p in (installed / "bf_backup_lib").iterdir()) == sorted(
        p.name for p in (shipped / "bf_backup_lib").glob("*.py")
    )
    for module in (shipped / "bf_backup_lib").glob("*.py"):
        assert (installed / "bf_backup_lib" / module.name).read_bytes() == module.read_bytes()
    assert f"bf-backup OK {names[0]}" in stack.log_file.read_text()
    # No secret on a command line or in the output.
    for name, value in scenario.secrets().items():
        assert value not in run.stdout + run.stderr, name
    # After the backup: the marker goes, another comes; a restore must undo both.
    stack.exec(
        "pgadmin", "sh", "-c", f"rm {PGADMIN_MARKER} && echo after > {PGADMIN_MARKER}-after-backup"
    )


def test_verify_backup_playbook(stack: BackupStack) -> None:
    run = stack.playbook("verify-backup.yml", check=True)
    assert "Checksums:       ok" in run.stdout and "Restore:         ok" in run.stdout
    assert "restored 0003, app head 0003" in run.stdout
    # The throwaway container and its network are gone.
    assert sh("docker", "ps", "-aq", "--filter", "name=bf-verify-").stdout.strip() == ""
    assert sh("docker", "network", "ls", "-q", "--filter", "name=bf-verify-").stdout.strip() == ""


def test_restore_without_confirmation_is_refused(stack: BackupStack) -> None:
    run = stack.playbook("restore.yml")
    assert run.returncode != 0
    assert "restore_confirm=yes" in run.stdout
    assert stack.data_checksum() == STATE["sql"]


def _corrupt_copies(stack: BackupStack) -> dict[Path, str]:
    """Copies of the good backup, each broken one way, with the refusal each must get."""
    good = stack.backup_dir / STATE["name"]
    flipped = stack.backup_dir / (STATE["name"][:-1] + "Z-1")
    shutil.copytree(good, flipped)
    data = bytearray((flipped / "db.dump").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (flipped / "db.dump").write_bytes(bytes(data))
    truncated = stack.backup_dir / (STATE["name"][:-1] + "Z-2")
    shutil.copytree(good, truncated)
    with (truncated / "db.dump").open("r+b") as handle:
        handle.truncate(len(data) - 100)
    # A foreign manifest with consistent checksums: only the origin check can catch it.
    foreign = stack.backup_dir / (STATE["name"][:-1] + "Z-3")
    shutil.copytree(good, foreign)
    manifest = json.loads((foreign / "manifest.json").read_text())
    manifest["environment"] = "prod"
    (foreign / "manifest.json").write_text(json.dumps(manifest))
    digest = hashlib.sha256((foreign / "manifest.json").read_bytes()).hexdigest()
    (foreign / "SHA256SUMS").write_text(
        "".join(
            (f"{digest}  manifest.json" if line.endswith("  manifest.json") else line) + "\n"
            for line in (foreign / "SHA256SUMS").read_text().splitlines()
        )
    )
    return {
        flipped: "does not match its SHA-256",
        truncated: "does not match its SHA-256",
        foreign: "is foreign: it was taken of environment 'prod'",
    }


@pytest.mark.logs_from("api", "postgres")
def test_corrupt_truncated_and_foreign_backups_are_refused(
    stack: BackupStack, http: requests.Session, scenario: Scenario
) -> None:
    cases = _corrupt_copies(stack)
    containers = stack.tasks()
    databases = stack.databases()
    try:
        for path, message in cases.items():
            run = stack.playbook(
                "restore.yml", "-e", "restore_confirm=yes", "-e", f"backup_name={path.name}"
            )
            assert run.returncode != 0, path.name
            assert message in run.stdout, run.stdout[-3000:]
            # Refused before anything was touched: same data, no new database, apps never
            # stopped (the same tasks still run), no maintenance flag.
            assert stack.data_checksum() == STATE["sql"]
            assert stack.databases() == databases
            assert stack.tasks() == containers
            assert not stack.maintenance_flag.exists()
        run = stack.playbook("verify-backup.yml", "-e", f"backup_name={next(iter(cases)).name}")
        assert run.returncode != 0 and "does not match its SHA-256" in run.stdout
    finally:
        for path in cases:
            shutil.rmtree(path, ignore_errors=True)
    assert api_view(http, scenario) == STATE["api"]


@pytest.mark.logs_from("nginx")
def test_maintenance_flag_answers_503_with_retry_after(
    stack: BackupStack, http: requests.Session, scenario: Scenario
) -> None:
    normal = http.get(f"{scenario.base_url}/", timeout=10)
    assert normal.status_code == 200
    security = {
        name: value
        for name, value in normal.headers.items()
        if name.lower().startswith(("strict-transport", "content-security", "x-", "referrer"))
        # Per-answer headers, not security ones: the app's release and the request id.
        and name.lower() not in ("x-request-id", "x-release")
    }
    assert len(security) >= 5, normal.headers
    stack.maintenance_flag.write_text("test\n")
    try:
        for path, kind in (("/", "text/html"), ("/api/products", "application/json")):
            response = http.get(f"{scenario.base_url}{path}", timeout=10)
            assert response.status_code == 503, (path, response.status_code)
            assert response.headers["Retry-After"].isdigit(), response.headers
            assert response.headers["Content-Type"].startswith(kind)
            for name, value in security.items():
                assert response.headers.get(name) == value, (path, name)
        body = http.get(f"{scenario.base_url}/api/health/ready", timeout=10).json()
        assert body["success"] is False and "maintenance" in body["error"]
    finally:
        stack.maintenance_flag.unlink()
    assert http.get(f"{scenario.base_url}/api/products", timeout=10).status_code == 200


class _Watcher(threading.Thread):
    """Polls the API through Nginx while a restore runs; records (status, Retry-After, type)."""

    def __init__(self, http: requests.Session, url: str) -> None:
        super().__init__(daemon=True)
        self.http, self.url = http, url
        self.seen: list[tuple[int, str | None, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                response = self.http.get(self.url, timeout=5)
                self.seen.append(
                    (
                        response.status_code,
                        response.headers.get("Retry-After"),
                        response.headers.get("Content-Type", ""),
                    )
                )
            except requests.RequestException as exc:
                self.seen.append((0, None, type(exc).__name__))
            time.sleep(0.2)


@pytest.mark.logs_from("api", "postgres", "nginx", "pgadmin")
def test_restore_brings_back_dropped_data(
    stack: BackupStack, http: requests.Session, scenario: Scenario
) -> None:
    stack.psql("DROP TABLE order_items, orders, products, categories, users CASCADE;")
    watcher = _Watcher(http, f"{scenario.base_url}/api/products")
    watcher.start()
    try:
        run = stack.playbook("restore.yml", "-e", "restore_confirm=yes", check=True)
    finally:
        watcher.stop.set()
        watcher.join()
    assert "Restored " + STATE["name"] in run.stdout
    # In parallel, from a copy staged on the scratch volume, which is empty again afterwards.
    shown = " ".join(run.stdout.split())
    assert "by 2 pg_restore job(s)" in shown, shown[shown.index("Restored ") :][:600]
    staged = stack.exec("postgres", "ls", "-A", "/var/lib/postgresql/scratch", user="postgres")
    assert staged == ""
    # The migrations ran (nothing to apply: the backup is at head) and the self-check passed.
    assert "ok: [localhost] => (item=api: flask --app api.wsgi db upgrade)" in run.stdout
    check = run.stdout[run.stdout.index("Check the API readiness through every edge Nginx") :]
    assert check.split("TASK [", 1)[0].count("ok: [localhost] => (item=localhost)") == 1, check
    # Same data, by SQL and as the users see it (their tokens still work).
    assert stack.data_checksum() == STATE["sql"]
    assert api_view(http, scenario) == STATE["api"]
    databases = stack.databases()
    previous = [d for d in databases if d.startswith(f"{stack.database}_pre_restore_")]
    assert len(previous) == 1
    assert not [d for d in databases if d.startswith(f"{stack.database}_restore_")]
    # The previous database still holds what was there (the tables were dropped).
    users = stack.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'users'", previous[0])
    assert users == "0"
    assert not stack.maintenance_flag.exists()
    # While the apps were out of traffic the API answered 503 + Retry-After (JSON), never 502.
    statuses = [status for status, _, _ in watcher.seen]
    assert 503 in statuses, watcher.seen
    assert all(
        retry and kind.startswith("application/json")
        for status, retry, kind in watcher.seen
        if status == 503
    ), watcher.seen
    first = statuses.index(503)
    assert set(statuses[first:]) <= {503, 200}, watcher.seen
    # PgAdmin's volume is back as it was at the backup.
    assert "PgAdmin data: " in run.stdout and "entries restored into" in run.stdout
    assert pgadmin_files(stack) == {"bf-backup-marker"}
    assert stack.task("pgadmin")


@pytest.mark.logs_from("api")
def test_old_backup_is_migrated_on_restore_and_flagged_by_verify(stack: BackupStack) -> None:
    flask = ["flask", "--app", "api.wsgi", "db"]
    stack.exec("api", *flask, "downgrade", "0001")
    try:
        stack.playbook("backup.yml", check=True)
    finally:
        stack.exec("api", *flask, "upgrade")
    old = stack.backups()[-1]
    first_previous = [d for d in stack.databases() if d.startswith(f"{stack.database}_pre_")]
    manifest = json.loads((stack.backup_dir / old / "manifest.json").read_text())
    assert manifest["alembic_revision"] == "0001"
    verify = stack.playbook("verify-backup.yml", "-e", f"backup_name={old}")
    assert verify.returncode != 0
    assert "is at Alembic revision 0001 but the app's migration head is 0003" in verify.stdout
    run = stack.playbook(
        "restore.yml", "-e", "restore_confirm=yes", "-e", f"backup_name={old}", check=True
    )
    assert "changed: [localhost] => (item=api: flask --app api.wsgi db upgrade)" in run.stdout
    # Only the newest previous copy is kept (bf_backup_keep_pre_restore: 1).
    assert "dropped older copies: " + first_previous[0] in run.stdout
    assert len([d for d in stack.databases() if d.startswith(f"{stack.database}_pre_")]) == 1
    assert stack.psql("SELECT version_num FROM alembic_version") == "0003"
    # The downgrade dropped the order tables before that backup: the rest is as it was, but for
    # the products' version column (0003), which the downgrade dropped and the upgrade reset.
    now, then = stack.data_checksum().splitlines(), STATE["sql"].splitlines()
    assert now[:2] == then[:2]
    assert now[2].split(":")[:2] == then[2].split(":")[:2]  # products: the same count
    assert now[3:] == ["orders:0:", "order_items:0:"]


def test_retention_keeps_exactly_the_configured_generations(stack: BackupStack) -> None:
    before = stack.backups()
    assert len(before) >= 2, before
    keep = ["-e", "bf_backup_keep_last=2"] + [
        arg for g in ("daily", "weekly", "monthly") for arg in ("-e", f"bf_backup_keep_{g}=0")
    ]
    stack.playbook("backup.yml", *keep, check=True)
    after = stack.backups()
    assert len(after) == 2 and after[0] == before[-1] and after[1] not in before, after
    # How daily, weekly and monthly generations combine is unit-tested with synthetic clocks
    # (tests/backup/test_retention.py); every backup here is of the same day.


def test_no_scheduler_is_a_clear_stop(stack: BackupStack) -> None:
    if Path("/usr/sbin/cron").exists() or Path("/proc/1/comm").read_text().strip() == "systemd":
        pytest.skip("this host has a scheduler")
    before = stack.backups()
    run = stack.playbook("backup.yml", "-e", "bf_backup_scheduler=auto")
    assert run.returncode != 0
    assert f"Backup of the {stack.project} database: cron" in run.stdout
    assert "no systemd as PID 1 and no cron" in run.stdout
    assert stack.backups() == before
