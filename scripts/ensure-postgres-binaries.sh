#!/usr/bin/env bash
# Install PostgreSQL server binaries (initdb, pg_ctl, pg_dump) when they are missing.
set -euo pipefail

have_server_binaries() {
    local bindir
    if command -v pg_config >/dev/null 2>&1; then
        bindir=$(pg_config --bindir)
        [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] && return 0
    fi
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if have_server_binaries; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL server binaries (initdb) are missing and apt-get is not available;" >&2
    echo "install the PostgreSQL server package of your distribution." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing PostgreSQL server binaries with apt-get ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-contrib >/dev/null
