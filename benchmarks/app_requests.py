"""Request-path benchmark of the API and the frontend against a bare-Flask floor.

Started by ``benchmarks/app_requests.sh``. On this machine, with no Docker: real PostgreSQL 15
and Redis (two servers: the main one ``noeviction``, the cache one ``maxmemory`` +
``allkeys-lru``, as the deploy runs them) started by ``tests/pytest_real_services.py``; a
migrated, seeded catalogue; the API, the frontend and the floor (``benchmarks/app_floor.py``)
under uWSGI with the settings of ``app/*/uwsgi.ini`` (2 processes, 4 threads), listening on
an ``http-socket`` (no Nginx, no TLS). ``wrk`` then runs over each route in turn, for several
interleaved rounds, and the medians are printed and appended to the results file.

The rate limits are raised for the run (``RATELIMIT_DEFAULT``) so the load generator is not
refused; the output says so.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pytest_real_services import PostgresServer, RedisServer, _free_port  # noqa: E402

VENV_BIN = Path(sys.executable).parent
RAISED_LIMIT = "100000000 per minute"
PRODUCTS = 500
CATEGORIES = 10


@dataclass
class Sample:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> Sample:
    """Read requests/s, p50, p99, total and failed requests from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    failed = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        failed += int(match.group(1))
    # uWSGI's http-socket closes the connection after each answer (no keep-alive), which wrk
    # counts as a read error after a complete response: not a failed request.
    if match := re.search(
        r"Socket errors: connect (\d+), read \d+, write (\d+), timeout (\d+)", out
    ):
        failed += sum(int(n) for n in match.groups())
    return Sample(rps, p50, p99, total, failed)


def uwsgi_ini(source: Path, dest: Path, port: int, pythonpath: Path, module: str | None) -> Path:
    """Copy a uWSGI ini with its sockets replaced by one loopback ``http-socket``."""
    lines = []
    for line in source.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key in ("socket", "http-socket", "pythonpath") or (module and key == "module"):
            continue
        lines.append(line)
    lines += [f"http-socket = 127.0.0.1:{port}", f"pythonpath = {pythonpath}"]
    if module:
        lines.append(f"module = {module}")
    dest.write_text("\n".join(lines) + "\n")
    configparser.ConfigParser(strict=False, interpolation=None).read(dest)  # well-formed
    return dest


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def seed_sql() -> str:
    """SQL for a catalogue of CATEGORIES categories and PRODUCTS products."""
    return f"""
INSERT INTO categories (name, slug, description, created_at, updated_at)
  SELECT 'Category ' || i, 'category-' || i, 'Things of kind ' || i, now(), now()
  FROM generate_series(1, {CATEGORIES}) i;
INSERT INTO products (name, slug, description, price, stock, category_id, is_active,
                      created_at, updated_at, version)
  SELECT 'Product ' || lpad(i::text, 4, '0'), 'product-' || i, 'A fine product, number ' || i,
         (i % 90) + 9.99, 100, (i % {CATEGORIES}) + 1, true, now(), now(), 1
  FROM generate_series(1, {PRODUCTS}) i;
ANALYZE;
"""  # noqa: S608 - constants only


