#!/usr/bin/env bash
# Install PgBouncer (the fault and pooling tests run it in front of a throwaway cluster) when missing.
set -euo pipefail

have_pgbouncer() {
    command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]
}

if have_pgbouncer; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "pgbouncer is missing and apt-get is not available;" >&2
    echo "install the pgbouncer package of your distribution." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing pgbouncer with apt-get ..."
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends pgbouncer >/dev/null
# The Debian package starts a system-wide pgbouncer; the tests run their own, so stop it.
if command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi
