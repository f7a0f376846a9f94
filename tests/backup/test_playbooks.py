"""backup.yml -> verify-backup.yml -> destroy -> restore.yml, and the refusals, on the test stack.

The tests run in file order and share one stack: each step starts from what the last one left.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from bf_backup_helpers import DB, Stack, sh

pytestmark = pytest.mark.usefixtures("stack")

STATE: dict[str, str] = {}


def backups(stack: Stack) -> list[str]:
    """Return the backup names in the stack's backup dir, oldest first."""
    return sorted(
        p.name for p in stack.backup_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )


def test_backup_playbook(stack: Stack) -> None:
    STATE["before"] = stack.data_checksum()
    run = stack.playbook("backup.yml", check=True)
    assert "changed=" in run.stdout and "failed=0" in run.stdout
    names = backups(stack)
    assert len(names) == 1 and names[0].startswith(f"{stack.project}_{DB}_")
    STATE["name"] = names[0]
    manifest = json.loads((stack.backup_dir / names[0] / "manifest.json").read_text())
    assert manifest["tables"]["public.users"]["rows"] == 50
    assert "pgadmin.tar.gz" in manifest["files"]
    assert (stack.dir / "backup" / "bf_backup.py").is_file()
    assert "bf-backup OK" in (stack.dir / "bf-backup.log").read_text()
    # Nothing secret on a command line or in the output.
    secret = (stack.dir / "secrets" / "postgres_password").read_text()
    assert secret not in run.stdout + run.stderr


def test_verify_backup_playbook(stack: Stack) -> None:
    run = stack.playbook("verify-backup.yml", check=True)
    assert "Checksums:       ok" in run.stdout and "Restore:         ok" in run.stdout
    assert "restored 0002, app head 0002" in run.stdout
    # The throwaway container and its network are gone.
    assert sh("docker", "ps", "-aq", "--filter", "name=bf-verify-").stdout.strip() == ""
    assert sh("docker", "network", "ls", "-q", "--filter", "name=bf-verify-").stdout.strip() == ""


def test_restore_without_confirmation_is_refused(stack: Stack) -> None:
    run = stack.playbook("restore.yml")
    assert run.returncode != 0
    assert "restore_confirm=yes" in run.stdout
    assert stack.data_checksum() == STATE["before"]


