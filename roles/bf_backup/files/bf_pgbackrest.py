#!/usr/bin/env python3
# Running docker and logger is this script's job (S603/S607: argv lists, never a shell).
# ruff: noqa: S603, S607
"""Drive the pgBackRest repository of a Backend Framework stack from its host.

Shipped to the bf_backup host by roles/bf_backup and run both by the playbooks and by the
scheduled job, so the host needs Python 3 and the Docker CLI, never Ansible. Standard library
only. pgBackRest itself runs inside the stack's pgbackrest task (the repository service), as
the postgres user, with the options the stack model gives that service; this script only picks
the task, runs one pgBackRest command in it, and prints one JSON object as its last line.

Commands:
  stanza   make the stanza if the repository has none, check that the WAL archive works end to
           end, and take the first full backup if there is no valid one (so that point-in-time
           recovery is possible from the first deploy on); reports whether it changed anything
  backup   take a base backup: --type full, diff, incr, or auto (full when the newest full one
           is older than --full-days, else differential); retention runs after it
  info     the repository's backups and WAL archive range
  verify   pgBackRest's verify (every file of the repository against its checksum) and a
           stanza in good health
  check-target
           before a point-in-time restore touches anything: verify, then check that
           --target-time (an ISO time with its zone, or `latest`) lies between the end of the
           oldest valid base backup and now; prints the time in pgBackRest's form and the backup
           set pgBackRest will restore from
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# pgBackRest's `info` status codes (src/command/info/info.c).
STATUS_OK = 0
STATUS_MISSING_STANZA_PATH = 1
STATUS_NO_BACKUP = 2
STATUS_MISSING_STANZA_DATA = 3


class RepoError(Exception):
    """A failure with a message meant for the operator."""


def run(argv: list[str], timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """Run a command and return it; a non-zero exit is a RepoError with its output."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise RepoError(f"{' '.join(argv[-3:])} failed ({proc.returncode}): {detail}")
    return proc


def find_repository(args: argparse.Namespace) -> str:
    """Return the id of the running, healthy pgbackrest task of the stack on this host."""
    service = f"{args.stack}_pgbackrest"
    deadline = time.monotonic() + args.wait
    while True:
        out = run(
            [
                args.docker,
                "ps",
                "-q",
                "--filter",
                f"label=com.docker.swarm.service.name={service}",
                "--filter",
                "status=running",
                "--filter",
                "health=healthy",
            ]
        ).stdout.split()
        if len(out) == 1:
            return out[0]
        if time.monotonic() >= deadline:
            raise RepoError(
                f"expected one running, healthy task of {service} on this host, found "
                f"{len(out)} after {args.wait:.0f} s: is this host in bf_backup, and did "
                f"site.yml deploy the stack? (docker service ps {service})"
            )
        time.sleep(2)


def pgbackrest(args: argparse.Namespace, container: str, *command: str) -> str:
    """Run one pgBackRest command in the repository task and return its stdout."""
    return run(
        [
            args.docker,
            "exec",
            "-u",
            "postgres",
            container,
            "pgbackrest",
            "--log-level-console=warn",
            *command,
        ]
    ).stdout


def stanza_info(args: argparse.Namespace, container: str) -> dict[str, Any]:
    """The `info` of the stack's stanza (pgBackRest's JSON, one stanza)."""
    text = pgbackrest(args, container, "info", "--output=json")
    stanzas = json.loads(text)
    if len(stanzas) != 1:
        raise RepoError(f"pgBackRest info listed {len(stanzas)} stanzas, expected one")
    return stanzas[0]


