"""The keyring's home: `privacy.key` from the settings, or the key file.

The key file is JSON, mode 0600, made on the first start (like the session secret):
`{"format": 1, "current": id, "index": id, "keys": {id: base64 key}}`. It is written to a
temporary file and renamed, so a crash never leaves half a keyring. `add_key` (rotation)
adds a key and makes it current; old keys stay, since rows and backups sealed under them
still need them to open. With `privacy.key` set (e.g. DIALER_PRIVACY__KEY) that one key
is the keyring (its id derived from it) and nothing is written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Protocol

from dialer.store.crypto import KEY_BYTES, Keyring, install, new_key_id, new_master_key

_FORMAT = 1


class PrivacyConfig(Protocol):
    """What the keyring is loaded from (dialer.settings.PrivacySettings; the store does not
    import the settings, which import the parts above the store)."""

    @property
    def key(self) -> str | None: ...

    @property
    def key_file(self) -> Path: ...


class KeyFileError(RuntimeError):
    """The keyring cannot be read or made: names the file or setting and why."""


def keyring_from(privacy: PrivacyConfig) -> Keyring:
    if privacy.key:
        return _env_keyring(privacy.key)
    return load_or_create(privacy.key_file)


def install_from(privacy: PrivacyConfig) -> Keyring:
    """Load (or make) the keyring the settings name and install it for this process."""
    keyring = keyring_from(privacy)
    install(keyring)
    return keyring


def load_or_create(path: Path) -> Keyring:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        key_id = new_key_id()
        keyring = Keyring({key_id: new_master_key()}, current=key_id, index_key_id=key_id)
        write(path, keyring)
        return keyring
    except OSError as exc:
        raise KeyFileError(f"privacy.key_file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
        keys = {
            key_id: base64.b64decode(value, validate=True) for key_id, value in data["keys"].items()
        }
        return Keyring(keys, current=data["current"], index_key_id=data["index"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise KeyFileError(f"privacy.key_file {path}: not a keyring ({exc})") from None


def write(path: Path, keyring: Keyring) -> None:
    data = {
        "format": _FORMAT,
        "current": keyring.current,
        "index": keyring.index_key_id,
        "keys": {key_id: base64.b64encode(key).decode() for key_id, key in keyring.keys.items()},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(json.dumps(data, indent=2) + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        raise KeyFileError(f"privacy.key_file {path}: {exc.strerror}") from None


def add_key(path: Path) -> Keyring:
    """Add a new key to the file and make it current (the index key stays)."""
    old = load_or_create(path)
    key_id = new_key_id()
    keyring = Keyring(
        {**old.keys, key_id: new_master_key()}, current=key_id, index_key_id=old.index_key_id
    )
    write(path, keyring)
    return keyring


def _env_keyring(value: str) -> Keyring:
    try:
        master = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        master = b""
    if len(master) != KEY_BYTES:
        raise KeyFileError(f"privacy.key: need base64 of {KEY_BYTES} bytes")
    key_id = "e" + hashlib.sha256(master).hexdigest()[:8]
    return Keyring({key_id: master}, current=key_id, index_key_id=key_id)
