"""Profile the API's and the frontend's request path in-process (cProfile), issue 12.

Real PostgreSQL and Redis (tests/pytest_real_services.py), the seeded catalogue of
benchmarks/app_requests.py, the apps called through their test clients (the frontend's API calls
go over HTTP to the API served by werkzeug in a thread). Prints, per route, the time per request
and the functions with the most own time, plus the PostgreSQL and Redis round trips of one
request (counted by the servers themselves)::

    .venv/bin/python benchmarks/app_profile.py [--requests 500] [--route /api/products/250]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, os.environ.get("BENCH_APP_DIR", str(ROOT / "app")))

import redis  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from app_requests import seed_sql  # noqa: E402
from pytest_real_services import PostgresServer, RedisServer  # noqa: E402

ROUTES = ("/api/health/live", "/api/products/250", "/api/products?per_page=20")


def _pg_statements(pg: PostgresServer, db: str) -> int:
    out = pg.psql(
        f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"  # noqa: S608
    )
    return int(out.strip())


def main() -> int:
    """Run the profile."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--route", action="append", help="API route (default: three routes)")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--frontend", action="store_true", help="profile the frontend's /")
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

        api_app = create_app(
            {
                "FLASK_ENV": "testing",
                "DATABASE_URL": pg.url(db),
                "REDIS_URL": rs.url(0),
                "RATELIMIT_DEFAULT": "100000000 per minute",
                "ACCESS_LOG": "false",
                "LOG_LEVEL": "WARNING",
            }
        )
        with api_app.app_context():
            flask_migrate.upgrade()
        pg.psql(seed_sql(), db=db)
        routes = args.route or list(ROUTES)
        if args.frontend:
            from frontend import create_app as create_frontend
            from werkzeug.serving import make_server

            server = make_server("127.0.0.1", 0, api_app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            front = create_frontend(
                {
                    "FLASK_ENV": "testing",
                    "API_URL": f"http://127.0.0.1:{server.server_port}",
                    "REDIS_URL": rs.url(1),
                    "LOG_LEVEL": "WARNING",
                }
            )
            client = front.test_client()
            routes = ["/"]
        else:
            client = api_app.test_client()
        r = redis.Redis.from_url(rs.url(0))
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
    finally:
        rs.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
