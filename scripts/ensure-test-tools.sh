#!/usr/bin/env bash
# Install the Debian tools the monitoring tests use when they are missing:
# headless Chromium (the /admin page test) and promtool (the alert rules tests).
set -euo pipefail

missing=()
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    missing+=(chromium chromium-driver)
fi
if ! command -v promtool >/dev/null 2>&1; then
    missing+=(prometheus)
fi
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing test tools (${missing[*]}) and apt-get is not available;" >&2
    echo "install them with your distribution's package manager." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing test tools with apt-get: ${missing[*]} ..."
# A fresh container has no package lists yet; refresh them only when the install fails.
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
