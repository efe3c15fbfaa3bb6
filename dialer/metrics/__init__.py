"""Every Prometheus metric the daemon exports, defined once.

Conventions: `dialer_` prefix, base units, `_total` counters, ratios 0..1, bounded labels
(campaign, outcome, state, reason) — never a phone number, a name or a case id. Each daemon
owns a `Metrics` with its own registry, so several can live in one process (tests). The
media (recording, AMD) and inbound families are defined in `media` and `inbound`, in the
same registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from dialer import __version__
from dialer.compliance.rules import Reason
from dialer.metrics.declared import Counter, Gauge, Histogram, Info
from dialer.metrics.inbound import INBOUND_OUTCOMES, INBOUND_WAIT_BUCKETS, InboundMetrics
from dialer.metrics.media import (
    AMD_DECISION_BUCKETS,
    AMD_VERDICTS,
    RECORDING_DROP_REASONS,
    RECORDING_FAILURE_REASONS,
    MediaMetrics,
)

__all__ = [
    "AMD_DECISION_BUCKETS",
    "AMD_VERDICTS",
    "HOPPER_EMPTY_REASONS",
    "INBOUND_OUTCOMES",
    "INBOUND_WAIT_BUCKETS",
    "PRESENCE_LOST_REASONS",
    "RECORDING_DROP_REASONS",
    "RECORDING_FAILURE_REASONS",
    "Metrics",
]

# Answer-to-bridge: the legal line is 2 s, so buckets are dense around it.
BRIDGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 5.0)
DECISION_BUCKETS = (1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)

# The bounded values of dialer_hopper_empty_reason{reason}: no case is due in the store,
# every due case is already queued, the refill query failed, or the compliance rule that
# blocked most of the due cases (dialer.compliance.rules.Reason codes); else "other".
HOPPER_EMPTY_REASONS: tuple[str, ...] = (
    "no_cases",
    "all_queued",
    "refill_failed",
    # dialer.orchestration.supply: due cases all leased by other daemons; none due before a
    # later time; the due ones have no dialable number.
    "all_leased",
    "not_due",
    "no_dialable_number",
    *(reason.value for reason in Reason),
    "other",
)

# dialer_collector_presence_lost_total{reason}: the console or the SIP phone.
PRESENCE_LOST_REASONS: tuple[str, ...] = ("disconnected", "phone_lost")


class Metrics(MediaMetrics, InboundMetrics):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.build_info = Info("dialer_build", "Version of the running daemon.", registry=r)
        self.build_info.info({"version": __version__})
        self.calls_originated = Counter(
            "dialer_calls_originated_total", "Calls placed.", ["campaign"], registry=r
        )
        self.call_outcomes = Counter(
            "dialer_call_outcomes_total",
            "Finished calls by outcome (busy, no_answer, failed, machine, machine_message_left, "
            "completed, abandoned, media_lost, trunk_failed).",
            ["campaign", "outcome"],
            registry=r,
        )
        self.live_answers = Counter(
            "dialer_live_answers_total", "Calls answered by a person.", ["campaign"], registry=r
        )
        self.calls_abandoned = Counter(
            "dialer_calls_abandoned_total",
            "Live answers no collector took within the connect grace (safe-harbor played).",
            ["campaign"],
            registry=r,
        )
        self.calls_in_flight = Gauge(
            "dialer_calls_in_flight",
            "Calls by state (dialing, ringing, answered, bridged, abandoned).",
            ["campaign", "state"],
            registry=r,
        )
        self.collectors = Gauge(
            "dialer_collectors",
            "Logged-in collectors by state (ready, reserved, on_call, wrap_up, paused).",
            ["campaign", "state"],
            registry=r,
        )
        self.occupancy = Gauge(
            "dialer_occupancy_ratio",
            "Collectors' (talk + wrap-up) time / logged-in time since start.",
            ["campaign"],
            registry=r,
        )
        self.talk_seconds = Counter(
            "dialer_talk_seconds_total",
            "Seconds collectors spent talking.",
            ["campaign"],
            registry=r,
        )
        self.answer_to_bridge = Histogram(
            "dialer_answer_to_bridge_seconds",
            "Seconds from a live answer to the bridge with a collector.",
            ["campaign"],
            buckets=BRIDGE_BUCKETS,
            registry=r,
        )
        self.pacing_decision = Histogram(
            "dialer_pacing_decision_seconds",
            "Wall time of one engine step (event or tick), pacing decision included.",
            ["campaign"],
            buckets=DECISION_BUCKETS,
            registry=r,
        )
        self.hopper_cases = Gauge(
            "dialer_hopper_cases", "Callable cases queued in memory.", ["campaign"], registry=r
        )
        self.hopper_empty = Gauge(
            "dialer_hopper_empty_reason",
            "1 for why the hopper is empty (no_cases, outside_calling_hours, attempt_cap, ...).",
            ["campaign", "reason"],
            registry=r,
        )
        self.cases_deferred = Counter(
            "dialer_cases_deferred_total",
            "Cases dropped at dial time by a compliance rule.",
            ["campaign", "reason"],
            registry=r,
        )
        self.loop_lag = Histogram(
            "dialer_event_loop_lag_seconds",
            "How late the event loop ran a timer that was due.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.trunk_registered = Gauge(
            "dialer_trunk_registered", "1 when the trunk is registered / usable.", registry=r
        )
        self.trunk_up = Gauge(
            "dialer_trunk_up",
            "1 while the trunk can place calls; 0 while its circuit breaker is open (the "
            "carrier is unreachable, refuses our credentials or every call).",
            ["trunk"],
            registry=r,
        )
        self.trunk_errors = Counter(
            "dialer_trunk_errors_total", "Trunk commands that failed.", ["command"], registry=r
        )
        self.store_errors = Counter(
            "dialer_store_errors_total", "Database writes that failed.", ["operation"], registry=r
        )
        self.calls_not_placed = Counter(
            "dialer_calls_not_placed_total",
            "Calls launched by the pacer but never placed, by why (no attempt, no debtor).",
            ["campaign", "reason"],
            registry=r,
        )
        self.store_up = Gauge(
            "dialer_store_up",
            "1 while the store takes writes; 0 while it cannot (no new dials, writes queued).",
            registry=r,
        )
        self.store_up.set(1.0)
        self.store_pending = Gauge(
            "dialer_store_pending_writes",
            "Store writes queued and not yet committed (retried while the store is down).",
            registry=r,
        )
        self.pacing_threshold = Gauge(
            "dialer_pacing_threshold",
            "The predictive pacer's drop-risk threshold per call.",
            ["campaign"],
            registry=r,
        )
        self.abandon_budget_remaining = Gauge(
            "dialer_abandon_budget_remaining_ratio",
            "Share of the compliance window's abandon allowance not yet used (0..1).",
            ["campaign"],
            registry=r,
        )
        self.abandon_rate_window = Gauge(
            "dialer_abandon_rate_ratio",
            "Abandoned / live answers over the compliance profile's window.",
            ["campaign"],
            registry=r,
        )
        self.predicted_free = Gauge(
            "dialer_predicted_free_collectors",
            "Collectors the availability model expects free within the horizon.",
            ["campaign"],
            registry=r,
        )
        # --- ops (issue 10): fed by DaemonGauges (dialer.daemon.gauges) and Daemon._case_source.
        self.abandon_cap = Gauge(
            "dialer_abandon_cap_ratio",
            "The legal abandon cap the budget is measured against (profile max_rate; the "
            "campaign target when the profile has none).",
            ["campaign"],
            registry=r,
        )
        self.abandon_target = Gauge(
            "dialer_abandon_target_ratio",
            "The campaign's configured target abandon rate (<= the cap).",
            ["campaign"],
            registry=r,
        )
        self.abandon_window = Gauge(
            "dialer_abandon_window_seconds",
            "Length of the compliance window the abandon rate and budget are computed over.",
            ["campaign"],
            registry=r,
        )
        self.cap_guard_clamps = Counter(
            "dialer_abandon_guard_clamps_total",
            "Pacing decisions the abandon-cap guard cut because the budget could not absorb "
            "the calls beyond the ready collectors, whatever the pacer.",
            ["campaign"],
            registry=r,
        )
        self.cap_guard_clamping = Gauge(
            "dialer_abandon_guard_clamping",
            "1 while the abandon-cap guard limits the campaign's dialing (its latest decision "
            "that wanted calls was cut), else 0.",
            ["campaign"],
            registry=r,
        )
        self.presence_lost = Counter(
            "dialer_collector_presence_lost_total",
            "Collectors the dialer stopped routing calls to because it lost them, by why: "
            "disconnected (their console was gone for web.presence_timeout_seconds), "
            "phone_lost (their SIP phone hung up its leg).",
            ["campaign", "reason"],
            registry=r,
        )
        self.reassignments = Counter(
            "dialer_reassignments_total",
            "Cases moved between collectors, by reason (fed by the reassigner).",
            ["campaign", "reason"],
            registry=r,
        )
        self.db_pool_checked_out = Gauge(
            "dialer_db_pool_checked_out_connections",
            "Database connections currently checked out of the SQLAlchemy pool.",
            registry=r,
        )
        self.db_pool_max = Gauge(
            "dialer_db_pool_max_connections",
            "Most connections the pool hands out at once (pool size + max overflow).",
            registry=r,
        )
        self.trunk_cps_limit = Gauge(
            "dialer_trunk_calls_per_second_limit",
            "Configured ceiling on new calls per second at the trunk (0: no limit, simulated).",
            registry=r,
        )

        self._register_media(r)
        self._register_inbound(r)

    def init_campaign(self, campaign: str) -> None:
        """Create a campaign's counter series at 0, so rate() and alerts see them from the
        first scrape rather than from the first event."""
        for counter in (
            self.calls_originated,
            self.live_answers,
            self.calls_abandoned,
            self.cap_guard_clamps,
            self.recordings_written,
            self.recording_bytes,
        ):
            counter.labels(campaign)
        self.talk_seconds.labels(campaign)
        for verdict in AMD_VERDICTS:
            self.amd_verdicts.labels(campaign, verdict)
        self.amd_decision_seconds.labels(campaign)
        for reason in PRESENCE_LOST_REASONS:
            self.presence_lost.labels(campaign, reason)
        self.set_hopper_empty(campaign, None)

    def set_hopper_empty(self, campaign: str, reason: str | None) -> None:
        """1 on `reason`'s series (None: the hopper has cases), 0 on every other reason."""
        if reason is not None and reason not in HOPPER_EMPTY_REASONS:
            reason = "other"
        for known in HOPPER_EMPTY_REASONS:
            self.hopper_empty.labels(campaign, known).set(1 if known == reason else 0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
