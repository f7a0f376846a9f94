"""Taking one backup: dump, row checksums, manifest, SHA256SUMS, atomic rename, verify, prune.

A backup is assembled under a hidden temporary name and renamed into place, so a listed backup
is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .checksums import check_backup, sha256_file, table_stats
from .common import run, utcnow
from .pgadmin import backup_pgadmin
from .postgres import SESSION_SETTINGS, TABLES_SQL, Postgres, Session, alembic_sql, find_container
from .restore import do_verify
from .retention import new_backup_name, prune
from .streams import stream_to_file, wait_stream

MANIFEST_VERSION = 1


def do_backup(cfg: dict[str, Any], now_override: str | None = None) -> dict[str, Any]:
    """Dump the database consistently, write the manifest, verify, then apply retention."""
    started = time.monotonic()
    now = utcnow(now_override)
    backup_dir = Path(cfg["backup_dir"])
    backup_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    container = find_container(cfg, cfg["postgres_service"])
    image = run(
        [cfg["docker"], "inspect", "--format", "{{.Config.Image}}", container]
    ).stdout.strip()
    pg = Postgres(cfg["docker"], container, cfg["db_user"])
    suffix = ".age" if cfg["age_recipients"] else ""
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=backup_dir))
    try:
        os.chmod(tmp, 0o750)  # noqa: S103 - a directory: root and its group may list it
        dump = tmp / f"db.dump{suffix}"
        # One snapshot for pg_dump and for the row counts and checksums, so they describe the
        # very same data; the session must stay open until pg_dump has imported the snapshot.
        session = Session(pg, cfg["database"])
        snapshot = session.ask(
            SESSION_SETTINGS + " BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
            " SELECT pg_export_snapshot();"
        )
        # gzip level: 1 takes about half the CPU of pg_dump's default 6 for 9-13 % more bytes
        # (docs/BACKUP.md, Speed), and the CPU is what a 2-core host lacks during a backup.
        dumper = stream_to_file(
            pg.exec_argv(
                "pg_dump",
                "-Fc",
                f"--compress={cfg['compress_level']}",
                "--no-password",
                f"--snapshot={snapshot}",
                "-U",
                cfg["db_user"],
                "-d",
                cfg["database"],
            ),
            dump,
            cfg,
        )
        info = {
            "server_version": session.ask("SHOW server_version;"),
            "alembic_revision": session.ask(alembic_sql()) or None,
        }
        tables = json.loads(session.ask(TABLES_SQL))
        # The checksum queries run on the second core while pg_dump compresses on the first.
        info["tables"] = table_stats(session.ask, tables, cfg["table_checksums"])
        wait_stream(dumper, "pg_dump")
        session.close("COMMIT;")
        # Re-reading the dump for its SHA-256 costs ~0.15 s per 160 MB (page cache, SHA-NI);
        # hashing in-stream would put every byte through Python instead of the docker CLI's
        # own write to the file, for no measurable gain.
        files = {dump.name: {"sha256": sha256_file(dump), "size": dump.stat().st_size}}
        pgadmin = tmp / f"pgadmin.tar.gz{suffix}"
        if cfg["pgadmin_enabled"] and backup_pgadmin(cfg, image, pgadmin):
            files[pgadmin.name] = {"sha256": sha256_file(pgadmin), "size": pgadmin.stat().st_size}
        name = new_backup_name(backup_dir, f"{cfg['stack']}_{cfg['database']}", now)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "name": name,
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stack": cfg["stack"],
            "environment": cfg["environment"],
            "database": cfg["database"],
            "db_user": cfg["db_user"],
            "postgres_image": image,
            "server_version": info["server_version"],
            "alembic_revision": info["alembic_revision"],
            "format": "pg_dump custom (-Fc)",
            "compress_level": cfg["compress_level"],
            "encrypted": bool(suffix),
            "dump": dump.name,
            "pgadmin": pgadmin.name if pgadmin.name in files else None,
            "files": files,
            "size": sum(f["size"] for f in files.values()),
            "tables": info["tables"],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        sums = {
            **{n: f["sha256"] for n, f in files.items()},
            "manifest.json": sha256_file(tmp / "manifest.json"),
        }
        (tmp / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sorted(sums.items())))
        for path in tmp.iterdir():
            os.chmod(path, 0o640)
        # Everything is on disk before the rename makes the backup visible.
        for path in [*tmp.iterdir(), tmp]:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.rename(tmp, backup_dir / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result: dict[str, Any] = {
        "changed": True,
        "name": name,
        "path": str(backup_dir / name),
        "size": manifest["size"],
        "tables": len(manifest["tables"]),
        "files": sorted(files),
        "alembic_revision": manifest["alembic_revision"],
    }
    if cfg["verify"] != "none" and suffix and not cfg.get("age_identity_file"):
        # Encryption at rest usually means the host holds only the public recipients: it can
        # re-check the stored bytes, not read them (verify-backup.yml, given the key, can).
        with tempfile.TemporaryDirectory(prefix=".tmp-check-", dir=backup_dir) as work:
            check_backup(cfg, name, Path(work), decrypt=False)
        result["verify"] = {
            "name": name,
            "checksums": "ok",
            "content": "not checked: encrypted and no age identity on this host",
        }
    elif cfg["verify"] != "none":
        result["verify"] = do_verify(
            cfg,
            name,
            image=image if cfg["verify"] == "full" else None,
            toc_only=cfg["verify"] == "toc",
        )
    result["prune"] = prune(cfg)
    result["seconds"] = round(time.monotonic() - started, 2)
    return result
