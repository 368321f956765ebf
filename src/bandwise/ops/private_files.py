"""Files with secrets or candidates' text: owner-only (0600) from their first byte."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

PRIVATE_MODE = 0o600


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, created (or first narrowed to) 0600 before any byte lands."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_private_text(path: Path) -> Iterator[TextIO]:
    """Open ``path`` for writing UTF-8 text as an owner-only file; fsync it on success."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    os.fchmod(fd, PRIVATE_MODE)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` as an owner-only file."""
    write_private(path, text.encode("utf-8"))


def copy_private(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` as an owner-only file (never briefly readable by others)."""
    write_private(target, source.read_bytes())
