"""A throwaway Compose stack (postgres, redis, api from the bf/* images) for the backup tests.

It mimics what bf_config renders (service names, volume names, networks, Compose labels, secrets
as files) under its own project name and directory, so the playbooks run against it exactly as
against a deployed stack, without touching the developer's or the molecule engineer's stacks.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "roles" / "bf_backup" / "files" / "bf_backup.py"
PROJECT = "bf-backup-test"
DB = "backend_db"
DB_USER = "backend"
SECRET_NAMES = [
    "postgres_password",
    "redis_password",
    "secret_key",
    "jwt_secret_key",
    "admin_password",
]


def newest_image(repo: str) -> str:
    """Return the newest local tag of an image repository (bf_images tags by content hash)."""
    out = subprocess.run(
        ["docker", "images", repo, "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not out:
        pytest.skip(f"no {repo} image on this host: build them with `make images`")
    return out[0]


def sh(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command and return its completed process (text); failing, show its output."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
            f"\n{proc.stderr[-3000:]}"
        )
    return proc


COMPOSE = """\
name: {project}
services:
  postgres:
    image: {postgres}
    environment:
      POSTGRES_DB: {db}
      POSTGRES_USER: {user}
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password
    secrets: [postgres_password]
    volumes: ["postgres_data:/var/lib/postgresql/data"]
    networks: [backend]
    healthcheck:
      test: [CMD, pg_isready, -q, -h, 127.0.0.1, -U, {user}, -d, {db}]
      interval: 2s
      timeout: 3s
      retries: 30
  redis:
    image: {redis}
    environment:
      REDIS_PASSWORD_FILE: /run/secrets/redis_password
    secrets: [redis_password]
    networks: [backend]
    healthcheck:
      test: [CMD-SHELL, "redis-cli -h 127.0.0.1 ping 2>&1 | grep -qE 'PONG|NOAUTH'"]
      interval: 2s
      timeout: 3s
      retries: 30
  api:
    image: {api}
    init: true
    # Flask's own server instead of the image's uWSGI: the tests exercise the backup path, not
    # the serving path, and this keeps them independent of the image's uWSGI build.
    command: [flask, --app, api.wsgi, run, --host, 0.0.0.0, --port, "8081"]
    environment:
      FLASK_ENV: production
      DEBUG: "false"
      LOG_LEVEL: WARNING
      ADMIN_EMAIL: admin@example.com
      POSTGRES_HOST: postgres
      POSTGRES_PORT: "5432"
      POSTGRES_DB: {db}
      POSTGRES_USER: {user}
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password
      REDIS_URL: redis://redis:6379/0
      REDIS_PASSWORD_FILE: /run/secrets/redis_password
      SECRET_KEY_FILE: /run/secrets/secret_key
      JWT_SECRET_KEY_FILE: /run/secrets/jwt_secret_key
    secrets: [postgres_password, redis_password, secret_key, jwt_secret_key, admin_password]
    networks: [edge, backend]
    depends_on:
      postgres: {{condition: service_healthy}}
      redis: {{condition: service_healthy}}
    healthcheck:
      test:
        - CMD
        - python3
        - -c
        - >-
          import urllib.request;
          urllib.request.urlopen('http://127.0.0.1:8081/api/health/ready', timeout=2)
      interval: 2s
      timeout: 3s
      retries: 30
networks:
  edge: {{}}
  backend:
    internal: true
volumes:
  postgres_data: {{}}
