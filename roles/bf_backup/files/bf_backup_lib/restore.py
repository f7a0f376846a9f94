# Running docker and pg_restore is this module's job (S603: argv lists, never a shell).
# SQL identifiers are quoted by format('%I.%I') in PostgreSQL or by ident() (S608).
# ruff: noqa: S603, S608
"""Restoring a checked backup: into a throwaway server to verify it, or into the stack's own.

`do_restore` never touches the live database before the restored copy matched its manifest;
the swap is a rename, and the previous database is kept.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .checksums import check_backup, compare, describe_database
from .common import BackupError, run
from .postgres import Postgres, find_container, ident, literal


def restore_into(pg: Postgres, dump: Path, database: str, jobs: int = 1, scratch: str = "") -> None:
    """pg_restore a custom-format dump into an existing empty database, stopping at any error.

    With jobs > 1 and a scratch directory in the container, the dump is copied there first and
    restored by that many parallel jobs: pg_restore --jobs needs a file it can seek in, and
    through a pipe one job loads every table and builds every index in turn.
    """
    argv = ["pg_restore", "--exit-on-error", "--no-password", "-U", pg.user, "-d", database]
    if jobs <= 1 or not scratch:
        with dump.open("rb") as handle:
            proc = subprocess.run(
                pg.exec_argv(*argv, stdin=True), stdin=handle, capture_output=True, check=False
            )
    else:
        staged = f"{scratch}/restore-{secrets.token_hex(8)}.dump"
        try:
            with dump.open("rb") as handle:
                copy = subprocess.run(
                    pg.exec_argv("sh", "-c", 'umask 077 && cat > "$1"', "sh", staged, stdin=True),
                    stdin=handle,
                    capture_output=True,
                    check=False,
                )
            if copy.returncode != 0:
                raise BackupError(
                    f"cannot stage the dump at {pg.container}:{staged} (space on its volume?): "
                    f"{copy.stderr.decode(errors='replace').strip()[-400:]}"
                )
            proc = subprocess.run(
                pg.exec_argv(*argv, f"--jobs={jobs}", staged), capture_output=True, check=False
            )
        finally:
            subprocess.run(pg.exec_argv("rm", "-f", staged), capture_output=True, check=False)
    if proc.returncode != 0:
        raise BackupError(
            f"pg_restore into {database} failed: "
            f"{proc.stderr.decode(errors='replace').strip()[-800:]}"
        )


def toc_check(pg: Postgres, dump: Path) -> int:
    """Read the archive's table of contents with pg_restore --list; return its entry count."""
    with dump.open("rb") as handle:
        proc = subprocess.run(
            pg.exec_argv("pg_restore", "--list", stdin=True),
            stdin=handle,
            capture_output=True,
            check=False,
        )
    if proc.returncode != 0:
        raise BackupError(
            f"pg_restore --list rejects the dump: "
            f"{proc.stderr.decode(errors='replace').strip()[-400:]}"
        )
    return sum(1 for line in proc.stdout.decode().splitlines() if line and line[0] != ";")


def throwaway_container(
    cfg: dict[str, Any], image: str, workdir: Path, user: str, database: str
) -> str:
    """Start a PostgreSQL container with no network and a random password; return its id."""
    secret = workdir / "pw"
    secret.write_text(secrets.token_urlsafe(24))
    os.chmod(secret, 0o644)  # read by uid 999 inside; workdir itself is 0700
    return run(
        [
            cfg["docker"],
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            f"bf-backup.verify={cfg['stack']}",
            "--mount",
            f"type=bind,source={secret},target=/run/secrets/pw,readonly",
            "-e",
            f"POSTGRES_USER={user}",
            "-e",
            f"POSTGRES_DB={database}",
            "-e",
            "POSTGRES_PASSWORD_FILE=/run/secrets/pw",
            image,
        ]
    ).stdout.strip()


