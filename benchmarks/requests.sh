#!/usr/bin/env bash
# Request-path speed of the DEPLOYED stack through the edge Nginx and TLS, as ratios to a
# bare-Flask floor deployed beside the apps in the same run (issue 12). Not part of `make test`.
# Runs site.yml twice on the inventory (default inventories/local; as root there): once with a
# copy of app/ plus the floor service (benchmarks/floor/) and the rate limits RAISED through
# extra variables (the API's RATELIMIT_DEFAULT, the edge's bf_config_rate_limit and burst),
# then, after the measurements, with the repository's own app/ and no extra variables, which
# leaves the stack as `make deploy` would (--no-restore skips that). Seeds active products
# through the API as the admin when the catalogue has fewer than 100 (they stay).
#   benchmarks/requests.sh --label before
#   benchmarks/requests.sh --rounds 3 --seconds 5
#   benchmarks/requests.sh --inventory inventories/local --connections 32 --no-restore
# Results are appended to benchmarks/results/requests.txt (see benchmarks/edge_requests.py).
set -Eeuo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cd "$ROOT"
exec "$ROOT/.venv/bin/python" "$ROOT/benchmarks/edge_requests.py" "$@"
