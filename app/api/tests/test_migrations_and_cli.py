import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from api.extensions import db
from conftest import build_app

APP_DIR = Path(__file__).resolve().parents[2]


def _flask(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(APP_DIR),
        "FLASK_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    flask = str(Path(sys.executable).with_name("flask"))
    return subprocess.run(  # noqa: S603 - fixed argv, test env
        [flask, "--app", "api.wsgi", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _tables(postgres_server, name: str) -> set[str]:
    out = postgres_server.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", name)
    return set(out.split())


def test_upgrade_from_empty_downgrade_one_step_and_upgrade_again(postgres_server):
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    proc = _flask(url, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    domain = {"users", "categories", "products", "orders", "order_items"}
    assert domain | {"alembic_version"} == _tables(postgres_server, name)
    assert postgres_server.psql("SELECT version_num FROM alembic_version", name).strip() == "0003"

    # The migrations describe exactly the models.
    app = build_app(url, "redis://127.0.0.1:1/0")
    with app.app_context(), db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
        db.engine.dispose()

    # 0003 down: the version columns go, the tables stay.
    proc = _flask(url, "db", "downgrade")
    assert proc.returncode == 0, proc.stderr
    assert postgres_server.psql("SELECT version_num FROM alembic_version", name).strip() == "0002"
    assert _columns(postgres_server, name, "products") & {"version"} == set()
    assert _columns(postgres_server, name, "users") & {"token_version"} == set()
    assert domain | {"alembic_version"} == _tables(postgres_server, name)

    proc = _flask(url, "db", "downgrade")
    assert proc.returncode == 0, proc.stderr
    assert _tables(postgres_server, name) == {"users", "categories", "products", "alembic_version"}
    assert postgres_server.psql("SELECT version_num FROM alembic_version", name).strip() == "0001"

    proc = _flask(url, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert domain <= _tables(postgres_server, name)
    assert "version" in _columns(postgres_server, name, "products")
    assert "token_version" in _columns(postgres_server, name, "users")


def test_0003_keeps_existing_rows_and_tokens(postgres_server):
    """Rows written before 0003 get version 1 and token_version 0 (old tokens stay valid)."""
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    assert _flask(url, "db", "upgrade", "0002").returncode == 0
    postgres_server.psql(
        "INSERT INTO users (email, name, password_hash) VALUES ('old@example.com', 'Old', 'x');"
        "INSERT INTO products (name, slug, price) VALUES ('Old', 'old', 1)",
        name,
    )
    proc = _flask(url, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert postgres_server.psql("SELECT version FROM products", name).split() == ["1"]
    assert postgres_server.psql("SELECT token_version FROM users", name).split() == ["0"]


def _columns(postgres_server, name: str, table: str) -> set[str]:
    out = postgres_server.psql(
        f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'",  # noqa: S608 - fixed names
        name,
    )
    return set(out.split())


def test_create_admin_is_idempotent_and_seed_demo(app, client, tmp_path):
    pw = tmp_path / "admin_password"
    pw.write_text("first-password\n")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-admin", "--email", "Root@Example.com", "--password-file", str(pw)]
    )
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    pw.write_text("second-password\n")
    result = runner.invoke(
        args=["create-admin", "--email", "root@example.com", "--password-file", str(pw)]
    )
    assert result.exit_code == 0 and "updated" in result.output
    # The same password again changes nothing, and says so (the deploy's changed=0 relies on it).
    result = runner.invoke(
        args=["create-admin", "--email", "root@example.com", "--password-file", str(pw)]
    )
    assert result.exit_code == 0 and result.output.strip() == "admin root@example.com unchanged"
    resp = client.post(
        "/api/auth/login", json={"email": "root@example.com", "password": "second-password"}
    )
    assert resp.status_code == 200
    assert resp.get_json()["data"]["user"]["is_admin"] is True
    assert (
        client.post(
            "/api/auth/login", json={"email": "root@example.com", "password": "first-password"}
        ).status_code
        == 401
    )

    pw.write_text("short\n")
    result = runner.invoke(
        args=["create-admin", "--email", "x@example.com", "--password-file", str(pw)]
    )
    assert result.exit_code != 0

    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "seeded 6" in result.output
    assert runner.invoke(args=["seed-demo"]).output.strip() == "seeded 0 demo products"
    assert client.get("/api/products").get_json()["data"]["total"] == 6
