# Running docker and age is this module's job (S603/S607: argv lists, never a shell).
# ruff: noqa: S603, S607
"""The PgAdmin data volume's archive: taken with each backup, restored on its own.

Both go through a throwaway container with no network that runs tar on the volume (the host
needs no tar of its own and no access to Docker's volume directory).
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .checksums import check_backup
from .common import BackupError, run
from .postgres import find_container
from .retention import resolve_name
from .streams import stream_to_file, wait_stream


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
