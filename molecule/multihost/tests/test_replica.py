"""The streaming replica a converge leaves on bf-mh-2, copying the primary on bf-mh-3.

These run before test_stack.py (file order), on the edge host's turn: they read the API's
readiness through the edge, and both databases through the nested hosts' engines (the
controller's `docker exec` into a host, then into its database task), as an operator's
`tools/bf-ops replication` does on each host.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from dbsite import host_sh, login_admin, psql, ready

# Writes per second through the edge while the lag is sampled, and for how long.
WRITE_RATE = 5.0
WRITE_SECONDS = 20.0
# Where the measured lag is written for the session's note (the test asserts no timing).
FIGURES = Path(
    os.environ.get("BF_REPLICA_FIGURES")
    or Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", tempfile.gettempdir()))
    / "bf-replica-lag.json"
)


def test_the_replica_streams_after_the_converge(
    edge: requests.Session, site: dict[str, Any]
) -> None:
    replication = ready(edge, site)["replication"]
    assert replication["role"] == "primary" and replication["expected"] == 1, replication
    assert replication["ok"] is True, replication
    assert [s["state"] for s in replication["standbys"]] == ["streaming"], replication
    assert psql(site, site["replica"], "postgres_replica", "SELECT pg_is_in_recovery()") == "t"
    assert psql(site, site["primary"], "postgres", "SELECT pg_is_in_recovery()") == "f"
    slot = psql(
        site, site["primary"], "postgres",
        "SELECT active, wal_status FROM pg_replication_slots WHERE slot_name = 'bf_replica'",
    )  # fmt: skip
    assert slot == "t|reserved", slot
    # The same cluster on both ends: the copy came from this primary.
    system = "SELECT system_identifier FROM pg_control_system()"
    assert psql(site, site["replica"], "postgres_replica", system) == psql(
        site, site["primary"], "postgres", system
    )


def test_the_standby_refuses_writes(site: dict[str, Any]) -> None:
    script = (
        f"id=$(docker ps -q --filter label=com.docker.swarm.service.name={site['stack']}"
        "_postgres_replica --filter status=running | head -n 1); "
        f'docker exec -u postgres "$id" psql -X -At -U {site["user"]} -d {site["db"]}'
        " -c 'CREATE TABLE bf_test_refused (id int)'"
    )
    proc = host_sh(site["replica"], script)
    assert proc.returncode != 0
    assert "read-only transaction" in proc.stderr, proc.stderr


def test_every_acknowledged_write_reaches_the_replica_under_a_steady_load(
    edge: requests.Session, site: dict[str, Any]
) -> None:
    """Products written through the edge at a steady rate; the primary's view of the replica's
    replay lag sampled meanwhile. Every write the API acknowledged is then on the standby."""
    auth = {"Authorization": f"Bearer {login_admin(edge, site)}"}
    run = uuid.uuid4().hex[:8]
    acknowledged: list[str] = []
    refused: list[str] = []
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            out = psql(
                site, site["primary"], "postgres",
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,"
                " COALESCE((extract(epoch FROM replay_lag) * 1000)::bigint, 0)"
                " FROM pg_stat_replication WHERE application_name = 'bf_replica'",
            )  # fmt: skip
            if out:
                lag_bytes, lag_ms = (int(v) for v in out.split("|"))
                samples.append((lag_bytes, lag_ms))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    writer = requests.Session()
    writer.verify = False
    writer.trust_env = False
    writer.headers.update({"Host": site["server_name"], **auth})
    started = time.monotonic()
    seq = 0
    try:
        while time.monotonic() - started < WRITE_SECONDS:
            name = f"lag-{run}-{seq:05d}"
            response = writer.post(
                f"{site['url']}/api/products",
                json={"name": name, "price": "1.00", "stock": 1},
                timeout=10,
            )
            (acknowledged if response.status_code == 201 else refused).append(name)
            seq += 1
            time.sleep(max(0.0, started + seq / WRITE_RATE - time.monotonic()))
    finally:
        stop.set()
        sampler.join(timeout=30)
    assert acknowledged and not refused, f"{len(refused)} writes refused of {seq}"
    # Caught up: every acknowledged row is on the standby (a bounded wait, not a timing claim).
    # run is the hex of a uuid4: nothing to quote.
    count = f"SELECT count(*) FROM products WHERE name LIKE 'lag-{run}-%'"  # noqa: S608
    deadline = time.monotonic() + 60
    while int(psql(site, site["replica"], "postgres_replica", count)) < len(acknowledged):
        assert time.monotonic() < deadline, "the replica did not catch up within 60 s"
        time.sleep(0.5)
    names = psql(
        site, site["replica"], "postgres_replica",
        f"SELECT name FROM products WHERE name LIKE 'lag-{run}-%' ORDER BY name",  # noqa: S608
    ).splitlines()  # fmt: skip
    assert names == sorted(acknowledged)
    assert samples, "no lag sample was taken"
    lag_bytes = [b for b, _ in samples]
    lag_ms = [m for _, m in samples]
    figures = {
        "writes": len(acknowledged),
        "write_rate_per_s": WRITE_RATE,
        "samples": len(samples),
        "replay_lag_bytes": {
            "p50": statistics.median(lag_bytes),
            "max": max(lag_bytes),
        },
        "replay_lag_ms": {"p50": statistics.median(lag_ms), "max": max(lag_ms)},
    }
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print("replica lag under load:", json.dumps(figures))  # noqa: T201 - the figure for the note
