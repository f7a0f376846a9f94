"""Bad inputs stop site.yml in its first play with a message naming the fix; nothing changes."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from bf_site_helpers import REPO, copy_inventory, run


def _app_copy(tmp_path: Path, edit) -> Path:  # noqa: ANN001 - a small callable
    """Copy app/*/service.yml (and the static dir) to ``tmp_path/app`` and apply ``edit``.

    Args:
        tmp_path: Scratch directory.
        edit: Function taking ``{service: manifest}`` and changing it in place.

    Returns:
        The app directory of the copy.
    """
    app = tmp_path / "app"
    manifests = {}
    for manifest in sorted(REPO.glob("app/*/service.yml")):
        name = manifest.parent.name
        (app / name).mkdir(parents=True)
        for extra in ("Dockerfile",):
            if (manifest.parent / extra).exists():
                shutil.copy(manifest.parent / extra, app / name / extra)
        manifests[name] = yaml.safe_load(manifest.read_text())
        static = manifests[name].get("static", {}).get("dir")
        if static:
            (app / static).mkdir(parents=True, exist_ok=True)
    edit(manifests)
    for name, data in manifests.items():
        (app / name / "service.yml").write_text(yaml.safe_dump(data))
    return app


def _drop_key(key: str):  # noqa: ANN202
    return lambda m: m["api"].pop(key)


def _set(service: str, key: str, value):  # noqa: ANN001, ANN202
    return lambda m: m[service].__setitem__(key, value)


