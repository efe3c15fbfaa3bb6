"""Background registration: REGISTER with digest auth, refresh before expiry, retry with backoff.

pyVoIP registers inside `start()`, blocking up to 30 s per attempt when no registrar
answers, and cannot be told not to register. Here registration is optional, runs as a task,
and `start()` returns at once; `registered` tells health checks how it is going.

The Request-URI is the registrar's domain with its port when it is not 5060
(`sip:host:port`, RFC 3261 10.2: no user part): a registrar on another port checks that
the request is for itself. Refreshes and the un-REGISTER answer the last challenge before
being asked (see `sip_auth.DigestCredentials`).
"""

from __future__ import annotations

import asyncio

from dialer.telephony.sip_auth import DigestCredentials
from dialer.telephony.sip_log import INFO, WARNING, event, log
from dialer.telephony.sip_message import (
    ALLOW,
    SipMessage,
    build_message,
    header_param,
    new_branch,
    new_call_id,
    new_tag,
)
from dialer.telephony.sip_transaction import TransactionLayer
from dialer.telephony.sip_transport import Address

RETRY_FIRST = 2.0
RETRY_MAX = 120.0
MAX_AUTH_RETRIES = 2  # a stale (or forgotten) nonce, then one fresh challenge


class RegistrationError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"REGISTER answered {code}")
        self.code = code


class Registration:
    def __init__(
        self,
        transactions: TransactionLayer,
        *,
        domain: str,
        uri_host: str,
        next_hop: Address,
        user: str,
        contact: str,
        via_host: str,
        expires: int,
        digest: DigestCredentials | None,
        user_agent: str,
    ) -> None:
        """`domain`: the AOR's domain (no port); `uri_host`: the registrar as it goes into
        the Request-URI ("host" or "host:port")."""
        self._transactions = transactions
        self._next_hop = next_hop
        self._uri = f"sip:{uri_host}"
        self._aor = f"<sip:{user}@{domain}>"
        self._contact = contact
        self._via_host = via_host
        self._expires = expires
        self._digest = digest
        self._user_agent = user_agent
        self._call_id = new_call_id(via_host.split(":", 1)[0])
        self._tag = new_tag()
        self._cseq = 0
        self.registered = False
        self.attempts = 0
        self.last_error: str | None = None

    def _request(self, expires: int, auth: tuple[str, str] | None) -> tuple[bytes, str]:
        self._cseq += 1
        branch = new_branch()
        headers = [
            ("Via", f"SIP/2.0/UDP {self._via_host};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"{self._aor};tag={self._tag}"),
            ("To", self._aor),
            ("Call-ID", self._call_id),
            ("CSeq", f"{self._cseq} REGISTER"),
            ("Contact", self._contact),
            ("Expires", str(expires)),
            ("Allow", ALLOW),
            ("User-Agent", self._user_agent),
        ]
        if auth is not None:
            headers.append(auth)
        return build_message(f"REGISTER {self._uri} SIP/2.0", headers), branch

    async def _send(self, expires: int, auth: tuple[str, str] | None) -> SipMessage:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[SipMessage] = loop.create_future()

        def on_response(response: SipMessage) -> None:
            if response.code >= 200 and not answer.done():
                answer.set_result(response)

        def on_timeout() -> None:
            if not answer.done():
                answer.set_exception(TimeoutError("no answer to REGISTER"))

        data, branch = self._request(expires, auth)
        txn = self._transactions.start(
            "REGISTER", branch, data, self._next_hop, on_response, on_timeout
        )
        try:
            return await answer
        finally:
            txn.terminate()

    async def register_once(self, expires: int) -> int:
        """One REGISTER (answering one digest challenge); the granted expiry in seconds."""
        self.attempts += 1
        digest, hop = self._digest, self._next_hop
        auth = digest.proactive(hop, "REGISTER", self._uri) if digest is not None else None
        response = await self._send(expires, auth)
        answered = False  # did the last REGISTER answer a challenge to this very attempt?
        for _ in range(MAX_AUTH_RETRIES):
            if response.code not in (401, 407) or digest is None:
                break
            challenge = digest.challenged(hop, "REGISTER", response)
            if challenge is None or (answered and not challenge.stale):
                break  # refused again on a fresh nonce: wrong credentials
            answered = True
            response = await self._send(expires, digest.answer(hop, "REGISTER", self._uri))
        if digest is not None and 200 <= response.code < 300:
            digest.accepted(hop, "REGISTER", response)
        minimum = response.header("Min-Expires") or ""
        if response.code == 423 and minimum.isdigit() and 0 < expires < int(minimum):
            self._expires = int(minimum)  # 423 Interval Too Brief: ask for what it allows
            return await self.register_once(self._expires)
        if not 200 <= response.code < 300:
            raise RegistrationError(response.code)
        contacts = response.values("Contact")
        granted = header_param(contacts[0], "expires") if contacts and expires else None
        if granted is None:
            granted = response.header("Expires")
        return int(granted) if granted and granted.strip().isdigit() else expires

    async def run(self) -> None:
        """Register, refresh at 80% of the granted time, retry with backoff on failure."""
        backoff = RETRY_FIRST
        while True:
            try:
                granted = await self.register_once(self._expires)
            except (TimeoutError, RegistrationError) as exc:
                if self.registered or self.attempts == 1:
                    event(log, "sip.register_failed", WARNING, error=str(exc))
                self.registered = False
                self.last_error = str(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            if not self.registered:
                event(log, "sip.registered", INFO, expires=granted)
            self.registered = True
            self.last_error = None
            backoff = RETRY_FIRST
            await asyncio.sleep(max(granted * 0.8, 1.0))

    async def unregister(self) -> None:
        if not self.registered:
            return
        self.registered = False
        try:
            await self.register_once(0)
        except (TimeoutError, RegistrationError) as exc:
            event(log, "sip.unregister_failed", INFO, error=str(exc))
