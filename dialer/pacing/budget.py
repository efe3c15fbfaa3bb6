"""The abandonment budget: the ledger per campaign and the controller that spends it.

:class:`AbandonLedger` counts live answers and drops over the compliance window (30 days
rolling under US TSR, 24 hours under UK Ofcom, the shift in a simulation) in one-minute
buckets. A daemon that shares a campaign with others feeds it the store's totals with
:meth:`AbandonLedger.sync`; events seen locally after the sync are added on top.

Under a profile that counts answering-machine false positives as abandoned calls (UK
Ofcom: a person AMD took for a machine was hung up on), the ledger also counts machine
verdicts, and :meth:`AbandonLedger.counted` adds ``false_positive_rate`` x those verdicts
to both the drops and the live answers: each estimated false positive is a live answer
abandoned. A sync with the store's count of machine answers in the window replaces the
verdicts too; one without keeps this daemon's own.

:class:`ThresholdController` steers the predictive pacer's risk threshold lambda so the
window's abandon rate lands just under the target: the target less a noise margin of
``margin_sigmas`` standard deviations of the rate, sqrt(cap (1 - cap) / expected live
answers in the window). It is a PI controller on log lambda with a scheduled gain:

    log lambda = log(aim + S / R) - log(slope)

* the integral part, log slope, is the drops per live answer per unit of lambda, fitted
  (with a prior and exponential forgetting) to the drops seen against the lambda actually
  used: it learns the scenario's base level, follows drift, and cannot wind up, because a
  lambda held at a bound is the lambda its evidence is charged to, and the live answers of
  a progressive fallback (budget spent) are not charged to any;
* the proportional part spreads the budget surplus S = aim x live answers - drops (in
  drops) over R, the live answers still to come in the window (a shift) or in a recovery
  horizon (a rolling window), floored, and never more than the answers the headroom left
  before the budget is spent would last at the aim rate: early in a shift a few drops more
  or less barely move lambda (the hours to come absorb them, and reacting to each one
  swings lambda, which costs occupancy since occupancy is concave in it); near the end, or
  near the spent line, the same surplus moves it hard, so the shift lands under the cap.

When the budget is spent (one more drop would put the window over the cap, less a slack
that shrinks to nothing as a shift runs out) the pacer falls back to progressive until it
recovers.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["AbandonLedger", "BudgetState", "ThresholdController"]


class AbandonLedger:
    """Live answers and drops over a window of ``window_seconds`` (None: since the start);
    machine verdicts too, of which ``false_positive_rate`` are counted as abandoned live
    answers (module docstring)."""

    BUCKET = 60.0

    def __init__(
        self, window_seconds: float | None = None, false_positive_rate: float = 0.0
    ) -> None:
        if window_seconds is not None and not window_seconds > 0:
            raise ValueError(f"window_seconds must be > 0, got {window_seconds!r}")
        if not 0.0 <= false_positive_rate < 1.0:
            raise ValueError(f"false_positive_rate must be in [0, 1), got {false_positive_rate!r}")
        self.window_seconds = window_seconds
        self.false_positive_rate = float(false_positive_rate)
        self._buckets: deque[list[float]] = deque()  # [start, live, drops, machine verdicts]
        self._live = 0
        self._drops = 0
        self._machines = 0
        self._base_live = 0
        self._base_drops = 0
        self._base_machines = 0
        self.started: float | None = None

    def _bucket(self, now: float) -> list[float]:
        if self.started is None:
            self.started = now
        start = math.floor(now / self.BUCKET) * self.BUCKET
        if not self._buckets or self._buckets[-1][0] < start:
            self._buckets.append([start, 0.0, 0.0, 0.0])
        self._expire(now)
        return self._buckets[-1]

    def _expire(self, now: float) -> None:
        if self.window_seconds is None:
            return
        while self._buckets and self._buckets[0][0] + self.BUCKET <= now - self.window_seconds:
            _, live, drops, machines = self._buckets.popleft()
            self._live -= int(live)
            self._drops -= int(drops)
            self._machines -= int(machines)

    def record_live(self, now: float) -> None:
        self._bucket(now)[1] += 1
        self._live += 1

    def record_drop(self, now: float) -> None:
        self._bucket(now)[2] += 1
        self._drops += 1

    def record_machine(self, now: float) -> None:
        """AMD called an answer a machine (counted only as a possible false positive)."""
        self._bucket(now)[3] += 1
        self._machines += 1

    def sync(self, live: int, drops: int, now: float, machines: int | None = None) -> None:
        """Authoritative window totals from the store (every daemon's calls, this one's
        included up to ``now``): local counts restart from here. ``machines``: the store's
        machine answers in the window; None keeps this ledger's own verdicts."""
        if live < 0 or drops < 0 or (machines is not None and machines < 0):
            raise ValueError("ledger totals must be >= 0")
        self._base_live, self._base_drops = int(live), int(drops)
        if machines is not None:
            self._base_machines = int(machines)
            self._buckets.clear()
            self._machines = 0
        elif self._machines:
            for bucket in self._buckets:
                bucket[1] = bucket[2] = 0.0
        else:
            self._buckets.clear()
        self._live = self._drops = 0
        if self.started is None:
            self.started = now

    def totals(self, now: float) -> tuple[int, int]:
        """(live answers, drops) in the window ending now."""
        self._expire(now)
        return self._base_live + self._live, self._base_drops + self._drops

    def machine_verdicts(self, now: float) -> int:
        """Machine verdicts in the window ending now (the store's at the last sync that
        gave them, plus this daemon's since)."""
        self._expire(now)
        return self._base_machines + self._machines

    def false_positives(self, now: float) -> float:
        """Estimated AMD false positives in the window: rate x machine verdicts."""
        if not self.false_positive_rate:
            return 0.0
        return self.false_positive_rate * self.machine_verdicts(now)

    def counted(self, now: float) -> tuple[float, float]:
        """(live answers, drops) as the cap counts them: the estimated false positives
        added to both (exactly :meth:`totals` when the profile counts none)."""
        live, drops = self.totals(now)
        extra = self.false_positives(now)
        if not extra:
            return live, drops
        return live + extra, drops + extra

    def live_rate(self, now: float) -> float:
        """Live answers per second seen locally (for the expected size of the window)."""
        if self.started is None or now <= self.started:
            return 0.0
        span = now - self.started
        if self.window_seconds is not None:
            span = min(span, self.window_seconds)
        return self._live / span if span > 0 else 0.0