# (id, extra vars, app edit or None, inventory: local|prod-placeholder|prod-novault|no-admin-group,
#  text the output must contain)
CASES = [
    (
        "unknown-environment",
        {"bf_environment": "qa"},
        None,
        "local",
        "bf_environment is 'qa'; set it to local, staging or prod",
    ),
    (
        "port-out-of-range",
        {"bf_https_port": 70000},
        None,
        "local",
        "bf_https_port is '70000'; it must be an integer port from 1 to 65535",
    ),
    ("port-wrong-type", {"bf_http_port": "eighty"}, None, "local", "bf_http_port is 'eighty'"),
    (
        "ports-collide",
        {"bf_http_port": 8443, "bf_https_port": 8443},
        None,
        "local",
        "must be three different ports",
    ),
    (
        "bad-bind-address",
        {"bf_bind_address": "300.1.1.1"},
        None,
        "local",
        "bf_bind_address of localhost (300.1.1.1) must be an IPv4 address",
    ),
    (
        "bad-swarm-advertise-address",
        {"bf_swarm_advertise_addr": "10.0.2"},
        None,
        "local",
        "bf_swarm_advertise_addr of localhost (10.0.2) must be an IPv4 address the other nodes"
        " reach",
    ),
    (
        "bad-swarm-bind-address",
        {"bf_docker_swarm_bind_address": "0127.0.0.1"},
        None,
        "local",
        "bf_docker_swarm_bind_address of localhost: '0127.0.0.1' is not an IPv4 address",
    ),
    (
        "bad-server-name",
        {"bf_server_name": "shop example com"},
        None,
        "local",
        "bf_server_name (shop example com) must be a DNS name",
    ),
    (
        "bool-wrong-type",
        {"bf_deploy_admin_enabled": "maybe"},
        None,
        "local",
        "argument 'bf_deploy_admin_enabled' is of type str and we were unable to convert to bool",
    ),
    (
        "int-wrong-type",
        {"bf_deploy_wait_timeout": "soon"},
        None,
        "local",
        "argument 'bf_deploy_wait_timeout' is of type str and we were unable to convert to int",
    ),
    (
        "short-secret",
        {"bf_secrets_values": {"admin_password": "hunter2"}},
        None,
        "local",
        "shorter than\n16 characters: admin_password",
    ),
    (
        "generated-secrets-in-prod",
        {"bf_secrets_generate": True},
        None,
        "prod-placeholder",
        "bf_secrets_generate is true in the prod inventory",
    ),
    ("placeholder-secret-in-prod", {}, None, "prod-placeholder", "a placeholder like CHANGE_ME"),
    (
        "vault-variable-missing",
        {},
        None,
        "prod-novault",
        "add\nvault_bf_secret_postgres_password to inventories/<env>/group_vars/all/vault.yml",
    ),
    (
        "missing-contract-group",
        {},
        None,
        "no-admin-group",
        "The inventory lacks the groups bf_admin",
    ),
    (
        "manifest-missing-key",
        {},
        _drop_key("wsgi"),
        "local",
        "api/service.yml: required key 'wsgi' is missing",
    ),
    (
        "route-claimed-twice",
        {},
        _set("frontend", "route", "/api/"),
        "local",
        "route '/api/' is claimed by both",
    ),
    (
        "unknown-service-in-needs",
        {},
        _set("api", "needs", ["postgres", "mongo"]),
        "local",
        "key 'needs' lists 'mongo'",
    ),
    (
        "negative-memory-limit",
        {"bf_stack_mem_limits": {"redis": "-256m"}},
        None,
        "local",
        'bf_stack_mem_limits is {"redis": "-256m"}: every value must be a positive size',
    ),
    ("stack-dir-root", {"bf_stack_dir": "/"}, None, "local", "bf_stack_dir is '/': it is a system"),
    (
        "provision-base-dir-system",
        {"bf_provision_base_dir": "/usr/local/shop"},
        None,
        "local",
        "bf_provision_base_dir is '/usr/local/shop': it is inside the system directory /usr",
    ),
    (
        "stack-dir-system",
        {"bf_stack_dir": "/etc"},
        None,
        "local",
        "bf_stack_dir is '/etc': it is inside the system directory /etc",
    ),
    (
        "stack-dir-not-normalised",
        {"bf_stack_dir": "/opt/shop/../etc"},
        None,
        "local",
        "bf_stack_dir is '/opt/shop/../etc': it must be written normalised, as /opt/etc",
    ),
    (
        "stack-name-too-long",
        {"bf_stack_name": "a-stack-name-far-too-long-for-swarm"},
        None,
        "local",
        "bf_stack_name (a-stack-name-far-too-long-for-swarm) must be 2 to 24 lowercase letters",
    ),
    (
        "database-name-with-sql",
        {"bf_postgres_db": "shop; DROP TABLE users"},
        None,
        "local",
        'bf_postgres_db is "shop; DROP TABLE users"; it must match',
    ),
    ("empty-database-user", {"bf_postgres_user": ""}, None, "local", 'bf_postgres_user is ""'),
    (
        "negative-uwsgi-processes",
        {"bf_stack_uwsgi_processes": -2},
        None,
        "local",
        "bf_stack_uwsgi_processes is -2: it must be 0 (one per vCPU, at least 2)",
    ),
    (
        "bad-rate-limit",
        {"bf_config_rate_limit": "fast"},
        None,
        "local",
        'bf_config_rate_limit is "fast": it must be an Nginx rate such as 20r/s',
    ),
    # Counts, sizes and durations: each out of its range, each refusal naming its variable.
    (
        "uwsgi-threads-zero",
        {"bf_stack_uwsgi_threads": 0},
        None,
        "local",
        "bf_stack_uwsgi_threads is 0: it must be a thread count from 1 to 64",
    ),
    (
        "uwsgi-harakiri-too-long",
        {"bf_stack_uwsgi_harakiri": 7200},
        None,
        "local",
        "bf_stack_uwsgi_harakiri is 7200: it must be a number of seconds from 1 to 3600",
    ),
    (
        "uwsgi-buffer-too-small",
        {"bf_stack_uwsgi_buffer_size": 1024},
        None,
        "local",
        "bf_stack_uwsgi_buffer_size is 1024: it must be a byte count from 4096 to 65535",
    ),
    (
        "uwsgi-listen-backlog-too-small",
        {"bf_stack_uwsgi_listen": 8},
        None,
        "local",
        "bf_stack_uwsgi_listen is 8: it must be a backlog from 16 to 65535",
    ),
    (
        "uwsgi-max-requests-too-many",
        {"bf_stack_uwsgi_max_requests": 5000000},
        None,
        "local",
        "bf_stack_uwsgi_max_requests is 5000000: it must be 0 (never recycle) or a request count"
        " up to 1000000",
    ),
    (
        "log-max-file-zero",
        {"bf_stack_log_max_file": 0},
        None,
        "local",
        "bf_stack_log_max_file is 0: it must be a file count from 1 to 100",
    ),
    (
        "log-max-size-without-unit",
        {"bf_stack_log_max_size": "10"},
        None,
        "local",
        'bf_stack_log_max_size is "10": it must be a size such as 10m',
    ),
    (
        "replicas-zero",
        {"bf_stack_replicas": {"api": 0}},
        None,
        "local",
        'bf_stack_replicas is {"api": 0}: every value must be a replica count from 1 to 100',
    ),
    (
        "healthcheck-bad-duration",
        {
            "bf_stack_healthcheck": {
                "interval": "5 seconds",
                "timeout": "3s",
                "retries": 10,
                "start_period": "30s",
            }
        },
        None,
        "local",
        "interval, timeout and start_period must be durations such as 5s or 1m30s",
    ),
    (
        "drain-shorter-than-the-dns-cache",
        {"bf_stack_app_drain_seconds": 3},
        None,
        "local",
        "bf_stack_app_drain_seconds is 3: it must be a number of seconds above 5",
    ),
    (
        "cache-maxmemory-docker-size",
        {"bf_stack_cache_maxmemory": "64m"},
        None,
        "local",
        'bf_stack_cache_maxmemory is "64m": it must be a Redis size such as 64mb',
    ),
    (
        "mem-limit-default-zero",
        {"bf_stack_mem_limit_default": "0"},
        None,
        "local",
        'bf_stack_mem_limit_default is "0": it must be a positive size',
    ),
    (
        "redis-db-out-of-range",
        {"bf_stack_redis_dbs": {"api": 16, "frontend": 1}},
        None,
        "local",
        'bf_stack_redis_dbs is {"api": 16, "frontend": 1}: every value must be a Redis database'
        " number from 0 to 15",
    ),
    (
        "app-env-bad-name",
        {"bf_stack_app_env": {"api": {"RATE LIMIT": "1 per second"}}},
        None,
        "local",
        'bf_stack_app_env is {"api": {"RATE LIMIT": "1 per second"}}: every value must be a'
        " mapping of environment variable names",
    ),
    (
        "app-update-bad-order",
        {"bf_stack_app_update": {"order": "start_first"}},
        None,
        "local",
        'bf_stack_app_update is {"order": "start_first"}: its order must be start-first or'
        " stop-first",
    ),
    (
        "stateful-update-bad-failure-action",
        {"bf_stack_stateful_update": {"failure_action": "retry"}},
        None,
        "local",
        'bf_stack_stateful_update is {"failure_action": "retry"}: its failure_action must be'
        " continue or pause or rollback",
    ),
    (
        "rate-limit-burst-negative",
        {"bf_config_rate_limit_burst": -1},
        None,
        "local",
        "bf_config_rate_limit_burst is -1: it must be an integer from 0 to 100000",
    ),
    (
        "login-rate-limit-burst-too-large",
        {"bf_config_login_rate_limit_burst": 200000},
        None,
        "local",
        "bf_config_login_rate_limit_burst is 200000: it must be an integer from 0 to 100000",
    ),
    (
        "bad-login-rate-limit",
        {"bf_config_login_rate_limit": "10/m"},
        None,
        "local",
        'bf_config_login_rate_limit is "10/m": it must be an Nginx rate such as 10r/m',
    ),
    (
        "upstream-timeout-zero",
        {"bf_config_upstream_read_timeout": 0},
        None,
        "local",
        "bf_config_upstream_read_timeout is 0: it must be a number of seconds from 1 to 3600",
    ),
    (
        "maintenance-retry-after-zero",
        {"bf_config_maintenance_retry_after": 0},
        None,
        "local",
        "bf_config_maintenance_retry_after is 0: it must be a number of seconds from 1 to 86400",
    ),
    (
        "body-size-with-space",
        {"bf_config_client_max_body_size": "1 MB"},
        None,
        "local",
        'bf_config_client_max_body_size is "1 MB": it must be an Nginx size such as 1m',
    ),
    (
        "configs-to-keep-one",
        {"bf_config_configs_to_keep": 1},
        None,
        "local",
        "bf_config_configs_to_keep is 1: it must be from 2 (a rollback needs the version before)"
        " to 100",
    ),
    (
        "selfsigned-days-zero",
        {"bf_config_tls_selfsigned_days": 0},
        None,
        "local",
        "bf_config_tls_selfsigned_days is 0: it must be a number of days from 1 to 3650",
    ),
    (
        "deploy-job-timeout-too-long",
        {"bf_deploy_job_timeout": 100000},
        None,
        "local",
        "bf_deploy_job_timeout is '100000'; it must be an integer from 1 to 86400",
    ),
    (
        "selfcheck-retries-zero",
        {"bf_deploy_selfcheck_retries": 0},
        None,
        "local",
        "bf_deploy_selfcheck_retries is '0'; it must be an integer from 1 to 1000",
    ),
    (
        "releases-to-keep-beyond-kept-configs",
        {"bf_deploy_releases_to_keep": 9},
        None,
        "local",
        "bf_deploy_releases_to_keep is '9'; it must be an integer from 1 to 5",
    ),
    (
        "broken-change-regex",
        {"bf_deploy_admin_changed_regex": "(created"},
        None,
        "local",
        'bf_deploy_admin_changed_regex is "(created": it is not a regular expression',
    ),
    (
        "selfcheck-header-with-value",
        {"bf_deploy_selfcheck_headers": ["X-Frame-Options: DENY"]},
        None,
        "local",
        "Every entry of bf_deploy_selfcheck_headers must be an HTTP header name",
    ),
    (
        "swarm-port-zero",
        {"bf_docker_swarm_port": 0},
        None,
        "local",
        "bf_docker_swarm_port of localhost (0) must be a TCP port, 1-65535",
    ),
    (
        "cli-plugins-dir-system",
        {"bf_docker_cli_plugins_dir": "/usr/local/bin"},
        None,
        "local",
        'bf_docker_cli_plugins_dir is "/usr/local/bin": the Docker CLI finds plugins only in a'
        " directory named cli-plugins",
    ),
    (
        "cli-plugins-dir-not-normalised",
        {"bf_docker_cli_plugins_dir": "/usr/local/lib/docker/../../lib/docker/cli-plugins"},
        None,
        "local",
        'bf_docker_cli_plugins_dir is "/usr/local/lib/docker/../../lib/docker/cli-plugins": it'
        " must be written normalised, as /usr/local/lib/docker/cli-plugins",
    ),
    (
        "apt-channel-with-space",
        {"bf_docker_install_source": "docker", "bf_docker_apt_channel": "stable main"},
        None,
        "local",
        'bf_docker_apt_channel is "stable main": it must be a component of Docker\'s apt'
        " repository",
    ),
    (
        "secret-min-length-weakened",
        {"bf_secrets_min_length": 8},
        None,
        "local",
        "bf_secrets_min_length is 8: it must be a length from 16",
    ),
    (
        "secret-length-below-minimum",
        {"bf_secrets_length": 12},
        None,
        "local",
        "bf_secrets_length is 12: it must be a length from bf_secrets_min_length (16) to 256",
    ),
    (
        "secret-chars-empty",
        {"bf_secrets_chars": []},
        None,
        "local",
        "bf_secrets_chars is []: it must be a non-empty list of character sets",
    ),
    (
        "secret-versions-to-keep-one",
        {"bf_secrets_versions_to_keep": 1},
        None,
        "local",
        "bf_secrets_versions_to_keep is 1: it must be from 2 (a rollback needs the version"
        " before) to 100",
    ),
    (
        "image-namespace-with-slash",
        {"bf_images_namespace": "Shop/Images"},
        None,
        "local",
        'bf_images_namespace is "Shop/Images": it must be lowercase letters and digits',
    ),
    (
        "image-build-dir-system",
        {"bf_images_build_dir": "/usr/lib/bf-build"},
        None,
        "local",
        'bf_images_build_dir is "/usr/lib/bf-build": it is inside the system directory /usr',
    ),
    (
        "image-transfer-dir-relative",
        {"bf_images_transfer_dir": "transfer"},
        None,
        "local",
        'bf_images_transfer_dir is "transfer": it must be an absolute path',
    ),
    (
        "image-build-timeout-too-short",
        {"bf_images_build_timeout": 10},
        None,
        "local",
        "bf_images_build_timeout is 10: it must be a number of seconds from 60 to 86400",
    ),
    (
        "image-security-mirror-not-a-url",
        {"bf_images_security_mirror": "deb.debian.org/debian-security"},
        None,
        "local",
        'bf_images_security_mirror is "deb.debian.org/debian-security": it must be an http(s)://'
        " or file:// URL, or empty",
    ),
    (
        "login-shell-relative",
        {"bf_provision_user_shell": "nologin"},
        None,
        "local",
        'bf_provision_user_shell is "nologin": it must be the absolute, normalised path of a shell',
    ),
    (
        "sysctl-file-outside-sysctl-d",
        {"bf_provision_sysctl_file": "/etc/sysctl.conf"},
        None,
        "local",
        'bf_provision_sysctl_file is "/etc/sysctl.conf": it must be a .conf file directly in'
        " /etc/sysctl.d",
    ),
    (
        "apt-cache-time-negative",
        {"bf_provision_apt_cache_valid_time": -1},
        None,
        "local",
        "bf_provision_apt_cache_valid_time is -1: it must be a number of seconds from 0",
    ),
    (
        "swarm-peer-not-an-address",
        {"bf_provision_firewall_swarm_peers": ["10.0.0.2", "db1.example.com"]},
        None,
        "local",
        "Every entry of bf_provision_firewall_swarm_peers must be the IPv4 address of another swarm"
        " node: 'db1.example.com' is not an IPv4 address",
    ),
    # Mistakes only a cluster can have (a copy of inventories/prod, three hosts).
    ("no-manager", {}, None, "cluster-no-manager", "bf_swarm_managers has 0 hosts (none)"),
    (
        "even-managers",
        {},
        None,
        "cluster-two-managers",
        "bf_swarm_managers has 2 hosts (app2.example.com, edge1.example.com): a swarm needs an odd",
    ),
    (
        "host-neither-manager-nor-worker",
        {},
        None,
        "cluster-stray-host",
        "db1.example.com is in neither bf_swarm_managers nor bf_swarm_workers",
    ),
    (
        "group-with-no-host",
        {},
        None,
        "cluster-empty-cache",
        "The inventory group bf_cache has no host, so the services placed there (redis, cache)",
    ),
    (
        "stateful-group-with-two-hosts",
        {},
        None,
        "cluster-two-databases",
        "The inventory group bf_db_primary has 2 hosts (app2.example.com, db1.example.com), but"
        " postgres keeps its data in a volume on one node",
    ),
    (
        "replica-on-the-primarys-host",
        {},
        None,
        "cluster-replica-beside-primary",
        "db1.example.com is in both bf_db_primary and bf_db_replica: a replica on the primary's"
        " host shares its data volume",
    ),
    (
        "replication-user-not-an-identifier",
        {"bf_postgres_replication_user": "repl; DROP"},
        None,
        "local",
        'bf_postgres_replication_user is "repl; DROP"; it must match',
    ),
    (
        "replica-wal-keep-docker-size",
        {"bf_stack_replica_max_slot_wal_keep_size": "4g"},
        None,
        "local",
        'bf_stack_replica_max_slot_wal_keep_size is "4g": it must be a PostgreSQL size',
    ),
    (
        "pgadmin-on-a-public-address",
        {},
        None,
        "cluster-public-admin",
        "bf_stack_pgadmin_expose is true, but the bf_admin host db1.example.com has"
        " bf_bind_address 0.0.0.0",
    ),
    (
        "loopback-swarm-address",
        {},
        None,
        "cluster-loopback-address",
        "bf_swarm_advertise_addr of app2.example.com (127.0.0.1) must be an IPv4 address the"
        " other nodes reach",
    ),
    (
        "unreachable-host",
        {},
        None,
        "cluster-unreachable",
        "These hosts do not answer, so nothing was changed on any host: app2.example.com (",
    ),
    # pgBackRest: the archive's timing and queue, the repository's retention, the schedule.
    (
        "archive-timeout-too-short",
        {"bf_stack_pgbackrest_archive_timeout": 5},
        None,
        "local",
        "bf_stack_pgbackrest_archive_timeout is 5: it must be a number of seconds from 10 to 3600",
    ),
    (
        "archive-queue-docker-size",
        {"bf_stack_pgbackrest_archive_queue_max": "4g"},
        None,
        "local",
        'bf_stack_pgbackrest_archive_queue_max is "4g": it must be a pgBackRest size',
    ),
    (
        "pgbackrest-retention-zero",
        {"bf_stack_pgbackrest_retention_full": 0},
        None,
        "local",
        "bf_stack_pgbackrest_retention_full is 0: it must be a count of full backups from 1 to 100",
    ),
    (
        "pgbackrest-full-days-zero",
        {"bf_backup_pgbackrest_full_days": 0},
        None,
        "local",
        "bf_backup_pgbackrest_full_days is 0: it must be a number of days from 1 to 90",
    ),
    (
        "restore-jobs-zero",
        {"bf_backup_restore_jobs": 0},
        None,
        "local",
        "bf_backup_restore_jobs is 0: it must be a whole number from 1 to 32",
    ),
    (
        "pki-cert-outlives-ca",
        {"bf_secrets_pki_cert_days": 4000},
        None,
        "local",
        "bf_secrets_pki_cert_days is 4000: it must be a number of days from 30 to",
    ),
]

