#!/usr/bin/env bash
# Move a compose deployment that ran on SQLite onto the compose PostgreSQL, in one command:
# start postgres, stop the bot (no more writes), run `bandwise db cutover` in a one-off
# container against the compose postgres, start the bot on PostgreSQL, verify. The SQLite file
# and the backup the cutover takes of it are kept; a failed cutover rolls itself back.
#
#   deploy/migrate-to-postgres.sh [--sqlite HOST_FILE] [--rehearse] [--replace] [--timeout SECONDS]
#
# Without --sqlite the database is the SQLite file the bot used, /app/data/bandwise.db in the
# bandwise-data volume; with it, a file on the host (mounted read-only into the container).
set -euo pipefail

BANDWISE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
. "$BANDWISE_ROOT/deploy/lib.sh"

ENV_FILE=.env
CONTAINER_SQLITE=/app/data/bandwise.db
IMPORTED_SQLITE=/import/bandwise.db

postgres_url() {
    local user password db
    user=$(env_get "$ENV_FILE" POSTGRES_USER)
    password=$(env_get "$ENV_FILE" POSTGRES_PASSWORD)
    db=$(env_get "$ENV_FILE" POSTGRES_DB)
    if [ -z "$user" ] || [ -z "$db" ]; then
        die "POSTGRES_USER and POSTGRES_DB must be set in $ENV_FILE"
    fi
    if is_placeholder "$password"; then
        die "POSTGRES_PASSWORD in $ENV_FILE is a placeholder: run deploy/deploy.sh"
    fi
    printf 'postgresql://%s:%s@postgres:5432/%s\n' "$user" "$password" "$db"
}

main() {
    local host_file="" rehearse=0 replace=0 timeout=180 url report sqlite
    local -a mounts=() extra=()
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --sqlite)
                host_file="${2:?--sqlite needs a file}"
                shift
                ;;
            --rehearse) rehearse=1 ;;
            --replace) replace=1 ;;
            --timeout)
                timeout="${2:?--timeout needs a number of seconds}"
                shift
                ;;
            -h | --help)
                sed -n '2,10p' "$0"
                exit 0
                ;;
            *) die "unknown option $1 (try --help)" ;;
        esac
        shift
    done
    cd "$BANDWISE_ROOT"
    [ -f "$ENV_FILE" ] || die "$ENV_FILE is missing: run deploy/deploy.sh for the first install"
    sqlite="$CONTAINER_SQLITE"
    if [ -n "$host_file" ]; then
        [ -f "$host_file" ] || die "SQLite file $host_file does not exist"
        mounts=(-v "$(cd "$(dirname "$host_file")" && pwd)/$(basename "$host_file"):$IMPORTED_SQLITE:ro")
        sqlite="$IMPORTED_SQLITE"
    fi
    if [ "$replace" -eq 1 ]; then
        extra+=(--replace)
    fi
    url=$(postgres_url)
    report="/app/backups/cutover-$(date -u +%Y%m%dT%H%M%SZ).json"

    log "starting postgres"
    compose up -d postgres
    wait_healthy postgres "$timeout" || die "postgres is not healthy; nothing was changed"

    # The backup service's container has the data and the backups volumes writable.
    if [ "$rehearse" -eq 1 ]; then
        log "rehearsing the cutover (nothing live is touched)"
        compose run -T --rm --no-deps "${mounts[@]}" backup bandwise db cutover \
            --sqlite "$sqlite" --postgres "$url" --rehearse --report "$report"
        log "rehearsal report: $report in the backups volume"
        return 0
    fi

    log "stopping the bot: writes stop here"
    compose stop bot
    if ! compose run -T --rm --no-deps "${mounts[@]}" backup bandwise db cutover \
        --sqlite "$sqlite" --postgres "$url" --service-stopped --yes --report "$report" "${extra[@]}"; then
        warn "the cutover failed and rolled itself back; the SQLite file is unchanged"
        warn "report: $report in the backups volume; the bot stays stopped until you decide"
        exit 1
    fi
    log "starting the bot on PostgreSQL"
    compose up -d --no-deps bot
    wait_healthy bot "$timeout" || die "the bot is not healthy on PostgreSQL: docker compose logs bot (the SQLite file and its backup are kept)"
    "$BANDWISE_ROOT/deploy/verify.sh" || die "verify.sh reported problems (see above)"
    log "bandwise now runs on PostgreSQL; report: $report in the backups volume"
}

main "$@"
