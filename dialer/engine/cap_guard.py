"""The abandon-cap guard: the compliance profile's cap held whatever the pacer.

The predictive pacer spends an abandonment budget; the rule-based pacers (ratio, adaptive)
know nothing of it, and a manager can switch to any of them at run time. So the cap is
enforced once more, outside every pacer: after the pacer's decision the engine asks
`AbandonCapGuard.review`, which may lower the launch, never raise it.

**What counts.** A ledger of live answers and abandons over the profile's window (30 days
rolling under US TSR, 24 h under UK Ofcom; since the start when no window is given, as in
a simulated shift), kept from the engine's own counters on every pacing step (`observe`)
and synced with the store's totals by the daemon (`sync`), so several daemons sharing a
campaign see one budget. The store counts a call when it ends, so the engine's calls still
up (a live answer being talked to, an abandon hearing the safe-harbor message) are added to
the store's totals at a sync: nothing the engine has seen is forgotten by it.

**AMD false positives.** Under a profile that counts them (UK Ofcom), a person AMD took
for a machine was hung up on: an abandoned call that no counter of ours can see. The
ledger then adds an estimate, ``machine_false_positive_rate`` x the machine verdicts in the
window, to both the abandons and the live answers (dialer.pacing.budget), so the headroom
below is what is left after them.

**The rule.** Calls in flight up to the ready collectors (what progressive keeps) are
always allowed: each has a collector waiting for it. Preview calls, each dialed for a
reserved collector, can never be abandoned and pass untouched. Any call beyond those, an
*exposed* call, is allowed only while the budget could absorb the plausible worst case of
every exposed call in flight once the launch is made:

* the worst case on the collectors' side: no busy collector frees in time, so every live
  answer among the exposed calls is abandoned, and answered calls already waiting beyond
  the ready collectors are abandoned for sure. The guard has no model of talk times on
  purpose: it must hold when the pacer's model is wrong or absent;
* the answer side is measured, not assumed: the live answers among r exposed ringing calls
  are at most r p + z sqrt(r p (1 - p)) (z = 2 standard deviations), with p the upper
  Wilson bound (z = 2) of this run's live-answer rate: 1 before any evidence (every exposed
  call is assumed to answer), the measured rate once it is known;
* the budget: k more abandons, each with its live answer, keep the window under the cap
  while D + k <= cap (L + k), i.e. k <= (cap L - D) / (1 - cap), the *headroom*.

So the guard lets exposed calls be in flight only as many as that bound allows; when the
headroom covers none (a spent budget: abandons left <= 0, or too few for one more call) it
clamps the launch to what progressive would place (calls in flight = ready collectors).
Why not "abandons left > 0": a ratio-10 dialer with one abandon left launches 10 calls per
ready collector at once and drops a dozen before the ledger shows the first; the guard
must count what is already on its way. Why not the full worst case (every exposed call
answers): that is the rule before any evidence, but once the answer rate is known it would
bind the predictive pacer, which dials ahead of collectors freeing up, far from its budget.
Either way, each clamped decision is recorded with a plain reason, and `status` says
whether the guard is clamping, how much budget is left and why.

Pure and sans-I/O like the engine: the time and the counts are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dialer.pacing.base import PacingDecision, PacingInputs
from dialer.pacing.budget import AbandonLedger

__all__ = [
    "AbandonCapGuard",
    "EngineTally",
    "GuardStatus",
    "answer_rate_bound",
    "max_exposed",
    "window_words",
]

Z = 2.0  # standard deviations: of the answer rate's estimate and of the answer count


class EngineTally(Protocol):
    """The engine's counters the guard reads (`dialer.engine.EngineStats` has them)."""

    @property
    def dials(self) -> int: ...

    @property
    def live_answers(self) -> int: ...

    @property
    def abandoned(self) -> int: ...

    @property
    def machine_verdicts(self) -> int:
        """Answers AMD called machine."""
        ...

    @property
    def outcomes(self) -> Mapping[str, int]:
        """Finished calls by outcome value (completed, abandoned, ...)."""
        ...


def answer_rate_bound(live: int, resolved: int, z: float = Z) -> float:
    """Upper Wilson bound of the live-answer rate from `live` of `resolved` dials; 1.0 with
    no evidence."""
    if resolved <= 0:
        return 1.0
    n = float(resolved)
    p = min(1.0, max(0.0, live / n))
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return min(1.0, centre + half)


def _plausible_answers(r: int, p: float, z: float) -> float:
    return r * p + z * math.sqrt(r * p * (1.0 - p))


