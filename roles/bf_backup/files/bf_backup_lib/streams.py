# Running the producer and age is this module's job (S603: argv lists, never a shell).
# ruff: noqa: S603
"""A command's output written to a file, through age when encryption is on.

The dump and both PgAdmin archives (the one a backup takes, the copy a restore saves first) are
written this way, so the pipeline and its error reporting live in one place.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from .common import BackupError


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
