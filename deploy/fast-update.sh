#!/usr/bin/env bash
# Update a running deployment: pull, build, back up, migrate, restart only the bot, wait for
# healthy. On failure: revert the schema if it moved, go back to the previous image and
# print the command that restores the pre-update backup.
#
#   deploy/fast-update.sh [--no-pull] [--timeout SECONDS]
set -euo pipefail

BANDWISE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
. "$BANDWISE_ROOT/deploy/lib.sh"

ENV_FILE=.env
STAGE=""
SCHEMA_BEFORE=""
BACKUP_LABEL=""

image_name() {
    local tag
    tag=$(env_get "$ENV_FILE" BANDWISE_TAG)
    printf 'bandwise:%s\n' "${tag:-latest}"
}

# Print the database's schema revision, asked through `exec` (the running bot, old code) or
# `run` (a one-off container of the newly built image, which knows the new revisions).
schema_revision() {
    local output
    if [ "$1" = exec ]; then
        output=$(compose exec -T bot bandwise db current) || return 1
    else
        output=$(compose run -T --rm --no-deps bot bandwise db current) || return 1
    fi
    printf '%s\n' "$output" | awk 'NF { revision = $1 } END { print revision }'
}

print_restore_hint() {
    cat >&2 <<HINT
If the data is damaged, restore the backup taken before this update:
    docker compose exec backup bandwise backup list
    docker compose exec backup bandwise backup restore <ID labelled ${BACKUP_LABEL:-pre-update}> --into-current --yes
HINT
}

roll_back() {
    local now plan action image
    image=$(image_name)
    now=""
    case "$STAGE" in
        migrate | restart | health) now=$(schema_revision run 2>/dev/null || true) ;;
    esac
    plan=$(rollback_plan "$STAGE" "$SCHEMA_BEFORE" "$now")
    warn "update failed at stage '$STAGE'; rolling back: $plan"
    for action in $plan; do
        case "$action" in
            none) ;;
            downgrade)
                compose run -T --rm --no-deps bot bandwise db downgrade "$SCHEMA_BEFORE" \
                    || warn "could not revert the schema to $SCHEMA_BEFORE: restore the backup"
                ;;
            retag)
                docker tag bandwise:previous "$image" || warn "could not re-tag the previous image"
                ;;
            restart)
                compose up -d --no-deps --force-recreate bot || warn "could not restart the bot"
                wait_healthy bot 120 || warn "the previous version is not healthy either"
                ;;
            restore-hint) print_restore_hint ;;
        esac
    done
    exit 1
}

# Run one stage; on failure roll back what the stages so far changed.
stage() {
    STAGE="$1"
    shift
    log "[$STAGE] $*"
    "$@" || roll_back
}

main() {
    local pull=1 timeout=180 image
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --no-pull) pull=0 ;;
            --timeout)
                timeout="${2:?--timeout needs a number of seconds}"
                shift
                ;;
            -h | --help)
                sed -n '2,6p' "$0"
                exit 0
                ;;
            *) die "unknown option $1 (try --help)" ;;
        esac
        shift
    done
    cd "$BANDWISE_ROOT"
    [ -f "$ENV_FILE" ] || die "$ENV_FILE is missing: run deploy/deploy.sh for the first install"
    image=$(image_name)
    docker image inspect "$image" >/dev/null 2>&1 \
        || die "no image $image yet: run deploy/deploy.sh for the first install"
    SCHEMA_BEFORE=$(schema_revision exec) \
        || die "cannot read the schema revision from the running bot: is it up? (deploy/verify.sh)"
    log "schema before the update: ${SCHEMA_BEFORE:-unknown}"
    if [ "$pull" -eq 1 ]; then
        stage pull git pull --ff-only
    fi
    docker tag "$image" bandwise:previous
    stage build compose build bot
    BACKUP_LABEL="pre-update-$(date -u +%Y%m%dT%H%M%SZ)"
    stage backup compose exec -T backup bandwise backup create --label "$BACKUP_LABEL"
    stage migrate compose run -T --rm --no-deps bot bandwise db upgrade
    stage restart compose up -d --no-deps bot
    stage health wait_healthy bot "$timeout"
    # The scheduler follows once the bot proved the new image healthy.
    compose up -d --no-deps backup || warn "could not restart the backup scheduler"
    log "update done (previous image kept as bandwise:previous; backup $BACKUP_LABEL)"
}

main "$@"
