"""Write backup files so that a file named as a backup is always complete.

Data goes to a hidden ``.partial`` name in the backup directory, is fsynced, made private
(0600) and only then renamed to its final name; the directory is fsynced after the rename.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from bandwise.errors import OperationFailed

HASH_CHUNK = 1024 * 1024
PARTIAL_SUFFIX = ".partial"


def partial_path(final: Path) -> Path:
    """Return the hidden temporary name under which ``final`` is written."""
    return final.with_name(f".{final.name}{PARTIAL_SUFFIX}")


def fsync_path(path: Path) -> None:
    """Flush ``path`` (a file or a directory) to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(temporary: Path, final: Path) -> None:
    """Make ``temporary`` private and durable, then rename it to ``final`` atomically."""
    os.chmod(temporary, 0o600)
    fsync_path(temporary)
    os.replace(temporary, final)
    fsync_path(final.parent)


def discard(*paths: Path) -> None:
    """Remove temporary files, ignoring those already gone."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def read_chunks(path: Path) -> Iterable[bytes]:
    """Yield the bytes of ``path`` in 1 MiB blocks."""
    with open(path, "rb") as handle:
        while block := handle.read(HASH_CHUNK):
            yield block


def write_text_atomically(final: Path, content: str) -> None:
    """Write ``content`` to ``final`` through a fsynced temporary file and a rename."""
    temporary = partial_path(final)
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(content)
        publish(temporary, final)
    except OSError as error:
        discard(temporary)
        raise describe_os_error(error, final) from error


def prepare_directory(directory: Path) -> None:
    """Create the backup directory (private to its owner) when it does not exist."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise describe_os_error(error, directory) from error


def describe_os_error(error: OSError, where: Path) -> OperationFailed:
    """Turn a file-system error into a message naming the place and what to do."""
    if error.errno == errno.ENOSPC:
        return OperationFailed(
            f"disk full: no space left on the file system holding {where}; "
            "free space or point BACKUP_DIR elsewhere (no partial backup was kept)"
        )
    if error.errno in (errno.EACCES, errno.EPERM):
        return OperationFailed(f"permission denied writing {where}: {error.strerror}")
    return OperationFailed(f"cannot write {where}: {error.strerror or error}")
