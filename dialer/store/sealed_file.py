"""Files sealed at rest (call recordings) with the keyring of the sealed debtor fields.

A file is streamed in chunks, each sealed on its own with AES-256-GCM, so it is written
as the audio comes and read back a chunk at a time (playback starts at once, memory
stays flat):

    header = b"DLSF1" | key id length (1 byte) | key id | nonce prefix (8 bytes)
    chunk i = AES-GCM(key, nonce = prefix | i as 4 bytes, chunk, aad = header | i | last)

Every chunk but the last holds exactly `CHUNK` clear bytes (the last: 0 to CHUNK), so the
clear size follows from the file's size. The associated data binds each chunk to its file
(the header, whose prefix is random), its place and whether it is the last: a chunk moved,
dropped, swapped from another file or a file cut short fails its tag (`SealError`).

The key is the keyring's current master key at the time of writing, through HKDF with its
own info string (never the field key itself); the header names the key id, so rotation
(`dialer keys rotate`) leaves old files readable as long as the keyring keeps their key,
which `keyfile.add_key` does.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dialer.store.crypto import KEY_BYTES, Keyring, SealError

MAGIC = b"DLSF1"
CHUNK = 64 * 1024
TAG = 16
_PREFIX = 8
_INFO = b"dialer sealed file v1"


def _aead(keyring: Keyring, key_id: str) -> AESGCM:
    master = keyring.keys.get(key_id)
    if master is None:
        raise SealError(f"sealed file: key {key_id!r} is not in the keyring")
    key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_INFO).derive(master)
    return AESGCM(key)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if last else 0)


class SealedFileWriter:
    """Seals what is written to `out`, a chunk at a time; `close` seals the last chunk."""

    def __init__(self, out: BinaryIO, keyring: Keyring) -> None:
        self.key_id = keyring.current
        self._out = out
        self._aead = _aead(keyring, self.key_id)
        self._prefix = os.urandom(_PREFIX)
        key = self.key_id.encode()
        self._header = MAGIC + bytes([len(key)]) + key + self._prefix
        self._pending = bytearray()
        self._index = 0
        self.bytes_written = len(self._header)
        out.write(self._header)

    def write(self, data: bytes) -> None:
        self._pending += data
        while len(self._pending) > CHUNK:  # keep one back: the last chunk is marked so
            self._seal(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]

    def close(self) -> None:
        self._seal(bytes(self._pending), last=True)
        self._pending.clear()

    def _seal(self, clear: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index)
        sealed = self._aead.encrypt(nonce, clear, _aad(self._header, self._index, last))
        self._out.write(sealed)
        self.bytes_written += len(sealed)
        self._index += 1


def _read_header(source: BinaryIO) -> tuple[bytes, str, bytes]:
    start = source.read(len(MAGIC) + 1)
    if len(start) != len(MAGIC) + 1 or start[: len(MAGIC)] != MAGIC:
        raise SealError("not a sealed file")
    key = source.read(start[-1])
    prefix = source.read(_PREFIX)
    if len(prefix) != _PREFIX:
        raise SealError("sealed file: header cut short")
    return start + key + prefix, key.decode(errors="replace"), prefix


def sealed_key_id(source: BinaryIO) -> str:
    """The id of the key that sealed the file (nothing is opened)."""
    return _read_header(source)[1]


def clear_size(file_size: int, header_size: int) -> int:
    """How many clear bytes a sealed file of `file_size` bytes holds."""
    body = file_size - header_size
    chunks = max(1, -(-body // (CHUNK + TAG)))
    return body - chunks * TAG


def open_chunks(source: BinaryIO, keyring: Keyring, file_size: int) -> tuple[int, Iterator[bytes]]:
    """(clear size, the clear chunks in order) of a sealed file; raises `SealError` (at
    once for a bad header or unknown key, while iterating for a changed or cut file)."""
    header, key_id, prefix = _read_header(source)
    aead = _aead(keyring, key_id)
    size = clear_size(file_size, len(header))
    if size < 0:
        raise SealError("sealed file: cut short")

    def chunks() -> Iterator[bytes]:
        index, left = 0, size
        while True:
            want = min(CHUNK, left)
            last = left <= CHUNK
            sealed = source.read(want + TAG)
            try:
                clear = aead.decrypt(_nonce(prefix, index), sealed, _aad(header, index, last))
            except InvalidTag:
                raise SealError("sealed file fails its integrity check") from None
            yield clear
            if last:
                return
            index += 1
            left -= want

    return size, chunks()
