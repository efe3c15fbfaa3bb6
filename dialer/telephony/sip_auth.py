"""HTTP digest authentication for SIP (RFC 3261 22, RFC 7616): MD5 / SHA-256, qop=auth.

pyVoIP's `gen_authorization` always digests the URI `sip:<server>;transport=UDP` whatever
the request URI is, and ignores qop, so servers that check either reject it; this is ours.

`DigestCredentials` keeps the last challenge per (server, method) and answers it again on
the next request before being asked (RFC 3261 22.1's "SHOULD cache"; RFC 7616 3.4 nonce
reuse with the nonce count going up: 00000001, 00000002, ...), so a carrier that challenges
every INVITE costs one 407 round trip per nonce lifetime, not one per call. When the server
says the nonce is `stale=true` (or the proactive answer used an old nonce it no longer
takes), the request is retried once with the new one; an answer to a fresh challenge that
is refused again means wrong credentials, and is not retried.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace

from dialer.telephony.sip_message import SipMessage

_PARAM = re.compile(r'(\w+)\s*=\s*("([^"]*)"|[^,\s]+)')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


@dataclass(frozen=True, slots=True)
class Challenge:
    header: str  # "Authorization" (answering a 401) or "Proxy-Authorization" (a 407)
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: str | None = None
    opaque: str | None = None
    stale: bool = False  # the server still takes our credentials, only not this nonce


def _params(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(3) or m.group(2) for m in _PARAM.finditer(text)}


def parse_challenge(response: SipMessage) -> Challenge | None:
    """The digest challenge of a 401/407 we can answer, or None."""
    if response.code == 401:
        source, header = "WWW-Authenticate", "Authorization"
    elif response.code == 407:
        source, header = "Proxy-Authenticate", "Proxy-Authorization"
    else:
        return None
    for value in (v for k, v in response.header_list if k == source):
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "digest":
            continue
        params = _params(rest)
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm.removesuffix("-SESS") not in _HASHES or "nonce" not in params:
            continue
        qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
        if qops and "auth" not in qops:
            continue
        return Challenge(
            header=header,
            realm=params.get("realm", ""),
            nonce=params["nonce"],
            algorithm=algorithm,
            qop="auth" if qops else None,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
        )
    return None


def authorization(
    challenge: Challenge, method: str, uri: str, username: str, password: str, nc: int = 1
) -> tuple[str, str]:
    """(header name, header value) answering `challenge` for one request."""
    base = challenge.algorithm.removesuffix("-SESS")
    hasher = _HASHES[base]

    def h(text: str) -> str:
        return hasher(text.encode("utf-8")).hexdigest()

    cnonce = secrets.token_hex(8)
    ha1 = h(f"{username}:{challenge.realm}:{password}")
    if challenge.algorithm.endswith("-SESS"):
        ha1 = h(f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    nc_text = f"{nc:08x}"
    if challenge.qop:
        response = h(f"{ha1}:{challenge.nonce}:{nc_text}:{cnonce}:{challenge.qop}:{ha2}")
    else:
        response = h(f"{ha1}:{challenge.nonce}:{ha2}")
    parts = [
        f'username="{username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
        f'response="{response}"',
        f"algorithm={challenge.algorithm}",
    ]
    if challenge.qop:
        parts += [f"qop={challenge.qop}", f"nc={nc_text}", f'cnonce="{cnonce}"']
    if challenge.opaque is not None:
        parts.append(f'opaque="{challenge.opaque}"')
    return challenge.header, "Digest " + ", ".join(parts)


Address = tuple[str, int]


@dataclass(slots=True)
class _Cached:
    challenge: Challenge
    nc: int = 0  # nonce count: how many requests this nonce has answered


class DigestCredentials:
    """Our username and password, and the last challenge each server gave each method."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self._password = password
        self._cache: dict[tuple[Address, str], _Cached] = {}

    def __repr__(self) -> str:  # never the password
        return f"DigestCredentials(username={self.username!r})"

    def proactive(self, server: Address, method: str, uri: str) -> tuple[str, str] | None:
        """Credentials for a request not yet challenged, from the cached challenge (if any)."""
        cached = self._cache.get((server, method))
        if cached is None:
            return None
        cached.nc += 1
        return authorization(
            cached.challenge, method, uri, self.username, self._password, cached.nc
        )

    def challenged(self, server: Address, method: str, response: SipMessage) -> Challenge | None:
        """Remember the challenge of a 401/407 (its nonce counts from 1 again)."""
        challenge = parse_challenge(response)
        if challenge is not None:
            self._cache[(server, method)] = _Cached(challenge)
        return challenge

    def answer(self, server: Address, method: str, uri: str) -> tuple[str, str]:
        """Credentials answering the challenge `challenged` just stored."""
        header = self.proactive(server, method, uri)
        if header is None:
            raise KeyError(f"no challenge from {server} for {method}")
        return header

    def accepted(self, server: Address, method: str, response: SipMessage) -> None:
        """A 2xx: follow its Authentication-Info nextnonce, if it gives one (RFC 2617 3.2.3)."""
        cached = self._cache.get((server, method))
        info = response.header("Authentication-Info")
        if cached is None or info is None:
            return
        nextnonce = _params(info).get("nextnonce")
        if nextnonce:
            self._cache[(server, method)] = _Cached(replace(cached.challenge, nonce=nextnonce))

    def forget(self, server: Address, method: str) -> None:
        self._cache.pop((server, method), None)
