#!/usr/bin/env bash
# Check a running deployment: health, database connectivity, schema at head, age of the last
# backup, the bot's state as /health/ready reports it. Prints one line per check; exits 1 when any check failed.
#
#   deploy/verify.sh [--max-backup-age-hours N] [--require-backup]
set -euo pipefail

BANDWISE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
. "$BANDWISE_ROOT/deploy/lib.sh"

ENV_FILE=.env
FAILURES=0
READY_BODY=''
READY_PROBE='import os, sys, urllib.request, urllib.error
url = "http://127.0.0.1:%s/health/ready" % os.environ.get("API_PORT", "8080")
try:
    body = urllib.request.urlopen(url, timeout=5).read().decode()
except urllib.error.HTTPError as error:
    print(error.read().decode())
    sys.exit(1)
print(body)'

pass() { printf 'ok    %-10s %s\n' "$1" "$2"; }
fail() {
    printf 'FAIL  %-10s %s\n' "$1" "$2"
    FAILURES=$((FAILURES + 1))
}
note() { printf 'warn  %-10s %s\n' "$1" "$2"; }

check_health() {
    local body
    if body=$(compose exec -T bot python -c "$READY_PROBE" 2>&1); then
        pass health "/health/ready answered 200"
    else
        fail health "/health/ready: ${body:-no answer} (docker compose logs bot)"
    fi
    READY_BODY=$body
}

check_database() {
    local user db
    user=$(env_get "$ENV_FILE" POSTGRES_USER)
    db=$(env_get "$ENV_FILE" POSTGRES_DB)
    if ! compose exec -T postgres pg_isready -h 127.0.0.1 -U "$user" -d "$db" >/dev/null 2>&1; then
        fail database "PostgreSQL does not accept connections (docker compose logs postgres)"
    elif ! compose exec -T bot bandwise db wait --timeout 10 >/dev/null 2>&1; then
        fail database "the bot cannot connect as $user to $db (see docs/troubleshooting.md)"
    else
        pass database "the bot connects as $user to $db"
    fi
}

check_schema() {
    local output
    if ! output=$(compose exec -T bot bandwise db current 2>&1); then
        fail schema "cannot read the schema revision: $output"
    elif printf '%s\n' "$output" | grep -q '(head)'; then
        pass schema "at head: $output"
    else
        fail schema "not at head: $output (run: docker compose run --rm --no-deps bot bandwise db upgrade)"
    fi
}

check_backup() {
    local max_hours require listing newest verdict
    max_hours="$1"
    require="$2"
    if ! listing=$(compose exec -T backup bandwise backup list --json 2>/dev/null); then
        fail backup "cannot list backups (docker compose logs backup)"
        return
    fi
    if ! newest=$(printf '%s\n' "$listing" | newest_backup_epoch); then
        fail backup "cannot read the backup list"
        return
    fi
    verdict=$(backup_age_verdict "$newest" "$(date +%s)" "$max_hours")
    case "$verdict" in
        ok) pass backup "newest backup is $((($(date +%s) - newest) / 3600)) h old" ;;
        stale) fail backup "newest backup is older than $max_hours h (docker compose logs backup)" ;;
        none)
            if [ "$require" -eq 1 ]; then
                fail backup "no backup yet"
            else
                note backup "no backup yet (first one at BACKUP_SCHEDULE; or: docker compose exec backup bandwise backup create)"
            fi
            ;;
    esac
}

check_bot() {
    local state detail
    state=$(printf '%s\n' "$READY_BODY" | bot_state)
    detail=${state#*$'\t'}
    case "$state" in
        none) note bot "no bot in the service (BOT_TOKEN is not set)" ;;
        ok*) pass bot "$detail" ;;
        down*) fail bot "$detail (docker compose logs bot; see docs/bot.md)" ;;
        *) note bot "state unknown: /health/ready gave no JSON (see the health check)" ;;
    esac
}

main() {
    local max_hours=26 require=0
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --max-backup-age-hours)
                max_hours="${2:?--max-backup-age-hours needs a number}"
                shift
                ;;
            --require-backup) require=1 ;;
            -h | --help)
                sed -n '2,6p' "$0"
                exit 0
                ;;
            *) die "unknown option $1 (try --help)" ;;
        esac
        shift
    done
    cd "$BANDWISE_ROOT"
    [ -f "$ENV_FILE" ] || die "$ENV_FILE is missing: run deploy/deploy.sh first"
    check_health
    check_database
    check_schema
    check_backup "$max_hours" "$require"
    check_bot
    if [ "$FAILURES" -gt 0 ]; then
        printf '%d check(s) failed\n' "$FAILURES"
        exit 1
    fi
    printf 'all checks passed\n'
}

main "$@"
