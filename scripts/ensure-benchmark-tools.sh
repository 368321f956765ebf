#!/usr/bin/env bash
# Install the tools the benchmarks compare against (pgloader) when they are missing.
set -euo pipefail

if command -v pgloader >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "pgloader is missing and apt-get is not available; install pgloader yourself." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "pgloader is missing; run 'apt-get install -y pgloader' as root." >&2
        exit 1
    fi
    SUDO="sudo"
fi
echo "Installing pgloader with apt-get ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pgloader >/dev/null