def summary(info: dict[str, Any]) -> dict[str, Any]:
    """The parts of `info` an operator and the tests read."""
    backups = [
        {
            "label": b["label"],
            "type": b["type"],
            "start": b["timestamp"]["start"],
            "stop": b["timestamp"]["stop"],
            "size": b["info"]["size"],
            "repo_size": b["info"]["repository"]["delta"],
            "error": bool(b.get("error")),
        }
        for b in info.get("backup", [])
    ]
    archive = info.get("archive") or [{}]
    return {
        "stanza": info.get("name"),
        "status": info["status"]["code"],
        "message": info["status"]["message"],
        "cipher": info.get("cipher"),
        "backups": backups,
        "wal_min": archive[-1].get("min"),
        "wal_max": archive[-1].get("max"),
    }


def take_backup(args: argparse.Namespace, container: str, kind: str) -> dict[str, Any]:
    """Take a base backup of the given type and return its entry of `info`."""
    before = {b["label"] for b in stanza_info(args, container).get("backup", [])}
    started = time.monotonic()
    # --start-fast: an immediate checkpoint instead of waiting for the next one. On the command
    # line, not as PGBACKREST_START_FAST=y in the stack file, where docker.io 20.10's Compose
    # loader (YAML 1.1) reads a plain y as a boolean and refuses the whole stack.
    pgbackrest(args, container, "backup", f"--type={kind}", "--start-fast")
    seconds = round(time.monotonic() - started, 1)
    after = summary(stanza_info(args, container))
    new = [b for b in after["backups"] if b["label"] not in before]
    if not new:
        raise RepoError("pgBackRest reported success but lists no new backup")
    return {**new[-1], "seconds": seconds, "backups": len(after["backups"])}


def choose_type(args: argparse.Namespace, info: dict[str, Any]) -> str:
    """auto: a full backup when none is newer than --full-days, else a differential one."""
    if args.type != "auto":
        return str(args.type)
    fulls = [b["timestamp"]["stop"] for b in info.get("backup", []) if b["type"] == "full"]
    if not fulls or time.time() - max(fulls) > args.full_days * 86400:
        return "full"
    return "diff"


def cmd_stanza(args: argparse.Namespace) -> dict[str, Any]:
    """Make the stanza if missing, check the archive, take a first full backup if none."""
    container = find_repository(args)
    info = stanza_info(args, container)
    code = info["status"]["code"]
    created = False
    if code in (STATUS_MISSING_STANZA_PATH, STATUS_MISSING_STANZA_DATA):
        pgbackrest(args, container, "stanza-create")
        created = True
    elif code not in (STATUS_OK, STATUS_NO_BACKUP):
        raise RepoError(
            f"the stanza {info.get('name')} is not usable: {info['status']['message']} "
            f"(pgBackRest status {code})"
        )
    # Switches to a new WAL segment and waits until the repository has it: the archive works.
    try:
        pgbackrest(args, container, "check")
    except RepoError as exc:
        if "system-id" in str(exc) or "system identifier" in str(exc):
            raise RepoError(
                f"{exc}. The repository holds another cluster than the one running now: after "
                "a new database host, restore the repository's cluster into it with "
                "playbooks/restore.yml -e restore_confirm=yes -e restore_target=latest, then run "
                "site.yml again (docs/OPERATIONS.md, 'The database host is gone'); a repository "
                "of another stack must not be used at all"
            ) from exc
        raise
    first = None
    if created or not [b for b in info.get("backup", []) if not b.get("error")]:
        first = take_backup(args, container, "full")
    return {
        "changed": created or first is not None,
        "created": created,
        "first_backup": first,
        **summary(stanza_info(args, container)),
    }


def cmd_backup(args: argparse.Namespace) -> dict[str, Any]:
    """Take a base backup of the chosen type."""
    container = find_repository(args)
    kind = choose_type(args, stanza_info(args, container))
    return {"changed": True, **take_backup(args, container, kind)}


def cmd_info(args: argparse.Namespace) -> dict[str, Any]:
    """Summarise the repository."""
    return {"changed": False, **summary(stanza_info(args, find_repository(args)))}


