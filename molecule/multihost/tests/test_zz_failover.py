"""playbooks/failover.yml after the primary's database is lost under a steady write load.

Last of the scenario's tests (file order): it changes the topology for good. The promoted
replica on bf-mh-2 stays the primary, and bf-mh-3 is rebuilt as its replica with the inventory
swapped, as an operator would after a failover; destroy follows. The primary's database on bf-mh-3
is cut off by taking its container's network interfaces down (inside its network namespace):
its host, its engine and the Redis beside it stay up, so only the failover's fences can stop
it, as when a database host is cut off rather than switched off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import yaml
from bf_load import playbook
from dbsite import host_sh, login_admin, psql, ready

WRITE_RATE = 10.0
# A write acknowledged this long before the cut is on the replica: the lag measured under the
# same load is a few milliseconds (test_replica.py), so a second is a wide bound, not a timing.
LAG_BOUND = 1.0
FIGURES = Path(
    os.environ.get("BF_FAILOVER_FIGURES")
    or Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", tempfile.gettempdir()))
    / "bf-failover.json"
)

# In the database container's own network namespace: every interface but loopback goes down.
CUT = (
    "id=$(docker ps -q --filter label=com.docker.swarm.service.name={stack}_postgres"
    ' --filter status=running | head -n 1); test -n "$id" || exit 3; '
    "pid=$(docker inspect --format '{{{{.State.Pid}}}}' \"$id\"); "
    'for link in $(nsenter -t "$pid" -n ip -o link show | cut -d: -f2 | cut -d@ -f1); do '
    '[ "$link" = lo ] || nsenter -t "$pid" -n ip link set "$link" down || exit 4; done'
)


class Writer(threading.Thread):
    """Products POSTed through the edge at a fixed rate: (seq, sent, done, status) of each."""

    def __init__(self, site: dict[str, Any], token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{site['url']}/api/products"
        self.run_id = uuid.uuid4().hex[:8]
        self.log: list[tuple[int, float, float, int]] = []
        self.stop = threading.Event()
        self.session = requests.Session()
        self.session.verify = False
        self.session.trust_env = False
        self.session.headers.update(
            {"Host": site["server_name"], "Authorization": f"Bearer {token}"}
        )

    def name_of(self, seq: int) -> str:
        return f"fo-{self.run_id}-{seq:06d}"

    def run(self) -> None:
        seq = 0
        started = time.monotonic()
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                status = self.session.post(
                    self.url,
                    json={"name": self.name_of(seq), "price": "1.00", "stock": 1},
                    timeout=5,
                ).status_code
            except requests.RequestException:
                status = 0
            self.log.append((seq, sent, time.monotonic(), status))
            seq += 1
            self.stop.wait(max(0.0, started + seq / WRITE_RATE - time.monotonic()))

    def acknowledged(self, after: float = 0.0) -> list[tuple[int, float, float, int]]:
        return [entry for entry in list(self.log) if entry[3] == 201 and entry[1] >= after]

    def wait_for(self, count: int, after: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged(after)) < count:
            assert time.monotonic() < deadline, (
                f"fewer than {count} writes acknowledged in {timeout} s: {self.log[-5:]}"
            )
            time.sleep(0.2)


def _names(site: dict[str, Any], node: str, service: str, run_id: str) -> set[str]:
    # run_id is the hex of a uuid4: nothing to quote.
    sql = f"SELECT name FROM products WHERE name LIKE 'fo-{run_id}-%'"  # noqa: S608
    return set(psql(site, node, service, sql).splitlines())


def _fenced_labels(site: dict[str, Any], manager: str) -> str:
    proc = host_sh(
        manager,
        "docker node ls -q | xargs docker node inspect --format"
        " '{{.Description.Hostname}}={{index .Spec.Labels \"bf_db_fenced\"}}'",
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_failover_promotes_the_replica_and_loses_only_unreceived_writes(
    edge: requests.Session, site: dict[str, Any]
) -> None:
    old, new = site["primary"], site["replica"]
    writer = Writer(site, login_admin(edge, site))
    writer.start()
    try:
        writer.wait_for(20, 0.0, 60)
        t_cut = time.monotonic()
        cut = host_sh(old, CUT.format(stack=site["stack"]))
        assert cut.returncode == 0, cut.stderr
        # What the standby had received when the primary went: it can receive nothing more.
        time.sleep(2)
        received = _names(site, new, "postgres_replica", writer.run_id)
        t0 = time.monotonic()
        result = playbook("failover.yml", "-e", "failover_confirm=yes", timeout=900)
        t1 = time.monotonic()
        assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
        writer.wait_for(20, t0, 120)
    finally:
        writer.stop.set()
        writer.join(timeout=30)

    after = _names(site, new, "postgres", writer.run_id)
    acknowledged = writer.acknowledged()
    acked = {writer.name_of(seq) for seq, *_ in acknowledged}
    lost = [(seq, done) for seq, _, done, _ in acknowledged if writer.name_of(seq) not in after]
    # Nothing the replica had received is lost by the promotion and the hand-over.
    assert received <= after, sorted(received - after)[:10]
    # A lost write is one acknowledged just before the cut, which the replica never received;
    # every write acknowledged after the failover is kept.
    assert all(t_cut - LAG_BOUND <= done <= t0 for _, done in lost), (lost, t_cut, t0)
    first = min(sent for _, sent, _, _ in writer.acknowledged(t0))
    first_done = min(done for _, sent, done, _ in acknowledged if sent >= t0)
    figures = {
        "write_rate_per_s": WRITE_RATE,
        "acknowledged": len(acked),
        "acknowledged_then_lost": len(lost),
        "committed_not_acknowledged": len(after - acked),
        "failed_or_refused": sum(1 for *_, status in writer.log if status != 201),
        "playbook_s": round(t1 - t0, 1),
        "first_write_after_command_s": round(first_done - t0, 1),
        "first_write_after_cut_s": round(first_done - t_cut, 1),
        "first_write_sent_after_command_s": round(first - t0, 1),
        "phases": [
            line for line in result.stdout.splitlines() if re.search(r"\d{4}-\d\d-\d\dT", line)
        ][-12:],
    }
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print("failover:", json.dumps(figures))  # noqa: T201 - the figure for the note

    # The shop serves from the promoted primary.
    response = edge.get(f"{site['url']}/api/health/ready", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["replication"]["role"] == "primary", response.text
    assert edge.get(f"{site['url']}/", timeout=10).status_code == 200


def test_the_old_primary_is_fenced(site: dict[str, Any], host: Any) -> None:
    old = site["primary"]
    manager = host.ansible.get_variables()["groups"]["bf_swarm_managers"][0]
    stack = site["stack"]
    running = host_sh(
        old,
        f"docker ps -q --filter label=com.docker.swarm.service.name={stack}_postgres"
        " --filter status=running",
    )
    assert running.returncode == 0 and running.stdout.strip() == "", running
    assert re.search(rf"^{re.escape(old)}=\d{{8}}T\d{{6}}Z$", _fenced_labels(site, manager), re.M)
    volume = f"{stack}_postgres_data"
    fence = host_sh(
        old, f"cat \"$(docker volume inspect --format '{{{{.Mountpoint}}}}' {volume})/bf.fenced\""
    )
    assert fence.returncode == 0 and "fenced by failover.yml" in fence.stdout, fence
    # The image itself refuses to serve that data (the entrypoint's exit 78).
    start = host_sh(
        old,
        f"image=$(docker ps -a --filter label=com.docker.swarm.service.name={stack}_postgres"
        " --format '{{.Image}}' | head -n 1); "
        f'docker run --rm --network none -v {volume}:/var/lib/postgresql/data "$image" postgres',
        timeout=120,
    )
    assert start.returncode == 78, start
    assert "fenced and must not start" in start.stderr, start.stderr


def test_site_refuses_to_deploy_over_the_fence(site: dict[str, Any]) -> None:
    # The inventory still names the old primary: a deploy would label it for the database.
    result = playbook("site.yml", timeout=900)
    assert result.returncode != 0, result.stdout[-4000:]
    assert "A failover fenced the old primary's node" in result.stdout, result.stdout[-6000:]
    changed = [int(n) for n in re.findall(r"\bchanged=(\d+)", result.stdout)]
    assert changed and set(changed) == {0}, result.stdout[-3000:]


def _swapped_inventory(tmp_path: Path) -> Path:
    """The scenario's inventory with the bf_db_primary and bf_db_replica hosts swapped."""
    scenario = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    for entry in scenario.iterdir():
        if entry.name == "hosts":
            continue
        if entry.is_symlink():
            (inventory / entry.name).symlink_to(os.readlink(entry))
        else:
            shutil.copy(entry, inventory / entry.name)
    hosts = yaml.safe_load((scenario / "hosts").read_text(encoding="utf-8"))
    groups = hosts["bf_docker_hosts"]["children"]
    groups["bf_db_primary"], groups["bf_db_replica"] = (
        groups["bf_db_replica"],
        groups["bf_db_primary"],
    )
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    return inventory


