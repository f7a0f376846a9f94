"""The stack model and the stack file rendered from it (plugins/filter/bf_stack.py)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from model_helpers import settings

GROUPS = {
    "nginx": "bf_edge",
    "postgres": "bf_db_primary",
    "redis": "bf_cache",
    "cache": "bf_cache",
    "pgadmin": "bf_admin",
    "pgbackrest": "bf_backup",
}
IMAGES = {
    name: f"bf/{name}:abc" for name in ("api", "frontend", "nginx", "postgres", "redis", "pgadmin")
}


def _names(model: dict[str, Any], kind: str) -> dict[str, str]:
    return {name: f"shop_{name}_v1" for name in model[kind]}


@pytest.fixture(scope="module")
def model(bf_stack: ModuleType, manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return bf_stack.bf_stack_model(manifests, settings())


@pytest.fixture(scope="module")
def compose(bf_stack: ModuleType, model: dict[str, Any]) -> dict[str, Any]:
    return bf_stack.bf_stack_compose(
        model, IMAGES, _names(model, "secrets"), _names(model, "configs")
    )


def test_every_service_has_the_same_shape(model: dict[str, Any]) -> None:
    assert set(model["services"]) == {
        "api",
        "frontend",
        "nginx",
        "postgres",
        "redis",
        "cache",
        "pgadmin",
        "pgbackrest",
    }
    shapes = {name: set(service) for name, service in model["services"].items()}
    assert len({frozenset(keys) for keys in shapes.values()}) == 1, shapes
    assert model["apps"] == ["api", "frontend"]
    assert model["backing"] == ["cache", "postgres", "redis"]
    assert model["manager"] == "m1"


def test_placement_follows_the_inventory_groups(model: dict[str, Any]) -> None:
    services = model["services"]
    assert services["api"]["hosts"] == ["m1", "w1"]
    assert services["api"]["replicas"] == 2  # one per bf_app host
    assert services["nginx"]["mode"] == "global"
    assert services["postgres"]["hosts"] == ["w2"] and services["postgres"]["stateful"]
    assert model["hosts"] == {
        "m1": ["api", "frontend", "nginx"],
        # The pgBackRest repository on another host than the database it archives.
        "w1": ["api", "frontend", "pgbackrest"],
        "w2": ["cache", "pgadmin", "postgres", "redis"],
    }


def test_replicas_come_from_the_inventory_then_the_manifest(
    bf_stack: ModuleType, manifests: list[dict[str, Any]]
) -> None:
    edited = [dict(m, data=dict(m["data"], replicas=3)) for m in manifests]
    model = bf_stack.bf_stack_model(edited, settings(replicas={"frontend": 5}))
    assert model["services"]["api"]["replicas"] == 3
    assert model["services"]["frontend"]["replicas"] == 5


def test_app_environment_names_files_not_secrets(model: dict[str, Any]) -> None:
    api = model["services"]["api"]["environment"]
    assert api["POSTGRES_HOST"] == "postgres" and api["POSTGRES_DB"] == "backend_db"
    assert api["REDIS_URL"] == "redis://redis:6379/0"
    assert api["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    frontend = model["services"]["frontend"]["environment"]
    assert frontend["API_URL"] == "http://api:8081"
    assert frontend["REDIS_URL"] == "redis://redis:6379/1"
    pgadmin = model["services"]["pgadmin"]["environment"]
    assert pgadmin["PGADMIN_DEFAULT_PASSWORD_FILE"] == "/run/secrets/pgadmin_password"


def test_uwsgi_options_merge_defaults_and_manifest(model: dict[str, Any]) -> None:
    api = model["services"]["api"]["app"]["uwsgi"]
    assert api["module"] == "api.wsgi:app" and api["socket"] == ":8080"
    assert api["harakiri"] == 30  # the manifest's uwsgi: wins over the role default
    assert api["processes"] == 2 and api["threads"] == 4
    assert model["services"]["api"]["sysctls"] == {"net.core.somaxconn": "1024"}


def test_stack_file_is_swarm_only(compose: dict[str, Any]) -> None:
    assert compose["version"] == "3.8"
    for name, service in compose["services"].items():
        assert service["deploy"]["endpoint_mode"] == "dnsrr", name
        assert service["deploy"]["restart_policy"]["condition"] == "any", name
        assert service["cap_drop"] == ["ALL"] and service["read_only"] is True, name
        assert service["init"] is True, name
        for key in ("depends_on", "restart", "group_add", "security_opt", "mem_limit"):
            assert key not in service, (name, key)
        group = GROUPS.get(name, "bf_app")
        assert service["deploy"]["placement"]["constraints"] == [f"node.labels.{group} == true"]
    assert compose["networks"]["backend"]["internal"] is True


def test_only_the_edge_and_pgadmin_publish_in_host_mode(compose: dict[str, Any]) -> None:
    published = {name: s.get("ports", []) for name, s in compose["services"].items()}
    assert [p["published"] for p in published["nginx"]] == [80, 443]
    assert [p["published"] for p in published["pgadmin"]] == [5050]
    assert all(p["mode"] == "host" for ports in published.values() for p in ports)
    assert {n for n, ports in published.items() if ports} == {"nginx", "pgadmin"}


def test_pgadmin_unexposed_publishes_nothing(
    bf_stack: ModuleType, manifests: list[dict[str, Any]]
) -> None:
    model = bf_stack.bf_stack_model(manifests, settings(pgadmin_expose=False))
    assert model["services"]["pgadmin"]["ports"] == []
    assert model["services"]["pgadmin"]["networks"] == ["backend"]
    assert "admin" not in model["networks"]


def test_update_order_start_first_only_where_it_cannot_deadlock(compose: dict[str, Any]) -> None:
    orders = {n: s["deploy"]["update_config"]["order"] for n, s in compose["services"].items()}
    assert orders == {
        "api": "start-first",
        "frontend": "start-first",
        "nginx": "stop-first",
        "postgres": "stop-first",
        "redis": "stop-first",
        # No volume, no host port: the new cache task starts before the old one stops.
        "cache": "start-first",
        "pgadmin": "stop-first",
        "pgbackrest": "stop-first",
    }


def test_secrets_are_external_versions_owned_by_the_service_user(compose: dict[str, Any]) -> None:
    assert compose["secrets"]["postgres_password"] == {
        "external": True,
        "name": "shop_postgres_password_v1",
    }
    api = {s["source"]: s for s in compose["services"]["api"]["secrets"]}
    assert api["postgres_password"]["uid"] == "10001" and api["postgres_password"]["mode"] == 0o400
    postgres = compose["services"]["postgres"]["secrets"]
    # The password and pgBackRest's CA, certificate and key, all for the postgres user alone.
    assert [(s["uid"], s["mode"]) for s in postgres] == [("999", 0o400)] * 4


def test_edge_binds_its_files_and_the_static_dirs(compose: dict[str, Any]) -> None:
    binds = {
        v["target"]: v["source"]
        for v in compose["services"]["nginx"]["volumes"]
        if v["type"] == "bind"
    }
    assert binds == {
        # nginx.conf's directory: a file bind would pin the inode the template task replaces.
        "/etc/nginx/bf": "/opt/bf/config/nginx",
        "/etc/nginx/tls": "/opt/bf/config/nginx/tls",
        "/srv/maintenance": "/opt/bf/maintenance",
        "/srv/static/frontend": "/opt/bf/static/frontend",
    }


def test_edge_runs_the_config_it_binds(model: dict[str, Any], compose: dict[str, Any]) -> None:
    command = compose["services"]["nginx"]["command"]
    assert command[command.index("-c") + 1] == model["mounts"]["nginx_conf"]


def test_release_changes_with_the_service_only(
    bf_stack: ModuleType, model: dict[str, Any], compose: dict[str, Any]
) -> None:
    releases = bf_stack.bf_stack_releases(compose)
    assert set(releases) == set(compose["services"]) and all(
        len(r) == 12 for r in releases.values()
    )
    rotated = dict(_names(model, "secrets"), redis_password="shop_redis_password_v2")
    again = bf_stack.bf_stack_releases(
        bf_stack.bf_stack_compose(model, IMAGES, rotated, _names(model, "configs"))
    )
    # A rotated secret rolls exactly the services that use it.
    changed = {name for name in releases if releases[name] != again[name]}
    assert changed == {"api", "frontend", "redis", "cache"}


def test_overrides_merge_into_a_service(
    bf_stack: ModuleType, manifests: list[dict[str, Any]], model: dict[str, Any]
) -> None:
    custom = bf_stack.bf_stack_model(
        manifests, settings(overrides={"pgadmin": {"read_only": False, "deploy": {"replicas": 0}}})
    )
    rendered = bf_stack.bf_stack_compose(
        custom, IMAGES, _names(custom, "secrets"), _names(custom, "configs")
    )["services"]["pgadmin"]
    assert rendered["read_only"] is False
    assert rendered["deploy"]["replicas"] == 0
    assert rendered["deploy"]["endpoint_mode"] == "dnsrr"  # the rest of deploy stays


def test_a_subset_keeps_only_its_networks_and_secrets(
    bf_stack: ModuleType, model: dict[str, Any]
) -> None:
    subset = bf_stack.bf_stack_compose(
        model, IMAGES, _names(model, "secrets"), _names(model, "configs"), ["postgres", "redis"]
    )
    assert set(subset["services"]) == {"postgres", "redis"}
    assert set(subset["networks"]) == {"backend"}
    assert set(subset["secrets"]) == {
        "postgres_password",
        "redis_password",
        "pgbackrest_tls_ca",
        "pgbackrest_tls_postgres_crt",
        "pgbackrest_tls_postgres_key",
    }
    assert "configs" not in subset


@pytest.mark.parametrize("missing", ["image", "secret", "config"])
def test_compose_refuses_what_it_cannot_name(
    bf_stack: ModuleType, model: dict[str, Any], missing: str
) -> None:
    images, secrets, configs = dict(IMAGES), _names(model, "secrets"), _names(model, "configs")
    {"image": images, "secret": secrets, "config": configs}[missing].pop(
        {"image": "api", "secret": "secret_key", "config": "uwsgi_api"}[missing]
    )
    with pytest.raises(Exception, match="api|secret_key|uwsgi_api"):
        bf_stack.bf_stack_compose(model, images, secrets, configs)


def test_bad_size_is_refused(bf_stack: ModuleType, manifests: list[dict[str, Any]]) -> None:
    with pytest.raises(Exception, match="not a size"):
        bf_stack.bf_stack_model(manifests, settings(mem_limits={"api": "lots"}))


def test_job_spec_borrows_the_service_and_runs_once(
    bf_stack: ModuleType, compose: dict[str, Any]
) -> None:
    spec = bf_stack.bf_stack_job_spec(
        compose,
        "api",
        "shop",
        ["flask", "db", "upgrade"],
        "shop_job_migrate_api",
        ["backend"],
        {"LOG_LEVEL": "INFO"},
    )
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Image"] == "bf/api:abc"
    assert container["Command"] == ["flask", "db", "upgrade"]
    assert "LOG_LEVEL=INFO" in container["Env"]
    assert "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password" in container["Env"]
    assert {s["SecretName"] for s in container["Secrets"]} >= {"shop_postgres_password_v1"}
    assert container["Healthcheck"] == {"Test": ["NONE"]}
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "none"}
    # Only the networks asked for: the edge network may not exist yet on a first deploy.
    assert spec["TaskTemplate"]["Networks"] == [{"Target": "shop_backend"}]
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == ["node.labels.bf_app == true"]
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}


def test_job_spec_of_an_unknown_service_is_refused(
    bf_stack: ModuleType, compose: dict[str, Any]
) -> None:
    with pytest.raises(Exception, match="no service reports"):
        bf_stack.bf_stack_job_spec(compose, "reports", "shop", ["true"], "shop_job")


def test_a_stopping_app_task_drains_then_finishes_its_requests(
    model: dict[str, Any], compose: dict[str, Any]
) -> None:
    for name in ("api", "frontend"):
        service = compose["services"][name]
        uwsgi = model["services"][name]["app"]["uwsgi"]
        assert service["command"][0] == "bf-drain"
        assert service["environment"]["BF_DRAIN_SECONDS"] == "8"
        # SIGTERM reaches uWSGI only after the drain, and then must not drop requests in flight.
        assert uwsgi["hook-master-start"] == "unix_signal:15 gracefully_kill_them_all"
        # The grace period covers the drain and the longest request uWSGI lets run.
        assert service["stop_grace_period"] == f"{8 + int(uwsgi['harakiri']) + 5}s"
    # The drain outlasts the edge's DNS cache (plus the engine's own 2 s before SIGTERM).
    assert 8 > model["dns_valid_seconds"]


def test_each_app_task_knows_its_release(bf_stack: ModuleType, compose: dict[str, Any]) -> None:
    releases = bf_stack.bf_stack_releases(compose)
    for name in ("api", "frontend"):
        assert compose["services"][name]["environment"]["BF_RELEASE"] == releases[name]
    # The backing services do not serve HTTP: nothing to name.
    assert "BF_RELEASE" not in compose["services"]["postgres"].get("environment", {})


def test_apps_trust_forwarded_addresses_only_from_their_callers(compose: dict[str, Any]) -> None:
    env = {name: compose["services"][name]["environment"] for name in ("api", "frontend")}
    # The frontend calls the API for a visitor; nothing calls the frontend but the edge.
    assert env["api"]["TRUSTED_PROXY_HOSTS"] == "nginx,frontend"
    assert env["frontend"]["TRUSTED_PROXY_HOSTS"] == "nginx"
    assert env["api"]["ACCESS_LOG"] == env["frontend"]["ACCESS_LOG"] == "false"


def test_the_cache_is_its_own_bounded_redis_the_sessions_are_never_evicted(
    compose: dict[str, Any],
) -> None:
    cache, redis = compose["services"]["cache"], compose["services"]["redis"]
    command = cache["command"]
    assert command[command.index("--maxmemory") + 1] == "64mb"
    assert command[command.index("--maxmemory-policy") + 1] == "allkeys-lru"
    # Nothing of the cache is kept; sessions and counters stay on redis, with its volume and no
    # maxmemory (so noeviction: a full Redis refuses writes, it never drops a session).
    assert [v["type"] for v in cache["volumes"]] == ["tmpfs"]
    assert {"type": "volume", "source": "redis_data", "target": "/data"} in redis["volumes"]
    assert "command" not in redis
    env = compose["services"]["api"]["environment"]
    assert env["CACHE_REDIS_URL"] == "redis://cache:6379/0"
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert "CACHE_REDIS_URL" not in compose["services"]["frontend"]["environment"]


def test_pgbackrest_files_are_secrets_the_service_mounts(model: dict[str, Any]) -> None:
    """Every pgBackRest *_FILE option names a secret mounted in that same service."""
    for name in ("postgres", "pgbackrest"):
        service = model["services"][name]
        mounted = {ref["path"] for ref in service["secrets"]}
        files = {
            key: value
            for key, value in service["environment"].items()
            if key.startswith(("PGBACKREST_", "BF_PGBACKREST_"))
            and key.endswith("_FILE")
            and key != "PGBACKREST_LOG_LEVEL_FILE"
        }
        assert len(files) >= 4, (name, files)
        assert {key: value for key, value in files.items() if value not in mounted} == {}, name


def test_pgbackrest_ends_authorise_each_other_only(model: dict[str, Any]) -> None:
    postgres = model["services"]["postgres"]["environment"]
    repo = model["services"]["pgbackrest"]["environment"]
    # Each end's client certificate is its server certificate, whose CN is its service name; the
    # other end lets that CN alone in, for this stack's stanza alone.
    server_cert = postgres["PGBACKREST_TLS_SERVER_CERT_FILE"]
    assert postgres["PGBACKREST_REPO1_HOST_CERT_FILE"] == server_cert
    assert repo["PGBACKREST_PG1_HOST_CERT_FILE"] == repo["PGBACKREST_TLS_SERVER_CERT_FILE"]
    assert postgres["PGBACKREST_TLS_SERVER_AUTH"] == "pgbackrest=shop"
    assert repo["PGBACKREST_TLS_SERVER_AUTH"] == "postgres=shop"
    assert postgres["PGBACKREST_REPO1_HOST"] == "pgbackrest"
    assert repo["PGBACKREST_PG1_HOST"] == "postgres"
    assert postgres["PGBACKREST_STANZA"] == repo["PGBACKREST_STANZA"] == "shop"
    # Encrypted at rest, with a passphrase that is a secret file, never a variable.
    assert repo["PGBACKREST_REPO1_CIPHER_TYPE"] == "aes-256-cbc"
    assert not [k for k in {**postgres, **repo} if "CIPHER_PASS" in k and not k.endswith("_FILE")]
    # The database archives its WAL through pgBackRest.
    command = model["services"]["postgres"]["command"]
    assert "archive_mode=on" in command
    assert "archive_command=pgbackrest archive-push %p" in command


def test_pgbackrest_repository_is_a_stateful_backend_service(model: dict[str, Any]) -> None:
    repo = model["services"]["pgbackrest"]
    assert repo["stateful"] and repo["networks"] == ["backend"] and repo["ports"] == []
    assert repo["volumes"] == [{"source": "pgbackrest_repo", "target": "/var/lib/pgbackrest"}]
    assert repo["image"] == model["services"]["postgres"]["image"]


def test_job_spec_mounts_the_service_volumes_only_when_asked(
    bf_stack: ModuleType, compose: dict[str, Any]
) -> None:
    argv = ["pgbackrest", "restore"]
    plain = bf_stack.bf_stack_job_spec(compose, "postgres", "shop", argv, "shop_job_restore")
    with_volumes = bf_stack.bf_stack_job_spec(
        compose, "postgres", "shop", argv, "shop_job_restore", None, None, True
    )
    assert [m["Type"] for m in plain["TaskTemplate"]["ContainerSpec"]["Mounts"]] == ["tmpfs"] * 2
    mounts = with_volumes["TaskTemplate"]["ContainerSpec"]["Mounts"]
    volumes = [m for m in mounts if m["Type"] == "volume"]
    assert volumes == [
        {"Type": "volume", "Source": "shop_postgres_data", "Target": "/var/lib/postgresql/data"},
        {
            "Type": "volume",
            "Source": "shop_postgres_scratch",
            "Target": "/var/lib/postgresql/scratch",
        },
    ]
    # Same node as the database: its placement.
    assert with_volumes["TaskTemplate"]["Placement"]["Constraints"] == [
        "node.labels.bf_db_primary == true"
    ]


def test_a_service_that_changes_user_lets_its_init_signal_the_server(
    model: dict[str, Any],
) -> None:
    """An entrypoint that drops from root to a user needs KILL, or the stop signal is lost.

    The container's init runs as root with every capability dropped; signalling a process of
    another uid needs CAP_KILL, and without it the init exits on EPERM and the server is killed
    in the middle of its shutdown (PostgreSQL then recovers from a crash at its next start).
    """
    switching = [n for n, s in model["services"].items() if "SETUID" in s["cap_add"]]
    assert switching, "no service changes its user: the test checks nothing"
    assert [n for n in switching if "KILL" not in model["services"][n]["cap_add"]] == []


def test_the_stack_file_reads_the_same_to_a_yaml_1_1_loader(compose: dict[str, Any]) -> None:
    # The engines of Debian's docker.io (20.10) load a stack file with YAML 1.1 rules, where a
    # plain y, n, yes, off... is a boolean, and refuse a boolean where a string must be (an
    # environment value). PyYAML quotes yes/no/on/off/true/false itself, but not y and n.
    plain_booleans = {"y", "n"}
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert str(value).lower() not in plain_booleans, (name, key, value)


# --- The streaming replica (bf_db_replica) ---------------------------------------------------


@pytest.fixture(scope="module")
def replica_model(bf_stack: ModuleType, manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return bf_stack.bf_stack_model(manifests, settings(replica_hosts=["w1"]))


def test_without_a_replica_host_nothing_of_the_replica_exists(model: dict[str, Any]) -> None:
    assert "postgres_replica" not in model["services"]
    assert "postgres_replication_password" not in model["secrets"]
    assert all(s["group"] != "bf_db_replica" for s in model["services"].values())
    for app in ("api",):
        assert model["services"][app]["environment"]["POSTGRES_REPLICAS_EXPECTED"] == "0"


def test_the_replica_streams_from_postgres_on_its_own_host(
    bf_stack: ModuleType, replica_model: dict[str, Any]
) -> None:
    replica = replica_model["services"]["postgres_replica"]
    primary = replica_model["services"]["postgres"]
    assert replica["hosts"] == ["w1"] and primary["hosts"] == ["w2"]
    # Same volume names: a failover moves the roles between nodes, the names stay.
    assert replica["volumes"] == primary["volumes"]
    assert replica["update"]["order"] == "stop-first"
    command = " ".join(replica["command"])
    assert "primary_conninfo=host=postgres " in command
    assert "passfile=/tmp/bf-replication.pgpass" in command
    assert "primary_slot_name=bf_replica" in command
    # The primary's own settings come first, so a promoted replica archives as the primary did.
    assert replica["command"][: len(primary["command"])] == primary["command"]
    # No TLS server of its own (the entrypoint starts one beside a database that has its address).
    assert not any(k.startswith("PGBACKREST_TLS_SERVER") for k in replica["environment"])
    assert replica["environment"]["BF_PG_ROLE"] == "replica"
    assert primary["environment"]["BF_PG_ROLE"] == "primary"
    # Both ends of the replication get the password as a file; it is in no environment value.
    for service in (replica, primary):
        refs = {ref["name"]: ref for ref in service["secrets"]}
        assert refs["postgres_replication_password"]["env"] == "BF_REPLICATION_PASSWORD_FILE"
    assert replica_model["services"]["api"]["environment"]["POSTGRES_REPLICAS_EXPECTED"] == "1"
    compose = bf_stack.bf_stack_compose(
        replica_model, IMAGES, _names(replica_model, "secrets"), _names(replica_model, "configs")
    )
    rendered = compose["services"]["postgres_replica"]
    assert rendered["deploy"]["placement"]["constraints"] == ["node.labels.bf_db_replica == true"]
    assert all(isinstance(v, str) for v in rendered["environment"].values())


def test_the_replica_changes_no_other_service_but_the_database_and_its_clients(
    bf_stack: ModuleType, model: dict[str, Any], replica_model: dict[str, Any]
) -> None:
    # Adding a replica restarts the primary once (the password it checks the role with) and
    # rolls the apps that read its status; the rest keeps running.
    def releases(m: dict[str, Any]) -> dict[str, str]:
        compose = bf_stack.bf_stack_compose(m, IMAGES, _names(m, "secrets"), _names(m, "configs"))
        return bf_stack.bf_stack_releases(compose)

    before, after = releases(model), releases(replica_model)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"postgres", "api"}, changed


def test_the_dependents_of_a_backing_service_are_the_apps_that_need_it(
    bf_stack: ModuleType, model: dict[str, Any]
) -> None:
    # failover.yml rolls these after the hand-over, and nothing else.
    assert bf_stack.bf_stack_dependents(model, "postgres") == ["api"]
    assert bf_stack.bf_stack_dependents(model, "api") == ["frontend"]
    assert bf_stack.bf_stack_dependents(model, "pgadmin") == []


def test_the_database_labels_name_their_nodes(bf_stack: ModuleType) -> None:
    def node(ident: str, hostname: str, labels: dict[str, str] | None, state: str) -> dict:
        return {
            "ID": ident,
            "Description": {"Hostname": hostname},
            "Spec": {"Labels": labels},
            "Status": {"State": state},
        }

    nodes = [
        node("n3", "db-a", {"bf_db_fenced": "20261208T010203Z", "bf_app": "true"}, "down"),
        node("n2", "db-b", {"bf_db_primary": "true"}, "ready"),
        node("n1", "edge", None, "ready"),
    ]
    found = bf_stack.bf_stack_db_nodes(nodes)
    assert found["bf_db_primary"] == [
        {"id": "n2", "hostname": "db-b", "value": "true", "state": "ready"}
    ]
    assert found["bf_db_replica"] == []
    assert found["bf_db_fenced"] == [
        {"id": "n3", "hostname": "db-a", "value": "20261208T010203Z", "state": "down"}
    ]
    assert bf_stack.bf_stack_db_nodes([]) == {
        "bf_db_primary": [], "bf_db_replica": [], "bf_db_fenced": []
    }  # fmt: skip
