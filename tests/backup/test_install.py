"""How roles/bf_backup installs bf_backup.py and its package bf_backup_lib on a host.

The role's own install.yml, run for real against a directory on this machine: a host that has
the single-file script of earlier versions and stray files is upgraded to exactly the shipped
tree, a second run changes nothing, check mode on a new host is clean, and the installed script
answers as the one in the repository does, without leaving bytecode behind.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "roles" / "bf_backup" / "files"
VERSIONS = ROOT / "app" / "api" / "migrations" / "versions"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
RECAP = re.compile(r"^bf-install-test\s+:\s+ok=(\d+)\s+changed=(\d+)\s+.*failed=(\d+)", re.M)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the role installs files owned by root")


def _play(base: Path, install_dir: Path, *args: str) -> tuple[int, int, str]:
    """Run install.yml of the role for install_dir; return rc, changed count and output."""
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "bf_stack_name": "bf-install-test",
        "bf_stack_dir": str(install_dir.parent),
        "bf_environment": "test",
        "bf_postgres_db": "db",
        "bf_postgres_user": "u",
        "bf_backup_dir": str(base / "backups"),
        "bf_backup_install_dir": str(install_dir),
    }
    (base / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"bf-install-test": host}}}))
    (base / "install.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Install the backup script",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Install the backup script",
                            "ansible.builtin.include_role": {
                                "name": "bf_backup",
                                "tasks_from": "install.yml",
                            },
                        }
                    ],
                }
            ],
            sort_keys=False,
        )
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CACHE_PLUGIN="memory",
    )
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(base / "hosts.yml"), str(base / "install.yml"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    match = RECAP.search(out)
    assert match, out[-3000:]
    assert int(match.group(3)) == 0, out[-3000:]
    return proc.returncode, int(match.group(2)), out


def _tree(path: Path) -> dict[str, bytes]:
    """Every file under path (relative name: content)."""
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path)): p.read_bytes() for p in files}


def _shipped() -> dict[str, bytes]:
    """What the role ships: the script and the package's modules (no bytecode)."""
    tree = {"bf_backup.py": (FILES / "bf_backup.py").read_bytes()}
    for module in sorted((FILES / "bf_backup_lib").glob("*.py")):
        tree[f"bf_backup_lib/{module.name}"] = module.read_bytes()
    return tree


def _cli(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["python3", str(script), *args], capture_output=True, text=True, check=False
    )


def test_an_old_single_file_host_is_upgraded_to_exactly_the_shipped_tree(tmp_path: Path) -> None:
    install_dir = tmp_path / "stack" / "backup"
    (install_dir / "bf_backup_lib" / "__pycache__").mkdir(parents=True)
    # The single-file script of earlier versions, a module no version ships any more and a
    # bytecode cache (of the modules' old sources, as a manual import would leave).
    (install_dir / "bf_backup.py").write_text("#!/usr/bin/env python3\nprint('old')\n")
    (install_dir / "bf_backup_lib" / "gone.py").write_text("raise SystemExit('stale')\n")
    (install_dir / "bf_backup_lib" / "__pycache__" / "common.cpython-311.pyc").write_bytes(b"x")

    rc, changed, out = _play(tmp_path, install_dir)
    assert rc == 0 and changed > 0, out[-3000:]
    installed = _tree(install_dir)
    assert installed.pop("config.json")
    assert installed == _shipped()
    assert not (install_dir / "bf_backup_lib" / "__pycache__").exists()
    assert stat.S_IMODE((install_dir / "bf_backup.py").stat().st_mode) == 0o750
    assert stat.S_IMODE((install_dir / "bf_backup_lib").stat().st_mode) == 0o750
    for module in (install_dir / "bf_backup_lib").iterdir():
        assert stat.S_IMODE(module.stat().st_mode) == 0o640, module

    rc, changed, out = _play(tmp_path, install_dir)
    assert rc == 0 and changed == 0, out[-3000:]

    # The installed script answers as the repository's does, and writes no bytecode.
    for args in (("--help",), ("heads", str(VERSIONS))):
        here, there = _cli(FILES / "bf_backup.py", *args), _cli(install_dir / "bf_backup.py", *args)
        assert (there.returncode, there.stdout, there.stderr) == (0, here.stdout, here.stderr)
    config = install_dir / "config.json"
    listed = _cli(install_dir / "bf_backup.py", "list", "--config", str(config))
    assert json.loads(listed.stdout.splitlines()[-1]) == {"backups": [], "changed": False}
    assert [p for p in install_dir.rglob("*") if p.name == "__pycache__"] == []


def test_check_mode_on_a_new_host_changes_nothing(tmp_path: Path) -> None:
    install_dir = tmp_path / "stack" / "backup"
    rc, changed, out = _play(tmp_path, install_dir, "--check")
    assert rc == 0 and changed > 0, out[-3000:]
    assert not install_dir.exists()