def cmd_verify(args: argparse.Namespace) -> dict[str, Any]:
    """Check every file of the repository and the stanza's health."""
    container = find_repository(args)
    started = time.monotonic()
    # verify exits non-zero when a file of the repository does not match its checksum.
    pgbackrest(args, container, "verify")
    info = summary(stanza_info(args, container))
    if info["status"] != STATUS_OK:
        raise RepoError(f"the stanza {info['stanza']} is not healthy: {info['message']}")
    return {"changed": False, "seconds": round(time.monotonic() - started, 1), **info}


def parse_target(text: str) -> dt.datetime:
    """An ISO 8601 time with its zone (e.g. 2026-12-03 17:00:00+00) as an aware datetime."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise RepoError(
            f"restore_target_time {text!r} is not a time such as '2026-12-03 17:00:00+00'"
        ) from exc
    if when.tzinfo is None:
        raise RepoError(
            f"restore_target_time {text!r} has no time zone: add one, e.g. '{text.strip()}+00' "
            "for UTC (a time without one means a different moment on each host)"
        )
    return when


def pick_backup(info: dict[str, Any], target: dt.datetime | None) -> dict[str, Any]:
    """The newest valid backup that ended before the target (the newest of all for latest)."""
    valid = [b for b in info.get("backup", []) if not b.get("error")]
    if not valid:
        raise RepoError("the repository holds no valid base backup to restore from")
    if target is None:
        return valid[-1]
    before = [b for b in valid if b["timestamp"]["stop"] <= target.timestamp()]
    if not before:
        oldest = dt.datetime.fromtimestamp(valid[0]["timestamp"]["stop"], dt.UTC)
        raise RepoError(
            f"{target.isoformat()} is before the end of the oldest base backup "
            f"({oldest.isoformat()}): the repository cannot go back that far"
        )
    return before[-1]


def cmd_check_target(args: argparse.Namespace) -> dict[str, Any]:
    """Verify the repository and check the restore target against it, changing nothing."""
    target = None if args.target_time == "latest" else parse_target(args.target_time)
    now = dt.datetime.now(dt.UTC)
    if target is not None and target > now:
        raise RepoError(f"{target.isoformat()} is in the future (it is {now.isoformat()} now)")
    result = cmd_verify(args)
    container = find_repository(args)
    backup = pick_backup(stanza_info(args, container), target)
    return {
        **result,
        "target": "latest" if target is None else target.astimezone(dt.UTC).isoformat(" "),
        "backup": backup["label"],
    }


def log(args: argparse.Namespace, line: str, ok: bool) -> None:
    """Append one line to the log file and send it to syslog; neither may break a run."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        with Path(args.log_file).open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {line}\n")
    except OSError:
        pass
    if shutil.which("logger"):
        prio = "user.info" if ok else "user.err"
        subprocess.run(
            ["logger", "-t", "bf-pgbackrest", "-p", prio, "--", line],
            capture_output=True,
            check=False,
        )


COMMANDS = {
    "stanza": cmd_stanza,
    "backup": cmd_backup,
    "info": cmd_info,
    "verify": cmd_verify,
    "check-target": cmd_check_target,
}


def main(argv: list[str] | None = None) -> int:
    """Run one command; print its JSON result last; exit 1 on failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--stack", required=True, help="the stack name (bf_stack_name)")
    parser.add_argument("--type", default="auto", choices=["auto", "full", "diff", "incr"])
    parser.add_argument("--full-days", type=float, default=7.0)
    parser.add_argument("--target-time", default="latest", help="check-target: ISO time or latest")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the task")
    parser.add_argument("--docker", default="docker")
    parser.add_argument("--log-file", default="")
    args = parser.parse_args(argv)
    try:
        result = COMMANDS[args.command](args)
    except (RepoError, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError) as exc:
        message = f"{args.command} FAILED: {exc}"
        if args.log_file:
            log(args, message, ok=False)
        print(message, file=sys.stderr)
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    if args.log_file and args.command == "backup":
        log(args, f"backup OK: {result['label']} ({result['type']}, {result['seconds']} s)", True)
    print(json.dumps({"ok": True, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
