#!/usr/bin/env bash
# Entrypoint of the PostgreSQL image, compatible with the official image's interface.
# The password is read from POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD) into a shell variable
# and handed to initdb through a file descriptor: it never reaches argv or the server's env.
set -Eeuo pipefail

# Read VAR, or the file named by VAR_FILE, into the shell variable VAR (not exported).
file_var() {
	local var="$1" file_var="${1}_FILE" default="${2:-}"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		echo >&2 "error: both $var and $file_var are set; set only one"
		exit 1
	fi
	local value="$default"
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		if [ ! -r "${!file_var}" ]; then
			echo >&2 "error: $file_var=${!file_var} is not readable by uid $(id -u)"
			exit 1
		fi
		value="$(<"${!file_var}")"
	fi
	export -n "$var" 2>/dev/null || true
	unset "$file_var"
	printf -v "$var" '%s' "$value"
}

psql_init() {
	psql -X -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

init_database() {
	file_var POSTGRES_PASSWORD
	file_var POSTGRES_USER postgres
	file_var POSTGRES_DB "$POSTGRES_USER"
	file_var POSTGRES_INITDB_ARGS
	if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != 'trust' ]; then
		echo >&2 'error: the database is uninitialised and no superuser password is set:'
		echo >&2 '       set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD).'
		exit 1
	fi
	local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
		--auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS -D "$PGDATA"
	printf '\n# Any non-local client authenticates with its password.\nhost all all all %s\n' \
		"$auth" >>"$PGDATA/pg_hba.conf"

	# Unix socket only while initialising, so the health check (TCP) stays unhealthy.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		psql_init --dbname postgres --set db="$POSTGRES_DB" <<-'SQL'
			CREATE DATABASE :"db" ;
		SQL
	fi
	local f
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					echo "running $f"
					"$f"
				else
					echo "sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql)
				echo "running $f"
				psql_init --dbname "$POSTGRES_DB" -f "$f"
				;;
			*.sql.gz)
				echo "running $f"
				gzip -dc "$f" | psql_init --dbname "$POSTGRES_DB"
				;;
			*) echo "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset POSTGRES_PASSWORD
	echo 'PostgreSQL initialisation done; starting the server.'
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA"
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 0700 "$PGDATA"
	install -d -o postgres -g postgres -m 3777 /var/run/postgresql
	# The restore's staging volume (a dump pg_restore --jobs can seek in): a new volume is
	# root's on some drivers. Without a volume it is the image's own (read-only) directory.
	if [ -d "${BF_SCRATCH_DIR:-}" ] && [ "$(stat -c %U "$BF_SCRATCH_DIR")" != postgres ]; then
		chown postgres:postgres "$BF_SCRATCH_DIR"
		chmod 0700 "$BF_SCRATCH_DIR"
	fi
	# Keep the supplementary groups the container was started with (Compose's group_add: the
	# group that may read /run/secrets), minus root's own group 0; --init-groups would drop them.
	groups="$(id -G | tr ' ' '\n' | grep -vx 0 | paste -sd, - || true)"
	if [ -n "$groups" ]; then
		set -- setpriv --reuid=postgres --regid=postgres --groups="$groups" "$@"
	else
		set -- setpriv --reuid=postgres --regid=postgres --init-groups "$@"
	fi
	exec "${@:1:4}" env HOME=/var/lib/postgresql "$BASH_SOURCE" "${@:5}"
fi

if [ "$1" = 'postgres' ]; then
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		init_database
	fi
	unset POSTGRES_PASSWORD_FILE
	# The stack's postgres service sets the pgBackRest TLS server's address; a throwaway server
	# (verify, restore) does not, and runs PostgreSQL alone.
	if [ -n "${PGBACKREST_TLS_SERVER_ADDRESS:-}" ]; then
		bf-pgbackrest beside
	fi
fi

exec "$@"
