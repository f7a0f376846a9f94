"""pgBackRest on the converged stack: the WAL archive, encrypted, on its own volume; a base
backup by backup.yml; the repository verified by verify-backup.yml; rows written through the API
at known times and a point-in-time restore to a moment between two of them that gives exactly
the rows before it; a broken repository refused before anything is touched.

The tests run in file order, after test_backup_cycle.py, on the same stack.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import pytest
import requests
from backup_helpers import REPO, BackupStack, sh
from conftest import Scenario

STATE: dict[str, Any] = {}
PGBACKREST = REPO / "roles" / "bf_backup" / "files" / "bf_pgbackrest.py"


@pytest.fixture(scope="module")
def stack(host: Any, scenario: Scenario) -> BackupStack:
    return BackupStack.of(host, scenario)


def repo_info(stack: BackupStack) -> dict[str, Any]:
    """What bf_pgbackrest.py, as the playbooks run it, says of the repository."""
    proc = sh("python3", str(PGBACKREST), "info", "--stack", stack.project)
    return json.loads(proc.stdout.splitlines()[-1])


def category(http: requests.Session, scenario: Scenario, token: str, name: str) -> None:
    response = http.post(
        f"{scenario.base_url}/api/categories",
        json={"name": name, "description": "point-in-time probe"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def target(when: str) -> list[str]:
    """restore.yml's extra vars for a point-in-time restore (JSON: the time has a space)."""
    return ["-e", json.dumps({"restore_confirm": "yes", "restore_target_time": when})]


def flat(text: str) -> str:
    """Output with every run of whitespace as one space (Ansible wraps long messages)."""
    return " ".join(text.split())


def probes(stack: BackupStack) -> list[str]:
    return stack.psql(
        f"SELECT name FROM categories WHERE name LIKE 'PITR {STATE['run']} %' ORDER BY name"  # noqa: S608 - a hex run id
    ).split("\n")


def test_repository_is_encrypted_on_a_volume_of_its_own(stack: BackupStack) -> None:
    info = repo_info(stack)
    assert info["stanza"] == stack.project and info["status"] == 0, info
    assert info["cipher"] == "aes-256-cbc"
    # site.yml took the first full backup, so a point-in-time restore works from day one.
    assert [b["type"] for b in info["backups"]][:1] == ["full"], info
    mounts = {}
    for service in ("postgres", "pgbackrest"):
        inspected = json.loads(sh("docker", "inspect", stack.task(service)).stdout)[0]
        mounts[service] = sorted(m["Name"] for m in inspected["Mounts"] if m["Type"] == "volume")
    assert mounts == {
        "postgres": [f"{stack.project}_postgres_data", f"{stack.project}_postgres_scratch"],
        "pgbackrest": [f"{stack.project}_pgbackrest_repo"],
    }
    # The repository's files are ciphertext (OpenSSL's salted format), not PostgreSQL pages.
    head = stack.exec(
        "pgbackrest", "head", "-c", "8", f"/var/lib/pgbackrest/backup/{stack.project}/backup.info",
        user="postgres",
    )  # fmt: skip
    assert head == "Salted__"


def test_backup_playbook_takes_a_base_backup(stack: BackupStack) -> None:
    before = {b["label"] for b in repo_info(stack)["backups"]}
    run = stack.playbook("backup.yml", check=True)
    assert "pgBackRest diff backup" in flat(run.stdout) or "pgBackRest full backup" in flat(
        run.stdout
    )
    # One new backup, the newest (retention may have expired an old one on a stack the tests
    # ran on before, so the count alone proves nothing).
    after = [b["label"] for b in repo_info(stack)["backups"]]
    assert [label for label in after if label not in before] == after[-1:], (before, after)


def test_verify_backup_playbook_verifies_the_repository(stack: BackupStack) -> None:
    run = stack.playbook("verify-backup.yml", check=True)
    assert f"pgBackRest stanza {stack.project} verified" in flat(run.stdout)


