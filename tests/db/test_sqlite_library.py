"""SQLite's memory statistics are turned off for the process, and SQLite works on after it."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run in a fresh interpreter: the library may be reconfigured only while no connection is
# open, which the test process cannot promise.
_PROBE = """
import ctypes, sqlite3, sys
from bandwise.db.sqlite_library import _loaded_library, stop_memory_statistics
stopped = stop_memory_statistics() if sys.argv[1] == "stop" else False
connection = sqlite3.connect(":memory:")
connection.execute("CREATE TABLE t (x)")
connection.executemany("INSERT INTO t VALUES (?)", [("x" * 100,)] * 1000)
assert connection.execute("SELECT count(*), sum(length(x)) FROM t").fetchone() == (1000, 100000)
library = ctypes.CDLL(str(_loaded_library()))
library.sqlite3_memory_used.restype = ctypes.c_int64
print(stopped, library.sqlite3_memory_used())
"""


def _probe(mode: str) -> tuple[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    stopped, used = result.stdout.split()
    return stopped, int(used)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_memory_statistics_are_off_and_sqlite_works_on() -> None:
    assert _probe("stop") == ("True", 0)
    stopped, used = _probe("keep")
    assert stopped == "False" and used > 0  # the default counts: the probe can tell