# The cluster inventories: a copy of inventories/prod (each host reached locally, as the
# preflight only checks and gathers facts), then one mistake.
CLUSTER_EDITS = {
    "cluster-no-manager": lambda h: h["children"]["bf_swarm_managers"].update(hosts={}),
    "cluster-two-managers": lambda h: (
        h["children"]["bf_swarm_managers"]["hosts"].update({"app2.example.com": None}),
        h["children"]["bf_swarm_workers"]["hosts"].pop("app2.example.com"),
    ),
    "cluster-stray-host": lambda h: h["children"]["bf_swarm_workers"]["hosts"].pop(
        "db1.example.com"
    ),
    "cluster-empty-cache": lambda h: h["children"]["bf_cache"].update(hosts={}),
    "cluster-two-databases": lambda h: h["children"]["bf_db_primary"]["hosts"].update(
        {"app2.example.com": None}
    ),
    "cluster-replica-beside-primary": lambda h: h["children"].update(
        bf_db_replica={"hosts": {"db1.example.com": None}}
    ),
}
CLUSTER_HOST_VARS = {
    "cluster-public-admin": {"db1.example.com": {"bf_bind_address": "0.0.0.0"}},  # noqa: S104
    "cluster-loopback-address": {"app2.example.com": {"bf_swarm_advertise_addr": "127.0.0.1"}},
    # Nothing listens on port 9 of this machine: the SSH connection is refused at once.
    "cluster-unreachable": {
        "app2.example.com": {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": 9,
            "ansible_ssh_common_args": "-o ConnectTimeout=5 -o StrictHostKeyChecking=no",
        }
    },
}


