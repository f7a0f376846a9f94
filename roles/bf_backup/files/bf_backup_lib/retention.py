"""The backup directory: backup names, finding a backup by name, and the retention policy.

A backup is a directory `<stack>_<database>_<YYYYmmddTHHMMSSZ>[-N]` with a `manifest.json`;
anything else in the backup directory (hidden `.tmp-*` work directories, other files) is not a
backup, is never listed and is never pruned as one.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import TS_FORMAT, BackupError

NAME_RE = re.compile(r"^(?P<prefix>.+)_(?P<ts>\d{8}T\d{6}Z)(?:-(?P<seq>\d+))?$")


def list_backups(backup_dir: Path) -> list[tuple[dt.datetime, str]]:
    """Return (time, name) of every complete backup, oldest first."""
    found = []
    if backup_dir.is_dir():
        for entry in backup_dir.iterdir():
            match = NAME_RE.match(entry.name)
            if match and entry.is_dir() and (entry / "manifest.json").is_file():
                when = dt.datetime.strptime(match["ts"], TS_FORMAT).replace(tzinfo=dt.UTC)
                found.append((when, int(match["seq"] or 0), entry.name))
    return [(when, name) for when, _, name in sorted(found)]


def resolve_name(cfg: dict[str, Any], name: str) -> Path:
    """Return the directory of a backup, `latest` meaning the newest one."""
    backup_dir = Path(cfg["backup_dir"])
    if name in ("", "latest"):
        backups = list_backups(backup_dir)
        if not backups:
            raise BackupError(f"no backup in {backup_dir}")
        name = backups[-1][1]
    if not NAME_RE.match(name) or "/" in name:
        raise BackupError(f"'{name}' is not a backup name (<stack>_<db>_<YYYYmmddTHHMMSSZ>)")
    path = backup_dir / name
    if not (path / "manifest.json").is_file():
        raise BackupError(f"backup {name} does not exist in {backup_dir} (or has no manifest)")
    return path


def new_backup_name(backup_dir: Path, prefix: str, now: dt.datetime) -> str:
    """Return a backup name for `now` that no existing backup has (same second: -1, -2 ...)."""
    base = f"{prefix}_{now.strftime(TS_FORMAT)}"
    name, seq = base, 0
    while (backup_dir / name).exists():
        seq += 1
        name = f"{base}-{seq}"
    return name


def select_keep(stamps: Sequence[dt.datetime], keep: dict[str, int]) -> set[int]:
    """Return the indexes of the backups a retention policy keeps.

    The newest `last` backups are kept, plus the newest backup of each of the `daily` most
    recent days that have a backup, likewise `weekly` (ISO weeks) and `monthly` (months).
    """
    # Equal times (same-second backups) are in list order, the later one newer.
    order = sorted(range(len(stamps)), key=lambda i: (stamps[i], i), reverse=True)
    kept = set(order[: max(0, int(keep.get("last", 0)))])
    periods = {
        "daily": lambda t: t.date(),
        "weekly": lambda t: tuple(t.isocalendar())[:2],
        "monthly": lambda t: (t.year, t.month),
    }
    for kind, period_of in periods.items():
        wanted = max(0, int(keep.get(kind, 0)))
        seen: set[Any] = set()
        for i in order:
            if len(seen) >= wanted:
                break
            period = period_of(stamps[i])
            if period not in seen:
                seen.add(period)
                kept.add(i)
    return kept


def prune(cfg: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    """Remove the backups the retention policy does not keep, and stale temporary dirs."""
    backup_dir = Path(cfg["backup_dir"])
    backups = list_backups(backup_dir)
    kept = select_keep([when for when, _ in backups], cfg["keep"])
    removed = [name for i, (_, name) in enumerate(backups) if i not in kept]
    # A temporary dir older than a day belongs to a run that died (crash, power loss).
    cutoff = time.time() - 86400
    stale = (
        [p.name for p in backup_dir.glob(".tmp-*") if p.stat().st_mtime < cutoff]
        if backup_dir.is_dir()
        else []
    )
    if not dry_run:
        for name in removed + stale:
            shutil.rmtree(backup_dir / name)
    return {
        "changed": bool(removed or stale),
        "removed": removed + stale,
        "kept": [name for i, (_, name) in enumerate(backups) if i in kept],
    }
