"""RFC 3261 17.1 client transactions over UDP, on event-loop timers.

INVITE: retransmit on timer A (T1, doubling) until a response or timer B (64*T1); a
non-2xx final is ACKed by the transaction (same branch, 17.1.1.3) and the ACK is resent
for every retransmission of that final until timer D. Non-INVITE (BYE, CANCEL, REGISTER):
timer E (T1 doubling, capped at T2; T2 once a provisional came) until timer F (64*T1).

pyVoIP has none of this: its `invite()` sends once and blocks on the socket for the first
response, so a lost response hangs the caller forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dialer.telephony.sip_message import SipMessage

Address = tuple[str, int]
Send = Callable[[bytes, Address], None]
T2 = 4.0


class ClientTransaction:
    def __init__(
        self,
        layer: TransactionLayer,
        method: str,
        branch: str,
        data: bytes,
        dest: Address,
        on_response: Callable[[SipMessage], None],
        on_timeout: Callable[[], None],
    ) -> None:
        self.layer = layer
        self.method = method
        self.branch = branch
        self.data = data
        self.dest = dest
        self.on_response = on_response
        self.on_timeout = on_timeout
        self.retransmissions = 0
        self.final: int | None = None
        self._ack: bytes | None = None
        self._interval = layer.t1
        self._retransmit: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.branch, self.method

    def start(self) -> None:
        loop = self.layer.loop
        self.layer.send(self.data, self.dest)
        self._retransmit = loop.call_later(self._interval, self._on_retransmit)
        self._deadline = loop.call_later(64 * self.layer.t1, self._on_deadline)

    def _on_retransmit(self) -> None:
        self.retransmissions += 1
        self.layer.send(self.data, self.dest)
        self._interval = self._interval * 2
        if self.method != "INVITE":
            self._interval = min(self._interval, T2)
        self._retransmit = self.layer.loop.call_later(self._interval, self._on_retransmit)

    def _on_deadline(self) -> None:
        self._deadline = None
        self.terminate()
        if self.final is None:
            self.on_timeout()

    def _stop_retransmit(self) -> None:
        if self._retransmit is not None:
            self._retransmit.cancel()
            self._retransmit = None

    def receive(self, response: SipMessage) -> None:
        code = response.code
        if self.final is not None:
            # a retransmitted final: re-ACK a non-2xx INVITE final, otherwise absorb it
            if self._ack is not None and code == self.final:
                self.layer.send(self._ack, self.dest)
            return
        if code < 200:
            if self.method == "INVITE":
                self._stop_retransmit()
                if self._deadline is not None:  # proceeding: the TU's guard takes over
                    self._deadline.cancel()
                    self._deadline = None
            elif self._retransmit is not None:
                self._retransmit.cancel()
                self._interval = T2
                self._retransmit = self.layer.loop.call_later(T2, self._on_retransmit)
            self.on_response(response)
            return
        self.final = code
        self._stop_retransmit()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self.method == "INVITE" and code >= 300:
            # completed: keep matching retransmitted finals until timer D
            self._deadline = self.layer.loop.call_later(64 * self.layer.t1, self.terminate)
        else:
            self.terminate()
        self.on_response(response)

    def ack(self, data: bytes) -> None:
        """Send (and remember, for retransmitted finals) the ACK of a non-2xx final."""
        self._ack = data
        self.layer.send(data, self.dest)

    def terminate(self) -> None:
        self._stop_retransmit()
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.layer.forget(self)


class TransactionLayer:
    """Owns the client transactions and matches responses to them (branch + CSeq method)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, t1: float) -> None:
        self.loop = loop
        self.send = send
        self.t1 = t1
        self._transactions: dict[tuple[str, str], ClientTransaction] = {}

    def start(
        self,
        method: str,
        branch: str,
        data: bytes,
        dest: Address,
        on_response: Callable[[SipMessage], None] | None = None,
        on_timeout: Callable[[], None] | None = None,
    ) -> ClientTransaction:
        txn = ClientTransaction(
            self,
            method,
            branch,
            data,
            dest,
            on_response or (lambda _response: None),
            on_timeout or (lambda: None),
        )
        self._transactions[txn.key] = txn
        txn.start()
        return txn

    def match(self, response: SipMessage) -> ClientTransaction | None:
        branch = response.top_branch
        if branch is None:
            return None
        return self._transactions.get((branch, response.cseq[1]))

    def forget(self, txn: ClientTransaction) -> None:
        if self._transactions.get(txn.key) is txn:
            del self._transactions[txn.key]

    def pending(self, method: str | None = None) -> int:
        return sum(
            1
            for t in self._transactions.values()
            if t.final is None and (method is None or t.method == method)
        )

    def close(self) -> None:
        for txn in list(self._transactions.values()):
            txn.terminate()
