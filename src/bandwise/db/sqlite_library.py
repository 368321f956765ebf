"""Turn off the SQLite library's memory statistics for this process.

SQLite counts the memory it allocates (``SQLITE_CONFIG_MEMSTATUS``, on by default) under one
mutex for the whole process, taken on every allocation: threads running queries at once (an
import's fast-path reader beside its integrity check and orphan scans, the service's
connection threads) queue on it. Measured on a legacy file with short rows: two threads each
running one fast-path query row by row took 3.8 s together, against 2.6 s one after the
other, and 2.9 s with the statistics off (1.4 s once each step also read a page of rows, see
``ops/importer/sqlpages.py``); one query alone ran about 15 % faster. Nothing in bandwise reads them
(they serve ``sqlite3_memory_used`` and the soft heap limit).

``sqlite3_config`` works only while the library is not initialised, so it is shut down and
initialised again: safe only before this process opens any SQLite connection. The entry
point calls it first; nothing else may.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path

log = logging.getLogger(__name__)

_SQLITE_OK = 0
_SQLITE_CONFIG_MEMSTATUS = 9  # sqlite3.h


def _loaded_library() -> Path | None:
    """Return the SQLite library Python's sqlite3 module runs on, if it is a shared one."""
    import _sqlite3  # noqa: F401 - loads the library this looks for

    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: leave the library as it is
        return None
    for line in maps.splitlines():
        path = line.rsplit(maxsplit=1)[-1] if line.count(" ") >= 5 else ""
        if Path(path).name.startswith("libsqlite3.so"):
            return Path(path)
    return None  # linked in statically: its configuration is out of reach


def stop_memory_statistics() -> bool:
    """Turn SQLite's memory statistics off in this process; tell whether it was done.

    Call before any SQLite connection is opened in this process (see the module docstring).
    """
    path = _loaded_library()
    if path is None:
        return False
    library = ctypes.CDLL(str(path))  # the copy already loaded: dlopen returns its handle
    if library.sqlite3_shutdown() != _SQLITE_OK:
        return False
    done = bool(library.sqlite3_config(_SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) == _SQLITE_OK)
    if library.sqlite3_initialize() != _SQLITE_OK:  # sqlite3 would initialise it again itself
        log.warning("could not initialise the SQLite library again after configuring it")
    return done
