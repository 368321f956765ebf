#!/usr/bin/env bash
# Install what `make test-deploy` needs to run the stack on a real engine when missing:
# Debian's Docker Engine (docker.io: dockerd, containerd, runc), its docker-compose 1.29 and
# debootstrap (the stand-in base images are built from Debian packages). The tests start
# their own dockerd; nothing here starts or enables a service.
set -euo pipefail

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing container engine tools (${missing[*]}) and apt-get is not available;" >&2
    echo "install them with your distribution's package manager." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing container engine tools with apt-get: ${missing[*]} ..."
$SUDO apt-get update -qq
# policy-rc.d or not, the package's service is never needed: the tests run dockerd themselves.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