def _reach_locally(inventory: Path, overrides: dict[str, dict] | None = None) -> None:
    """Make every host of an inventory copy reachable without SSH (host_vars beat group vars)."""
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    names = {n for group in hosts["bf_docker_hosts"]["children"].values()
             for n in (group.get("hosts") or {})}  # fmt: skip
    for name in names:
        path = inventory / "host_vars" / f"{name}.yml"
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
        data.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
        data.update((overrides or {}).get(name, {}))
        path.parent.mkdir(exist_ok=True)
        path.write_text("---\n" + yaml.safe_dump(data))


def _inventory(kind: str, tmp_path: Path) -> Path:
    if kind == "local":
        return REPO / "inventories" / "local"
    if kind.startswith("prod"):
        inventory = copy_inventory("prod", tmp_path / "inv")
        _reach_locally(inventory)
        if kind == "prod-placeholder":
            vault = inventory / "group_vars" / "all"
            shutil.copy(vault / "vault.yml.example", vault / "vault.yml")
        return inventory
    if kind.startswith("cluster"):
        inventory = copy_inventory("prod", tmp_path / "inv")
        hosts_file = inventory / "hosts.yml"
        hosts = yaml.safe_load(hosts_file.read_text())
        CLUSTER_EDITS.get(kind, lambda h: None)(hosts["bf_docker_hosts"])
        hosts_file.write_text("---\n" + yaml.safe_dump(hosts))
        _reach_locally(inventory, CLUSTER_HOST_VARS.get(kind))
        # A valid vault, so that only the cluster mistake can stop the preflight.
        vault = inventory / "group_vars" / "all" / "vault.yml"
        vault.write_text("---\n" + yaml.safe_dump({f"vault_bf_secret_{name}": _GOOD_SECRET
                                                    for name in _SECRET_NAMES}))  # fmt: skip
        return inventory
    inventory = copy_inventory("local", tmp_path / "inv")
    hosts = inventory / "hosts.yml"
    data = yaml.safe_load(hosts.read_text())
    del data["bf_docker_hosts"]["children"]["bf_admin"]
    hosts.write_text("---\n" + yaml.safe_dump(data))
    return inventory


