"""Login throttling per account and per client address, each with its own threshold
(settings `web.login_throttle`).

A call centre works behind one NAT address: a collector who mistypes their password five
times must lock out their own account, not the whole floor. So failures count twice: for
the account (a few within the window lock that account alone, whoever tries it) and for
the address (many more, over all accounts, lock the address: somebody is guessing). A
successful login clears its account's count, never the address's (a guesser with one good
account must not reset the address by logging in between guesses). An IPv6 client counts
by its /64, the block one host is usually given.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from dialer.settings import LoginThrottleSettings
from dialer.web.auth import LoginThrottle


def account_key(username: str) -> str:
    return f"user:{username.lower()}"


def address_key(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address}"
    if parsed.version == 6:
        return f"addr:{ipaddress.ip_network(f'{parsed}/64', strict=False)}"
    return f"addr:{parsed}"


class LoginThrottles:
    """The account and address counters of failed logins, and what they refuse."""

    def __init__(
        self,
        account_failures: int = 5,
        address_failures: int = 50,
        window: float = 300.0,
        lockout: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = LoginThrottle(account_failures, window, lockout, clock)
        self.addresses = LoginThrottle(address_failures, window, lockout, clock)

    @classmethod
    def from_settings(
        cls, settings: LoginThrottleSettings, clock: Callable[[], float] = time.monotonic
    ) -> LoginThrottles:
        return cls(
            settings.account_failures,
            settings.address_failures,
            settings.window_seconds,
            settings.lockout_seconds,
            clock,
        )

    def refusal(self, username: str, address: str) -> str | None:
        """Why a login for `username` from `address` is refused now (None: it may try)."""
        wait = self.addresses.retry_after([address_key(address)])
        if wait > 0:
            return f"too many failed logins from your address; try again in {int(wait) + 1} s"
        wait = self.accounts.retry_after([account_key(username)])
        if wait > 0:
            return f"too many failed logins for this account; try again in {int(wait) + 1} s"
        return None

    def account_refusal(self, username: str) -> str | None:
        """Why a password check of `username` is refused now (a password change's check
        of the current password counts like a login)."""
        wait = self.accounts.retry_after([account_key(username)])
        if wait > 0:
            return f"too many wrong passwords for this account; try again in {int(wait) + 1} s"
        return None

    def failed(self, username: str, address: str | None) -> None:
        self.accounts.failed([account_key(username)])
        if address is not None:
            self.addresses.failed([address_key(address)])

    def succeeded(self, username: str) -> None:
        self.accounts.succeeded([account_key(username)])
