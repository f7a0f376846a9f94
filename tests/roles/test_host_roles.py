"""Checks for the host roles bf_provision and bf_docker.

The static tests read the role files. The converge tests run the roles for real against this
machine with the local inventory's safe toggles (no firewall, sysctl, time daemon, unattended
upgrades or daemon.json): the same thing `playbooks/site.yml -i inventories/local` does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("bf_provision", "bf_docker")
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
COMPOSE_SHA256 = "dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"
LOCAL_SAFE_VARS = {
    "bf_provision_firewall_enabled": False,
    "bf_provision_sysctl_enabled": False,
    "bf_provision_time_sync_enabled": False,
    "bf_provision_unattended_upgrades_enabled": False,
    "bf_docker_manage_daemon": False,
    "bf_docker_install_python_sdk": False,
}
RECAP = re.compile(
    r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


def _role_yaml(role: str, rel: str) -> object:
    return yaml.safe_load((ROOT / "roles" / role / rel).read_text())


@pytest.mark.parametrize("role", ROLES)
def test_every_default_has_a_comment_and_the_role_prefix(role: str) -> None:
    lines = (ROOT / "roles" / role / "defaults" / "main.yml").read_text().splitlines()
    for number, line in enumerate(lines):
        key = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line)
        if key:
            assert key.group(1).startswith(f"{role}_"), f"{role}: {key.group(1)} lacks the prefix"
            assert lines[number - 1].startswith("# "), f"{role}: {key.group(1)} has no comment"


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_equal_defaults(role: str) -> None:
    defaults = _role_yaml(role, "defaults/main.yml")
    options = _role_yaml(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    assert {key: spec["default"] for key, spec in options.items()} == defaults


@pytest.mark.parametrize("role", ROLES)
def test_internal_names_carry_the_role_prefix(role: str) -> None:
    constants = _role_yaml(role, "vars/main.yml")
    assert all(name.startswith(f"_{role}_") for name in constants), sorted(constants)
    registered = re.findall(
        r"^\s*register:\s*(\S+)",
        "\n".join(p.read_text() for p in (ROOT / "roles" / role / "tasks").glob("*.yml")),
        re.M,
    )
    assert all(name.startswith(f"__{role}_") for name in registered), registered


def test_templates_start_with_the_managed_header() -> None:
    templates = list((ROOT / "roles").glob("bf_provision/templates/**/*.j2"))
    assert templates
    for template in templates:
        first = template.read_text().splitlines()[0]
        assert first.startswith("{{ ansible_managed | comment"), template


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("docker") is None:
        pytest.fail("the converge tests need the docker CLI and a running engine")
    base = tmp_path_factory.mktemp("host_roles")
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    host.update(LOCAL_SAFE_VARS)
    # The one-node swarm of this machine, as inventories/local makes it.
    host.update(bf_swarm_advertise_addr="127.0.0.1", bf_bind_address="127.0.0.1")
    (base / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "bf_docker_hosts": {
                    "hosts": {"localhost": host},
                    "children": {"bf_swarm_managers": {"hosts": {"localhost": None}}},
                }
            }
        )
    )
    (base / "converge.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Converge the host roles",
                    "hosts": "bf_docker_hosts",
                    "roles": [{"role": "bf_provision"}, {"role": "bf_docker"}],
                }
            ],
            sort_keys=False,
        )
    )
    return base


def _play(inventory: Path, *args: str, extra: dict | None = None) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory / "hosts.yml")]
    cmd.append(str(inventory / "converge.yml"))
    if extra:
        cmd += ["-e", json.dumps(extra)]
    proc = subprocess.run(
        cmd + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    return proc.returncode, proc.stdout + proc.stderr


def _recap(output: str) -> dict[str, int]:
    match = RECAP.search(output)
    assert match, output[-3000:]
    ok, changed, unreachable, failed = (int(g) for g in match.groups())
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


def test_converge_is_idempotent_and_check_mode_is_clean(inventory: Path) -> None:
    rc, out = _play(inventory)
    assert rc == 0, out[-3000:]
    for args in ((), ("--check",)):
        rc, out = _play(inventory, *args)
        assert rc == 0, out[-3000:]
        assert _recap(out)["changed"] == 0, out[-3000:]
    # What the local toggles promise: the skips are visible and the engine is left alone.
    assert "Skipping sysctl: bf_provision_sysctl_enabled is false" in out
    assert "Skipping /etc/docker/daemon.json: bf_docker_manage_daemon is false" in out
    compose = subprocess.run(
        ["docker", "compose", "version", "--short"], capture_output=True, text=True
    )
    assert compose.returncode == 0, compose.stderr
    version = tuple(int(part) for part in compose.stdout.strip().lstrip("v").split(".")[:2])
    assert version >= (2, 20), compose.stdout


def test_compose_from_the_sdist_installs_a_working_plugin(inventory: Path, tmp_path: Path) -> None:
    # A minimum no installed Compose meets forces the install path; the plugin goes into a
    # DOCKER_CONFIG of our own so the system-wide one stays untouched while we prove ours runs.
    plugins = tmp_path / "cli-plugins"
    extra = {"bf_docker_compose_min_version": "99.0.0", "bf_docker_cli_plugins_dir": str(plugins)}
    rc, out = _play(inventory, "--tags", "bf_docker", extra=extra)
    assert rc == 0, out[-3000:]
    binary = plugins / "docker-compose"
    assert oct(binary.stat().st_mode & 0o777) == "0o755"
    digest = subprocess.run(["sha256sum", str(binary)], capture_output=True, text=True, check=True)
    assert digest.stdout.split()[0] == COMPOSE_SHA256
    info = subprocess.run(
        ["docker", "info", "--format", "{{json .ClientInfo.Plugins}}"],
        env=dict(os.environ, DOCKER_CONFIG=str(tmp_path)),
        capture_output=True,
        text=True,
        check=True,
    )
    compose = [p for p in json.loads(info.stdout) if p["Name"] == "compose"]
    assert compose and compose[0]["Path"] == str(binary), info.stdout
    assert compose[0]["Version"] == "v2.40.3"


def test_a_wrong_sha256_stops_before_the_copy(inventory: Path, tmp_path: Path) -> None:
    plugins = tmp_path / "cli-plugins"
    extra = {
        "bf_docker_compose_min_version": "99.0.0",
        "bf_docker_cli_plugins_dir": str(plugins),
        "bf_docker_compose_sha256": "0" * 64,
    }
    rc, out = _play(inventory, "--tags", "bf_docker", extra=extra)
    assert rc != 0
    assert "expected bf_docker_compose_sha256=" + "0" * 64 in " ".join(out.split())
    assert not plugins.exists()


def test_preflight_names_the_variable_to_fix(inventory: Path) -> None:
    extra = {"bf_docker_min_api_version": "1"}
    rc, out = _play(inventory, "--tags", "bf_docker_preflight", extra=extra)
    assert rc != 0
    assert "bf_docker_min_api_version must be a quoted MAJOR.MINOR" in " ".join(out.split())
