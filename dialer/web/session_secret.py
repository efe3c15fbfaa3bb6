"""The secret that signs session cookies, kept across restarts.

`web.session_secret` when set (several daemons behind one address must share it);
otherwise the one in `web.session_secret_file`, made on the first start (32 random bytes,
mode 0600, written to a temporary file and renamed so a crash leaves no half secret). A
per-process random secret, as before, logged everyone out at every restart.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_LENGTH = 32


class SessionSecretError(RuntimeError):
    """The secret file cannot be read or made: says which file and why."""


def session_secret(configured: str | None, path: Path) -> str:
    if configured:
        return configured
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    except OSError as exc:
        raise SessionSecretError(f"web.session_secret_file {path}: {exc.strerror}") from None
    if len(existing) >= MIN_LENGTH:
        return existing
    secret = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(secret + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        raise SessionSecretError(f"web.session_secret_file {path}: {exc.strerror}") from None
    return secret