def test_corrupt_truncated_and_foreign_backups_are_refused(stack: Stack) -> None:
    good = stack.backup_dir / STATE["name"]
    cases = {}
    flipped = stack.backup_dir / (STATE["name"][:-1] + "Z-1")
    shutil.copytree(good, flipped)
    data = bytearray((flipped / "db.dump").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (flipped / "db.dump").write_bytes(bytes(data))
    cases[flipped.name] = "does not match its SHA-256"
    truncated = stack.backup_dir / (STATE["name"][:-1] + "Z-2")
    shutil.copytree(good, truncated)
    with (truncated / "db.dump").open("r+b") as handle:
        handle.truncate(len(data) - 100)
    cases[truncated.name] = "does not match its SHA-256"
    # A foreign manifest with consistent checksums: only the origin check can catch it.
    foreign = stack.backup_dir / (STATE["name"][:-1] + "Z-3")
    shutil.copytree(good, foreign)
    manifest = json.loads((foreign / "manifest.json").read_text())
    manifest["environment"] = "prod"
    (foreign / "manifest.json").write_text(json.dumps(manifest))
    sums = (foreign / "SHA256SUMS").read_text().splitlines()
    digest = hashlib.sha256((foreign / "manifest.json").read_bytes()).hexdigest()
    (foreign / "SHA256SUMS").write_text(
        "".join(
            (f"{digest}  manifest.json" if line.endswith("  manifest.json") else line) + "\n"
            for line in sums
        )
    )
    cases[foreign.name] = "is foreign: it was taken of environment 'prod'"
    stack.psql("INSERT INTO categories (name, slug) VALUES ('Marker', 'marker');")
    marked = stack.data_checksum()
    try:
        for name, message in cases.items():
            run = stack.playbook(
                "restore.yml", "-e", "restore_confirm=yes", "-e", f"backup_name={name}"
            )
            assert run.returncode != 0, name
            assert message in run.stdout, run.stdout[-3000:]
            assert stack.data_checksum() == marked
            assert (
                stack.psql(
                    f"SELECT count(*) FROM pg_database WHERE datname LIKE '{DB}_restore_%'",  # noqa: S608
                    db="postgres",
                )
                == "0"
            )
        # verify-backup refuses the corrupt one too.
        run = stack.playbook("verify-backup.yml", "-e", f"backup_name={flipped.name}")
        assert run.returncode != 0 and "does not match its SHA-256" in run.stdout
    finally:
        for path in (flipped, truncated, foreign):
            shutil.rmtree(path, ignore_errors=True)
        stack.psql("DELETE FROM categories WHERE slug = 'marker';")
    assert stack.data_checksum() == STATE["before"]


def test_restore_brings_back_dropped_data(stack: Stack) -> None:
    stack.psql("DROP TABLE order_items, orders, products, categories, users CASCADE;")
    run = stack.playbook("restore.yml", "-e", "restore_confirm=yes", check=True)
    assert "Restored " + STATE["name"] in run.stdout
    # The migrations ran (nothing to apply: the backup is at head) and the self-check passed.
    assert "ok: [localhost] => (item=api: flask --app api.wsgi db upgrade)" in run.stdout
    assert "ok: [localhost] => (item=api/api/health/ready)" in run.stdout
    assert stack.data_checksum() == STATE["before"]
    dbs = stack.psql("SELECT datname FROM pg_database ORDER BY 1", db="postgres").split()
    previous = [d for d in dbs if d.startswith(f"{DB}_pre_restore_")]
    assert len(previous) == 1 and not any(d.startswith(f"{DB}_restore_") for d in dbs)
    # The previous database still holds what was there (the tables were dropped).
    assert (
        stack.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'users'", db=previous[0])
        == "0"
    )
    # The API is back and ready on the restored data.
    ready = stack.compose(
        "exec",
        "-T",
        "api",
        "python3",
        "-c",
        "import urllib.request; print(urllib.request.urlopen("
        "'http://127.0.0.1:8081/api/health/ready', timeout=5).status)",
    )
    assert ready.stdout.strip() == "200"
    assert not (stack.dir / "maintenance" / "on").exists()


def test_second_restore_keeps_only_the_newest_previous_copy(stack: Stack) -> None:
    first_previous = [
        d
        for d in stack.psql("SELECT datname FROM pg_database", db="postgres").split()
        if d.startswith(f"{DB}_pre_restore_")
    ]
    run = stack.playbook(
        "restore.yml", "-e", "restore_confirm=yes", "-e", f"backup_name={STATE['name']}", check=True
    )
    assert "dropped older copies: " + first_previous[0] in run.stdout
    assert stack.data_checksum() == STATE["before"]


def test_old_backup_is_migrated_on_restore_and_flagged_by_verify(stack: Stack) -> None:
    flask = ["run", "--rm", "--no-deps", "-T", "api", "flask", "--app", "api.wsgi", "db"]
    stack.compose(*flask, "downgrade", "0001")
    try:
        stack.playbook("backup.yml", check=True)
    finally:
        stack.compose(*flask, "upgrade")
    old = backups(stack)[-1]
    assert (
        json.loads((stack.backup_dir / old / "manifest.json").read_text())["alembic_revision"]
        == "0001"
    )
    verify = stack.playbook("verify-backup.yml", "-e", f"backup_name={old}")
    assert verify.returncode != 0
    assert "is at Alembic revision 0001 but the app's migration head is 0002" in verify.stdout
    run = stack.playbook(
        "restore.yml", "-e", "restore_confirm=yes", "-e", f"backup_name={old}", check=True
    )
    assert "changed: [localhost] => (item=api: flask --app api.wsgi db upgrade)" in run.stdout
    assert stack.psql("SELECT version_num FROM alembic_version") == "0002"
    assert stack.psql("SELECT count(*) FROM users") == "50"


def test_no_scheduler_is_a_clear_stop(stack: Stack) -> None:
    if Path("/usr/sbin/cron").exists() or Path("/proc/1/comm").read_text().strip() == "systemd":
        pytest.skip("this host has a scheduler")
    before = backups(stack)
    run = stack.playbook("backup.yml", "-e", "bf_backup_scheduler=auto")
    assert run.returncode != 0
    assert "Scheduled backup of bf-backup-test: cron" in run.stdout
    assert "no systemd as PID 1 and no cron" in run.stdout
    assert backups(stack) == before
