"""Open a backup's plaintext and feed it to a tool, decrypting on the fly when needed."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bandwise.ops.backup.crypto import decrypt_stream
from bandwise.ops.backup.files import read_chunks


@contextlib.contextmanager
def plaintext_chunks(path: Path, encrypted: bool, key: str | None) -> Iterator[Iterator[bytes]]:
    """Yield an iterator over the backup's plaintext (authenticated when encrypted)."""
    if not encrypted:
        yield iter(read_chunks(path))
        return
    with open(path, "rb") as handle:
        yield decrypt_stream(key, handle, path.name)


def run_tool(
    command: list[str], env: dict[str, str], stdin_chunks: Iterator[bytes] | None = None
) -> tuple[int, str]:
    """Run ``command`` (feeding ``stdin_chunks`` to it when given); return (status, stderr).

    An exception raised by ``stdin_chunks`` (a damaged encrypted file, say) kills the tool and
    propagates; a tool that stops reading early (``pg_restore --list``) is not an error.
    """
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE if stdin_chunks is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            if stdin_chunks is not None and process.stdin is not None:
                try:
                    for chunk in stdin_chunks:
                        process.stdin.write(chunk)
                except BrokenPipeError:
                    pass
                finally:
                    with contextlib.suppress(BrokenPipeError):
                        process.stdin.close()
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        errors.seek(0)
        return returncode, errors.read().decode("utf-8", errors="replace")


def drain(chunks: Iterator[bytes]) -> int:
    """Consume ``chunks`` (authenticating them) and return how many bytes they held."""
    return sum(len(chunk) for chunk in chunks)
