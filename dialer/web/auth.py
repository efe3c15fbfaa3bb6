"""Accounts and access: argon2 password hashes, signed session cookies, CSRF tokens and
login throttling.

- Passwords are hashed with argon2id (argon2-cffi); hashing and verifying run in a worker
  thread (they take a quarter of a second by design and must not stall the dialer's loop).
- The session is a cookie signed with itsdangerous (HttpOnly, SameSite=Lax, Secure over
  HTTPS) holding a random session id, a CSRF token and a fingerprint of the password hash.
  The session itself is a row of the store (dialer.store.session_repo): it is refused once
  it expired or was revoked (logout, a password change), so a replayed cookie opens
  nothing. The user is re-read from the store on every request, so a deleted account is
  out at once; the fingerprint ends sessions even if a password were changed behind the
  session table's back.
- Every state-changing request carries the session's CSRF token, in the form field
  ``csrf_token`` or the header ``X-CSRF-Token``; the login form is protected with a
  short-lived signed cookie of its own (double submit).
- `LoginThrottle` counts failed logins per key in a sliding window: after `max_failures`
  within `window` seconds the key is refused for `lockout` seconds (HTTP 429).
  dialer.web.throttle keeps one for accounts and one, with a higher threshold, for client
  addresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "dialer_session"
LOGIN_COOKIE = "dialer_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_FORM_MAX_AGE = 3600


class Passwords:
    """argon2id hashing; the parameters of a stored hash are read from the hash itself."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        # Checked when the username is unknown, so both cases take the same time.
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if stored is None and self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_hex(8))
        try:
            return self.hasher.verify(stored or self._dummy or "", password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, stored: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify, stored, password)


def fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash: sessions die when the password changes."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie carries: the id of the store's session row, the CSRF token and the
    password fingerprint."""

    id: str
    csrf: str
    fingerprint: str


class SessionSigner:
    def __init__(self, secret: str, max_age: int) -> None:
        self.max_age = max_age
        # v2: the cookie names a server-side session (older cookies fail the signature).
        self._session = URLSafeTimedSerializer(secret, salt="dialer.session.v2")
        self._login = URLSafeTimedSerializer(secret, salt="dialer.login-form")

    def issue(self, password_hash: str) -> tuple[str, Session]:
        session = Session(
            secrets.token_urlsafe(32), secrets.token_urlsafe(24), fingerprint(password_hash)
        )
        token = self._session.dumps([session.id, session.csrf, session.fingerprint])
        return token, session

    def read(self, token: str | None) -> Session | None:
        if not token:
            return None
        try:
            data = self._session.loads(token, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        if not (
            isinstance(data, list) and len(data) == 3 and all(isinstance(x, str) for x in data)
        ):
            return None
        return Session(data[0], data[1], data[2])

    def login_token(self) -> tuple[str, str]:
        """(cookie value, form value) protecting the login form."""
        nonce = secrets.token_urlsafe(24)
        return self._login.dumps(nonce), nonce

    def login_form_ok(self, cookie: str | None, form_value: str | None) -> bool:
        if not cookie or not form_value:
            return False
        try:
            nonce = self._login.loads(cookie, max_age=LOGIN_FORM_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, form_value)


def csrf_ok(session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf.encode(), given.encode())


class LoginThrottle:
    """Counts failed logins per key (a username, a client address) in a sliding window."""

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def retry_after(self, keys: Iterable[str]) -> float:
        """Seconds until these keys may try again (0: now)."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            until = self._locked_until.get(key)
            if until is not None:
                if until <= now:
                    del self._locked_until[key]
                else:
                    wait = max(wait, until - now)
        return wait

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        if len(self._failures) > self._max_keys:
            self._forget_old(now)
        for key in keys:
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.max_failures:
                self._locked_until[key] = now + self.lockout
                times.clear()

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= now - self.window]:
            del self._failures[key]
