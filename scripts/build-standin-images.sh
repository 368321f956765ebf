#!/usr/bin/env bash
# Build the stand-in base images the deploy tests use instead of registry images (no registry
# is reachable in CI): a Debian bookworm minbase root from this machine's apt mirror, then
# Python 3.11, PostgreSQL, Redis, PgBouncer and nginx images from Debian packages
# (scripts/standin-images/*). Each image carries a hash of its recipe and is rebuilt only
# when that changes, so a warm run does nothing. Talks to the daemon in DOCKER_HOST.
#
#   scripts/build-standin-images.sh            # build what is missing or out of date
#   scripts/build-standin-images.sh --print    # print the variables selecting the images
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPES="$ROOT/standin-images"
PREFIX="${STANDIN_PREFIX:-local}"
SUITE=bookworm
# Bookworm's own PostgreSQL major: the server image and the bandwise image's client agree.
PG_MAJOR=15
BASE_IMAGE="$PREFIX/debian:$SUITE-minbase"
LABEL=org.bandwise.standin-recipe

# name=tag pairs; each name is a directory under standin-images/ (built side by side).
IMAGES="python=$PREFIX/python:3.11-slim-$SUITE postgres=$PREFIX/postgres:$PG_MAJOR-$SUITE redis=$PREFIX/redis:$SUITE pgbouncer=$PREFIX/pgbouncer:$SUITE nginx=$PREFIX/nginx:$SUITE"

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

tag_of() {
    local pair
    for pair in $IMAGES; do
        if [ "${pair%%=*}" = "$1" ]; then
            printf '%s\n' "${pair#*=}"
            return 0
        fi
    done
    die "no stand-in image named $1"
}

# Print the variables that point the Dockerfile and docker-compose.yml at the stand-ins.
print_variables() {
    cat <<VARS
PYTHON_IMAGE=$(tag_of python)
POSTGRES_IMAGE=$PREFIX/postgres
PG_MAJOR=$PG_MAJOR
PG_CLIENT_SOURCE=debian
REDIS_IMAGE=$(tag_of redis)
PGBOUNCER_IMAGE=$(tag_of pgbouncer)
NGINX_IMAGE=$(tag_of nginx)
BANDWISE_BUILD_NETWORK=host
VARS
}

# Print the first http(s) URI this machine's apt configuration uses for SUITE's main archive.
apt_mirror() {
    local files=() file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] && files+=("$file")
    done
    [ "${#files[@]}" -gt 0 ] || return 1
    awk -v suite="$SUITE" '
        # One-line format: deb [options] URI SUITE COMPONENTS...
        FILENAME !~ /\.sources$/ && $1 == "deb" {
            n = 2
            if ($2 ~ /^\[/) { while (n <= NF && $n !~ /\]$/) n++; n++ }
            if ($(n + 1) == suite && $(n) ~ /^https?:/) { print $(n); exit }
            next
        }
        # deb822 format: blank-line separated stanzas with URIs: and Suites: fields.
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[[:space:]]*$/) { uris = ""; suites = ""; next }
            if ($1 == "URIs:") uris = $2
            if ($1 == "Suites:") { suites = " " substr($0, index($0, $2)) " " }
            if (uris ~ /^https?:/ && index(suites, " " suite " ") > 0) { print uris; exit }
        }
    ' "${files[@]}"
}

# Print the local CA certificates this machine adds to its trust store, one path a line.
local_cas() {
    find /usr/local/share/ca-certificates -maxdepth 2 -name '*.crt' -type f 2>/dev/null | sort
}

recipe_of() {
    docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true
}

build_base() {
    local mirror recipe rootfs
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (scripts/ensure-deploy-engine.sh installs it)"
    mirror=$(apt_mirror) || true
    [ -n "$mirror" ] || die "no http(s) apt source for $SUITE in /etc/apt/sources.list*"
    recipe=$( (
        printf 'minbase %s %s\n' "$SUITE" "$mirror"
        local_cas | xargs -r cat
    ) | sha256sum | cut -c1-16)
    if [ "$(recipe_of "$BASE_IMAGE")" = "$recipe" ]; then
        log "$BASE_IMAGE is up to date"
        return 0
    fi
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/standin-rootfs.XXXXXX")
    # shellcheck disable=SC2064 # expand now: the path is fixed
    trap "rm -rf '$rootfs'" EXIT
    log "debootstrap --variant=minbase $SUITE from $mirror"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
        || {
            tail -20 "$rootfs.log" >&2
            die "debootstrap failed"
        }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    # Keep containers small, as the slim images do: no man pages or docs from later installs.
    printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-include /usr/share/doc/*/copyright\n' \
        >"$rootfs/etc/dpkg/dpkg.cfg.d/excludes"
    printf 'APT::Install-Recommends "false";\n' >"$rootfs/etc/apt/apt.conf.d/90no-recommends"
    # Trust what this machine trusts: its local CAs (a TLS-inspecting egress proxy, a company
    # CA) join the image's store when a later step installs ca-certificates.
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    local_cas | xargs -r -I{} cp {} "$rootfs/usr/local/share/ca-certificates/"
    tar -C "$rootfs" -c . | docker import --change "LABEL $LABEL=$recipe" --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
    log "built $BASE_IMAGE"
}

build_one() {
    local name tag recipe
    name="$1"
    tag=$(tag_of "$name")
    recipe=$( (
        docker image inspect --format '{{.Id}}' "$BASE_IMAGE"
        cd "$RECIPES/$name" && find . -type f -print0 | sort -z | xargs -0 sha256sum
    ) | sha256sum | cut -c1-16)
    if [ "$(recipe_of "$tag")" = "$recipe" ]; then
        log "$tag is up to date"
        return 0
    fi
    log "building $tag"
    docker build --quiet --network host --build-arg "BASE=$BASE_IMAGE" --build-arg "PG_MAJOR=$PG_MAJOR" \
        --label "$LABEL=$recipe" -t "$tag" "$RECIPES/$name" >/dev/null
}

# Build every image from the base at once: each is mostly apt downloads and unpacking, so
# they overlap well even on 2 cores. Each build's output is shown once it has finished.
build_all() {
    local pair name index failed="" logs
    local -a pids=() names=()
    logs=$(mktemp -d "${TMPDIR:-/tmp}/standin-logs.XXXXXX")
    for pair in $IMAGES; do
        name="${pair%%=*}"
        build_one "$name" >"$logs/$name.log" 2>&1 &
        pids+=("$!")
        names+=("$name")
    done
    for index in "${!pids[@]}"; do
        name="${names[$index]}"
        wait "${pids[$index]}" || failed="$failed $name"
        cat "$logs/$name.log" >&2
    done
    rm -rf "$logs"
    [ -z "$failed" ] || die "could not build the stand-in image(s):$failed (see above)"
}

main() {
    case "${1:-}" in
        --print)
            print_variables
            return 0
            ;;
        '') ;;
        *) die "unknown option $1 (try: --print)" ;;
    esac
    docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (DOCKER_HOST=${DOCKER_HOST:-unset})"
    build_base
    build_all
    log "stand-in images ready"
}

main "$@"
