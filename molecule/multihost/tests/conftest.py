"""Fixtures of the database tests (test_replica.py, test_zz_failover.py): the site as the
edge host sees it, and an HTTPS session to its edge (`edge`: molecule/conftest.py has an
`http` of its own, which the other tests here use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3


@pytest.fixture(scope="module")
def site(host: Any) -> dict[str, Any]:
    """The edge's address and the database settings; skips the tests on other hosts."""
    variables = host.ansible.get_variables()
    groups = variables["groups"]
    if variables["inventory_hostname"] != groups["bf_edge"][0]:
        pytest.skip("a test of the whole stack: it runs once, on the edge host's turn")
    if not groups.get("bf_db_replica"):
        pytest.skip("the inventory has no bf_db_replica host")
    return {
        "url": f"https://{variables['ansible_host']}:{variables['bf_https_port']}",
        "server_name": variables["bf_server_name"],
        "stack": variables["bf_stack_name"],
        "db": variables["bf_postgres_db"],
        "user": variables["bf_postgres_user"],
        "primary": groups["bf_db_primary"][0],
        "replica": groups["bf_db_replica"][0],
        "admin_email": variables["bf_admin_email"],
        "credentials": Path(variables["bf_secrets_credentials_dir"]),
    }


@pytest.fixture(scope="module")
def edge(site: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    session.verify = False
    session.headers["Host"] = site["server_name"]
    session.trust_env = False
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return session
