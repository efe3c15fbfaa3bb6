"""SIP messages: pyVoIP's parser with the fixes we need, plus small builders and id makers.

`SipMessage` subclasses `pyVoIP.SIP.SIPMessage` so that its header parsers (Via, CSeq,
From/To, authentication) and its SDP body parser keep doing the work, while the start line,
header splitting and body framing are done here, because pyVoIP's versions fail on:
compact or lower-case header names (`i:`, `call-id:`), `Name:value` without a space, a body
containing a blank line, status codes missing from its `SIPStatus` enum (e.g. 181, 199),
repeated headers (it keeps only the first Record-Route), and `tel:` URIs in From/To.

Ids: Call-IDs are a random uuid4 plus our host, so they never repeat across processes or
restarts (pyVoIP hashes a per-process counter, so two processes produce the same ids).
"""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Iterable

with warnings.catch_warnings():  # pyVoIP.RTP imports audioop (deprecated); we never use it
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyVoIP.VoIP  # noqa: F401  # first: importing pyVoIP.SIP alone is a circular import
    from pyVoIP.SIP import SIPMessage, SIPMessageType, SIPParseError, SIPStatus

SIP_VERSION = "SIP/2.0"
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
__all__ = ["SIPParseError", "SipMessage"]

_COMPACT = {
    "i": "Call-ID",
    "f": "From",
    "t": "To",
    "v": "Via",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        "Call-ID",
        "CSeq",
        "Via",
        "From",
        "To",
        "Contact",
        "Content-Type",
        "Content-Length",
        "Content-Encoding",
        "Record-Route",
        "Route",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Authorization",
        "Proxy-Authorization",
        "Expires",
        "Max-Forwards",
        "User-Agent",
        "Allow",
        "Supported",
        "Reason",
        "Authentication-Info",
        "P-Asserted-Identity",
        "Remote-Party-ID",
    )
}
_MULTI_VALUED = frozenset({"Via", "Record-Route", "Route", "Contact"})


def canonical_header(name: str) -> str:
    name = name.strip()
    if len(name) == 1:
        return _COMPACT.get(name.lower(), name)
    return _CANONICAL.get(name.lower(), "-".join(p.capitalize() for p in name.split("-")))


