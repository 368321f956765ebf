#!/usr/bin/env bash
# Print the folder for the fast lane's scratch files: /dev/shm when it is a writable tmpfs with
# room that lets files there run (the deploy tests run stub scripts from their scratch folder),
# else ${TMPDIR:-/tmp}. In RAM a SQLite commit's fsync costs nothing; on a disk shared with other
# jobs those waits were most of the lane's wall time.
set -euo pipefail

fallback="${TMPDIR:-/tmp}"
candidate=/dev/shm
min_free_kb=$((512 * 1024))

usable() {
    [ -d "$candidate" ] && [ -w "$candidate" ] || return 1
    [ "$(stat -f -c %T "$candidate" 2>/dev/null)" = tmpfs ] || return 1
    [ "$(df -Pk "$candidate" | awk 'NR == 2 { print $4 }')" -ge "$min_free_kb" ] || return 1
    local probe status=0
    probe=$(mktemp -d "$candidate/bandwise-probe.XXXXXX") || return 1
    printf '#!/bin/sh\nexit 0\n' >"$probe/run"
    chmod +x "$probe/run"
    "$probe/run" 2>/dev/null || status=1
    rm -rf "$probe"
    return "$status"
}

if usable; then
    echo "$candidate"
else
    echo "$fallback"
fi
