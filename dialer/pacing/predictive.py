"""The predictive pacer: the agent-availability model with an abandonment budget (DESIGN §4).

At each decision (every engine event and tick):

1. busy collectors' chances of being free within each horizon node (:class:`BusyTable`,
   from the fitted talk and wrap-up distributions and their elapsed times);
2. ringing calls' chances of a live answer within each node, given how long they have rung
   (:class:`RingModel`, from the answer probability and the delay curves);
3. the drop risk of the n-th new call (:func:`risk.risk_curve`); the pacer launches the
   largest n whose risk stays under lambda and launches one more with the fractional
   probability (lambda - risk_n) / (risk_n+1 - risk_n) (risk_0: the last call already in
   flight, extrapolated), against a uniform draw kept until a call is launched, so waiting
   between events does not turn a fraction into a certainty;
4. lambda comes from :class:`budget.ThresholdController`, which spends the abandonment
   budget of the ledger's window; a spent budget means progressive until it recovers;
5. on a blended campaign (:mod:`dialer.pacing.blending`) the collectors kept free for
   inbound are planned as taken, and the return calls expected within the horizon as
   demand that takes a collector coming free before an outbound answer does;
6. everything is learned online (:mod:`dialer.pacing.estimators`). Progressive for the
   first ``min_resolved`` dials; then, until the model has its evidence
   (``min_live_answers`` live answers and ``min_talks`` talks), a bound on every drop risk
   that needs no talk model and no delay curves: only the idle collectors are counted on,
   every other call in flight is taken as answered first, and the answer probability is
   its ``cautious_quantile`` until ``min_live_answers``.

Every decision carries an explanation (:mod:`dialer.pacing.explain`) in ``detail``.

The module is one class of about 500 lines (over the 400 lines of DESIGN's rule): the
decision and the learning state it reads (warm-up, refits, the controller, the inbound
hold) change together, and the maths it calls already lives in its own modules
(availability, risk, estimators, budget, talkmodel, blending).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dialer.pacing.base import EngineView, Pacer, PacingDecision, PacingInputs
from dialer.pacing.blending import InboundReservation, Reservation
from dialer.pacing.budget import AbandonLedger, BudgetState, ThresholdController
from dialer.pacing.distributions import Distribution, Exponential, Fixed, FloatArray, LogNormal
from dialer.pacing.estimators import EmpiricalDelay, GammaFit, HourlyAnswerRate
from dialer.pacing.explain import decision_record, inbound_record
from dialer.pacing.risk import (
    BoolArray,
    BusyTable,
    Moments,
    RingModel,
    RiskCurve,
    horizon_nodes,
    idle_only_risk_curve,
    node_weights,
    risk_curve,
)
from dialer.pacing.talkmodel import TalkModel

__all__ = ["PredictivePacer"]

SHIFT_SECONDS = 8 * 3600.0
CALLER_SHARE = 0.25  # the largest Bernoulli row a Poisson count of callers is split into
BINNED_ABOVE = 200  # busy collectors / ringing calls: above this, moments from binned counts


class PredictivePacer(Pacer):
    """Model-based pacing under an abandonment cap; see the module docstring.

    ``abandon_cap``: the compliance profile's cap; ``target_abandon_rate`` (<= cap): the
    manager's target, default the cap; ``window_seconds``: the ledger window (default one
    8-hour shift; 30 days under US TSR, 24 h under UK Ofcom); ``rolling``: drop events older
    than the window (else count from the start, as for a shift); ``connect_grace``: seconds
    an answered call may wait for a collector; ``max_lines_per_collector``;
    ``machine_false_positive_rate``: the share of machine verdicts its budget counts as
    abandoned live answers (UK Ofcom with AMD on; 0 elsewhere).
    """

    name = "predictive"
    periodic = True

    _OPTIONS = frozenset(
        {
            "target_abandon_rate",
            "max_lines_per_collector",
            "window_seconds",
            "rolling",
            "min_live_answers",
            "min_talks",
            "answer_quantile",
            "margin_sigmas",
            "exact_max",
            "initial_threshold",
            "forgetting",
            "prior_drops",
            "memory",
            "recovery_share",
            "spent_guard",
            "spent_sigmas",
            "recompute_after",
            "min_resolved",
            "cautious_quantile",
            "machine_false_positive_rate",
            "inbound",
        }
    )

    def __init__(self, abandon_cap: float = 0.03, **options: Any) -> None:
        unknown = set(options) - self._OPTIONS
        if unknown:
            raise ValueError(f"predictive has no settings {sorted(unknown)}")
        self.abandon_cap = float(abandon_cap)
        self.controller = ThresholdController(
            self.abandon_cap,
            initial=float(options.get("initial_threshold", 0.01)),
            margin_sigmas=float(options.get("margin_sigmas", 0.5)),
            prior_drops=float(options.get("prior_drops", 15.0)),
            memory=float(options.get("memory", 0.997)),
            spent_guard=float(options.get("spent_guard", 1.0)),
            spent_sigmas=float(options.get("spent_sigmas", 2.0)),
        )
        # A rolling window never runs out: a surplus is spread over this share of it.
        self.recovery_share = float(options.get("recovery_share", 0.1))
        self.max_lines_per_collector = 3.0
        self.window_seconds = float(options.get("window_seconds", SHIFT_SECONDS))
        rolling = bool(options.get("rolling", False))
        # Under UK Ofcom with AMD on, a share of machine verdicts counts as abandons.
        self.ledger = AbandonLedger(
            self.window_seconds if rolling else None,
            float(options.get("machine_false_positive_rate", 0.0)),
        )
        self.connect_grace = 2.0  # the engine's, from PacingInputs
        self.min_live_answers = int(options.get("min_live_answers", 50))
        self.min_talks = int(options.get("min_talks", 30))
        self.min_resolved = int(options.get("min_resolved", 20))
        self.cautious_quantile = float(options.get("cautious_quantile", 0.95))
        self.answer_quantile = float(options.get("answer_quantile", 0.75))
        for name in ("answer_quantile", "cautious_quantile"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(
                    f"predictive {name} must be in (0, 1), got {getattr(self, name)!r}"
                )
        self.exact_max = int(options.get("exact_max", 24))
        forgetting = float(options.get("forgetting", 0.998))
        self.answer_rate = HourlyAnswerRate(1.0, 3.0, forgetting, min_obs=200.0)
        self.talk = TalkModel(LogNormal(180.0, 1.0), window=1000, refit_every=100)
        self.wrap = GammaFit(Fixed(0.0))
        self.answer_delay = EmpiricalDelay(window=2000, fallback=Exponential(15.0))
        self.failure_delay = EmpiricalDelay(window=2000, fallback=Exponential(15.0))
        self.live_answers = 0
        self.talks = 0
        self.resolved = 0
        self._nodes = horizon_nodes()
        self._busy: BusyTable | None = None
        self._ring: RingModel | None = None
        self._weights: FloatArray | None = None
        self._p = float("nan")
        self._resolved_since_refresh = 0
        self._u: float | None = None  # the draw the fractional call is compared with
        self._last_key: tuple[int, ...] | None = None
        self._last_full = -math.inf
        self.recompute_after = float(options.get("recompute_after", 1.0))
        self.budget: BudgetState | None = None
        self.predicted_free = 0.0
        self.last_record: dict[str, Any] = {}
        # Blended campaigns (dialer.pacing.blending): collectors kept free for inbound.
        # None: no inbound configured, and every figure is as before.
        self.inbound: InboundReservation | None = options.get("inbound")
        self.reservation: Reservation | None = None
        if "target_abandon_rate" in options or "max_lines_per_collector" in options:
            self.configure(
                **{
                    k: options[k]
                    for k in ("target_abandon_rate", "max_lines_per_collector")
                    if k in options
                }
            )

    # ----- settings -----------------------------------------------------------------------

    def configure(self, **params: Any) -> None:
        """Live settings: ``target_abandon_rate`` (never above the cap: ValueError with the
        reason) and ``max_lines_per_collector`` (>= 1)."""
        target = params.pop("target_abandon_rate", None)
        lines = params.pop("max_lines_per_collector", None)
        super().configure(**params)
        if lines is not None:
            value = float(lines)
            if not math.isfinite(value) or value < 1.0:
                raise ValueError(f"max_lines_per_collector must be >= 1, got {lines!r}")
        if target is not None:
            self.controller.target = self.controller.check_target(target)
        if lines is not None:
            self.max_lines_per_collector = value

    # ----- metrics ------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        """lambda: the drop risk a new call may carry (``dialer_pacing_threshold``)."""
        return self.controller.threshold

    @property
    def budget_remaining_ratio(self) -> float:
        """``dialer_abandon_budget_remaining_ratio``: unspent share of cap x live answers."""
        return 1.0 if self.budget is None else self.budget.remaining_ratio

    # ----- observations -------------------------------------------------------------------

    def observe_dial_resolved(self, delay: float, live_answer: bool, now: float) -> None:
        self.answer_rate.update(live_answer, _hour(now))
        if live_answer:
            self.answer_delay.observe(delay)
            self.live_answers += 1
            self.ledger.record_live(now)
        else:
            self.failure_delay.observe(delay)
        self._resolved_since_refresh += 1
        self.resolved += 1

    def observe_talk(self, seconds: float, now: float) -> None:
        self.talk.observe(seconds)
        self.talks += 1

    def observe_wrap(self, seconds: float, now: float) -> None:
        self.wrap.observe(seconds)

    def observe_abandon(self, now: float) -> None:
        self.ledger.record_drop(now)

    def observe_machine(self, now: float) -> None:
        self.ledger.record_machine(now)

    def observe_inbound_arrival(self, now: float) -> None:
        if self.inbound is not None:
            self.inbound.observe_arrival(now)

    def observe_inbound_handled(self, seconds: float, now: float) -> None:
        if self.inbound is not None:
            self.inbound.observe_handled(seconds, now)

    def observe_inbound_wait(self, seconds: float, answered: bool, now: float) -> None:
        if self.inbound is not None:
            self.inbound.observe_wait(seconds, answered, now)

    def sync_ledger(self, live: int, drops: int, now: float, machines: int | None = None) -> None:
        """Window totals from the store (all daemons sharing the campaign); ``machines``:
        its machine answers in the window, for the AMD false-positive estimate."""
        self.ledger.sync(live, drops, now, machines)

    # ----- the decision -------------------------------------------------------------------

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        if inputs.available <= 0 or inputs.draining:
            self.predicted_free = 0.0
            return PacingDecision(0, "no collector available")
        room = (
            min(
                inputs.max_in_flight,
                int(self.max_lines_per_collector * inputs.available + 1e-9),
            )
            - inputs.in_flight
        )
        # Collectors the outbound plan may not count on: kept free for inbound, or owed to
        # inbound callers already queued (0 without inbound).
        held, arriving = 0, 0.0
        if self.inbound is not None:
            self.reservation = self.inbound.reserve(inputs, self._outbound_handle())
            held = self.reservation.held
            arriving = self.reservation.arrivals_per_second
        progressive = max(0, min(inputs.ready - inputs.in_flight - held, room))
        if self.resolved < self.min_resolved:
            self.predicted_free = float(inputs.ready)
            return PacingDecision(
                progressive, "learning: progressive until enough calls seen", detail=self._held()
            )
        # Until the model has its evidence a bound stands in for it: a high quantile of
        # the answer probability, and only the idle collectors counted on.
        answers_known = self.live_answers >= self.min_live_answers
        model_ready = answers_known and self.talks >= self.min_talks
        now = inputs.now
        key = (
            inputs.ready,
            inputs.reserved,
            inputs.on_call,
            inputs.wrap_up,
            inputs.paused,
            inputs.dialing,
            inputs.ringing,
            inputs.waiting,
            inputs.max_in_flight,
            held,
        )
        if key == self._last_key and now - self._last_full < self.recompute_after:
            # Nothing happened since a decision that launched nothing: on a tick, the risks
            # only drift with elapsed times, so recompute at most every `recompute_after` s.
            return PacingDecision(0, "unchanged since the last decision", detail=self.last_record)
        live, drops = self.ledger.counted(now)
        expected = self.ledger.live_rate(now) * self.window_seconds
        # A rolling window is always full (the store's history); a shift runs out.
        started = self.ledger.started if self.ledger.started is not None else now
        rolling = self.ledger.window_seconds is not None
        progress = 1.0 if rolling else (now - started) / self.window_seconds
        to_come = expected * (self.recovery_share if rolling else max(0.0, 1.0 - progress))
        budget = self.controller.state(live, drops, expected, progress, to_come)
        self.budget = budget
        # Drops under a conservative bound say little about lambda: not charged to it.
        lam = self.controller.update(budget, learn=model_ready)
        if budget.spent:
            self.predicted_free = float(inputs.ready)
            return PacingDecision(
                progressive,
                "abandon budget spent: progressive until it recovers",
                detail={
                    "threshold": lam,
                    "budget_remaining_ratio": budget.remaining_ratio,
                    **self._held(),
                },
            )
        if room <= 0:
            return PacingDecision(0, "at the line limit")

        elapsed, in_wrap = view.busy_elapsed(now)
        ring_elapsed = view.ringing_elapsed(now)
        self.connect_grace = inputs.connect_grace
        quantile = self.answer_quantile if answers_known else self.cautious_quantile
        p = self.answer_rate.quantile(_hour(now), quantile)
        self._p = p
        if model_ready:
            curve, free_soon = self._risks(
                elapsed, in_wrap, ring_elapsed, p, inputs, room, lam, held, arriving
            )
        else:
            capacity = inputs.ready - inputs.waiting - held
            curve = idle_only_risk_curve(
                ring_elapsed.size, p, capacity, room + 1, lam, self.exact_max
            )
            free_soon = 0.0
        risk = curve.risk
        n = int(np.searchsorted(risk, lam, side="left"))  # risks are non-decreasing
        n = min(n, room)
        fraction = 0.0
        if n < room and n < risk.size:
            below = self._risk_below(risk, n, inputs.in_flight)
            span = float(risk[n]) - below
            fraction = min(1.0, max(0.0, (lam - below) / span)) if span > 0 else 0.0
            if self._u is None:
                self._u = float(rng.random())
            if self._u < fraction:
                n += 1
        if n > 0:
            self._u = None
            self._last_key = None
        else:
            self._last_key, self._last_full = key, now
        self.predicted_free = inputs.ready + free_soon
        record = decision_record(
            inputs,
            elapsed,
            in_wrap,
            ring_elapsed,
            risk,
            n,
            fraction,
            lam,
            budget,
            self._estimates(),
            self.predicted_free,
            curve.exact,
            learning="" if model_ready else self._learning(answers_known),
            inbound=None if self.inbound is None else self.reservation,
        )
        self.last_record = record
        return PacingDecision(n, record["why"], detail=record)

    def _held(self) -> dict[str, Any]:
        """The inbound hold of a decision made without the model (blended campaigns)."""
        if self.inbound is None or self.reservation is None:
            return {}
        return {"inbound": inbound_record(self.reservation)}

    def _learning(self, answers_known: bool) -> str:
        bounds = []
        if not answers_known:
            bounds.append(
                f"answer probability at its {self.cautious_quantile:g} quantile until "
                f"{self.min_live_answers} live answers"
            )
        bounds.append(
            f"only idle collectors counted until {self.min_live_answers} live answers "
            f"and {self.min_talks} talks"
        )
        return "; ".join(bounds)

    @staticmethod
    def _risk_below(risk: FloatArray, n: int, in_flight: int) -> float:
        """The risk of the call before the n-th new one, which the fraction interpolates
        from. With n = 0 that call is the last one already in flight: its risk is not on
        the curve, so it is extrapolated from the first two new calls' (risks rise
        smoothly with the calls placed). Taking it as 0 instead would give the first new
        call a launch chance of lambda / risk at every decision, however far over lambda
        its risk is, and the pacer would creep past its own target tick by tick."""
        if n > 0:
            return float(risk[n - 1])
        if in_flight <= 0 or risk.size < 2:
            return 0.0
        return max(0.0, 2.0 * float(risk[0]) - float(risk[1]))

    def _outbound_handle(self) -> float:
        """Mean outbound talk + wrap-up as the model has them now (the blended reservation)."""
        talk = self._busy.talk if self._busy is not None else self.talk.prior
        wrap = self._busy.wrap if self._busy is not None else self.wrap.prior
        return float(talk.mean() + wrap.mean())

    def _estimates(self) -> dict[str, float]:
        talk = self._busy.talk if self._busy is not None else self.talk.prior
        wrap = self._busy.wrap if self._busy is not None else self.wrap.prior
        return {
            "p_answer": self._p,
            "talk_mean": talk.mean(),
            "wrap_mean": wrap.mean(),
            "answer_delay_mean": self.answer_delay.mean(),
        }

    def _risks(
        self,
        elapsed: FloatArray,
        in_wrap: BoolArray,
        ring_elapsed: FloatArray,
        p: float,
        inputs: PacingInputs,
        room: int,
        lam: float,
        held: int = 0,
        arriving: float = 0.0,
    ) -> tuple[RiskCurve, float]:
        """The model's risk curve and the busy collectors expected free within the horizon
        (`held`: collectors kept for inbound, planned as taken; `arriving`: inbound callers
        per second, who take a collector coming free before an outbound answer does)."""
        ring = self._ring_model()
        weights = self._weights
        assert weights is not None
        capacity = inputs.ready + elapsed.size - inputs.waiting - held
        callers = self._callers(arriving)
        caller_rows = self._caller_rows(callers)
        still_busy: FloatArray | Moments
        ringing: FloatArray | Moments
        if elapsed.size + ring_elapsed.size + caller_rows.shape[0] <= self.exact_max:
            still_busy = self._still_busy(elapsed, in_wrap)
            ringing = np.vstack((ring(ring_elapsed, p), caller_rows))
            free_soon = float(elapsed.size - (still_busy @ weights).sum())
        else:  # moments only; binned by elapsed time for large teams
            if elapsed.size > BINNED_ABOVE:
                still_busy = self._busy_table(elapsed, in_wrap).moments(elapsed, in_wrap)
            else:
                still_busy = Moments.of(self._still_busy(elapsed, in_wrap))
            if ring_elapsed.size > BINNED_ABOVE:
                ringing = ring.moments(ring_elapsed, p)
            else:
                ringing = Moments.of(ring(ring_elapsed, p))
            if caller_rows.size:  # a Poisson count: every cumulant is its mean
                ringing = ringing + Moments(callers, callers, callers)
            free_soon = float(elapsed.size - still_busy.mean @ weights)
        curve = risk_curve(
            still_busy,
            ringing,
            ring.new_call(p),
            weights,
            capacity,
            room + 1,
            stop_at=lam,
            exact_max=self.exact_max,
        )
        return curve, free_soon

    def _callers(self, arriving: float) -> FloatArray:
        """Inbound callers expected by each node + grace (a Poisson mean per node)."""
        if arriving <= 0:
            return np.zeros(self._nodes.size)
        return arriving * (self._nodes + self.connect_grace)

    @staticmethod
    def _caller_rows(expected: FloatArray) -> FloatArray:
        """The Poisson counts as Bernoulli rows of at most CALLER_SHARE each (a binomial of
        the same mean, close to the Poisson), for the exact computation."""
        top = float(expected.max(initial=0.0))
        rows = math.ceil(top / CALLER_SHARE) if top > 0 else 0
        return np.tile(expected / max(rows, 1), (rows, 1))

    def _still_busy(self, elapsed: FloatArray, in_wrap: BoolArray) -> FloatArray:
        """(busy, nodes): P(each busy collector is still busy at each node + grace)."""
        if not elapsed.size:
            return np.zeros((0, self._nodes.size))
        return 1.0 - self._busy_table(elapsed, in_wrap)(elapsed, in_wrap)

    def _busy_table(self, elapsed: FloatArray, in_wrap: BoolArray) -> BusyTable:
        talk_in_progress = elapsed[~in_wrap] if elapsed.size else elapsed
        talk: Distribution = self.talk.distribution(talk_in_progress)
        wrap = self.wrap.distribution()
        busy = self._busy
        if (
            busy is None
            or busy.talk != talk
            or busy.wrap != wrap
            or busy.grace != self.connect_grace
        ):
            busy = self._busy = BusyTable(talk, wrap, self.connect_grace, self._nodes)
        return busy

    def _ring_model(self) -> RingModel:
        if self._ring is None or self._resolved_since_refresh >= 50:
            self._ring = RingModel(self.answer_delay, self.failure_delay, self._nodes)
            self._weights = node_weights(self.answer_delay)
            self._resolved_since_refresh = 0
        return self._ring


def _hour(now: float) -> int:
    return int(now // 3600.0) % 24
