"""A bounded load on the stack's edge, and the playbook runs the zero-downtime tests make under it.

``Load`` sends requests at a fixed rate to a few paths through the edge Nginx (HTTPS, the
scenario's certificate), one thread per path, and records for every request when it was sent,
its status (or the exception) and the ``X-Release`` header of the answer. A request counts as
failed when it raised, or answered 5xx or 429. benchmarks/rolling.sh uses the same class.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

REPO = Path(__file__).resolve().parent.parent
# The paths issue 11 names: the frontend page, the cached API list, the readiness route.
PATHS = ("/", "/api/products", "/api/health/ready")


class LoopbackTLSAdapter(HTTPAdapter):
    """Connects to 127.0.0.1 but sends SNI and checks the certificate for the server name."""

    def __init__(self, server_name: str) -> None:
        self._server_name = server_name
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self._server_name
        kwargs["assert_hostname"] = self._server_name
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Sample:
    """One request of the load."""

    path: str
    sent: float
    status: int | None
    release: str | None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 429


@dataclass
class Load:
    """``rate`` requests a second to each of ``paths`` until stopped."""

    base_url: str
    server_name: str
    host_header: str
    cert_file: str | bool
    paths: tuple[str, ...] = PATHS
    rate: float = 10.0
    timeout: float = 10.0
    samples: list[Sample] = field(default_factory=list)
    # Requests sent again after a reused keep-alive connection closed unanswered (see _get).
    retried: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _session(self) -> requests.Session:
        session = requests.Session()
        if self.cert_file:
            # Checks the certificate for the server name while connecting to an address.
            session.mount("https://", LoopbackTLSAdapter(self.server_name))
        session.verify = self.cert_file
        session.headers["Host"] = self.host_header
        session.trust_env = False
        return session

    def _get(self, session: requests.Session, path: str, reused: bool) -> requests.Response:
        try:
            return session.get(self.base_url + path, timeout=self.timeout)
        except requests.ConnectionError as exc:
            # A server may close an idle keep-alive connection at any time (nginx's old workers
            # do on every reload), and a request sent at that moment gets no response. HTTP lets
            # a client send an idempotent request again on a new connection (RFC 9112 9.3.1),
            # and browsers do, unseen: so does this, once, and only when the connection was
            # reused and closed before any response. Every retry is counted and shown.
            if not reused or "RemoteDisconnected" not in str(exc):
                raise
            with self._lock:
                self.retried += 1
            session.close()
            return session.get(self.base_url + path, timeout=self.timeout)

    def _run(self, path: str) -> None:
        session = self._session()
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        # Whether the session holds a connection an answered request left open.
        reused = False
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                response = self._get(session, path, reused)
                sample = Sample(path, sent, response.status_code, response.headers.get("X-Release"))
                if sample.failed:
                    sample.error = response.text[:200]
                reused = True
            except requests.RequestException as exc:
                sample = Sample(path, sent, None, None, f"{type(exc).__name__}: {exc}"[:300])
                reused = False
            with self._lock:
                self.samples.append(sample)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()

    def __enter__(self) -> Load:
        for path in self.paths:
            thread = threading.Thread(target=self._run, args=(path,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def failures(self) -> list[Sample]:
        return [s for s in self.samples if s.failed]

    def summary(self) -> str:
        """One line per path: sent, failed, and the releases that answered."""
        lines = []
        for path in self.paths:
            mine = [s for s in self.samples if s.path == path]
            releases = sorted({s.release for s in mine if s.release})
            failed = sum(s.failed for s in mine)
            lines.append(f"{path}: sent {len(mine)}, failed {failed}, releases {releases}")
        lines.append(f"sent again after a keep-alive connection closed unanswered: {self.retried}")
        return "\n".join(lines)

    def releases_after(self, when: float, path: str) -> set[str | None]:
        """The releases that answered ``path`` for requests sent after ``when``."""
        return {s.release for s in self.samples if s.path == path and s.sent > when}


def changed_app_tree(dest: Path, *, api: str, frontend: str, break_frontend: bool = False) -> Path:
    """A copy of app/ with a one-line change to the API and to the frontend.

    The same marker gives the same image (the same release); with ``break_frontend`` the
    frontend raises at import, so its tasks never get healthy.
    """
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        REPO / "app", dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")
    )
    for service, marker in (("api", api), ("frontend", frontend)):
        with (dest / service / "wsgi.py").open("a", encoding="utf-8") as handle:
            handle.write(f"# release marker: {marker}\n")
    if break_frontend:
        with (dest / "frontend" / "wsgi.py").open("a", encoding="utf-8") as handle:
            handle.write(f'raise RuntimeError("broken on purpose: {frontend}")\n')
    return dest


def playbook(
    name: str, *extra: str, timeout: float = 1800, inventory: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run playbooks/<name> against the scenario's inventory (or ``inventory``), as an operator
    would.

    Plain output (no colour, whatever Molecule's environment forces): the tests read it. A run
    that hangs fails the test after ``timeout`` seconds instead of holding up CI.
    """
    inventory = inventory or Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_FACT_CACHING": "memory",
    }
    argv = [str(Path(sys.executable).parent / "ansible-playbook"),
            str(REPO / "playbooks" / name), "-i", str(inventory), *extra]  # fmt: skip
    return subprocess.run(  # noqa: S603 - the repository's own playbooks
        argv, capture_output=True, text=True, check=False, cwd=REPO, env=env, timeout=timeout
    )
