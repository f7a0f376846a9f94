#!/usr/bin/env bash
# Entrypoint of the pgAdmin image: creates the configuration database with the first user on
# an empty /var/lib/pgadmin, then serves pgAdmin with gunicorn on 5050.
set -Eeuo pipefail

pgadmin_dir=/opt/venv/lib/python3.11/site-packages/pgadmin4

if [ ! -f /var/lib/pgadmin/pgadmin4.db ]; then
	email="${PGADMIN_DEFAULT_EMAIL:-}"
	if [ -n "${PGADMIN_DEFAULT_PASSWORD_FILE:-}" ]; then
		if [ ! -r "$PGADMIN_DEFAULT_PASSWORD_FILE" ]; then
			echo >&2 "error: PGADMIN_DEFAULT_PASSWORD_FILE=$PGADMIN_DEFAULT_PASSWORD_FILE is not" \
				"readable by uid $(id -u)"
			exit 1
		fi
		password="$(<"$PGADMIN_DEFAULT_PASSWORD_FILE")"
	else
		password="${PGADMIN_DEFAULT_PASSWORD:-}"
	fi
	if [ -z "$email" ] || [ -z "$password" ]; then
		echo >&2 'error: set PGADMIN_DEFAULT_EMAIL and PGADMIN_DEFAULT_PASSWORD_FILE'
		exit 1
	fi
	# The credentials reach setup.py's environment only, never the server's.
	PGADMIN_SETUP_EMAIL="$email" PGADMIN_SETUP_PASSWORD="$password" \
		python3 "$pgadmin_dir/setup.py" setup-db
	unset password
fi
unset PGADMIN_DEFAULT_PASSWORD

if [ "$#" -gt 0 ]; then
	exec "$@"
fi

# pgAdmin supports one worker only (sessions); threads give concurrency, as in its own image.
exec gunicorn --bind "${PGADMIN_LISTEN_ADDRESS:-0.0.0.0}:5050" \
	--workers 1 --threads "${GUNICORN_THREADS:-25}" --timeout 86400 \
	--access-logfile - --chdir "$pgadmin_dir" pgAdmin4:app