@dataclass(slots=True)
class BudgetState:
    """What the controller knows at one decision (for the decision record and metrics)."""

    live: float  # with estimated AMD false positives, under a profile that counts them
    drops: float
    cap: float
    target: float  # the rate aimed at: the manager's target less the noise margin
    margin: float
    surplus: float  # target x live - drops
    spent: bool
    remaining_live: float = 0.0  # R: live answers the surplus is spread over

    @property
    def remaining_ratio(self) -> float:
        """Share of the legal allowance (cap x live answers) not yet used, 0..1."""
        if self.live <= 0:
            return 1.0
        allowance = self.cap * self.live
        return min(1.0, max(0.0, (allowance - self.drops) / allowance))


class ThresholdController:
    """Gain-scheduled PI control of log lambda on the budget surplus (module docstring).

    ``initial``: lambda before any evidence, at zero surplus and aiming at the cap (sets
    the prior slope cap / initial); ``prior_drops``: the prior's weight in drops;
    ``memory``: forgetting per live answer of the slope's evidence; ``min_remaining``: the
    floor of R in live answers; ``resync_jump``: a step in the ledger's live count larger
    than this is a sync with the store, not evidence about this pacer's lambda."""

    def __init__(
        self,
        cap: float,
        target: float | None = None,
        initial: float = 0.01,
        low: float = 0.0005,
        high: float = 0.6,
        prior_drops: float = 15.0,
        memory: float = 0.997,
        min_remaining: float = 30.0,
        margin_sigmas: float = 2.0,
        spent_guard: float = 1.0,
        spent_sigmas: float = 2.0,
        resync_jump: int = 500,
    ) -> None:
        if not 0.0 < cap < 1.0:
            raise ValueError(f"abandon cap must be in (0, 1), got {cap!r}")
        self.cap = cap
        self.target = cap if target is None else self.check_target(target)
        if not 0.0 < low < initial < high < 1.0:
            raise ValueError("need 0 < low < initial < high < 1 for the threshold")
        if not 0.0 < memory <= 1.0 or prior_drops <= 0.0 or min_remaining <= 0.0:
            raise ValueError("need 0 < memory <= 1, prior_drops > 0 and min_remaining > 0")
        self.low, self.high = low, high
        self.prior_drops = prior_drops
        self.prior_exposure = prior_drops * initial / cap  # slope = cap / initial
        self.memory = memory
        self.min_remaining = min_remaining
        self.margin_sigmas = margin_sigmas
        self.spent_guard = spent_guard
        self.spent_sigmas = spent_sigmas
        self.resync_jump = resync_jump
        self.drops_seen = 0.0  # forgotten evidence: drops ...
        self.exposure = 0.0  # ... and sum of lambda over the live answers they came from
        self._lambda = initial
        self._last: tuple[float, float] | None = None

    def check_target(self, target: float) -> float:
        t = float(target)
        if not math.isfinite(t) or t <= 0.0:
            raise ValueError(f"target abandon rate must be > 0, got {target!r}")
        if t > self.cap:
            raise ValueError(
                f"target abandon rate {t:g} is above the compliance cap {self.cap:g}: "
                "the profile's cap is a legal limit"
            )
        return t

    @property
    def threshold(self) -> float:
        return self._lambda

    @property
    def slope(self) -> float:
        """Drops per live answer per unit of lambda (the integral part)."""
        return (self.drops_seen + self.prior_drops) / (self.exposure + self.prior_exposure)

    def state(
        self,
        live: float,
        drops: float,
        expected_live: float,
        progress: float = 1.0,
        remaining_live: float | None = None,
    ) -> BudgetState:
        """The budget now; ``expected_live`` is the expected live answers in the window,
        ``progress`` how much of the window has passed (1 for a full rolling window) and
        ``remaining_live`` the live answers to spread a surplus over (default: those still
        to come in the window).

        The budget is spent when one more drop would put the window over the cap, less a
        slack for what is still to come: early in a shift an excess of a few drops is
        recovered by the rest of it (the controller does that), so the slack starts at
        ``spent_sigmas`` standard deviations of the window's drop count and shrinks to
        nothing at the window's end."""
        n = max(expected_live, float(live), 1.0)
        margin = self.margin_sigmas * math.sqrt(self.cap * (1.0 - self.cap) / n)
        aim = max(self.target - margin, 0.25 * self.target)
        surplus = aim * live - drops
        remaining = min(1.0, max(0.0, 1.0 - progress))
        slack = self.spent_sigmas * math.sqrt(self.cap * (1.0 - self.cap) * n) * remaining
        spent = drops + self.spent_guard > self.cap * live + slack
        to_come = n * remaining if remaining_live is None else remaining_live
        # Never spread a debt over more answers than the headroom left before the budget
        # is spent lasts at the aim rate: close to that line lambda must fall now, or the
        # pacer spends the rest of the shift flipping into the progressive fallback.
        headroom = self.cap * live + slack - drops - self.spent_guard
        to_come = min(to_come, max(headroom, 0.0) / aim)
        return BudgetState(
            live, drops, self.cap, aim, margin, surplus, spent, max(to_come, self.min_remaining)
        )

    def update(self, budget: BudgetState, learn: bool = True) -> float:
        """Learn from what happened since the last update (unless ``learn`` is False: the
        pacer's risks were conservative bounds, whose drops say little about lambda), then
        set lambda for the budget now; returns the new threshold."""
        last = self._last
        if last is None or budget.spent or not learn:
            # A spent budget means progressive: what happens now says nothing about lambda.
            self._last = (budget.live, budget.drops)
        else:
            new_live, new_drops = budget.live - last[0], budget.drops - last[1]
            if 0 < new_live <= self.resync_jump and 0 <= new_drops <= new_live:
                keep = self.memory**new_live
                self.exposure = self.exposure * keep + new_live * self._lambda
                self.drops_seen = self.drops_seen * keep + new_drops
                self._last = (budget.live, budget.drops)
            elif not (new_live == 0 and new_drops >= 0):  # a sync or an expiry: restart
                self._last = (budget.live, budget.drops)
        rate = budget.target + budget.surplus / max(budget.remaining_live, self.min_remaining)
        rate = max(rate, 0.02 * budget.target)
        self._lambda = min(self.high, max(self.low, rate / self.slope))
        return self._lambda


def budget_remaining(abandons: int, live_answers: int, cap: float) -> float:
    """Share of the allowance (cap x live answers) not yet used, 0..1; 1 before any answer.
    The same definition as `BudgetState.remaining_ratio`, from plain counts (the store's
    ledger read)."""
    if live_answers <= 0:
        return 1.0
    allowance = cap * live_answers
    return min(1.0, max(0.0, (allowance - abandons) / allowance))
