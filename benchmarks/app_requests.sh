#!/usr/bin/env bash
# Request-path speed of the API and the frontend as ratios to a bare-Flask floor, on this
# machine without Docker (real PostgreSQL and Redis, uWSGI with app/*/uwsgi.ini), issue 12.
# Not part of `make test`. Needs `make venv`, postgresql-15, redis-server and wrk:
#   benchmarks/app_requests.sh --label after
#   benchmarks/app_requests.sh --label before --app-dir /tmp/bf-before/app   (another tree)
#   benchmarks/app_requests.sh --rounds 3 --seconds 5 --env ACCESS_LOG=true
# Results are appended to benchmarks/results/app_requests.txt (see benchmarks/app_requests.py).
set -Eeuo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
exec "$ROOT/.venv/bin/python" "$ROOT/benchmarks/app_requests.py" "$@"
