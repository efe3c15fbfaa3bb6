"""Field-level encryption of debtor data at rest, and the blind index for phone lookups.

A sealed value is text: `v1.<key id>.<base64url(nonce + AES-256-GCM ciphertext + tag)>`.
The key id says which key sealed it, so keys can rotate (`dialer keys rotate` re-seals
every row under the new key; old ids stay readable while their key is in the keyring).
The associated data is the column's name (`cases.debtor_name`): a ciphertext moved to
another column does not open. A changed byte anywhere fails the tag: `SealError`.

Each master key yields two subkeys through HKDF-SHA256: one for AES-GCM, one for the
blind index (HMAC-SHA256 of the E.164 number), so the index key is never the encryption
key. The index is computed with the keyring's `index_key_id` key, which rotation leaves in
place: equal numbers keep equal indexes across rotations.

The keyring in use is process-wide (`install`): the column type (`dialer.store.sealed`)
and migration 0007 read it. The daemon and every CLI command install it from the settings
(`dialer.store.keyfile`) before touching the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
KEY_BYTES = 32
_NONCE_BYTES = 12
_AEAD_INFO = b"dialer field aead v1"
_INDEX_INFO = b"dialer blind index v1"


class SealError(ValueError):
    """A sealed value that does not open: tampered, truncated, or sealed by an unknown key.

    The message never quotes the value."""


class NoKeyringError(RuntimeError):
    """Debtor data was read or written before a keyring was installed."""


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master)


def new_master_key() -> bytes:
    return os.urandom(KEY_BYTES)


def new_key_id() -> str:
    return "k" + os.urandom(4).hex()


@dataclass(frozen=True)
class Keyring:
    """Master keys by id; `current` seals, any of them opens; `index_key_id` indexes."""

    keys: Mapping[str, bytes]
    current: str
    index_key_id: str
    _aead: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)
    _index: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in (self.current, self.index_key_id):
            if name not in self.keys:
                raise ValueError(f"keyring has no key {name!r}")
        for key_id, master in self.keys.items():
            if len(master) != KEY_BYTES or "." in key_id:
                raise ValueError(f"key {key_id!r}: need {KEY_BYTES} bytes and no '.' in its id")
            self._aead[key_id] = AESGCM(_derive(master, _AEAD_INFO))
        object.__setattr__(self, "_index", _derive(self.keys[self.index_key_id], _INDEX_INFO))

    def seal(self, clear: str, label: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        body = self._aead[self.current].encrypt(nonce, clear.encode(), label.encode())
        token = base64.urlsafe_b64encode(nonce + body).decode().rstrip("=")
        return f"{VERSION}.{self.current}.{token}"

    def open(self, sealed: str, label: str) -> str:
        version, key_id, token = _split(sealed)
        aead = self._aead.get(key_id)
        if version != VERSION or aead is None:
            raise SealError(f"{label}: sealed by an unknown key or format ({version}.{key_id})")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], label.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SealError(f"{label}: sealed value fails its integrity check") from exc

    def blind_index(self, e164: str) -> str:
        """HMAC-SHA256 of the number (hex): equal numbers, equal indexes; nothing else."""
        return hmac.new(self._index, e164.encode(), hashlib.sha256).hexdigest()


def key_id_of(sealed: str) -> str:
    """The id of the key that sealed a value (the value itself is not opened)."""
    return _split(sealed)[1]


def is_sealed(value: str) -> bool:
    return value.startswith(VERSION + ".") and value.count(".") >= 2


def _split(sealed: str) -> tuple[str, str, str]:
    parts = sealed.split(".", 2)
    if len(parts) != 3:
        raise SealError("not a sealed value")
    return parts[0], parts[1], parts[2]


_installed: list[Keyring] = []


def install(keyring: Keyring) -> None:
    """Make `keyring` the process's keyring (replacing any installed before)."""
    _installed[:] = [keyring]


def installed() -> Keyring | None:
    return _installed[0] if _installed else None


def keyring() -> Keyring:
    if not _installed:
        raise NoKeyringError(
            "no privacy keyring installed: load it from the settings first "
            "(dialer.store.keyfile.install_from)"
        )
    return _installed[0]


def blind_index(e164: str) -> str:
    """The installed keyring's blind index of a number."""
    return keyring().blind_index(e164)
