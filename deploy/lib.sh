# shellcheck shell=bash
# Functions shared by deploy.sh, fast-update.sh and verify.sh. Sourced, never run.
# The parts that need no Docker (secrets, env editing, rollback decisions, backup age) are
# plain functions so the tests can run them for real.

PLACEHOLDER_SECRETS="changeme change-me change_me password secret"
BANDWISE_POLL_INTERVAL="${BANDWISE_POLL_INTERVAL:-3}"

log() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Print a random 256-bit secret as 64 hex characters (URL-safe, no quoting needed anywhere).
generate_secret() {
    local secret
    secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    [ "${#secret}" -eq 64 ] || die "could not read 32 random bytes from /dev/urandom"
    printf '%s\n' "$secret"
}

# Succeed when VALUE is empty or a placeholder the application refuses.
is_placeholder() {
    local value lowered word
    value="$1"
    [ -z "$value" ] && return 0
    lowered=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
    for word in $PLACEHOLDER_SECRETS; do
        [ "$lowered" = "$word" ] && return 0
    done
    return 1
}

# Print the value of KEY in env FILE (last uncommented assignment, surrounding quotes removed).
# Prints nothing when the key is absent; fails only when the file is missing.
env_get() {
    local file key
    file="$1"
    key="$2"
    [ -f "$file" ] || die "env file $file does not exist"
    awk -v key="$key" '
        /^[[:space:]]*#/ { next }
        {
            line = $0
            sub(/^[[:space:]]*(export[[:space:]]+)?/, "", line)
            if (index(line, key "=") == 1) {
                value = substr(line, length(key) + 2)
                found = 1
            }
        }
        END {
            if (!found) exit 0
            if (value ~ /^".*"$/ || value ~ /^'\''.*'\''$/) value = substr(value, 2, length(value) - 2)
            print value
        }
    ' "$file"
}

# Set KEY=VALUE in env FILE: replace the first assignment (dropping later duplicates) or
# append one. Comments and every other line are kept; the file stays mode 0600. The file is
# rewritten through a temporary file in the same directory and renamed (never half-written).
env_set() {
    local file key value dir tmp
    file="$1"
    key="$2"
    value="$3"
    case "$key" in
        '' | *[!A-Za-z0-9_]*) die "env_set: invalid variable name '$key'" ;;
    esac
    case "$value" in
        *$'\n'*) die "env_set: the value of $key contains a newline" ;;
    esac
    [ -f "$file" ] || die "env file $file does not exist"
    dir=$(dirname "$file")
    tmp=$(umask 077 && mktemp "$dir/.env-edit.XXXXXX")
    # ENVIRON, not -v: awk -v would interpret backslashes in the value.
    if ! KEY="$key" VALUE="$value" awk '
        BEGIN { key = ENVIRON["KEY"]; value = ENVIRON["VALUE"] }
        {
            line = $0
            sub(/^[[:space:]]*(export[[:space:]]+)?/, "", line)
            if (line !~ /^#/ && index(line, key "=") == 1) {
                if (!done) print key "=" value
                done = 1
                next
            }
            print
        }
        END { if (!done) print key "=" value }
    ' "$file" >"$tmp"; then
        rm -f "$tmp"
        die "could not update $file"
    fi
    chmod 600 "$tmp"
    mv "$tmp" "$file"
}

# Create env FILE from TEMPLATE when it is missing; make sure it is mode 0600 either way.
ensure_env_file() {
    local file template
    file="$1"
    template="$2"
    if [ ! -f "$file" ]; then
        [ -f "$template" ] || die "neither $file nor its template $template exists"
        (umask 077 && cp "$template" "$file")
        log "created $file from $template"
    fi
    chmod 600 "$file"
}

# Generate KEY into env FILE when it is missing or a placeholder; never touch a real secret.
ensure_secret() {
    local file key current
    file="$1"
    key="$2"
    current=$(env_get "$file" "$key")
    if is_placeholder "$current"; then
        env_set "$file" "$key" "$(generate_secret)"
        log "generated $key"
    else
        log "kept existing $key"
    fi
}

# Fail unless VALUE of KEY can stand inside a URL unescaped (it is composed into DATABASE_URL).
require_url_safe() {
    local key value
    key="$1"
    value="$2"
    case "$value" in
        *[!A-Za-z0-9._~-]*)
            die "$key may contain only letters, digits and . _ ~ - (it is placed inside DATABASE_URL); remove it from .env to have one generated"
            ;;
    esac
}

