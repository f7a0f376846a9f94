# Running age (decryption) is part of this module's job (S603/S607: argv lists, never a shell).
# SQL identifiers are quoted by format('%I.%I') in PostgreSQL or by ident() (S608).
# ruff: noqa: S603, S607, S608
"""Checksums: of a backup's files (SHA256SUMS) and of a database's tables (the manifest).

`check_backup` is what every command runs before it uses a backup (files against SHA256SUMS,
SHA256SUMS against the manifest, the manifest's origin against the configuration);
`describe_database` and `compare` are how a restored database is proven to hold what the
manifest says the dump held.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .common import BackupError
from .postgres import SESSION_SETTINGS, TABLES_SQL, Postgres, Session, alembic_sql
from .retention import resolve_name

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


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
