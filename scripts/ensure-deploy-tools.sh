#!/usr/bin/env bash
# Install the tools the deploy tests use (shellcheck, a docker compose client) when missing.
set -euo pipefail

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
# Either the compose v2 plugin (`docker compose`) or Debian's standalone `docker-compose` will do:
# the tests only render and validate the file, which needs no Docker engine.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    missing+=(docker-compose)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing deploy test tools (${missing[*]}) and apt-get is not available;" >&2
    echo "install them with your distribution's package manager." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing deploy test tools with apt-get: ${missing[*]} ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