def do_verify(
    cfg: dict[str, Any],
    name: str,
    container: str | None = None,
    image: str | None = None,
    toc_only: bool = False,
) -> dict[str, Any]:
    """Check a backup, then restore it into a throwaway PostgreSQL and compare with its manifest.

    With `container` the throwaway server is given (the playbook owns its life cycle); with
    `image` this function starts one and always removes it; with `toc_only` only the archive's
    table of contents is read (in the stack's own PostgreSQL container, nothing is restored).
    """
    with tempfile.TemporaryDirectory(prefix=".tmp-verify-", dir=cfg["backup_dir"]) as work:
        workdir = Path(work)
        manifest, dump = check_backup(cfg, name, workdir)
        result: dict[str, Any] = {"name": manifest["name"], "checksums": "ok"}
        if toc_only:
            pg = Postgres(
                cfg["docker"], find_container(cfg, cfg["postgres_service"]), manifest["db_user"]
            )
            result["toc_entries"] = toc_check(pg, dump)
            return result
        own = container is None
        if own:
            container = throwaway_container(
                cfg,
                image or manifest["postgres_image"],
                workdir,
                manifest["db_user"],
                manifest["database"],
            )
        try:
            pg = Postgres(cfg["docker"], container, manifest["db_user"])
            pg.wait_ready()
            # The postgres user's home: on the throwaway server's writable layer, and in every
            # image a backup may name (older ones have no scratch directory).
            restore_into(pg, dump, manifest["database"], cfg["restore_jobs"], "/var/lib/postgresql")
            info = describe_database(
                pg,
                manifest["database"],
                bool(manifest["tables"])
                and any(t["checksum"] for t in manifest["tables"].values()),
            )
        finally:
            if own:
                subprocess.run(
                    [cfg["docker"], "rm", "-f", "-v", container], capture_output=True, check=False
                )
        problems = compare(manifest, info)
        result.update(
            {
                "tables": len(info["tables"]),
                "rows": sum(t["rows"] for t in info["tables"].values()),
                "alembic_revision": info["alembic_revision"],
                "server_version": info["server_version"],
                "problems": problems,
            }
        )
        if problems:
            raise BackupError(
                f"backup {manifest['name']} does not restore to what its manifest "
                "describes: " + "; ".join(problems)
            )
        return result


def do_restore(cfg: dict[str, Any], name: str, stamp: str, keep_pre_restore: int) -> dict[str, Any]:
    """Restore a checked backup into a new database, compare it, then swap it in by renaming.

    The live database is only renamed (to <db>_pre_restore_<stamp>) after the new one was
    restored and matched its manifest; any failure before leaves it as it was.
    """
    if not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z?", stamp):
        raise BackupError(f"restore stamp '{stamp}' must look like 20240131T235959Z")
    stamp = stamp.lower()
    db = cfg["database"]
    new_db, old_db = f"{db}_restore_{stamp}", f"{db}_pre_restore_{stamp}"
    with tempfile.TemporaryDirectory(prefix=".tmp-restore-", dir=cfg["backup_dir"]) as work:
        manifest, dump = check_backup(cfg, name, Path(work))
        pg = Postgres(cfg["docker"], find_container(cfg, cfg["postgres_service"]), cfg["db_user"])
        pg.query("postgres", f"DROP DATABASE IF EXISTS {ident(new_db)};")
        pg.query(
            "postgres",
            f"CREATE DATABASE {ident(new_db)} OWNER {ident(cfg['db_user'])} TEMPLATE template0;",
        )
        try:
            restore_into(pg, dump, new_db, cfg["restore_jobs"], cfg["scratch_dir"])
            info = describe_database(pg, new_db, True)
            problems = compare(manifest, info)
            if problems:
                raise BackupError(
                    "the restored database differs from the manifest: " + "; ".join(problems)
                )
        except BaseException:
            pg.query("postgres", f"DROP DATABASE IF EXISTS {ident(new_db)};")
            raise
    # No new session may start between terminating the old ones and the rename.
    swap = f"""
ALTER DATABASE {ident(db)} ALLOW_CONNECTIONS false;
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = {literal(db)} AND pid <> pg_backend_pid();
SELECT pg_sleep(0.5);
BEGIN;
ALTER DATABASE {ident(db)} RENAME TO {ident(old_db)};
ALTER DATABASE {ident(new_db)} RENAME TO {ident(db)};
ALTER DATABASE {ident(old_db)} ALLOW_CONNECTIONS true;
COMMIT;
"""
    try:
        pg.query("postgres", swap)
    except BackupError:
        pg.query("postgres", f"ALTER DATABASE {ident(db)} ALLOW_CONNECTIONS true;")
        pg.query("postgres", f"DROP DATABASE IF EXISTS {ident(new_db)};")
        raise
    dropped = []
    olds = sorted(
        pg.query(
            "postgres",
            "SELECT datname FROM pg_database WHERE datname LIKE "
            f"{literal(db + '_pre_restore_%')} ORDER BY 1;",
        ).split(),
        reverse=True,
    )
    for old in olds[max(0, keep_pre_restore) :]:
        pg.query("postgres", f"DROP DATABASE {ident(old)} WITH (FORCE);")
        dropped.append(old)
    return {
        "changed": True,
        "name": manifest["name"],
        "database": db,
        "previous": old_db,
        "dropped_previous": dropped,
        "jobs": cfg["restore_jobs"] if cfg["scratch_dir"] else 1,
        "tables": len(info["tables"]),
        "rows": sum(t["rows"] for t in info["tables"].values()),
        "alembic_revision": info["alembic_revision"],
    }