def split_values(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside quotes and <...>."""
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def header_param(value: str, name: str) -> str | None:
    """A `;name=value` header parameter (outside the <uri>), or None."""
    tail = value.rsplit(">", 1)[1] if ">" in value else value
    for part in tail.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip()
    return None


def uri_of(name_addr: str) -> str:
    """The URI inside `"Name" <sip:u@h;p>;tag=x` or a bare `sip:u@h;tag=x`."""
    if "<" in name_addr:
        return name_addr.split("<", 1)[1].split(">", 1)[0].strip()
    return name_addr.split(";", 1)[0].strip()


def uri_host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """(host, port) of a sip: URI (user part, parameters and headers dropped)."""
    rest = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    rest = rest.split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = rest.partition(":")
    return host, int(port) if port.isdigit() else default_port


def new_call_id(host: str) -> str:
    return f"{uuid.uuid4().hex}@{host}"


def new_tag() -> str:
    return uuid.uuid4().hex[:16]


def new_branch() -> str:
    return "z9hG4bK" + uuid.uuid4().hex


def reason_phrase(code: int) -> str:
    try:
        return str(SIPStatus(code).phrase)
    except ValueError:
        return {1: "Progress", 2: "OK", 3: "Redirect", 4: "Client Error", 5: "Server Error"}.get(
            code // 100, "Failure"
        )


class SipMessage(SIPMessage):
    """One parsed SIP request or response (see the module docstring for what is fixed)."""

    def __init__(self, data: bytes) -> None:
        self.code = 0
        self.reason = ""
        self.method = ""
        self.request_uri = ""
        self.header_list: list[tuple[str, str]] = []
        self.body_bytes = b""
        self.sdp_error = False
        super().__init__(data)

    # -- parsing ---------------------------------------------------------------------------
    def parse(self, data: bytes) -> None:
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        start = lines[0].split(" ", 2)
        self.heading = lines[0].encode("utf-8")
        if start[0] == SIP_VERSION and len(start) >= 2 and start[1].isdigit():
            self.type = SIPMessageType.RESPONSE
            self.version = SIP_VERSION
            self.code = int(start[1])
            self.reason = start[2] if len(start) > 2 else ""
            with contextlib.suppress(ValueError):  # not in pyVoIP's enum: `code` rules
                self.status = SIPStatus(self.code)
        elif len(start) == 3 and start[2] == SIP_VERSION and start[0].isupper():
            self.type = SIPMessageType.MESSAGE
            self.version = SIP_VERSION
            self.method = start[0]
            self.request_uri = start[1]
        else:
            raise SIPParseError(f"not a SIP/2.0 message: {lines[0][:40]!r}")
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.header_list:
                name, value = self.header_list[-1]
                self.header_list[-1] = (name, f"{value} {line.strip()}")
                continue
            name, sep, value = line.partition(":")
            if sep:
                self.header_list.append((canonical_header(name), value.strip()))
        for name in ("Call-ID", "CSeq", "From", "To"):
            if self.header(name) is None:
                raise SIPParseError(f"missing {name} header")
        self._feed_pyvoip_headers()
        length = self.header("Content-Length")
        if length is not None and length.strip().isdigit():
            body = body[: int(length)]
        self.body_bytes = body
        ctype = (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if body and ctype == "application/sdp":
            self.headers["Content-Type"] = "application/sdp"
            try:
                self.parse_raw_body(body, self.parse_body)
            except Exception:
                self.body = {}
                self.sdp_error = True

    def _feed_pyvoip_headers(self) -> None:
        self.headers["Via"] = []
        vias = self.values("Via")
        try:
            self.parse_header("Via", vias)  # type: ignore[arg-type]  # it iterates a list
        except Exception:
            self.headers["Via"] = []
        seen: set[str] = set()
        for name, value in self.header_list:
            if name in seen or name == "Via":
                continue
            seen.add(name)
            try:
                self.parse_header(name, value)
            except Exception:
                self.headers[name] = value

    # -- access ----------------------------------------------------------------------------
    @property
    def is_response(self) -> bool:
        return bool(self.type == SIPMessageType.RESPONSE)

    def header(self, name: str) -> str | None:
        for key, value in self.header_list:
            if key == name:
                return value
        return None

    def values(self, name: str) -> list[str]:
        """Every value of a header, comma-separated values split for list headers."""
        out: list[str] = []
        for key, value in self.header_list:
            if key == name:
                out.extend(split_values(value) if name in _MULTI_VALUED else [value])
        return out

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.header("CSeq") or "").partition(" ")
        return (int(number) if number.isdigit() else 0), method.strip().upper()

    @property
    def from_tag(self) -> str | None:
        return header_param(self.header("From") or "", "tag")

    @property
    def to_tag(self) -> str | None:
        return header_param(self.header("To") or "", "tag")

    @property
    def top_branch(self) -> str | None:
        vias = self.values("Via")
        return header_param(vias[0], "branch") if vias else None

    @property
    def contact_uri(self) -> str | None:
        contacts = self.values("Contact")
        return uri_of(contacts[0]) if contacts else None


def build_message(start_line: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [start_line]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def build_response(
    request: SipMessage,
    code: int,
    *,
    to_tag: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    user_agent: str = "dialer",
) -> bytes:
    """A response to `request`: Via/From/Call-ID/CSeq copied; our To-tag added if missing."""
    headers = [("Via", via) for via in request.values("Via")]
    to = request.header("To") or ""
    if to_tag and header_param(to, "tag") is None:
        to = f"{to};tag={to_tag}"
    headers += [
        ("From", request.header("From") or ""),
        ("To", to),
        ("Call-ID", request.call_id),
        ("CSeq", request.header("CSeq") or ""),
        ("Server", user_agent),
    ]
    headers.extend(extra)
    return build_message(f"{SIP_VERSION} {code} {reason_phrase(code)}", headers, body)