_SECRET_NAMES = ("postgres_password", "redis_password", "secret_key", "jwt_secret_key",
                 "frontend_secret_key", "admin_password", "pgadmin_password",
                 "pgbackrest_cipher_pass")  # fmt: skip
_GOOD_SECRET = "a-good-long-test-secret-value-1234567890"  # noqa: S105 - a test value


def _stack_objects(project: str) -> list[str]:
    """The swarm services and secrets of the stack (none may exist after a refused run)."""
    docker = shutil.which("docker")
    if docker is None:
        return []
    found = []
    for kind in ("service", "secret"):
        out = subprocess.run(
            [docker, kind, "ls", "-q", "--filter", f"label=com.docker.stack.namespace={project}"],
            capture_output=True,
            text=True,
            check=False,
        )
        found += out.stdout.split()
    return found


def _refused_run(base: Path, extra: dict, edit, kind: str) -> tuple[Path, str, object]:  # noqa: ANN001
    """Run the preflight with one bad input; return the stack dir, the stack name, the result."""
    stack_dir = base / "stack"
    project = "bftest-" + hashlib.sha1(base.name.encode()).hexdigest()[:10]  # noqa: S324
    extra_vars = {"bf_stack_dir": str(stack_dir), "bf_stack_name": project, **extra}
    if edit is not None:
        extra_vars["bf_app_dir"] = str(_app_copy(base, edit))
    vars_file = base / "extra.json"
    vars_file.write_text(json.dumps(extra_vars))
    argv = ["ansible-playbook", "playbooks/preflight.yml", "-i", str(_inventory(kind, base))]
    return stack_dir, project, run([*argv, "-e", f"@{vars_file}"])


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future]]:
    """Every case's run, started together (each is mostly Python start-up: three at a time)."""
    # mktemp is not thread-safe: every base dir is made here, before the threads start.
    bases = {case[0]: tmp_path_factory.mktemp(case[0]) for case in CASES}
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield {
            case[0]: pool.submit(_refused_run, bases[case[0]], case[1], case[2], case[3])
            for case in CASES
        }