@pytest.mark.logs_from("api", "postgres", "pgbackrest")
def test_rows_written_at_known_times(
    stack: BackupStack, http: requests.Session, scenario: Scenario, admin_token: str
) -> None:
    STATE["run"] = uuid.uuid4().hex[:8]
    category(http, scenario, admin_token, f"PITR {STATE['run']} 1 before")
    time.sleep(1.5)
    # The moment to go back to, by the database's clock (the one its WAL records carry).
    STATE["target"] = stack.psql("SELECT now()::text")
    # Nothing is written between the first row and the target: this is the data a restore to
    # the target must give back, row for row.
    STATE["at_target"] = stack.data_checksum()
    time.sleep(1.5)
    category(http, scenario, admin_token, f"PITR {STATE['run']} 2 after")
    assert probes(stack) == [f"PITR {STATE['run']} 1 before", f"PITR {STATE['run']} 2 after"]
    # The second row must be in the archive too, or the test would prove nothing about the
    # target: switch to a new segment and wait until the repository has the old one.
    segment = stack.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")
    stack.psql("SELECT pg_switch_wal()")
    deadline = time.monotonic() + 60
    while repo_info(stack)["wal_max"] < segment:
        assert time.monotonic() < deadline, f"{segment} never reached the repository"
        time.sleep(2)


def test_restore_refuses_a_target_without_a_zone_or_in_the_future(stack: BackupStack) -> None:
    checksum = stack.data_checksum()
    naive = stack.playbook("restore.yml", *target("2026-12-03 17:00:00"))
    assert naive.returncode != 0 and "give a time with its zone" in flat(naive.stdout), (
        naive.stdout[-3000:]
    )
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S+00")
    run = stack.playbook("restore.yml", *target(future))
    assert run.returncode != 0 and "is in the future" in flat(run.stdout), run.stdout[-3000:]
    assert "nothing was changed" in flat(run.stdout)
    assert stack.data_checksum() == checksum
    assert not stack.maintenance_flag.exists()


@pytest.mark.logs_from("api", "postgres", "pgbackrest", "nginx")
def test_restore_to_a_point_in_time_gives_exactly_the_rows_before_it(
    stack: BackupStack, http: requests.Session, scenario: Scenario
) -> None:
    postgres_before = stack.task("postgres")
    run = stack.playbook("restore.yml", *target(STATE["target"]), check=True)
    assert "Restored the cluster to" in flat(run.stdout)
    assert stack.task("postgres") != postgres_before
    assert probes(stack) == [f"PITR {STATE['run']} 1 before"]
    # Every row of every table as it was at the target, those of the earlier tests included.
    assert stack.data_checksum() == STATE["at_target"]
    # The old cluster is kept, labelled as the stack's, until an operator removes it.
    kept = sh(
        "docker", "volume", "ls", "-q", "--filter",
        f"label=com.docker.stack.namespace={stack.project}",
    ).stdout.split()  # fmt: skip
    assert [v for v in kept if v.startswith(f"{stack.project}_postgres_data_pre_pitr_")], kept
    # The shop serves and writes again, on the new timeline, and the archive follows it.
    response = http.get(f"{scenario.base_url}/api/health/ready", timeout=10)
    assert response.status_code == 200, response.text
    assert stack.psql("SELECT pg_is_in_recovery()") == "f"
    sh("python3", str(PGBACKREST), "stanza", "--stack", stack.project)
    assert not stack.maintenance_flag.exists()


@pytest.mark.logs_from("pgbackrest")
def test_a_broken_repository_is_refused_before_anything_is_touched(stack: BackupStack) -> None:
    checksum = stack.data_checksum()
    postgres_before = stack.task("postgres")
    info_file = f"/var/lib/pgbackrest/backup/{stack.project}/backup.info"
    # Both copies of the backup list damaged: pgBackRest can no longer trust the repository.
    stack.exec(
        "pgbackrest", "sh", "-c",
        f"cp {info_file} /tmp/backup.info.keep && cp {info_file}.copy /tmp/backup.info.copy.keep"
        f" && printf 'garbage' > {info_file} && printf 'garbage' > {info_file}.copy",
        user="postgres",
    )  # fmt: skip
    try:
        run = stack.playbook(
            "restore.yml", "-e", "restore_confirm=yes", "-e", "restore_target=latest"
        )
        assert run.returncode != 0, run.stdout[-3000:]
        assert "Refusing the point-in-time restore" in flat(run.stdout), run.stdout[-3000:]
        assert "nothing was changed" in flat(run.stdout)
        assert stack.task("postgres") == postgres_before
        assert stack.data_checksum() == checksum
        assert not stack.maintenance_flag.exists()
    finally:
        stack.exec(
            "pgbackrest", "sh", "-c",
            f"cp /tmp/backup.info.keep {info_file}"
            f" && cp /tmp/backup.info.copy.keep {info_file}.copy",
            user="postgres",
        )  # fmt: skip
    assert repo_info(stack)["status"] == 0
