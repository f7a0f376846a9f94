"""Profile the API's and the frontend's request path in-process (cProfile), issue 12.

Real PostgreSQL and Redis (tests/pytest_real_services.py), the seeded catalogue of
benchmarks/app_requests.py, the apps called through their test clients (the frontend's API calls
go over HTTP to the API served by werkzeug in a thread). Prints, per route, the time per request
and the functions with the most own time, plus the PostgreSQL and Redis round trips of one
request (counted by the servers themselves)::

    .venv/bin/python benchmarks/app_profile.py [--requests 500] [--route /api/products/250]

``--cpu`` measures instead the CPU time per request (``time.thread_time`` of the thread that
serves it, and ``time.process_time``; PostgreSQL's and Redis's own CPU is not counted) of the
floor (``benchmarks/app_floor.py``) and each route, the three API routes and the frontend's
``/`` by default, interleaved over ``--rounds`` rounds with no profiler attached. It prints, per
route, the medians and the median over the rounds of floor / route, the ratio issue 12 aims at.
CPU time depends less than wall time on what else the machine runs, but still does (shared
caches, CPU frequency)::

    .venv/bin/python benchmarks/app_profile.py --cpu [--rounds 7] [--requests 300]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, os.environ.get("BENCH_APP_DIR", str(ROOT / "app")))

import redis  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from app_requests import machine_state, seed_sql  # noqa: E402
from pytest_real_services import PostgresServer, RedisServer  # noqa: E402

ROUTES = ("/api/health/live", "/api/products/250", "/api/products?per_page=20")
FRONTEND_ROUTE = "/"


def _pg_statements(pg: PostgresServer, db: str) -> int:
    out = pg.psql(
        f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"  # noqa: S608
    )
    return int(out.strip())


def _cpu_per_request(client: Any, route: str, requests: int) -> tuple[float, float]:
    """CPU seconds per request of ``route``: of this thread, and of the whole process."""
    thread, process = time.thread_time(), time.process_time()
    for _ in range(requests):
        client.get(route)
    return (time.thread_time() - thread) / requests, (time.process_time() - process) / requests


def run_cpu(targets: dict[str, tuple[Any, str]], rounds: int, requests: int) -> None:
    """Print each target's CPU time per request and its ratio to the floor.

    The ratio is of this thread's CPU time, the one that serves the route through the test
    client: for the frontend that is the frontend's own work, without the API's (served by
    another thread), which the process column adds. The targets are measured in turn within
    each round (the floor first), so a change in the machine's load between rounds moves the
    floor and the routes alike; the ratio is taken per round, then its median is printed.

    Args:
        targets: ``{label: (test client, path)}``, the floor under the label ``floor``.
        rounds: How many interleaved rounds.
        requests: Requests per target and round.
    """
    print(f"before: {machine_state()}", flush=True)  # noqa: T201
    for client, route in targets.values():
        for _ in range(20):  # warm-up: caches filled, pools opened
            if client.get(route).status_code != 200:
                raise SystemExit(f"{route} does not answer 200")
    thread: dict[str, list[float]] = {label: [] for label in targets}
    process: dict[str, list[float]] = {label: [] for label in targets}
    for _ in range(rounds):
        for label, (client, route) in targets.items():
            in_thread, in_process = _cpu_per_request(client, route, requests)
            thread[label].append(in_thread)
            process[label].append(in_process)
    print(f"after:  {machine_state()}")  # noqa: T201
    print(  # noqa: T201
        f"{'route':28} {'thread µs/req':>13} {'floor/route':>11} {'process µs/req':>14}"
        "   thread µs per round"
    )
    for label, values in thread.items():
        ratio = statistics.median(f / v for f, v in zip(thread["floor"], values, strict=True))
        per_round = " ".join(f"{v * 1e6:.0f}" for v in values)
        print(  # noqa: T201
            f"{label:28} {statistics.median(values) * 1e6:13.0f} {ratio:11.2f} "
            f"{statistics.median(process[label]) * 1e6:14.0f}   {per_round}"
        )


def run_profile(client: Any, routes: list[str], pg: PostgresServer, db: str, args: Any) -> None:
    """Profile each route under cProfile and count one request's round trips."""
    r = redis.Redis.from_url(args.redis_url)
    for route in routes:
        for _ in range(20):  # warm-up
            if client.get(route).status_code != 200:
                raise SystemExit(f"{route} does not answer 200")
        r.config_resetstat()
        before = _pg_statements(pg, db)
        client.get(route)
        time.sleep(0.6)  # pg_stat is flushed asynchronously
        pg_xacts = _pg_statements(pg, db) - before
        redis_calls = int(r.info("stats")["total_commands_processed"]) - 1  # the INFO
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(args.requests):
            client.get(route)
        profiler.disable()
        per_request = (time.perf_counter() - started) / args.requests * 1000
        print(  # noqa: T201
            f"\n== {route}: {per_request:.3f} ms/request under cProfile; one request: "
            f"{pg_xacts} PostgreSQL transactions, {redis_calls} Redis commands"
        )
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(
            os.environ.get("PROFILE_SORT", "tottime")
        ).print_stats(args.top)
        print(out.getvalue()[-6000:])  # noqa: T201


