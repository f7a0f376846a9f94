"""A point-in-time restore of a stack with a streaming replica (restore.yml over SSH).

After test_replica.py, test_stack.py and test_swarm.py, before test_zz_failover.py (file order),
on the edge host's turn. Rows are written through the edge at known times; the restore to a
moment between two of them gives exactly the rows before it on the primary, and the replica,
which could never follow a primary taken back in time, is copied afresh and streams again with
the same rows.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests
from bf_load import playbook
from dbsite import login_admin, psql, ready


def _product(edge: requests.Session, site: dict[str, Any], token: str, name: str) -> None:
    response = edge.post(
        f"{site['url']}/api/products",
        json={"name": name, "price": "1.00", "stock": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def test_restore_to_a_point_in_time_rebuilds_the_replica(
    edge: requests.Session, site: dict[str, Any]
) -> None:
    primary, replica = site["primary"], site["replica"]
    token = login_admin(edge, site)
    run = uuid.uuid4().hex[:8]
    _product(edge, site, token, f"pitr-{run}-1-before")
    time.sleep(1.5)
    # The moment to go back to, by the database's clock (the one its WAL records carry).
    target = psql(site, primary, "postgres", "SELECT now()::text")
    time.sleep(1.5)
    _product(edge, site, token, f"pitr-{run}-2-after")
    # The second row must reach the archive too, or the restore would prove nothing.
    segment = psql(site, primary, "postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())")
    psql(site, primary, "postgres", "SELECT pg_switch_wal()")
    archived = "SELECT COALESCE(last_archived_wal, '') FROM pg_stat_archiver"
    deadline = time.monotonic() + 90
    while psql(site, primary, "postgres", archived) < segment:
        assert time.monotonic() < deadline, f"{segment} was not archived within 90 s"
        time.sleep(2)

    extra = json.dumps({"restore_confirm": "yes", "restore_target_time": target})
    result = playbook("restore.yml", "-e", extra, timeout=1800)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "copied the restored primary afresh and streams" in " ".join(result.stdout.split())

    # run is the hex of a uuid4: nothing to quote.
    names = f"SELECT name FROM products WHERE name LIKE 'pitr-{run}-%' ORDER BY name"  # noqa: S608
    assert psql(site, primary, "postgres", names).splitlines() == [f"pitr-{run}-1-before"]
    replication = ready(edge, site)["replication"]
    assert replication["ok"] is True, replication
    assert [s["state"] for s in replication["standbys"]] == ["streaming"], replication
    assert psql(site, replica, "postgres_replica", "SELECT pg_is_in_recovery()") == "t"
    assert psql(site, replica, "postgres_replica", names).splitlines() == [f"pitr-{run}-1-before"]
    # The restored primary writes on a new timeline (the first 8 hex digits of a WAL file name).
    walfile = psql(site, primary, "postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())")
    assert int(walfile[:8], 16) > int(segment[:8], 16), (walfile, segment)
