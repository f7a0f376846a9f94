#!/usr/bin/env bash
# Restore speed of the backup script (what restore.yml runs between its maintenance page and its
# self-check) against raw `pg_restore -j 2` from a file already in the container, on a generated
# database of about BENCH_ROWS * 200 bytes (default ~1 GB), in a throwaway Compose project
# (bf-restore-bench) that is removed afterwards. Not part of `make test`:
#   benchmarks/restore.sh                 (as root, with the bf/postgres image built)
#   BENCH_REPEAT=5 benchmarks/restore.sh  (more interleaved rounds on a busy machine)
# Each round runs raw, the script with restore_jobs=1 (the dump through a pipe, as before) and
# the script with restore_jobs=2 (staged on the scratch volume, pg_restore --jobs=2); medians.
# The script's time includes its SHA-256 check of the backup and the row-checksum comparison.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PROJECT=bf-restore-bench
ROWS="${BENCH_ROWS:-5000000}"
REPEAT="${BENCH_REPEAT:-3}"
DIR="$(mktemp -d /tmp/bf-restore-bench-XXXXXX)"
IMAGE="$(docker images bf/postgres --format '{{.Repository}}:{{.Tag}}' | head -n1)"
[ -n "$IMAGE" ] || { echo "no bf/postgres image: build it with make images" >&2; exit 1; }

compose() { docker compose -p "$PROJECT" --project-directory "$DIR" -f "$DIR/compose.yml" "$@"; }
psql_() { compose exec -T -u postgres postgres psql -X -q -A -t -v ON_ERROR_STOP=1 -U backend "$@"; }
cleanup() {
	compose down --volumes --timeout 5 >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT
# Command substitutions do not inherit errexit: a failing command must fail the caller itself.
seconds() { local s=$EPOCHREALTIME; "$@" >/dev/null || return; echo "$EPOCHREALTIME - $s" | bc; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
pct() { echo "scale=0; 100 * $1 / $2" | bc; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

mkdir -p "$DIR/secrets"
head -c 24 /dev/urandom | base64 >"$DIR/secrets/postgres_password"
chmod 0444 "$DIR/secrets/postgres_password"
# The label is the one the script finds the stack's postgres task by (a swarm task's).
cat >"$DIR/compose.yml" <<YAML
name: $PROJECT
services:
  postgres:
    image: $IMAGE
    labels: {com.docker.swarm.service.name: ${PROJECT}_postgres}
    environment: {POSTGRES_DB: backend_db, POSTGRES_USER: backend,
                  POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password}
    secrets: [postgres_password]
    volumes: ["postgres_data:/var/lib/postgresql/data", "postgres_scratch:/var/lib/postgresql/scratch"]
    network_mode: none
    healthcheck: {test: [CMD, pg_isready, -q, -h, 127.0.0.1], interval: 2s, retries: 60}
volumes: {postgres_data: {}, postgres_scratch: {}}
secrets: {postgres_password: {file: ./secrets/postgres_password}}
YAML
config() {
	python3 - "$1" "$2" <<PY
import json, sys
json.dump({"stack": "$PROJECT", "environment": "bench", "database": "backend_db",
           "db_user": "backend", "backup_dir": "$DIR/backups", "verify": "none",
           "pgadmin_enabled": False, "keep": {"last": 2, "daily": 0, "weekly": 0, "monthly": 0},
           "restore_jobs": int(sys.argv[2]), "scratch_dir": "/var/lib/postgresql/scratch"},
          open(sys.argv[1], "w"))
PY
}
config "$DIR/one.json" 1
config "$DIR/two.json" 2
script="$ROOT/roles/bf_backup/files/bf_backup.py"

compose up -d --wait >/dev/null
echo "Generating $ROWS rows ..."
# In BENCH_TABLES tables (default 4), each with its primary key and a second index: pg_restore
# --jobs spreads tables and indexes over its jobs, so one big table would show nothing of it.
TABLES="${BENCH_TABLES:-4}"
for t in $(seq "$TABLES"); do
	psql_ -d backend_db <<SQL
CREATE TABLE bench_$t (id bigint PRIMARY KEY, payload text, amount numeric(12, 2), at timestamptz);
INSERT INTO bench_$t SELECT i, repeat(md5(i::text), 5), i / 100.0, now() - i * interval '1 second'
  FROM generate_series(1, $ROWS / $TABLES) i;
CREATE INDEX bench_${t}_at ON bench_$t (at);
ANALYZE bench_$t;
SQL
done
size="$(psql_ -d backend_db -c "SELECT pg_size_pretty(pg_database_size('backend_db'))")"
python3 "$script" backup --config "$DIR/one.json" >/dev/null
name="$(ls "$DIR/backups" | grep -v '^\.' | tail -n1)"
dump_size="$(stat -c %s "$DIR/backups/$name/db.dump")"
ctr="$(compose ps -q postgres)"
docker cp "$DIR/backups/$name/db.dump" "$ctr:/tmp/bench.dump"
docker exec "$ctr" chmod 0644 /tmp/bench.dump

raw=() one=() two=() loads=("$(load)") n=0
for _ in $(seq "$REPEAT"); do
	psql_ -d postgres -c "CREATE DATABASE raw_restore"
	raw+=("$(seconds docker exec -u postgres "$ctr" pg_restore -j 2 -U backend -d raw_restore /tmp/bench.dump)")
	psql_ -d postgres -c "DROP DATABASE raw_restore"
	n=$((n + 1))
	one+=("$(seconds python3 "$script" restore --config "$DIR/one.json" --stamp "20260101T00000${n}Z")")
	two+=("$(seconds python3 "$script" restore --config "$DIR/two.json" --stamp "20260102T00000${n}Z")")
	loads+=("$(load)")
done
r="$(median "${raw[@]}")" o="$(median "${one[@]}")" t="$(median "${two[@]}")"
cat <<EOF

Database $size ($ROWS rows in $TABLES tables), dump $((dump_size / 1024 / 1024)) MiB, $(nproc) cores, $(date -u +%FT%RZ), $REPEAT interleaved rounds, medians
  raw pg_restore -j 2 (file in the container)     ${r}s   (all: ${raw[*]})
  bf_backup.py restore, restore_jobs=1 (pipe)     ${o}s   (raw/script = $(pct "$r" "$o") %; all: ${one[*]})
  bf_backup.py restore, restore_jobs=2 (staged)   ${t}s   (raw/script = $(pct "$r" "$t") %; all: ${two[*]})
  load average (1/5/15 min) before and after each round: ${loads[*]/%/;}
EOF
