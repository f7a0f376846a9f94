#!/usr/bin/env python3
"""Back up, check, verify, restore and prune the PostgreSQL database of a Backend Framework stack.

Shipped to each database host by roles/bf_backup and run both by the playbooks and by the
scheduled job, so the host needs Python 3 and the Docker CLI, never Ansible. Standard library
only. Every command prints one JSON object (its result) as the last line of stdout; the
scheduled `backup` also logs one success or failure line to the log file and to syslog.

A backup is a directory `<backup_dir>/<stack>_<database>_<YYYYmmddTHHMMSSZ>[-N]/` holding
`db.dump` (pg_dump custom format, `.age` when encrypted), optionally `pgadmin.tar.gz[.age]`,
`manifest.json` and `SHA256SUMS`. It is assembled under a hidden temporary name and renamed into
place, so a listed backup is always complete.

This file is the command line. The work is done by the package bf_backup_lib beside it (one
module per concern; its __init__ lists them), which the role installs with it. It imports that
package without writing bytecode: the install directory holds only what the role put there, as
when this was one file, and no cache can outlive an upgrade.

No password is used anywhere: pg_dump, psql and pg_restore run inside the PostgreSQL container
as the postgres OS user over the local socket, which the bf/postgres image trusts.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Before the package is imported (a script's own directory is first on sys.path).
sys.dont_write_bytecode = True

from bf_backup_lib.backup import do_backup  # noqa: E402
from bf_backup_lib.checksums import check_backup  # noqa: E402
from bf_backup_lib.common import BackupError, load_config, log_line  # noqa: E402
from bf_backup_lib.pgadmin import do_restore_pgadmin  # noqa: E402
from bf_backup_lib.restore import do_restore, do_verify  # noqa: E402
from bf_backup_lib.retention import list_backups, prune  # noqa: E402


def migration_heads(versions_dir: str) -> list[str]:
    """Return the head revision(s) of an Alembic versions directory (read, never imported)."""
    revs: dict[str, set[str]] = {}
    for path in Path(versions_dir).glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev = re.search(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
        down = re.search(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", text, re.M)
        if rev:
            revs[rev.group(1)] = (
                set(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1))) if down else set()
            )
    parents = set().union(*revs.values()) if revs else set()
    return sorted(set(revs) - parents)


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run one command, print its JSON result."""
    parser = argparse.ArgumentParser(prog="bf-backup", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in ("backup", "prune", "list", "check", "verify", "restore", "restore-pgadmin"):
        p = sub.add_parser(cmd)
        p.add_argument("--config", required=True, help="JSON configuration rendered by the role")
        if cmd in ("backup", "prune"):
            p.add_argument("--now", help="UTC time YYYYmmddTHHMMSSZ instead of the clock")
        if cmd == "prune":
            p.add_argument("--dry-run", action="store_true")
        if cmd in ("check", "verify", "restore", "restore-pgadmin"):
            p.add_argument("--name", default="latest", help="backup name, or latest")
        if cmd == "verify":
            p.add_argument("--container", help="throwaway PostgreSQL container to restore into")
            p.add_argument("--image", help="start (and remove) a throwaway container of this image")
            p.add_argument("--toc-only", action="store_true")
        if cmd in ("restore", "restore-pgadmin"):
            p.add_argument("--stamp", required=True, help="suffix of the new/old database names")
        if cmd == "restore":
            p.add_argument("--keep-pre-restore", type=int, default=1)
    heads = sub.add_parser("heads")
    heads.add_argument("versions_dir")
    args = parser.parse_args(argv)

    if args.command == "heads":
        print(json.dumps({"heads": migration_heads(args.versions_dir)}))
        return 0
    cfg: dict[str, Any] = {}
    try:
        cfg = load_config(args.config)
        if args.command == "backup":
            result = do_backup(cfg, args.now)
            log_line(
                cfg,
                f"bf-backup OK {result['name']} stack={cfg['stack']} "
                f"size={result['size']} tables={result['tables']} "
                f"verify={'ok' if 'verify' in result else 'skipped'} "
                f"pruned={len(result['prune']['removed'])} "
                f"seconds={result['seconds']}",
                failure=False,
            )
        elif args.command == "prune":
            result = prune(cfg, args.dry_run)
        elif args.command == "list":
            result = {
                "changed": False,
                "backups": [n for _, n in list_backups(Path(cfg["backup_dir"]))],
            }
        elif args.command == "check":
            with tempfile.TemporaryDirectory(prefix=".tmp-check-", dir=cfg["backup_dir"]) as work:
                manifest, _ = check_backup(cfg, args.name, Path(work))
            result = {"changed": False, "manifest": manifest}
        elif args.command == "verify":
            result = {
                "changed": False,
                **do_verify(cfg, args.name, args.container, args.image, args.toc_only),
            }
        elif args.command == "restore-pgadmin":
            result = do_restore_pgadmin(cfg, args.name, args.stamp)
        else:
            result = do_restore(cfg, args.name, args.stamp, args.keep_pre_restore)
    except (BackupError, OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
        message = f"bf-backup FAILED {args.command} stack={cfg.get('stack', '?')}: {exc}"
        if args.command == "backup":
            log_line(cfg, message, failure=True)
        print(message, file=sys.stderr)
        print(json.dumps({"failed": True, "msg": str(exc)}))
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