secrets:
{secrets}
"""


@dataclass
class Stack:
    """The running test stack and the paths and names the tests need."""

    project: str
    dir: Path
    inventory: Path
    images: dict[str, str]

    @property
    def backup_dir(self) -> Path:
        """Host directory the backups go to."""
        return self.dir / "backups"

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run docker compose on the test project."""
        return sh(
            "docker",
            "compose",
            "-p",
            self.project,
            "--project-directory",
            str(self.dir),
            "-f",
            str(self.dir / "compose.yml"),
            *args,
            check=check,
        )

    def psql(self, sql: str, db: str = DB) -> str:
        """Run SQL in the stack's PostgreSQL (local socket, no password) and return its output."""
        return sh(
            "docker",
            "compose",
            "-p",
            self.project,
            "--project-directory",
            str(self.dir),
            "-f",
            str(self.dir / "compose.yml"),
            "exec",
            "-T",
            "-u",
            "postgres",
            "postgres",
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            DB_USER,
            "-d",
            db,
            input=sql,
        ).stdout.strip()

    def playbook(self, name: str, *extra: str, check: bool = False) -> subprocess.CompletedProcess:
        """Run one of the backup playbooks against the test stack."""
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.timer",
            "ANSIBLE_FACT_CACHING": "memory",
        }
        proc = subprocess.run(
            [
                str(REPO / ".venv" / "bin" / "ansible-playbook"),
                str(REPO / "playbooks" / name),
                "-i",
                str(self.inventory),
                *extra,
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
            env=env,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{name} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        return proc

    def data_checksum(self) -> str:
        """Return one md5 over the app tables' rows in primary-key order."""
        parts = []
        for table in ("users", "categories", "products", "orders", "order_items"):
            parts.append(
                self.psql(
                    f"SELECT '{table}:' || count(*) || ':' || "  # noqa: S608 - fixed names
                    "coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') "
                    f"FROM public.{table} t;"
                )
            )
        return "\n".join(parts)


SEED_SQL = """
INSERT INTO users (email, name, password_hash, is_admin)
  SELECT 'user' || i || '@example.com', 'User ' || i, 'x', i = 1 FROM generate_series(1, 50) i;
INSERT INTO categories (name, slug, description) VALUES ('Books', 'books', 'Paper'),
  ('Tools', 'tools', E'Quotes '' and \\\\ backslashes, unicode \u00e9\u00e8');
INSERT INTO products (name, slug, description, price, stock, category_id)
  SELECT 'Product ' || i, 'product-' || i, repeat('d', i), (i * 1.25)::numeric(10, 2), i,
         1 + i % 2 FROM generate_series(1, 200) i;
INSERT INTO orders (user_id, status, total)
  SELECT 1 + i % 50, 'placed', i FROM generate_series(1, 120) i;
INSERT INTO order_items (order_id, product_id, product_name, quantity, unit_price)
  SELECT 1 + i % 120, 1 + i % 200, 'Product ' || (1 + i % 200), 1 + i % 3, 1.25
  FROM generate_series(1, 300) i;
"""


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Bring the test stack up (migrated and seeded) and remove everything afterwards."""
    if shutil.which("docker") is None or sh("docker", "info", check=False).returncode != 0:
        pytest.skip("no Docker engine")
    images = {name: newest_image(f"bf/{name}") for name in ("postgres", "redis", "api")}
    root = Path(tempfile.mkdtemp(prefix="bf-backup-test-"))
    os.chmod(root, 0o755)  # noqa: S103 - a directory the containers' bind mounts go through
    (root / "secrets").mkdir()
    for name in SECRET_NAMES:
        path = root / "secrets" / name
        path.write_text(secrets.token_urlsafe(24))
        os.chmod(path, 0o444)
    secret_yaml = "".join(f"  {n}:\n    file: ./secrets/{n}\n" for n in SECRET_NAMES)
    (root / "compose.yml").write_text(
        COMPOSE.format(project=PROJECT, db=DB, user=DB_USER, secrets=secret_yaml, **images)
    )
    inventory = root / "inventory.yml"
    inventory.write_text(
        textwrap.dedent(f"""\
        ---
        bf_docker_hosts:
          vars:
            ansible_connection: local
            ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
            bf_environment: local
            bf_stack_name: {PROJECT}
            bf_stack_dir: {root}
            bf_app_dir: {REPO / "app"}
            bf_backup_scheduler: none
            bf_backup_selfcheck_nginx_url: ""
            bf_backup_log_file: {root}/bf-backup.log
          children:
            bf_edge: {{hosts: {{localhost: {{}}}}}}
            bf_app: {{hosts: {{localhost: {{}}}}}}
            bf_db_primary: {{hosts: {{localhost: {{}}}}}}
            bf_cache: {{hosts: {{localhost: {{}}}}}}
            bf_admin: {{hosts: {{localhost: {{}}}}}}
        """)
    )
    st = Stack(PROJECT, root, inventory, images)
    try:
        st.compose("up", "-d", "--wait", "postgres", "redis")
        st.compose("run", "--rm", "--no-deps", "api", "flask", "--app", "api.wsgi", "db", "upgrade")
        st.psql(SEED_SQL)
        st.compose("up", "-d", "--wait")
        # A PgAdmin data volume of the project, as the real stack has one.
        sh(
            "docker",
            "volume",
            "create",
            "--label",
            f"com.docker.compose.project={PROJECT}",
            f"{PROJECT}_pgadmin_data",
        )
        sh(
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "bash",
            "-v",
            f"{PROJECT}_pgadmin_data:/data",
            images["postgres"],
            "-c",
            "echo pgadmin-state > /data/pgadmin4.db",
        )
        yield st
    finally:
        st.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        sh("docker", "volume", "rm", "-f", f"{PROJECT}_pgadmin_data", check=False)
        for cid in sh(
            "docker", "ps", "-aq", "--filter", f"label=bf-backup.verify={PROJECT}", check=False
        ).stdout.split():
            sh("docker", "rm", "-f", "-v", cid, check=False)
        shutil.rmtree(root, ignore_errors=True)


def script(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the shipped backup script with the controller's python (as the host would)."""
    proc = sh("python3", str(SCRIPT), *args, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"bf_backup.py {args[0]} failed: {proc.stderr}\n{proc.stdout}")
    return proc


def result(proc: subprocess.CompletedProcess[str]) -> dict:
    """Return the JSON result line of a script run."""
    return json.loads(proc.stdout.strip().splitlines()[-1])
