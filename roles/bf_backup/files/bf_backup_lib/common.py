# Running commands and logger is this module's job (S603/S607: argv lists, never a shell).
# ruff: noqa: S603, S607
"""What every part of bf_backup uses: its error, the configuration, the clock, commands, the log.

BackupError carries a message meant for the operator; the CLI prints it and, for a scheduled
backup, logs it. Nothing here knows about PostgreSQL or about backups.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TS_FORMAT = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """A failure with a message meant for the operator."""


def load_config(path: str) -> dict[str, Any]:
    """Read the JSON configuration the role renders and fill in the defaults."""
    cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    for key in ("stack", "environment", "database", "db_user", "backup_dir"):
        if not cfg.get(key):
            raise BackupError(f"configuration {path} lacks '{key}'")
    cfg.setdefault("postgres_service", "postgres")
    cfg.setdefault("pgadmin_volume", "pgadmin_data")
    cfg.setdefault("pgadmin_enabled", True)
    cfg.setdefault("age_recipients", [])
    cfg.setdefault("age_identity_file", "")
    cfg.setdefault("table_checksums", True)
    cfg.setdefault("compress_level", 1)
    # type() rather than isinstance(): bool is an int, and 1.0 == 1 would pass `in range(10)`.
    if type(cfg["compress_level"]) is not int or not 0 <= cfg["compress_level"] <= 9:
        raise BackupError(f"configuration {path}: compress_level must be 0..9 (gzip)")
    cfg.setdefault("restore_jobs", 1)
    if type(cfg["restore_jobs"]) is not int or not 1 <= cfg["restore_jobs"] <= 32:
        raise BackupError(f"configuration {path}: restore_jobs must be 1..32 (pg_restore --jobs)")
    cfg.setdefault("scratch_dir", "")
    cfg.setdefault("verify", "toc")
    cfg.setdefault("log_file", "")
    cfg.setdefault("docker", "docker")
    cfg.setdefault("keep", {"last": 7, "daily": 7, "weekly": 4, "monthly": 6})
    return cfg


def utcnow(override: str | None = None) -> dt.datetime:
    """Return the current UTC time, or the `--now` value (tests and reproducible names)."""
    if override:
        return dt.datetime.strptime(override, TS_FORMAT).replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def run(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output and raise BackupError with its stderr on failure."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise BackupError(f"{' '.join(argv[:4])} ... failed: {proc.stderr.strip()[-800:]}")
    return proc


def log_line(cfg: dict[str, Any], line: str, failure: bool) -> None:
    """Append one line to the log file and send it to syslog; neither may break a backup."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if cfg.get("log_file"):
        try:
            with open(cfg["log_file"], "a", encoding="utf-8") as handle:
                handle.write(f"{stamp} {line}\n")
        except OSError as exc:
            print(f"bf-backup: cannot write {cfg['log_file']}: {exc}", file=sys.stderr)
    if shutil.which("logger"):
        prio = "user.err" if failure else "user.info"
        subprocess.run(
            ["logger", "-t", "bf-backup", "-p", prio, "--", line], capture_output=True, check=False
        )