def _frontend_client(api_app: Any, redis_url: str) -> Any:
    """The frontend's test client, its API served by werkzeug in a thread of this process."""
    from frontend import create_app as create_frontend
    from werkzeug.serving import make_server

    # werkzeug's line per request is not part of the deployed path (uWSGI serves the API).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, api_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    front = create_frontend(
        {
            "FLASK_ENV": "testing",
            "API_URL": f"http://127.0.0.1:{server.server_port}",
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
        }
    )
    return front.test_client()


def main() -> int:
    """Run the profile (or, with ``--cpu``, the CPU-time ratios)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--route", action="append", help="API route (default: three routes)")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--frontend", action="store_true", help="profile the frontend's /")
    parser.add_argument("--cpu", action="store_true", help="CPU time per request, floor ratio")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (--cpu)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bf-app-profile-"))
    os.chmod(work, 0o755)  # noqa: S103 - the postgres account must reach its data dir
    pg = PostgresServer(work)
    (work / "r").mkdir()
    rs = RedisServer(work / "r")
    try:
        db = pg.create_database("bench")
        import flask_migrate
        from api import create_app

        args.redis_url = rs.url(0)
        api_app = create_app(
            {
                "FLASK_ENV": "testing",
                "DATABASE_URL": pg.url(db),
                "REDIS_URL": args.redis_url,
                "RATELIMIT_DEFAULT": "100000000 per minute",
                "ACCESS_LOG": "false",
                "LOG_LEVEL": "WARNING",
            }
        )
        with api_app.app_context():
            flask_migrate.upgrade()
        pg.psql(seed_sql(), db=db)
        routes = args.route or list(ROUTES)
        if args.cpu:
            from app_floor import app as floor_app

            api = api_app.test_client()
            targets = {"floor": (floor_app.test_client(), "/api/health/live")}
            targets.update({route: (api, route) for route in routes})
            if args.frontend or not args.route:
                front = _frontend_client(api_app, rs.url(1))
                targets[f"frontend {FRONTEND_ROUTE}"] = (front, FRONTEND_ROUTE)
            print(  # noqa: T201
                f"app_profile.py --cpu: {args.rounds} rounds x {args.requests} requests per "
                f"target, {os.cpu_count()} cores, in-process test clients"
            )
            run_cpu(targets, args.rounds, args.requests)
        elif args.frontend:
            run_profile(_frontend_client(api_app, rs.url(1)), [FRONTEND_ROUTE], pg, db, args)
        else:
            run_profile(api_app.test_client(), routes, pg, db, args)
    finally:
        rs.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