def max_exposed(headroom: float, p: float, z: float = Z) -> int:
    """The most exposed ringing calls r whose plausible live answers, r p + z sqrt(r p (1-p)),
    stay within `headroom` abandons (0 when the headroom is negative or covers none)."""
    if headroom <= 0:
        return 0
    p = min(1.0, max(p, 1e-6))
    s = math.sqrt(p * (1.0 - p))
    x = (-z * s + math.sqrt(z * z * s * s + 4.0 * p * headroom)) / (2.0 * p)
    r = max(0, math.floor(x * x))
    while r > 0 and _plausible_answers(r, p, z) > headroom + 1e-9:
        r -= 1
    while _plausible_answers(r + 1, p, z) <= headroom + 1e-9:
        r += 1
    return r


def window_words(seconds: float | None) -> str:
    """A ledger window in words: "30 days", "24 hours", "since the start"."""
    if seconds is None:
        return "since the start"
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours"
    return f"{seconds:g} s"


@dataclass(frozen=True, slots=True)
class GuardStatus:
    """The guard's state for the manager's page and the API."""

    cap: float
    window_seconds: float | None
    live_answers: int
    abandons: int
    abandons_left: float  # cap x live answers - abandons (may be negative), both with fps
    false_positives: float  # estimated AMD false positives counted in the window
    exposed_allowed: int  # exposed calls the budget covers at the last review
    clamping: bool  # the latest decision that wanted calls was cut
    clamps: int  # decisions cut so far
    reason: str  # why it clamped last ("" before any clamp)
    sentence: str  # one plain sentence for the page

    def as_dict(self) -> dict[str, Any]:
        return {
            "cap": self.cap,
            "window_seconds": self.window_seconds,
            "live_answers": self.live_answers,
            "abandons": self.abandons,
            "abandons_left": self.abandons_left,
            "false_positives": self.false_positives,
            "exposed_allowed": self.exposed_allowed,
            "clamping": self.clamping,
            "clamps": self.clamps,
            "reason": self.reason,
            "sentence": self.sentence,
        }


