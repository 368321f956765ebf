"""CPU seconds a PostgreSQL cluster spends on one benchmark run, read from /proc.

A tool's own CPU (its process and children) comes from ``wait4``; the server's work happens
in the cluster's backends. The cluster's total is what its postmaster's process tree has used:
the live processes' own time plus the time of the ended ones, which Linux adds to the
postmaster's ``cutime``/``cstime`` when it reaps them. The difference of two readings, taken
before a run and once the run's backends have ended, is the run's server CPU, its background
writes included (WAL writer, checkpointer). The benchmark turns autovacuum off, so that one
tool's tables are not analysed in the next tool's run.

    .venv/bin/python benchmarks/import_vs_pgloader.py --users 20000 --shape short_text
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_READINGS = 100


def _stat(pid: int) -> list[str]:
    """Return the fields of /proc/PID/stat after the command name (field 3 onwards)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _children(parent: int) -> list[int]:
    """Return the pids of ``parent``'s live children."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # ended while being read
    return found


def cluster_cpu_seconds(postmaster: int) -> float:
    """Return the CPU seconds (user + system) the cluster of ``postmaster`` has used so far.

    A child reaped while its siblings are read would be in neither the postmaster's
    ``cutime`` nor the children: the reading is taken again until no child was reaped
    during it (a bounded number of times; the last reading stands after that).
    """
    for _ in range(_READINGS):
        before = _stat(postmaster)
        ticks = 0
        for child in _children(postmaster):
            try:
                fields = _stat(child)
            except OSError:
                continue  # reaped meanwhile: the postmaster's reading below tells
            ticks += int(fields[11]) + int(fields[12])
        after = _stat(postmaster)
        if before[13:15] == after[13:15]:  # cutime, cstime: nothing reaped meanwhile
            break
    return (ticks + sum(int(value) for value in after[11:15])) / _TICKS


def wait_for_backends_to_end(postmaster: int, database: str, timeout: float = 10.0) -> None:
    """Wait (bounded) until no backend of ``postmaster`` serves ``database`` or awaits reaping.

    An ended backend is a zombie (its command line empty) until the postmaster reaps it and
    adds its time to its own ``cutime``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_serves_or_ended(child, database) for child in _children(postmaster)):
            return
        time.sleep(0.02)


def _serves_or_ended(pid: int, database: str) -> bool:
    """Tell whether child ``pid`` serves ``database`` or has ended (a zombie)."""
    try:
        if _stat(pid)[0] == "Z":
            return True
        return f" {database} ".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
