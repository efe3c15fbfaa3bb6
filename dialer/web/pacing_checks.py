"""What a manager is told about a pacing change before and after it is applied.

- Refused: a fixed ratio above the max lines per collector. The engine never puts more
  lines per collector in flight than that limit, so the ratio asked for would silently not
  be the ratio dialed.
- Warned: a fixed ratio whose calls, at the live-answer rate seen so far (every call, before
  there is evidence), would bring more answered calls than ready collectors: most of the
  extra ones would be abandoned, far above the abandon cap; and any change the abandon-cap
  guard accepts clamped (dialer.web.campaign_ops.cap_verdict). The change is applied
  anyway: the guard holds the cap whatever is set, and the warning says what it will do.
"""

from __future__ import annotations

from typing import Any

from dialer.web.context import Pacing, WebContext

MIN_EVIDENCE = 20  # resolved dials before the answer rate seen counts


def refusal(pacing: Pacing) -> str | None:
    """Why the pacing cannot be applied as asked (None: it can)."""
    lines = pacing.max_lines_per_collector
    if pacing.mode == "ratio" and pacing.ratio > lines + 1e-9:
        return (
            f"ratio {pacing.ratio:g} asks for {pacing.ratio:g} lines per ready collector, above "
            f"the max lines per collector ({lines:g}): the engine never dials more, so the "
            f"ratio would not be what you set. Choose a ratio of at most {lines:g}, or raise "
            "max lines per collector with it"
        )
    return None


def warnings(ctx: WebContext, name: str, pacing: Pacing, verdict: dict[str, Any]) -> list[str]:
    """Plain-language warnings about the pacing in force (empty: nothing to say)."""
    out: list[str] = []
    runner = ctx.runner(name)
    engine = runner.engine
    profile = ctx.dialer.profiles[name]
    cap = profile.abandonment.max_rate if profile.abandonment else pacing.target_abandon_rate
    if pacing.mode == "ratio" and pacing.ratio > 1.0:
        k = pacing.ratio
        counts = engine.counts()
        unresolved = counts.get("call_dialing", 0) + counts.get("call_ringing", 0)
        resolved = engine.stats.dials - unresolved
        seen = resolved >= MIN_EVIDENCE
        rate = engine.stats.live_answers / resolved if seen else 1.0
        answered = k * rate
        if answered > 1.0:
            basis = (
                f"with {rate:.0%} of calls answered live so far"
                if seen
                else "before any answer rate is known (at worst every call is answered)"
            )
            dropped = (answered - 1.0) / answered
            out.append(
                f"A fixed ratio of {k:g} dials {k:g} calls for every ready collector, whatever "
                f"happens. {basis.capitalize()}, that is about {answered:.1f} answered calls "
                f"per ready collector: up to {dropped:.0%} of answered calls would find nobody "
                f"and be abandoned, against an abandon cap of {cap:.1%}. The abandon-cap guard "
                "keeps the campaign under the cap by holding the ratio back (one call per "
                "ready collector while the budget is short), so you may not get the ratio you "
                "set; predictive pacing aims at the cap by itself."
            )
    if verdict.get("clamped"):
        out.append(f"Accepted clamped: {verdict.get('reason', '')}.")
    return out