class AbandonCapGuard:
    """Holds the abandon cap over the window whatever the pacer (module docstring);
    ``machine_false_positive_rate``: the share of machine verdicts counted as abandoned
    live answers (0: the profile counts none, or AMD is off)."""

    def __init__(
        self,
        cap: float,
        window_seconds: float | None = None,
        z: float = Z,
        machine_false_positive_rate: float = 0.0,
    ) -> None:
        self.cap = cap
        self.window_seconds = window_seconds
        self.z = z
        self.ledger = AbandonLedger(window_seconds, machine_false_positive_rate)
        self._seen_live = 0
        self._seen_drops = 0
        self._seen_machines = 0
        self.clamps = 0
        self.clamping = False
        self.reason = ""
        self.exposed_allowed = 0

    @property
    def cap(self) -> float:
        return self._cap

    @cap.setter
    def cap(self, value: float) -> None:
        cap = float(value)
        if not 0.0 < cap < 1.0:
            raise ValueError(f"abandon cap must be in (0, 1), got {value!r}")
        self._cap = cap

    # ----- the ledger -----------------------------------------------------------------------

    def observe(self, tally: EngineTally, now: float) -> None:
        """Count the live answers and abandons the engine saw since the last call."""
        for _ in range(tally.live_answers - self._seen_live):
            self.ledger.record_live(now)
        for _ in range(tally.abandoned - self._seen_drops):
            self.ledger.record_drop(now)
        for _ in range(tally.machine_verdicts - self._seen_machines):
            self.ledger.record_machine(now)
        self._seen_live, self._seen_drops = tally.live_answers, tally.abandoned
        self._seen_machines = tally.machine_verdicts

    def sync(
        self,
        live: int,
        drops: int,
        now: float,
        tally: EngineTally,
        machines: int | None = None,
    ) -> None:
        """The store's window totals (every daemon's finished calls), plus this engine's
        calls still up, which the store counts only when they end; ``machines``: the store's
        machine answers in the window (None: keep this engine's own verdicts)."""
        self.observe(tally, now)
        finished_drops = tally.outcomes.get("abandoned", 0)
        finished_live = tally.outcomes.get("completed", 0) + finished_drops
        open_live = max(0, tally.live_answers - finished_live)
        open_drops = max(0, tally.abandoned - finished_drops)
        if machines is not None:  # a drop still playing is a verdict the store lacks
            finished = tally.outcomes.get("machine", 0)
            finished += tally.outcomes.get("machine_message_left", 0)
            machines += max(0, tally.machine_verdicts - finished)
        self.ledger.sync(live + open_live, drops + open_drops, now, machines)

    def totals(self, now: float) -> tuple[int, int]:
        """(live answers, abandons) in the window ending now."""
        return self.ledger.totals(now)

    def abandons_left(self, now: float) -> float:
        """cap x live answers - abandons, the estimated AMD false positives in both."""
        live, drops = self.ledger.counted(now)
        return self.cap * live - drops

    def headroom(self, now: float) -> float:
        """Abandons (each with its live answer) the window can still take under the cap."""
        return self.abandons_left(now) / (1.0 - self.cap)

    def covers(self, tally: EngineTally, unresolved: int, now: float) -> int:
        """Exposed ringing calls the budget covers now, with no answered call waiting
        (`unresolved`: the engine's calls dialing or ringing, not yet evidence)."""
        p = answer_rate_bound(tally.live_answers, tally.dials - unresolved, self.z)
        return max_exposed(self.headroom(now), p, self.z)

    # ----- the rule -------------------------------------------------------------------------

    def review(
        self, inputs: PacingInputs, decision: PacingDecision, wanted: int, tally: EngineTally
    ) -> PacingDecision:
        """The decision to carry out: `decision` itself when `wanted` calls (the pacer's
        launch within the line limit) keep the cap, else a copy that launches fewer, with
        the guard's reason."""
        if wanted <= 0 or decision.reserve_collector:
            return decision  # nothing to launch, or each call has its collector reserved
        progressive = max(0, inputs.ready - inputs.in_flight)
        if wanted <= progressive:
            self.clamping = False
            return decision
        now = inputs.now
        # Answered calls waiting beyond the ready collectors: abandons unless someone frees.
        waiting_over = max(0, inputs.waiting - inputs.ready)
        free_for_ringing = max(0, inputs.ready - inputs.waiting)
        resolved = tally.dials - inputs.dialing - inputs.ringing
        p = answer_rate_bound(tally.live_answers, resolved, self.z)
        headroom = self.headroom(now)
        exposed = max_exposed(headroom - waiting_over, p, self.z)
        self.exposed_allowed = exposed
        # Exposed ringing calls after launching n: dialing + ringing + n - free_for_ringing.
        covered = exposed - inputs.dialing - inputs.ringing + free_for_ringing
        allowed = min(wanted, max(progressive, covered))
        if allowed >= wanted:
            self.clamping = False
            return decision
        self.clamps += 1
        self.clamping = True
        self.reason = self._reason(now, allowed, wanted, progressive, exposed)
        detail = dict(decision.detail)
        detail["cap_guard"] = {
            "pacer_launch": wanted,
            "pacer_reason": decision.reason,
            "abandons_left": self.abandons_left(now),
            "exposed_allowed": exposed,
            "answer_rate_bound": p,
        }
        return PacingDecision(allowed, f"cap guard: {self.reason}", False, detail)

    def _reason(self, now: float, allowed: int, wanted: int, progressive: int, exposed: int) -> str:
        live, _ = self.totals(now)
        left = self.abandons_left(now)
        fps = self.ledger.false_positives(now)
        counted_live, counted_drops = self.ledger.counted(now)
        used = f"{counted_drops / counted_live:.1%}" if counted_live else "no live answers yet"
        terms = (
            f"{used} of {live} live answers abandoned over {window_words(self.window_seconds)}, "
            f"cap {self.cap:.1%}"
        )
        if fps:
            terms += f", counting {fps:.1f} estimated AMD false positives"
        if allowed <= progressive:
            what = "abandon budget spent" if left <= 0 else f"abandon budget low ({left:.1f} left)"
            return f"{what}: {terms}; dialing one call per ready collector"
        return (
            f"abandon budget ({left:.1f} left; {terms}) covers {exposed} calls beyond the "
            f"ready collectors: launching {allowed} of the {wanted} the pacer asked for"
        )

    def status(self, now: float) -> GuardStatus:
        live, drops = self.totals(now)
        left = self.abandons_left(now)
        if self.clamping:
            sentence = f"The abandon-cap guard is limiting dialing: {self.reason}."
        else:
            sentence = (
                f"The abandon-cap guard is watching: {max(left, 0.0):.1f} abandons left "
                f"under the {self.cap:.1%} cap over {window_words(self.window_seconds)}; "
                "the pacer is not limited."
            )
        return GuardStatus(
            self.cap,
            self.window_seconds,
            live,
            drops,
            left,
            self.ledger.false_positives(now),
            self.exposed_allowed,
            self.clamping,
            self.clamps,
            self.reason,
            sentence,
        )
