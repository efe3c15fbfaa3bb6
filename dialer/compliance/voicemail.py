"""The message a voicemail drop plays, checked against the profile before anything dials.

A campaign that leaves messages on machines declares what its recording says
(`campaigns[].amd.voicemail.message_text`). Under a profile with limited-content rules
(us_tsr_regf: Reg F 12 CFR 1006.2(j)) the text must contain every required element (the
consumer's name, a request to reply, a person's name to reply to, a number to call) and
nothing the profile forbids (anything about the debt). `limited_content_refusals` says
every way a text fails, one sentence each; the daemon refuses to start on any.
"""

from __future__ import annotations

import re

from dialer.compliance.profiles import ContentElement, Profile

__all__ = ["limited_content_refusals"]

# A placeholder the trunk fills in ({consumer_name}, {collector_name}, ...): its own words
# ("collector") are not what the message says.
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _found(element: ContentElement, text: str) -> str | None:
    """The first passage of `text` one of the element's patterns matches."""
    for pattern in element.patterns:
        match = re.search(pattern, text, re.IGNORECASE)
        if match is not None:
            return match.group(0)
    return None


def limited_content_refusals(profile: Profile, text: str | None) -> list[str]:
    """Why `text` is not a limited-content message under `profile` (empty: it is, or the
    profile has no such rules)."""
    rules = profile.voicemail.limited_content
    if rules is None:
        return []
    who = f"profile {profile.label}" + (f" ({rules.citation})" if rules.citation else "")
    if text is None or not text.strip():
        return [f"{who} requires the message's text, to check it is a limited-content message"]
    refusals = [
        f"it does not contain {element.element}, which {who} requires"
        for element in rules.required
        if _found(element, text) is None
    ]
    spoken = _PLACEHOLDER.sub(" ", text)
    for element in rules.forbidden:
        passage = _found(element, spoken)
        if passage is not None:
            refusals.append(f"it says {passage!r}: {element.element}, which {who} forbids")
    return refusals
