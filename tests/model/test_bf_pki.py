"""The internal PKI plan: which CAs and certificates the TLS secret names ask for."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from model_helpers import load_plugin

pki = load_plugin("filter/bf_pki.py", "bf_pki")

STACK = [
    "postgres_password",
    "pgbackrest_cipher_pass",
    "pgbackrest_tls_ca",
    "pgbackrest_tls_postgres_crt",
    "pgbackrest_tls_postgres_key",
    "pgbackrest_tls_pgbackrest_crt",
    "pgbackrest_tls_pgbackrest_key",
]


def test_plan_issues_one_ca_and_a_certificate_per_common_name() -> None:
    plan = pki.bf_pki_plan(STACK, "/c/pki")
    assert plan["cas"] == [
        {"name": "pgbackrest", "key": "/c/pki/pgbackrest/ca.key", "crt": "/c/pki/pgbackrest/ca.crt"}
    ]
    assert [(c["ca"], c["cn"]) for c in plan["certs"]] == [
        ("pgbackrest", "pgbackrest"),
        ("pgbackrest", "postgres"),
    ]
    # Every TLS secret has a file; the passwords are not the PKI's business.
    assert set(plan["files"]) == {n for n in STACK if "_tls_" in n}
    assert plan["files"]["pgbackrest_tls_postgres_key"] == "/c/pki/pgbackrest/postgres.key"
    # The CA's private key is never a secret: it stays on the controller.
    assert "/c/pki/pgbackrest/ca.key" not in plan["files"].values()


def test_plan_of_a_stack_without_tls_is_empty() -> None:
    assert pki.bf_pki_plan(["postgres_password"], "/c") == {"cas": [], "certs": [], "files": {}}


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["x_tls_ca", "x_tls_a_crt"], "x_tls_a_key is missing beside x_tls_a_crt"),
        (["x_tls_ca", "x_tls_a_key"], "x_tls_a_crt is missing beside x_tls_a_key"),
        (["x_tls_a_crt", "x_tls_a_key"], "x_tls_a_crt has no CA secret x_tls_ca"),
    ],
)
def test_plan_refuses_half_a_certificate(names: list[str], message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        pki.bf_pki_plan(names, "/c")
