"""Unit tests of roles/bf_backup/files/bf_backup.py and its package bf_backup_lib that need no
stack: retention, naming and the checks a PgAdmin archive passes before its volume is touched.
The script against a real stack is tested by the Molecule scenario molecule/backup."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[2] / "roles" / "bf_backup" / "files"
SCRIPT = FILES / "bf_backup.py"

# As on the host, where the script's own directory is first on sys.path.
sys.path.insert(0, str(FILES))
from bf_backup_lib import common, pgadmin, retention  # noqa: E402

_spec = importlib.util.spec_from_file_location("bf_backup", SCRIPT)
assert _spec and _spec.loader
bf_backup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bf_backup)

UTC = dt.UTC


def hourly(start: dt.datetime, count: int, step_hours: int) -> list[dt.datetime]:
    """Return `count` timestamps `step_hours` apart, oldest first."""
    return [start + dt.timedelta(hours=step_hours * i) for i in range(count)]


def kept_stamps(stamps: list[dt.datetime], **keep: int) -> list[dt.datetime]:
    """Return the kept timestamps, newest first."""
    return sorted((stamps[i] for i in retention.select_keep(stamps, keep)), reverse=True)


def test_keep_last_only() -> None:
    stamps = hourly(dt.datetime(2024, 1, 1, tzinfo=UTC), 10, 1)
    assert kept_stamps(stamps, last=3) == stamps[-3:][::-1]


def test_keep_nothing_means_nothing() -> None:
    stamps = hourly(dt.datetime(2024, 1, 1, tzinfo=UTC), 5, 1)
    assert kept_stamps(stamps) == []


def test_daily_keeps_newest_of_each_recent_day() -> None:
    # Four backups a day (every 6 h) for 10 days: 2024-01-01 00:00 ... 2024-01-10 18:00.
    stamps = hourly(dt.datetime(2024, 1, 1, tzinfo=UTC), 40, 6)
    kept = kept_stamps(stamps, daily=3)
    assert kept == [dt.datetime(2024, 1, d, 18, tzinfo=UTC) for d in (10, 9, 8)]


def test_weekly_uses_iso_weeks_and_monthly_calendar_months() -> None:
    # One backup a day, 2024-01-01 (a Monday) .. 2024-03-31.
    stamps = hourly(dt.datetime(2024, 1, 1, 2, tzinfo=UTC), 91, 24)
    weekly = kept_stamps(stamps, weekly=2)
    assert weekly == [
        dt.datetime(2024, 3, 31, 2, tzinfo=UTC),  # Sunday closing ISO week 13
        dt.datetime(2024, 3, 24, 2, tzinfo=UTC),
    ]
    monthly = kept_stamps(stamps, monthly=5)  # only three months exist
    assert monthly == [
        dt.datetime(2024, m, d, 2, tzinfo=UTC) for m, d in ((3, 31), (2, 29), (1, 31))
    ]


def test_generations_combine_without_double_counting() -> None:
    stamps = hourly(dt.datetime(2024, 1, 1, 2, tzinfo=UTC), 91, 24)
    kept = kept_stamps(stamps, last=2, daily=3, weekly=2, monthly=3)
    # last 2 and daily 3 overlap (31.3, 30.3, 29.3); weekly adds 24.3; monthly 29.2, 31.1.
    assert kept == [
        dt.datetime(2024, m, d, 2, tzinfo=UTC)
        for m, d in ((3, 31), (3, 30), (3, 29), (3, 24), (2, 29), (1, 31))
    ]


def test_daily_skips_days_without_backups() -> None:
    stamps = [dt.datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 10, 20)]
    assert kept_stamps(stamps, daily=3) == stamps[1:][::-1]


def make_backup(backup_dir: Path, name: str) -> None:
    """Create a minimal complete-looking backup directory."""
    (backup_dir / name).mkdir(parents=True)
    (backup_dir / name / "manifest.json").write_text("{}")


def test_prune_removes_exactly_the_unkept(tmp_path: Path) -> None:
    names = [f"st_db_202401{d:02d}T030000Z" for d in range(1, 11)]
    for name in names:
        make_backup(tmp_path, name)
    # A backup being written right now (temporary name) and an unrelated file stay.
    (tmp_path / ".tmp-inflight").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    cfg = {"backup_dir": str(tmp_path), "keep": {"last": 2, "daily": 4, "weekly": 0, "monthly": 0}}
    dry = retention.prune(cfg, dry_run=True)
    assert dry["removed"] == names[:6] and all((tmp_path / n).exists() for n in names)
    first = retention.prune(cfg)
    assert first["changed"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        names[6:] + [".tmp-inflight", "notes.txt"]
    )
    again = retention.prune(cfg)
    assert again == {"changed": False, "removed": [], "kept": names[6:]}


def test_prune_ignores_incomplete_backups(tmp_path: Path) -> None:
    (tmp_path / "st_db_20240101T030000Z").mkdir()  # no manifest: not a backup to count or delete
    make_backup(tmp_path, "st_db_20240102T030000Z")
    result = retention.prune({"backup_dir": str(tmp_path), "keep": {"last": 1}})
    assert result["changed"] is False
    assert (tmp_path / "st_db_20240101T030000Z").is_dir()


def test_same_second_gets_a_new_name(tmp_path: Path) -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    first = retention.new_backup_name(tmp_path, "st_db", now)
    make_backup(tmp_path, first)
    second = retention.new_backup_name(tmp_path, "st_db", now)
    make_backup(tmp_path, second)
    assert (first, second) == ("st_db_20240501T120000Z", "st_db_20240501T120000Z-1")
    assert [n for _, n in retention.list_backups(tmp_path)] == [first, second]
    assert retention.resolve_name({"backup_dir": str(tmp_path)}, "latest").name == second


@pytest.mark.parametrize("bad", ["../etc", "x", "st_db_2024", "st_db_20240101T030000Z/../x"])
def test_resolve_refuses_bad_names(tmp_path: Path, bad: str) -> None:
    with pytest.raises(common.BackupError):
        retention.resolve_name({"backup_dir": str(tmp_path)}, bad)


def test_migration_heads_of_the_app() -> None:
    versions = SCRIPT.parents[3] / "app" / "api" / "migrations" / "versions"
    heads = bf_backup.migration_heads(str(versions))
    assert len(heads) == 1
    out = json.loads(
        subprocess.run(
            ["python3", str(SCRIPT), "heads", str(versions)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert out["heads"] == heads


def _fake_backup(backup_dir: Path, archive: bytes) -> dict:
    """A backup whose checksums and origin are right and whose PgAdmin archive is `archive`."""
    import hashlib

    path = backup_dir / "st_db_20240101T030000Z"
    path.mkdir(parents=True)
    files = {"db.dump": b"PGDMP fake", "pgadmin.tar.gz": archive}
    for name, data in files.items():
        (path / name).write_bytes(data)
    manifest = {
        "name": path.name, "database": "db", "environment": "local", "stack": "st",
        "dump": "db.dump", "encrypted": False, "pgadmin": "pgadmin.tar.gz",
        "files": {n: {"sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()},
    }  # fmt: skip
    (path / "manifest.json").write_text(json.dumps(manifest))
    sums = {n: m["sha256"] for n, m in manifest["files"].items()}
    sums["manifest.json"] = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    (path / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in sums.items()))
    # docker must never be reached: the archive is refused first.
    return {"backup_dir": str(backup_dir), "database": "db", "environment": "local", "stack": "st",
            "pgadmin_volume": "pgadmin_data", "docker": "/nonexistent/docker"}  # fmt: skip


def _tar_gz(names: list[str]) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"x\n"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (_tar_gz(["./pgadmin4.db"])[:-40], "is unreadable"),
        (b"not a tar at all", "is unreadable"),
        (_tar_gz(["./ok", "../../etc/evil"]), "holds paths outside the volume"),
        (_tar_gz(["/etc/evil"]), "holds paths outside the volume"),
    ],
    ids=["truncated", "garbage", "dot-dot", "absolute"],
)
def test_pgadmin_archive_is_refused_before_the_volume_is_touched(
    tmp_path: Path, archive: bytes, message: str
) -> None:
    cfg = _fake_backup(tmp_path / "backups", archive)
    with pytest.raises(common.BackupError, match=message):
        pgadmin.do_restore_pgadmin(cfg, "latest", "20240101T030000Z")


@pytest.mark.parametrize(("level", "ok"), [(0, True), (9, True), (10, False), (-1, False),
                                           ("1", False), (True, False), (1.0, False)])  # fmt: skip
def test_compress_level_must_be_a_gzip_level(tmp_path: Path, level: object, ok: bool) -> None:
    path = tmp_path / "config.json"
    cfg = {"stack": "st", "environment": "local", "database": "db", "db_user": "u",
           "backup_dir": str(tmp_path), "compress_level": level}  # fmt: skip
    path.write_text(json.dumps(cfg))
    if ok:
        assert common.load_config(str(path))["compress_level"] == level
    else:
        with pytest.raises(common.BackupError, match="compress_level must be 0..9"):
            common.load_config(str(path))


@pytest.mark.parametrize(("jobs", "ok"), [(1, True), (32, True), (0, False), (33, False),
                                          ("2", False), (True, False), (2.0, False)])  # fmt: skip
def test_restore_jobs_must_be_a_job_count(tmp_path: Path, jobs: object, ok: bool) -> None:
    path = tmp_path / "config.json"
    cfg = {"stack": "st", "environment": "local", "database": "db", "db_user": "u",
           "backup_dir": str(tmp_path), "restore_jobs": jobs}  # fmt: skip
    path.write_text(json.dumps(cfg))
    if ok:
        assert common.load_config(str(path))["restore_jobs"] == jobs
    else:
        with pytest.raises(common.BackupError, match="restore_jobs must be 1..32"):
            common.load_config(str(path))
