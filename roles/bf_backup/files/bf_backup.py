#!/usr/bin/env python3
# Running docker, age and logger is this script's job (S603/S607: argv lists, never a shell);
# SQL identifiers are quoted by format('%I.%I') in PostgreSQL or by ident() here (S608).
# ruff: noqa: S603, S607, S608
"""Back up, check, verify, restore and prune the PostgreSQL database of a Backend Framework stack.

Shipped to each database host by roles/bf_backup and run both by the playbooks and by the
scheduled job, so the host needs Python 3 and the Docker CLI, never Ansible. Standard library
only. Every command prints one JSON object (its result) as the last line of stdout; the
scheduled `backup` also logs one success or failure line to the log file and to syslog.

A backup is a directory `<backup_dir>/<stack>_<database>_<YYYYmmddTHHMMSSZ>[-N]/` holding
`db.dump` (pg_dump custom format, `.age` when encrypted), optionally `pgadmin.tar.gz[.age]`,
`manifest.json` and `SHA256SUMS`. It is assembled under a hidden temporary name and renamed into
place, so a listed backup is always complete.

No password is used anywhere: pg_dump, psql and pg_restore run inside the PostgreSQL container
as the postgres OS user over the local socket, which the bf/postgres image trusts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1
NAME_RE = re.compile(r"^(?P<prefix>.+)_(?P<ts>\d{8}T\d{6}Z)(?:-(?P<seq>\d+))?$")
TS_FORMAT = "%Y%m%dT%H%M%SZ"
CHUNK = 1024 * 1024
# Row text must not depend on the session: the same rows give the same checksum everywhere.
SESSION_SETTINGS = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 3; SET bytea_output = 'hex'; SET search_path = '';"
)
TABLES_SQL = (
    "SELECT coalesce(json_agg(format('%I.%I', schemaname, tablename) "
    "ORDER BY schemaname, tablename), '[]') FROM pg_catalog.pg_tables "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema');"
)


class BackupError(Exception):
    """A failure with a message meant for the operator."""


# --------------------------------------------------------------------------------------------
# Configuration and small helpers


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


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


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


# --------------------------------------------------------------------------------------------
# Talking to PostgreSQL inside its container


class Postgres:
    """psql/pg_dump/pg_restore inside a PostgreSQL container, over its trusted local socket."""

    def __init__(self, docker: str, container: str, user: str) -> None:
        self.docker = docker
        self.container = container
        self.user = user

    def exec_argv(self, *argv: str, stdin: bool = False) -> list[str]:
        """Return the `docker exec` argv running argv as the postgres OS user."""
        return [
            self.docker,
            "exec",
            *(["-i"] if stdin else []),
            "-u",
            "postgres",
            self.container,
            *argv,
        ]

    def psql_argv(self, database: str) -> list[str]:
        """Return the argv of a quiet, unaligned psql that stops at the first error."""
        return self.exec_argv(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "--no-password",
            "-U",
            self.user,
            "-d",
            database,
            stdin=True,
        )

    def query(self, database: str, sql: str) -> str:
        """Run SQL (as one psql script) and return its output."""
        return run(self.psql_argv(database), input=sql).stdout

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until the server answers on TCP (the image's sign that initialisation ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                self.exec_argv("pg_isready", "-q", "-h", "127.0.0.1", "-U", self.user),
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.5)
        raise BackupError(f"PostgreSQL in {self.container} did not become ready in {timeout:.0f}s")


class Session:
    """One long psql session driven line by line (it holds the snapshot pg_dump shares)."""

    def __init__(self, pg: Postgres, database: str) -> None:
        self.proc = subprocess.Popen(
            pg.psql_argv(database),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, sql: str) -> str:
        """Send statements whose last one returns exactly one row and column; return it."""
        if self.proc.stdin is None or self.proc.stdout is None:
            raise BackupError("psql session has no pipes")
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BackupError(f"psql session ended: {self.close()}")
        return line.rstrip("\n")

    def close(self, sql: str = "") -> str:
        """Send the last statements, end the session and return its stderr."""
        try:
            _, err = self.proc.communicate(sql + "\n\\q\n", timeout=60)
        except BrokenPipeError:
            _, err = self.proc.communicate(timeout=60)
        if self.proc.returncode != 0:
            raise BackupError(f"psql failed: {err.strip()[-800:]}")
        return err


def checksum_sql(table: str) -> str:
    """SQL giving `rows sum0 sum1` of a table: two sums of 64-bit hashes of its rows' text.

    A sum of per-row hashes is independent of row order and needs constant memory (an ordered
    string_agg of a large table would exceed PostgreSQL's 1 GB value limit), works for tables
    without a primary key, and, unlike XOR, does not cancel out duplicate rows. The two seeds of
    hashtextextended (stable across versions: hash partitioning depends on it) give 128 bits;
    sum(bigint) accumulates in 128-bit integers, so this is about as cheap as the row-to-text
    conversion itself.

    That conversion is nearly all of the cost, so it must happen once per row: a plain
    sub-select would be flattened into the outer query and `r` rendered again for each hash.
    The volatile clock_timestamp() column keeps the planner from flattening it (a volatile
    output may not be duplicated or dropped) while still allowing a parallel scan, which
    OFFSET 0 would not; it costs nothing next to the rendering and does not enter the sums,
    so the values are those of the flattened form.
    """
    return (
        "SELECT count(*)::text || ' ' || coalesce(sum(hashtextextended(r, 0)), 0)::text || ' ' "
        "|| coalesce(sum(hashtextextended(r, 1)), 0)::text "
        "FROM (SELECT bf_row__::text AS r, clock_timestamp() AS bf_once__ "
        f"FROM ONLY {table} AS bf_row__) AS bf_rows__;"
    )


def table_stats(ask: Any, tables: Iterable[str], checksums: bool) -> dict[str, dict[str, Any]]:
    """Return {table: {rows, checksum}} using `ask(sql) -> one line`."""
    stats: dict[str, dict[str, Any]] = {}
    for table in tables:
        if checksums:
            rows, high, low = ask(checksum_sql(table)).split()
            digest = hashlib.md5(f"{rows}:{high}:{low}".encode(), usedforsecurity=False)
            stats[table] = {"rows": int(rows), "checksum": digest.hexdigest()}
        else:
            stats[table] = {
                "rows": int(ask(f"SELECT count(*) FROM ONLY {table};")),
                "checksum": None,
            }
    return stats


def alembic_sql() -> str:
    """SQL returning the Alembic revision(s), or an empty line when there is no such table."""
    return (
        "SELECT CASE WHEN to_regclass('public.alembic_version') IS NULL THEN '' ELSE "
        "(xpath('/row/v/text()', query_to_xml('SELECT string_agg(version_num, '','' "
        "ORDER BY version_num) AS v FROM public.alembic_version', false, true, '')))[1]::text "
        "END;"
    )


def describe_database(pg: Postgres, database: str, checksums: bool) -> dict[str, Any]:
    """Return server version, Alembic revision and per-table stats of a database, at rest."""
    session = Session(pg, database)
    session.ask(SESSION_SETTINGS + " BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1;")
    info = {
        "server_version": session.ask("SHOW server_version;"),
        "alembic_revision": session.ask(alembic_sql()) or None,
    }
    tables = json.loads(session.ask(TABLES_SQL))
    info["tables"] = table_stats(session.ask, tables, checksums)
    session.close("COMMIT;")
    return info


# --------------------------------------------------------------------------------------------
# Finding things


def find_container(cfg: dict[str, Any], service: str) -> str:
    """Return the id of the running task container of a service of the stack on this host."""
    out = run(
        [
            cfg["docker"],
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.swarm.service.name={cfg['stack']}_{service}",
            "--filter",
            "status=running",
        ]
    ).stdout.split()
    if len(out) != 1:
        raise BackupError(
            f"expected one running '{service}' task of the stack '{cfg['stack']}' on this "
            f"host, found {len(out)}"
        )
    return out[0]


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


# --------------------------------------------------------------------------------------------
# Retention


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


# --------------------------------------------------------------------------------------------
# Backup


def encrypt_argv(cfg: dict[str, Any], dest: Path) -> list[str] | None:
    """Return the age argv encrypting stdin to dest, or None when encryption is off."""
    if not cfg["age_recipients"]:
        return None
    argv = ["age", "--encrypt"]
    for recipient in cfg["age_recipients"]:
        argv += ["--recipient", recipient]
    return argv + ["--output", str(dest)]


def stream_to_file(argv: list[str], dest: Path, cfg: dict[str, Any]) -> subprocess.Popen[bytes]:
    """Start argv with its stdout going to dest, through age when encryption is on."""
    age = encrypt_argv(cfg, dest)
    if age is None:
        with dest.open("wb") as out:
            return subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
    producer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    consumer = subprocess.Popen(age, stdin=producer.stdout, stderr=subprocess.PIPE)
    if producer.stdout is not None:
        producer.stdout.close()
    producer.bf_consumer = consumer  # type: ignore[attr-defined]
    return producer


def wait_stream(proc: subprocess.Popen[bytes], what: str) -> None:
    """Wait for a stream_to_file pipeline and raise on any failing part."""
    _, err = proc.communicate()
    consumer = getattr(proc, "bf_consumer", None)
    cerr = consumer.communicate()[1] if consumer else b""
    if proc.returncode != 0:
        raise BackupError(f"{what} failed: {err.decode(errors='replace').strip()[-800:]}")
    if consumer and consumer.returncode != 0:
        raise BackupError(f"age failed on {what}: {cerr.decode(errors='replace').strip()[-400:]}")


def new_backup_name(backup_dir: Path, prefix: str, now: dt.datetime) -> str:
    """Return a backup name for `now` that no existing backup has (same second: -1, -2 ...)."""
    base = f"{prefix}_{now.strftime(TS_FORMAT)}"
    name, seq = base, 0
    while (backup_dir / name).exists():
        seq += 1
        name = f"{base}-{seq}"
    return name


def backup_pgadmin(cfg: dict[str, Any], image: str, dest: Path) -> bool:
    """Tar the PgAdmin data volume through a throwaway container; False if it is not here."""
    volume = f"{cfg['stack']}_{cfg['pgadmin_volume']}"
    probe = subprocess.run(
        [cfg["docker"], "volume", "inspect", volume], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return False
    argv = [
        cfg["docker"],
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "tar",
        "--mount",
        f"type=volume,source={volume},target=/data,readonly",
        image,
        "-C",
        "/data",
        "-czf",
        "-",
        ".",
    ]
    wait_stream(stream_to_file(argv, dest, cfg), "the PgAdmin volume archive")
    return True


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


# --------------------------------------------------------------------------------------------
# Check, verify, restore


def check_backup(
    cfg: dict[str, Any], name: str, workdir: Path, decrypt: bool = True
) -> tuple[dict[str, Any], Path]:
    """Check a backup's checksums and origin before anything uses it; return manifest, plain dump.

    An encrypted dump is decrypted into workdir (the caller removes it) unless decrypt is False.
    """
    path = resolve_name(cfg, name)
    sums_file = path / "SHA256SUMS"
    if not sums_file.is_file():
        raise BackupError(f"backup {path.name} has no SHA256SUMS: refusing it")
    sums = {}
    for line in sums_file.read_text().splitlines():
        digest, _, fname = line.partition("  ")
        sums[fname] = digest
    for fname in ("manifest.json", *sorted(set(sums) - {"manifest.json"})):
        if fname not in sums or not (path / fname).is_file():
            raise BackupError(f"backup {path.name}: {fname} is missing: refusing it")
        if sha256_file(path / fname) != sums[fname]:
            raise BackupError(
                f"backup {path.name}: {fname} does not match its SHA-256 "
                "(corrupt or truncated): refusing it"
            )
    manifest = json.loads((path / "manifest.json").read_text())
    for fname, meta in manifest["files"].items():
        if sums.get(fname) != meta["sha256"]:
            raise BackupError(f"backup {path.name}: SHA256SUMS and manifest disagree on {fname}")
    expected = {
        "database": cfg["database"],
        "environment": cfg["environment"],
        "stack": cfg["stack"],
    }
    foreign = {k: manifest.get(k) for k, v in expected.items() if manifest.get(k) != v}
    if foreign:
        raise BackupError(
            f"backup {path.name} is foreign: it was taken of "
            + ", ".join(f"{k} '{v}'" for k, v in foreign.items())
            + " but this is "
            + ", ".join(f"{k} '{expected[k]}'" for k in foreign)
            + ": refusing it"
        )
    dump = path / manifest["dump"]
    if manifest["encrypted"] and decrypt:
        identity = cfg.get("age_identity_file")
        if not identity or not Path(identity).is_file():
            raise BackupError(
                f"backup {path.name} is encrypted: set the age identity file "
                "(bf_backup_age_identity_file) to a readable file on this host"
            )
        plain = workdir / "db.dump"
        with plain.open("wb") as out:
            proc = subprocess.run(
                ["age", "--decrypt", "--identity", identity, str(dump)],
                stdout=out,
                stderr=subprocess.PIPE,
                check=False,
            )
        if proc.returncode != 0:
            raise BackupError(
                f"backup {path.name} cannot be decrypted: "
                f"{proc.stderr.decode(errors='replace').strip()[-300:]}"
            )
        dump = plain
    return manifest, dump


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


def compare(manifest: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """Return the differences between a manifest and a restored database's description."""
    problems = []
    want, got = manifest["tables"], info["tables"]
    for table in sorted(set(want) | set(got)):
        if table not in got:
            problems.append(f"{table}: missing after restore")
        elif table not in want:
            problems.append(f"{table}: not in the manifest")
        elif want[table]["rows"] != got[table]["rows"]:
            problems.append(
                f"{table}: {got[table]['rows']} rows, manifest says {want[table]['rows']}"
            )
        elif want[table]["checksum"] and want[table]["checksum"] != got[table]["checksum"]:
            problems.append(f"{table}: content checksum differs from the manifest")
    if manifest.get("alembic_revision") != info.get("alembic_revision"):
        problems.append(
            f"alembic revision {info.get('alembic_revision')} != manifest "
            f"{manifest.get('alembic_revision')}"
        )
    return problems


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


def ident(name: str) -> str:
    """Quote a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """Quote a PostgreSQL string literal."""
    return "'" + value.replace("'", "''") + "'"


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


def volume_tar(cfg: dict[str, Any], image: str, volume: str, *tar_args: str) -> list[str]:
    """Return the argv of a no-network root container running tar on a volume at /data."""
    return [
        cfg["docker"],
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--user",
        "0:0",
        "--entrypoint",
        "tar",
        "--mount",
        f"type=volume,source={volume},target=/data",
        image,
        "-C",
        "/data",
        *tar_args,
    ]


def do_restore_pgadmin(cfg: dict[str, Any], name: str, stamp: str) -> dict[str, Any]:
    """Replace the PgAdmin data volume's content with the backup's archive.

    The archive is checked (SHA-256, origin, decryption, a full read of the tar) before the volume
    is touched, and the volume's current content is saved next to the backups first, so a failed
    extraction puts it back. PgAdmin must be stopped (restore.yml does it).
    """
    if not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z?", stamp):
        raise BackupError(f"restore stamp '{stamp}' must look like 20240131T235959Z")
    volume = f"{cfg['stack']}_{cfg['pgadmin_volume']}"
    with tempfile.TemporaryDirectory(prefix=".tmp-pgadmin-", dir=cfg["backup_dir"]) as work:
        manifest, _ = check_backup(cfg, name, Path(work), decrypt=False)
        if not manifest.get("pgadmin"):
            return {"changed": False, "name": manifest["name"], "pgadmin": "not in this backup"}
        archive = resolve_name(cfg, name) / manifest["pgadmin"]
        if manifest["encrypted"]:
            identity = cfg.get("age_identity_file")
            if not identity or not Path(identity).is_file():
                raise BackupError(
                    f"backup {manifest['name']} is encrypted: set the age identity file "
                    "(bf_backup_age_identity_file) to a readable file on this host"
                )
            plain = Path(work) / "pgadmin.tar.gz"
            with plain.open("wb") as out:
                proc = subprocess.run(
                    ["age", "--decrypt", "--identity", identity, str(archive)],
                    stdout=out,
                    stderr=subprocess.PIPE,
                    check=False,
                )
            if proc.returncode != 0:
                raise BackupError(
                    f"{archive.name} of {manifest['name']} cannot be decrypted: "
                    f"{proc.stderr.decode(errors='replace').strip()[-300:]}"
                )
            archive = plain
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"{archive.name} of {manifest['name']} is unreadable: {exc}") from exc
        unsafe = [m.name for m in members if m.name.startswith("/") or ".." in m.name.split("/")]
        if unsafe:
            raise BackupError(f"{archive.name} holds paths outside the volume: {unsafe[:3]}")
        if subprocess.run(
            [cfg["docker"], "volume", "inspect", volume], capture_output=True, check=False
        ).returncode:
            run([cfg["docker"], "volume", "create", volume])
        image = run(
            [
                cfg["docker"],
                "inspect",
                "--format",
                "{{.Config.Image}}",
                find_container(cfg, cfg["postgres_service"]),
            ]
        ).stdout.strip()
        # The volume's current content, kept until the next PgAdmin restore replaces it.
        saved = Path(cfg["backup_dir"]) / f".pgadmin-pre-restore-{stamp.lower()}.tar.gz"
        wait_stream(
            # Kept on this host only, next to the backups, so never encrypted.
            stream_to_file(
                volume_tar(cfg, image, volume, "-czf", "-", "."), saved, {"age_recipients": []}
            ),
            "saving the current PgAdmin volume",
        )
        os.chmod(saved, 0o600)
        wipe_and_extract = ["--numeric-owner", "--same-owner", "-xzf", "-"]
        clear = [
            cfg["docker"], "run", "--rm", "--network", "none", "--user", "0:0",
            "--entrypoint", "find", "--mount", f"type=volume,source={volume},target=/data",
            image, "/data", "-mindepth", "1", "-delete",
        ]  # fmt: skip
        try:
            run(clear)
            with archive.open("rb") as handle:
                proc = subprocess.run(
                    volume_tar(cfg, image, volume, *wipe_and_extract),
                    stdin=handle,
                    capture_output=True,
                    check=False,
                )
            if proc.returncode != 0:
                raise BackupError(
                    "extracting the PgAdmin archive failed: "
                    f"{proc.stderr.decode(errors='replace').strip()[-400:]}"
                )
        except BackupError:
            run(clear)
            with saved.open("rb") as handle:
                subprocess.run(
                    volume_tar(cfg, image, volume, *wipe_and_extract),
                    stdin=handle,
                    capture_output=True,
                    check=True,
                )
            raise
        for old in Path(cfg["backup_dir"]).glob(".pgadmin-pre-restore-*.tar.gz"):
            if old != saved:
                old.unlink()
    return {
        "changed": True,
        "name": manifest["name"],
        "pgadmin": f"{len(members)} entries restored into {volume}",
        "previous": str(saved),
    }


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
