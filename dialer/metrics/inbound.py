"""The inbound families: return calls to our numbers (dialer.daemon.inbound_desk)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dialer.metrics.declared import Counter, Gauge, Histogram

# Inbound callers' waits, arrival to a collector (or to the end): service levels are set
# at 10-60 s, so the buckets are dense there.
INBOUND_WAIT_BUCKETS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0)
# dialer_inbound_outcomes_total{outcome}: dialer.domain.inbound.InboundOutcome
INBOUND_OUTCOMES: tuple[str, ...] = (
    "answered",
    "abandoned",
    "callback_requested",
    "voicemail_left",
    "unanswered",
)


class InboundMetrics:
    inbound_offered: Counter
    inbound_answered: Counter
    inbound_answered_in_target: Counter
    inbound_abandoned: Counter
    inbound_outcomes: Counter
    inbound_wait: Histogram
    inbound_service_level: Gauge
    inbound_service_level_target: Gauge
    inbound_refused: Counter

    def _register_inbound(self, r: CollectorRegistry) -> None:
        self.inbound_offered = Counter(
            "dialer_inbound_offered_total",
            "Inbound calls to one of the campaign's numbers that rang (debtors calling back).",
            ["campaign"],
            registry=r,
        )
        self.inbound_answered = Counter(
            "dialer_inbound_answered_total",
            "Inbound calls a collector took.",
            ["campaign"],
            registry=r,
        )
        self.inbound_answered_in_target = Counter(
            "dialer_inbound_answered_in_target_total",
            "Inbound calls a collector took within inbound.service_level_seconds.",
            ["campaign"],
            registry=r,
        )
        self.inbound_abandoned = Counter(
            "dialer_inbound_abandoned_total",
            "Inbound callers who hung up before a collector took the call (never in the "
            "outbound abandonment ledger).",
            ["campaign"],
            registry=r,
        )
        self.inbound_outcomes = Counter(
            "dialer_inbound_outcomes_total",
            "Finished inbound calls by outcome.",
            ["campaign", "outcome"],
            registry=r,
        )
        self.inbound_wait = Histogram(
            "dialer_inbound_wait_seconds",
            "Inbound callers' wait, arrival to a collector (or to the call's end).",
            ["campaign"],
            buckets=INBOUND_WAIT_BUCKETS,
            registry=r,
        )
        self.inbound_service_level = Gauge(
            "dialer_inbound_service_level_ratio",
            "Inbound calls answered within inbound.service_level_seconds over those offered, "
            "over the last inbound.service_level_window_seconds (1 with none offered).",
            ["campaign"],
            registry=r,
        )
        self.inbound_service_level_target = Gauge(
            "dialer_inbound_service_level_target_ratio",
            "The service level the campaign must hold (inbound.service_level_target).",
            ["campaign"],
            registry=r,
        )
        self.inbound_refused = Counter(
            "dialer_inbound_refused_total",
            "Inbound calls refused with 404: the number dialed is not one of ours.",
            registry=r,
        )

    def init_inbound(self, campaign: str, target: float) -> None:
        """A campaign's inbound series at 0 (its service level at 1: nothing offered)."""
        for counter in (
            self.inbound_offered,
            self.inbound_answered,
            self.inbound_answered_in_target,
            self.inbound_abandoned,
        ):
            counter.labels(campaign)
        for outcome in INBOUND_OUTCOMES:
            self.inbound_outcomes.labels(campaign, outcome)
        self.inbound_wait.labels(campaign)
        self.inbound_service_level.labels(campaign).set(1.0)
        self.inbound_service_level_target.labels(campaign).set(target)