def test_rebuild_makes_the_old_primary_the_replica(
    edge: requests.Session, site: dict[str, Any], host: Any, tmp_path: Path
) -> None:
    old, new = site["primary"], site["replica"]
    manager = host.ansible.get_variables()["groups"]["bf_swarm_managers"][0]
    result = playbook(
        "rebuild-replica.yml", "-e", "rebuild_confirm=yes",
        inventory=_swapped_inventory(tmp_path), timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]

    replication = ready(edge, site)["replication"]
    assert replication["ok"] is True, replication
    assert [s["state"] for s in replication["standbys"]] == ["streaming"], replication
    assert psql(site, old, "postgres_replica", "SELECT pg_is_in_recovery()") == "t"
    system = "SELECT system_identifier FROM pg_control_system()"
    assert psql(site, old, "postgres_replica", system) == psql(site, new, "postgres", system)
    # A write through the edge reaches the rebuilt replica.
    name = f"rebuilt-{uuid.uuid4().hex[:8]}"
    response = edge.post(
        f"{site['url']}/api/products",
        json={"name": name, "price": "1.00", "stock": 1},
        headers={"Authorization": f"Bearer {login_admin(edge, site)}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    query = f"SELECT count(*) FROM products WHERE name = '{name}'"  # noqa: S608 - a uuid's hex
    deadline = time.monotonic() + 30
    while psql(site, old, "postgres_replica", query) != "1":
        assert time.monotonic() < deadline, "the write did not reach the rebuilt replica"
        time.sleep(0.5)
    # The old primary's data is kept aside, and no node is fenced any more.
    kept = host_sh(
        old, f"docker volume ls -q --filter name={site['stack']}_postgres_data_pre_rebuild_"
    )
    assert kept.returncode == 0 and kept.stdout.strip(), kept
    assert all(line.endswith("=") for line in _fenced_labels(site, manager).splitlines()), (
        _fenced_labels(site, manager)
    )
