#!/usr/bin/env bash
# First install of bandwise with Docker Compose: prerequisites, secrets, build, start, verify.
# Safe to run again: it keeps every existing secret and only brings services up to date.
#
#   deploy/deploy.sh [--skip-verify]
set -euo pipefail

BANDWISE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
. "$BANDWISE_ROOT/deploy/lib.sh"

ENV_FILE=.env
ENV_TEMPLATE=.env.production
MIN_FREE_MB="${BANDWISE_MIN_FREE_MB:-2048}"
SECRETS="POSTGRES_SUPERUSER_PASSWORD POSTGRES_PASSWORD API_TOKEN ADMIN_TOKEN WEBHOOK_SECRET"

check_prerequisites() {
    local tool free_mb
    for tool in docker od awk python3; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (see docs/deployment-digitalocean.md)"
    done
    compose version >/dev/null 2>&1 \
        || die "Docker Compose is missing or broken: install docker-compose-plugin"
    docker info >/dev/null 2>&1 \
        || die "cannot talk to the Docker daemon: is it running, and may this user use it?"
    free_mb=$(df -Pk . | awk 'NR == 2 { print int($4 / 1024) }')
    [ "${free_mb:-0}" -ge "$MIN_FREE_MB" ] \
        || die "only ${free_mb} MB free on $(pwd); at least ${MIN_FREE_MB} MB are needed"
    log "prerequisites ok (docker, compose, ${free_mb} MB free)"
}

prepare_env() {
    local key
    ensure_env_file "$ENV_FILE" "$ENV_TEMPLATE"
    for key in $SECRETS; do
        ensure_secret "$ENV_FILE" "$key"
    done
    require_url_safe POSTGRES_USER "$(env_get "$ENV_FILE" POSTGRES_USER)"
    require_url_safe POSTGRES_PASSWORD "$(env_get "$ENV_FILE" POSTGRES_PASSWORD)"
    if [ -z "$(env_get "$ENV_FILE" BOT_TOKEN)" ]; then
        warn "BOT_TOKEN is not set in $ENV_FILE: only the HTTP service will run"
    fi
}

main() {
    local skip_verify=0
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --skip-verify) skip_verify=1 ;;
            -h | --help)
                sed -n '2,6p' "$0"
                exit 0
                ;;
            *) die "unknown option $1 (try --help)" ;;
        esac
        shift
    done
    cd "$BANDWISE_ROOT"
    check_prerequisites
    prepare_env
    compose config --quiet || die "docker-compose.yml or $ENV_FILE is invalid (see above)"
    log "building the bandwise image"
    compose build
    log "validating the configuration inside the image"
    compose run -T --rm --no-deps bot bandwise config check >/dev/null \
        || die "the configuration is invalid: run 'docker compose run --rm --no-deps bot bandwise config check'"
    log "starting PostgreSQL"
    compose up -d postgres
    wait_healthy postgres 180 || die "PostgreSQL did not become healthy"
    log "starting the bot and the backup scheduler"
    compose up -d
    wait_healthy bot 240 || die "the bot did not become healthy: docker compose logs bot"
    if [ "$skip_verify" -eq 0 ]; then
        "$BANDWISE_ROOT/deploy/verify.sh"
    fi
    log "bandwise is running; update later with deploy/fast-update.sh"
}

main "$@"
