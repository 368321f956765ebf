#!/usr/bin/env bash
# The official postgres image's entrypoint contract, for Debian's server: initialise PGDATA
# once (superuser POSTGRES_USER with POSTGRES_PASSWORD, database POSTGRES_DB, extra initdb
# arguments from POSTGRES_INITDB_ARGS), run /docker-entrypoint-initdb.d/* against a server
# listening on its socket only, then run the server as the postgres user.
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

run_init_files() {
    local file
    for file in /docker-entrypoint-initdb.d/*; do
        case "$file" in
            *.sh)
                echo "$0: running $file"
                # shellcheck disable=SC1090 # the init scripts are the operator's
                if [ -x "$file" ]; then "$file"; else . "$file"; fi
                ;;
            *.sql)
                echo "$0: running $file"
                psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$file"
                ;;
            *) echo "$0: ignoring $file" ;;
        esac
    done
}

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set to initialise the database}"
    export POSTGRES_USER="${POSTGRES_USER:-postgres}"
    export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as upstream.
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
    printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
    export PGPASSWORD="$POSTGRES_PASSWORD"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
            --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    run_init_files
    pg_ctl -D "$PGDATA" -m fast -w stop
    unset PGPASSWORD
    echo "$0: initialisation complete; starting the server"
fi

exec "$@"