def machine_state() -> str:
    """Load average and the busiest processes (what else was running)."""
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    top = subprocess.run(
        ["ps", "-eo", "pcpu,etime,comm", "--sort=-pcpu"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()[1:6]
    busy = "; ".join(" ".join(line.split()) for line in top)
    return f"load {load}; busiest processes (%cpu etime name): {busy}"


class Stack:
    """PostgreSQL, two Redis servers, the floor, the API and the frontend under uWSGI."""

    def __init__(self, app_dir: Path, work: Path, extra_env: dict[str, str]) -> None:
        self.app_dir = app_dir
        self.work = work
        self.extra_env = extra_env
        self.procs: list[subprocess.Popen] = []
        self.pg: PostgresServer | None = None
        self.redis: list[RedisServer] = []

    def start(self) -> dict[str, str]:
        """Start everything; return the URL of each target."""
        pg_base = self.work / "pg"
        pg_base.mkdir()
        os.chmod(self.work, 0o755)  # noqa: S103 - the postgres account must reach pg/
        os.chmod(pg_base, 0o755)  # noqa: S103
        self.pg = PostgresServer(pg_base)
        database = self.pg.create_database("bench")
        main_dir, cache_dir = self.work / "redis-main", self.work / "redis-cache"
        main_dir.mkdir()
        cache_dir.mkdir()
        main = RedisServer(main_dir, extra_args=["--maxmemory-policy", "noeviction"])
        cache = RedisServer(
            cache_dir, extra_args=["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]
        )
        self.redis = [main, cache]
        secret = self.work / "secret"
        secret.write_text(os.urandom(24).hex() + "\n")

        api_port, front_port, floor_port = _free_port(), _free_port(), _free_port()
        api_env = {
            "FLASK_ENV": "production",
            "SECRET_KEY_FILE": str(secret),
            "JWT_SECRET_KEY_FILE": str(secret),
            "DATABASE_URL": self.pg.url(database),
            "REDIS_URL": main.url(0),
            "CACHE_REDIS_URL": cache.url(0),
            "RATELIMIT_DEFAULT": RAISED_LIMIT,
            "TRUSTED_PROXY_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        front_env = {
            "FLASK_ENV": "production",
            "FRONTEND_SECRET_KEY_FILE": str(secret),
            "API_URL": f"http://127.0.0.1:{api_port}",
            "REDIS_URL": main.url(1),
            "TRUSTED_PROXY_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        flask = str(VENV_BIN / "flask")
        subprocess.run(  # noqa: S603 - our own venv's flask
            [flask, "--app", "api.wsgi", "db", "upgrade"],
            env=self._env(api_env),
            cwd=self.app_dir,
            check=True,
            capture_output=True,
        )
        self.pg.psql(seed_sql(), db=database)

        self._uwsgi(
            "floor",
            uwsgi_ini(
                self.app_dir / "api" / "uwsgi.ini",
                self.work / "floor.ini",
                floor_port,
                ROOT / "benchmarks",
                "app_floor:app",
            ),
            {},
        )
        self._uwsgi(
            "api",
            uwsgi_ini(
                self.app_dir / "api" / "uwsgi.ini",
                self.work / "api.ini",
                api_port,
                self.app_dir,
                None,
            ),
            api_env,
        )
        self._uwsgi(
            "frontend",
            uwsgi_ini(
                self.app_dir / "frontend" / "uwsgi.ini",
                self.work / "frontend.ini",
                front_port,
                self.app_dir,
                None,
            ),
            front_env,
        )
        floor = f"http://127.0.0.1:{floor_port}"
        api = f"http://127.0.0.1:{api_port}"
        front = f"http://127.0.0.1:{front_port}"
        wait_http(f"{floor}/api/health/live")
        wait_http(f"{api}/api/health/ready")
        wait_http(f"{front}/health/live")
        product_id = PRODUCTS // 2
        return {
            "floor (bare Flask)": f"{floor}/api/health/live",
            "/api/health/live": f"{api}/api/health/live",
            "/api/products/<id>": f"{api}/api/products/{product_id}",
            "/api/products?per_page=20": f"{api}/api/products?per_page=20",
            "frontend /": f"{front}/",
        }

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TMPDIR")}
        return {**keep, "PYTHONPATH": str(self.app_dir), **extra}

    def _uwsgi(self, name: str, ini: Path, env: dict[str, str]) -> None:
        log = (self.work / f"{name}.log").open("wb")
        self.procs.append(
            subprocess.Popen(  # noqa: S603 - our own venv's uwsgi
                [str(VENV_BIN / "uwsgi"), "--ini", str(ini)],
                cwd=self.app_dir,
                env=self._env(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def stop(self) -> None:
        """Stop every process started here."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in self.redis:
            server.stop()
        if self.pg:
            self.pg.stop()


def run_wrk(url: str, seconds: int, connections: int, threads: int) -> Sample:
    """One wrk run over ``url``."""
    out = subprocess.run(  # noqa: S603
        [  # noqa: S607 - wrk from PATH (Debian package)
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out)


def main() -> int:
    """Run the benchmark and append the report to the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--label", default="run", help="names the run in the results file")
    parser.add_argument("--app-dir", type=Path, default=ROOT / "app", help="import root")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per route")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for both apps")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "app_requests.txt"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)  # noqa: T201
        return 1
    extra_env = dict(item.split("=", 1) for item in args.env)

    work = Path(tempfile.mkdtemp(prefix="bf-app-bench-"))
    stack = Stack(args.app_dir.resolve(), work, extra_env)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)  # noqa: T201
        lines.append(text)

    try:
        targets = stack.start()
        started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")
        say(f"== {args.label}: {started}, app from {args.app_dir}, {os.cpu_count()} cores")
        say(
            f"   wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, {args.rounds} "
            f"interleaved rounds, medians; RATELIMIT_DEFAULT raised to '{RAISED_LIMIT}'; "
            f"extra env: {extra_env or 'none'}"
        )
        say(f"   before: {machine_state()}")
        for url in targets.values():  # warm-up: imports, pools, caches
            run_wrk(url, 2, args.connections, args.threads)
        samples: dict[str, list[Sample]] = {name: [] for name in targets}
        for round_no in range(1, args.rounds + 1):
            for name, url in targets.items():
                sample = run_wrk(url, args.seconds, args.connections, args.threads)
                samples[name].append(sample)
                print(  # noqa: T201
                    f"   round {round_no} {name}: {sample.rps:.0f} req/s, "
                    f"p50 {sample.p50_ms:.1f} ms, p99 {sample.p99_ms:.1f} ms, "
                    f"failed {sample.failed}",
                    flush=True,
                )
        say(f"   after:  {machine_state()}")
        floor_rps = statistics.median(s.rps for s in samples["floor (bare Flask)"])
        say(
            f"   {'route':<28}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'failed/total':>16}{'ratio':>8}   req/s per round"
        )
        for name, runs in samples.items():
            rps = statistics.median(s.rps for s in runs)
            say(
                f"   {name:<28}{rps:>8.0f}{statistics.median(s.p50_ms for s in runs):>9.1f}"
                f"{statistics.median(s.p99_ms for s in runs):>9.1f}"
                f"{sum(s.failed for s in runs):>8}/{sum(s.requests for s in runs):<7}"
                f"{rps / floor_rps:>8.2f}   {' '.join(f'{s.rps:.0f}' for s in runs)}"
            )
        say()
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as results:
        results.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