# Decide what undoing a failed update takes. Arguments: the stage that failed (pull, build,
# backup, migrate, restart, health), the schema revision before the update and the revision
# now. Prints the actions in order, space separated, from:
#   downgrade     revert the schema to the old revision (with the new image, which knows both)
#   retag         point the image tag back at the previous image
#   restart       recreate the bot container from the previous image
#   restore-hint  print how to restore the pre-update backup
# `none` means nothing was changed.
rollback_plan() {
    local stage before now actions
    stage="$1"
    before="$2"
    now="$3"
    actions=""
    case "$stage" in
        pull) actions="none" ;;
        build | backup) actions="retag" ;;
        migrate | restart | health)
            # Never downgrade towards an unknown or empty schema: that would drop every table.
            if [ -n "$now" ] && [ "$now" != "$before" ] && [ -n "$before" ] \
                && [ "$before" != base ] && [ "$before" != unknown ]; then
                actions="downgrade retag"
            else
                actions="retag"
            fi
            # The bot container is replaced only from the restart stage on.
            if [ "$stage" != "migrate" ]; then
                actions="$actions restart"
            fi
            actions="$actions restore-hint"
            ;;
        *) die "rollback_plan: unknown stage '$stage'" ;;
    esac
    printf '%s\n' "$actions"
}

# Print the creation time (Unix seconds) of the newest backup in `bandwise backup list --json`
# output read from standard input (a list, or an object with a "backups" list, whose entries
# have an ISO-8601 "created_at"). Prints nothing when there is no backup.
newest_backup_epoch() {
    python3 -c '
import json, sys
from datetime import datetime, timezone

data = json.load(sys.stdin)
entries = data.get("backups", []) if isinstance(data, dict) else data
stamps = []
for entry in entries:
    raw = entry.get("created_at") if isinstance(entry, dict) else None
    if not raw:
        continue
    moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    stamps.append(moment.timestamp())
if stamps:
    print(int(max(stamps)))
'
}

# Judge a backup's age: prints "ok", "stale" or "none" for NEWEST (epoch or empty), NOW
# (epoch) and MAX_HOURS.
backup_age_verdict() {
    local newest now max_hours
    newest="$1"
    now="$2"
    max_hours="$3"
    if [ -z "$newest" ]; then
        printf 'none\n'
    elif [ $((now - newest)) -le $((max_hours * 3600)) ]; then
        printf 'ok\n'
    else
        printf 'stale\n'
    fi
}

# Print the bot's state from a /health/ready JSON body read from standard input, as
# "ok<TAB>detail", "down<TAB>detail", "none" (no bot in the service) or "unknown" (no JSON).
bot_state() {
    python3 -c '
import json, sys

try:
    checks = json.load(sys.stdin).get("checks", {})
except (ValueError, AttributeError):
    print("unknown")
    sys.exit(0)
bot = checks.get("bot") if isinstance(checks, dict) else None
if not isinstance(bot, dict):
    print("none")
else:
    print(("ok" if bot.get("ok") else "down") + "\t" + str(bot.get("detail", "")))
'
}

# Run Docker Compose (the scripts cd to the project directory first): the `docker compose`
# plugin, else the standalone `docker-compose` (Debian's docker-compose package, 1.29).
compose() {
    if [ -z "${BANDWISE_COMPOSE:-}" ]; then
        if docker compose version >/dev/null 2>&1; then
            BANDWISE_COMPOSE="docker compose"
        elif command -v docker-compose >/dev/null 2>&1; then
            BANDWISE_COMPOSE=docker-compose
        else
            die "Docker Compose is missing: install docker-compose-plugin (or Debian's docker-compose)"
        fi
    fi
    # shellcheck disable=SC2086 # "docker compose" is two words on purpose
    $BANDWISE_COMPOSE "$@"
}

# Wait until SERVICE's container reports healthy; fail when it is unhealthy or after TIMEOUT s.
wait_healthy() {
    local service timeout deadline container status
    service="$1"
    timeout="$2"
    deadline=$((SECONDS + timeout))
    while :; do
        container=$(compose ps -q "$service" 2>/dev/null || true)
        status=""
        if [ -n "$container" ]; then
            status=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$container" 2>/dev/null || true)
        fi
        case "$status" in
            healthy)
                log "$service is healthy"
                return 0
                ;;
            unhealthy | exited | dead)
                warn "$service is $status; last log lines:"
                compose logs --tail 30 "$service" >&2 || true
                return 1
                ;;
        esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            warn "$service not healthy after ${timeout}s (status: ${status:-no container})"
            compose logs --tail 30 "$service" >&2 || true
            return 1
        fi
        sleep "$BANDWISE_POLL_INTERVAL"
    done
}