@pytest.mark.parametrize(("case", "kind", "expected"), [(c[0], c[3], c[4]) for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_input_stops_preflight(
    refused: dict[str, Future], case: str, kind: str, expected: str
) -> None:
    stack_dir, project, result = refused[case].result()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # Ansible wraps long messages: compare with whitespace collapsed.
    assert " ".join(expected.split()) in " ".join(output.split()), output
    # It stopped in the preflight play: no task of a later play started.
    assert "PLAY [Check every input before touching any host]" in output or "unreachable" in kind
    assert "PLAY [Prepare the Docker hosts" not in output, output
    assert not stack_dir.exists()
    assert _stack_objects(project) == []


def test_good_inputs_pass_preflight() -> None:
    """The control case: the same command with the shipped local inventory passes."""
    result = run(["ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/local"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_site_checks_everything_before_any_change() -> None:
    """site.yml starts with the preflight play, which stops every host at the first failure."""
    site = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())
    assert site[0]["ansible.builtin.import_playbook"] == "preflight.yml"
    preflight = yaml.safe_load((REPO / "playbooks" / "preflight.yml").read_text())
    # The connection check stops every host (task-level), then the checks proper (play-level).
    assert preflight[0]["tasks"][-1]["any_errors_fatal"] is True
    assert preflight[1]["any_errors_fatal"] is True
    modules: set[str] = set()
    for play in preflight:
        assert play["gather_facts"] is False
        modules |= {key for task in play["tasks"] for key in task if "." in key}
        for block in (t for t in play["tasks"] if "block" in t):
            modules |= {key for task in block["block"] for key in task if "." in key}
    # Only checks: nothing in the first play can change a host.
    assert modules <= {
        "ansible.builtin.assert",
        "ansible.builtin.include_role",
        "ansible.builtin.ping",
        "ansible.builtin.set_fact",
        "ansible.builtin.validate_argument_spec",
    }, modules


def test_good_cluster_inventory_passes_preflight(tmp_path: Path) -> None:
    """The control case of the cluster mistakes: the three-host prod example, a valid vault."""
    inventory = _inventory("cluster-valid", tmp_path)
    result = run(["ansible-playbook", "playbooks/preflight.yml", "-i", str(inventory)])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_preflight_refuses_while_a_database_node_is_fenced() -> None:
    """After playbooks/failover.yml, the old primary's node carries bf_db_fenced until it is
    rebuilt: a deploy would label it for the database again, so the preflight stops first. This
    machine's swarm node gets the label for the run (the cases above have all ended by now)."""
    docker = shutil.which("docker")
    assert docker, "the Docker CLI is part of make test-deps"
    node = subprocess.run([docker, "info", "--format", "{{.Swarm.NodeID}}"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert node, "make test-deps forms this machine's swarm"
    label = ["node", "update", "--label-add", "bf_db_fenced=20261208T010203Z", node]
    subprocess.run([docker, *label], capture_output=True, check=True)
    try:
        result = run(["ansible-playbook", "playbooks/preflight.yml", "-i", "inventories/local"])
    finally:
        subprocess.run([docker, "node", "update", "--label-rm", "bf_db_fenced", node],
                       capture_output=True, check=True)  # fmt: skip
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    assert "A failover fenced the old primary's node:" in output, output[-3000:]
    assert "(since 20261208T010203Z)" in output, output[-3000:]
