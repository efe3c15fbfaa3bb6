"""HTTP digest authentication for SIP (RFC 3261 22, RFC 7616): MD5 / SHA-256, qop=auth.

pyVoIP's `gen_authorization` always digests the URI `sip:<server>;transport=UDP` whatever
the request URI is, and ignores qop, so servers that check either reject it; this is ours.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

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
        params = {m.group(1).lower(): m.group(3) or m.group(2) for m in _PARAM.finditer(rest)}
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
