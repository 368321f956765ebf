#!/usr/bin/env bash
# Install the tools the benchmarks use when they are missing: pgloader (compared against) and
# GNU time (/usr/bin/time: each tool's own peak memory, see benchmarks/import_vs_pgloader.py).
set -euo pipefail

if command -v pgloader >/dev/null 2>&1 && [ -x /usr/bin/time ]; then
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
echo "Installing pgloader and time with apt-get ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pgloader time >/dev/null
