"""A pacing decision in plain words for the manager's page.

The pacers give their reasons in their own terms ("ceil(2 x ready) - in flight", "each
drop risk under lambda 0.0187"); the page shows a sentence a manager reads at a glance,
and keeps the pacer's words and its record one click away. Works on the decision as
`campaign_ops.decisions` returns it; an unknown reason is shown as it is.
"""

from __future__ import annotations

import math
import re
from typing import Any

CAP_GUARD = "cap guard: "
_RATIO = re.compile(r"^ceil\(([\d.]+) x ready\) - in flight$")
_ADAPTIVE = re.compile(r"^round\(L=([\d.]+) x \(ready \+ on call\)\) - lines in use$")
_LAUNCH = re.compile(r"^(\d+) call\(s\): each drop risk under lambda ([\d.eE+-]+)")
_HOLD = re.compile(r"^first new call's drop risk ([\d.eE+-]+) >= lambda ([\d.eE+-]+)")
FIXED = {
    "no collector available": "No collector is ready or about to be free: no new call.",
    "unchanged since the last decision": "Nothing changed since the last decision: no new call.",
    "at the line limit": "At the line limit (max lines per collector): no new call.",
    "no line free under the line limit": (
        "At the line limit (max lines per collector): no new call."
    ),
}


def calls(n: int) -> str:
    return "no new call" if n == 0 else f"{n} new call" + ("" if n == 1 else "s")


def collectors(n: int) -> str:
    return f"{n} collector" + ("" if n == 1 else "s")


def percent(x: float) -> str:
    return f"{x:.2%}" if x < 0.001 else f"{x:.1%}"


def plain_reason(d: dict[str, Any]) -> str:
    """One sentence for a decision (`reason`, `launch`, `launched`, `inputs`)."""
    reason = str(d.get("reason", ""))
    launch = int(d.get("launch", 0))
    sentence = _sentence(reason, launch, d.get("inputs") or {})
    launched = d.get("launched")
    if isinstance(launched, int) and launched < launch:
        sentence += f" Only {launched} could be placed (not enough callable cases)."
    detail = d.get("detail")
    inbound = detail.get("inbound") if isinstance(detail, dict) else None
    if isinstance(inbound, dict):
        sentence += _return_calls(inbound)
    return sentence


def _return_calls(inbound: dict[str, Any]) -> str:
    """A blended campaign's hold for return calls, as the decision record has it."""
    reserved = int(inbound.get("reserved") or 0)
    queued = int(inbound.get("queued") or 0)
    planned = float(inbound.get("callers_planned_per_hour") or 0.0)
    words = f" Return calls: {collectors(reserved)} kept free"
    if queued:
        words += f", {queued} caller{'' if queued == 1 else 's'} waiting"
    if planned > 0:
        words += (
            f"; about {planned:.0f} calls an hour expected, planned as taking collectors "
            "as they come free"
        )
    return words + "."


def _sentence(reason: str, launch: int, inputs: dict[str, Any]) -> str:
    ready = int(inputs.get("ready", 0))
    in_flight = int(inputs.get("in_flight", 0))
    on_call = int(inputs.get("on_call", 0))
    n = calls(launch)
    if reason.startswith(CAP_GUARD):
        why = reason[len(CAP_GUARD) :]
        return f"The abandon-cap guard held dialing back to {n}: {why}."
    if reason in FIXED:
        return FIXED[reason]
    if reason == "one reserved call per ready collector":
        return f"Preview: {n}, each dialed for a ready collector who waits for it."
    if reason == "ready - in flight":
        return (
            f"One call per ready collector: {ready} ready, {in_flight} already dialing or "
            f"ringing, so {n}."
        )
    if reason == "learning: progressive until enough calls seen":
        return (
            "Still learning how often calls are answered and how long talks last: one call "
            f"per ready collector for now, so {n}."
        )
    if reason == "abandon budget spent: progressive until it recovers":
        return (
            f"The abandon budget is spent: one call per ready collector until it recovers, so {n}."
        )
    if m := _RATIO.match(reason):
        k = float(m.group(1))
        target = math.ceil(k * ready - 1e-9)
        return (
            f"Fixed ratio {k:g}: {target} calls for {collectors(ready)} ready, {in_flight} "
            f"already dialing or ringing, so {n}."
        )
    if m := _ADAPTIVE.match(reason):
        return (
            f"Adaptive dial level {float(m.group(1)):.2f} for {collectors(ready + on_call)} "
            f"ready or talking, so {n}."
        )
    if m := _LAUNCH.match(reason):
        sentence = (
            f"{n.capitalize()}: each has less than a {percent(float(m.group(2)))} chance of "
            "being answered with no collector free to take it"
        )
        if "fractionally" in reason:
            sentence += " (the last one by a weighted coin toss)"
        return sentence + (
            " — still learning, with cautious estimates." if "learning" in reason else "."
        )
    if m := _HOLD.match(reason):
        return (
            f"No new call: one more would have a {percent(float(m.group(1)))} chance of being "
            f"answered with no collector free, above the {percent(float(m.group(2)))} allowed now."
        )
    return reason
