#!/usr/bin/env bash
# Write pgbouncer.ini and userlist.txt from the environment (edoburu/pgbouncer's variables),
# then run PgBouncer as the postgres user.
set -euo pipefail
if [ "$1" = pgbouncer ] && [ "$(id -u)" = 0 ]; then
    : "${DB_HOST:?DB_HOST is required}"
    umask 077
    printf '"%s" "%s"\n' "${DB_USER:?DB_USER is required}" "${DB_PASSWORD:?DB_PASSWORD is required}" \
        >/etc/pgbouncer/userlist.txt
    cat >/etc/pgbouncer/pgbouncer.ini <<INI
[databases]
${DB_NAME:-*} = host=${DB_HOST} port=${DB_PORT:-5432}${DB_NAME:+ dbname=${DB_NAME}}
[pgbouncer]
listen_addr = 0.0.0.0
listen_port = ${LISTEN_PORT:-5432}
unix_socket_dir =
auth_type = ${AUTH_TYPE:-md5}
auth_file = /etc/pgbouncer/userlist.txt
pool_mode = ${POOL_MODE:-session}
max_client_conn = ${MAX_CLIENT_CONN:-100}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits,statement_timeout
INI
    chown postgres:postgres /etc/pgbouncer/pgbouncer.ini /etc/pgbouncer/userlist.txt
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
exec "$@"
