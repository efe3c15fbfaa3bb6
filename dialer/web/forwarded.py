"""Which address a request comes from, when reverse proxies stand in front of the daemon.

`X-Forwarded-For` and `X-Forwarded-Proto` are believed only when the connection itself comes
from one of `web.trusted_proxies` (addresses or networks; empty, the default: from nobody).
The client is then the right-most address of X-Forwarded-For that is not itself a trusted
proxy: everything to its left was written by the client and may be anything. Without a
trusted peer the headers are ignored, so rotating them cannot make one client look like
many (the login throttle counts per client address) or reach an allow-list.

uvicorn's own proxy-header handling is switched off (it trusts 127.0.0.1 by default); this
middleware is the only place the headers are read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> Address | None:
    """An address as a proxy writes it: bare, IPv4 with a port, or bracketed IPv6."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, networks: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(net, strict=False) for net in networks
        )

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in net for net in self.networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The client's address for a request from `peer` carrying `forwarded_for`."""
        if not self.trusts(parse_address(peer)):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            address = parse_address(hop)
            if address is None:  # garbage: keep the last address a trusted hop vouched for
                break
            client = str(address)
            if not self.trusts(address):
                break
        return client


class ForwardedHeaders:
    """ASGI middleware: the request's client (and scheme) as the trusted proxies say."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.proxies = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and self.proxies.networks and client:
            peer = str(client[0])
            if self.proxies.trusts(parse_address(peer)):
                scope = dict(scope)
                forwarded: list[str] = []
                proto: str | None = None
                for name, value in scope.get("headers", ()):
                    if name == b"x-forwarded-for":
                        forwarded.append(value.decode("latin-1"))
                    elif name == b"x-forwarded-proto":
                        proto = value.decode("latin-1").strip().lower()
                if forwarded:
                    scope["client"] = (self.proxies.client(peer, ",".join(forwarded)), 0)
                if proto in ("http", "https") and scope["type"] == "http":
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
