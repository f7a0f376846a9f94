"""The shipped script on its own against the scenario's stack, as the scheduled job runs it (no
Ansible on the host). Each test writes to its own backup directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from backup_helpers import BackupStack, result, script, sh
from conftest import Scenario


@pytest.fixture(scope="module")
def stack(host: Any, scenario: Scenario) -> BackupStack:
    return BackupStack.of(host, scenario)


@pytest.fixture
def config(stack: BackupStack, tmp_path: Path) -> Path:
    """A configuration of the script like the role renders, with its own backup dir."""
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "stack": stack.project,
                "environment": stack.environment,
                "database": stack.database,
                "db_user": stack.db_user,
                "backup_dir": str(tmp_path / "backups"),
                "log_file": str(tmp_path / "bf-backup.log"),
                "verify": "full",
                "keep": {"last": 2, "daily": 0, "weekly": 0, "monthly": 0},
            }
        )
    )
    return path


def test_backup_writes_a_complete_verified_backup(stack: BackupStack, config: Path) -> None:
    out = result(script("backup", "--config", str(config)))
    backup = Path(out["path"])
    assert sorted(p.name for p in backup.iterdir()) == [
        "SHA256SUMS",
        "db.dump",
        "manifest.json",
        "pgadmin.tar.gz",
    ]
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"] == stack.database and manifest["stack"] == stack.project
    assert manifest["alembic_revision"] == stack.psql("SELECT version_num FROM alembic_version")
    assert manifest["server_version"].startswith("15.")
    for table in ("public.users", "public.products", "public.orders", "public.order_items"):
        live = int(stack.psql(f"SELECT count(*) FROM {table}"))  # noqa: S608 - fixed names
        assert manifest["tables"][table]["rows"] == live, table
    assert (backup / "db.dump").read_bytes()[:5] == b"PGDMP"
    sums = sh("sha256sum", "--check", "SHA256SUMS", cwd=backup, check=False)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert out["verify"]["problems"] == []
    assert out["verify"]["rows"] == sum(t["rows"] for t in manifest["tables"].values())
    log = (config.parent / "bf-backup.log").read_text().splitlines()
    assert len(log) == 1 and f"bf-backup OK {out['name']}" in log[0]
    # The throwaway verify container is gone.
    left = sh("docker", "ps", "-aq", "--filter", f"label=bf-backup.verify={stack.project}")
    assert left.stdout.strip() == ""


def test_same_clock_twice_gives_two_backups_and_retention_applies(
    stack: BackupStack, config: Path
) -> None:
    # What "changed" means for a backup: every run takes a new backup, even at the same second
    # (a -N suffix), and retention then decides what stays.
    names = [
        result(script("backup", "--config", str(config), "--now", "20240501T120000Z"))["name"]
        for _ in range(3)
    ]
    assert names[1] == names[0] + "-1" and names[2] == names[0] + "-2"
    listed = result(script("list", "--config", str(config)))["backups"]
    assert listed == names[1:]  # keep last=2


def test_encrypted_backup_needs_the_identity(
    stack: BackupStack, config: Path, tmp_path: Path
) -> None:
    if shutil.which("age-keygen") is None:
        pytest.skip("age is not installed (make system-deps)")
    identity = tmp_path / "age.key"
    keygen = sh("age-keygen", "-o", str(identity))
    recipient = keygen.stderr.split("Public key: ")[1].strip()
    cfg = json.loads(config.read_text())
    cfg.update(age_recipients=[recipient], verify="toc")
    config.write_text(json.dumps(cfg))
    out = result(script("backup", "--config", str(config)))
    assert out["verify"]["content"].startswith("not checked: encrypted")
    backup = Path(out["path"])
    assert (backup / "db.dump.age").is_file() and not (backup / "db.dump").exists()
    assert (backup / "pgadmin.tar.gz.age").is_file()
    assert b"PGDMP" not in (backup / "db.dump.age").read_bytes()[:64]
    refused = script("verify", "--config", str(config), "--toc-only", check=False)
    assert refused.returncode == 1 and "age identity file" in refused.stderr
    cfg["age_identity_file"] = str(identity)
    config.write_text(json.dumps(cfg))
    verified = result(script("verify", "--config", str(config), "--toc-only"))
    assert verified["toc_entries"] > 10


def test_failure_is_logged_as_one_line(stack: BackupStack, config: Path) -> None:
    cfg = json.loads(config.read_text())
    cfg["stack"] = f"{stack.project}-nonexistent"
    config.write_text(json.dumps(cfg))
    proc = script("backup", "--config", str(config), check=False)
    assert proc.returncode == 1
    log = (config.parent / "bf-backup.log").read_text().splitlines()
    assert len(log) == 1 and "bf-backup FAILED backup" in log[0]
    assert not list((config.parent / "backups").glob(".tmp-*"))
