"""Authenticated, streaming encryption of backup files (AES-256-GCM in 1 MiB chunks).

Layout: a header (magic, scrypt salt, a key check value, chunk size) followed by records of
``length (4 bytes) + ciphertext-with-tag``. Each chunk's nonce is its index and its associated
data binds the header, the index and a "last chunk" flag, so reordering, truncation and
appending are all detected. The key is derived from the passphrase with scrypt and a random
salt per file; neither the passphrase nor the key is ever written.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bandwise.errors import BackupDamaged, BackupKeyMismatch

MAGIC = b"BANDWISE-BACKUP-AESGCM-1"
SALT_BYTES = 16
CHECK_BYTES = 16
TAG_BYTES = 16
CHUNK_SIZE = 1024 * 1024
HEADER_FORMAT = f">{len(MAGIC)}s{SALT_BYTES}s{CHECK_BYTES}sI"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)
LENGTH = struct.Struct(">I")


def _derive(passphrase: str, salt: bytes) -> tuple[bytes, bytes]:
    material = Scrypt(salt=salt, length=64, n=2**14, r=8, p=1).derive(passphrase.encode("utf-8"))
    return material[:32], material[32 : 32 + CHECK_BYTES]


def _nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + index.to_bytes(8, "big")


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def is_encrypted_header(prefix: bytes) -> bool:
    """Tell whether ``prefix`` (the first bytes of a file) starts an encrypted backup."""
    return prefix.startswith(MAGIC)


class EncryptingWriter:
    """Encrypt everything written into ``sink``; ``close()`` writes the authenticated end."""

    def __init__(self, passphrase: str, sink: BinaryIO, chunk_size: int = CHUNK_SIZE) -> None:
        salt = os.urandom(SALT_BYTES)
        key, check = _derive(passphrase, salt)
        self._cipher = AESGCM(key)
        self._header = struct.pack(HEADER_FORMAT, MAGIC, salt, check, chunk_size)
        self._sink = sink
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        sink.write(self._header)

    def write(self, data: bytes) -> None:
        """Buffer ``data`` and encrypt every complete chunk."""
        self._buffer += data
        # Keep at least one byte back so that the last chunk is always written by close().
        while len(self._buffer) > self._chunk_size:
            self._emit(bytes(self._buffer[: self._chunk_size]), last=False)
            del self._buffer[: self._chunk_size]

    def close(self) -> None:
        """Encrypt the remainder as the last chunk (an empty one when nothing is left)."""
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _emit(self, plaintext: bytes, *, last: bool) -> None:
        sealed = self._cipher.encrypt(
            _nonce(self._index), plaintext, _aad(self._header, self._index, last)
        )
        self._sink.write(LENGTH.pack(len(sealed)))
        self._sink.write(sealed)
        self._index += 1


def _read_exact(source: BinaryIO, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        block = source.read(size - len(data))
        if not block:
            break
        data += block
    return bytes(data)


def decrypt_stream(passphrase: str | None, source: BinaryIO, name: str) -> Iterator[bytes]:
    """Yield the plaintext of the encrypted backup read from ``source`` (named ``name``).

    Raises BackupKeyMismatch for a missing or wrong key and BackupDamaged for a truncated or
    tampered file; nothing is yielded from a chunk that fails authentication.
    """
    header = _read_exact(source, HEADER_SIZE)
    if len(header) < HEADER_SIZE or not is_encrypted_header(header):
        raise BackupDamaged(f"{name}: not an encrypted bandwise backup (header missing or damaged)")
    _magic, salt, check, chunk_size = struct.unpack(HEADER_FORMAT, header)
    if not passphrase:
        raise BackupKeyMismatch(
            f"{name} is encrypted: set BACKUP_ENCRYPTION_KEY to the key it was made with"
        )
    key, expected_check = _derive(passphrase, salt)
    if not hmac.compare_digest(check, expected_check):
        raise BackupKeyMismatch(
            f"{name}: BACKUP_ENCRYPTION_KEY is not the key this backup was encrypted with"
        )
    cipher = AESGCM(key)
    index = 0
    while True:
        length_bytes = _read_exact(source, LENGTH.size)
        if len(length_bytes) < LENGTH.size:
            raise BackupDamaged(
                f"{name}: truncated after chunk {index} (the end marker is missing)"
            )
        (length,) = LENGTH.unpack(length_bytes)
        if length < TAG_BYTES or length > chunk_size + TAG_BYTES:
            raise BackupDamaged(
                f"{name}: chunk {index} has an impossible length {length} (tampered)"
            )
        sealed = _read_exact(source, length)
        if len(sealed) < length:
            raise BackupDamaged(f"{name}: truncated inside chunk {index}")
        plaintext, last = _open_chunk(cipher, header, index, sealed, name)
        if plaintext:
            yield plaintext
        if last:
            break
        index += 1
    if source.read(1):
        raise BackupDamaged(f"{name}: unexpected data after the last chunk (tampered)")


def _open_chunk(
    cipher: AESGCM, header: bytes, index: int, sealed: bytes, name: str
) -> tuple[bytes, bool]:
    for last in (False, True):
        try:
            return cipher.decrypt(_nonce(index), sealed, _aad(header, index, last)), last
        except InvalidTag:
            continue
    raise BackupDamaged(f"{name}: chunk {index} fails authentication (the file was altered)")


def encrypt_chunks(passphrase: str, chunks: Iterable[bytes], sink: BinaryIO) -> None:
    """Encrypt every block of ``chunks`` into ``sink``."""
    writer = EncryptingWriter(passphrase, sink)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
