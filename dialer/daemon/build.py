"""How the daemon's parts are built from the settings: the trunk (simulated carrier or SIP),
the simulated collectors, and each campaign's engine with its pacer and compliance guard.

Every random part draws from the one generator handed in, in a fixed order (trunk, then
collectors, then one seed per campaign's engine), so a seeded daemon run is repeatable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np

from dialer.clock import Clock
from dialer.compliance import Profile
from dialer.compliance.guard import ProfileGuard
from dialer.daemon.gauges import abandon_terms
from dialer.daemon.inbound_routes import inbound_routes
from dialer.daemon.simulated_agents import SimulatedCollectors
from dialer.engine import Engine, EngineConfig, RoutingPolicy
from dialer.pacing.base import Pacer
from dialer.pacing.blending import ErlangReservation
from dialer.pacing.distribution_spec import parse_distribution
from dialer.pacing.policies import make_pacer
from dialer.pacing.reserving import ReservingPacer
from dialer.pacing.samples import SampleBuffer
from dialer.settings import CampaignSettings, Settings
from dialer.telephony.port import Trunk
from dialer.telephony.rtp_tap import TapFactory
from dialer.telephony.simulated import SimulatedTrunk
from dialer.telephony.simulated_model import AgentModel, CarrierModel
from dialer.telephony.sip_amd import ScreeningFactory
from dialer.telephony.sip_inbound import InboundHooks


def build_trunk(
    settings: Settings,
    rng: np.random.Generator,
    clock: Clock,
    on_collector_leg_lost: Callable[[str], None],
    on_health: Callable[[bool, str | None], None] | None = None,
    tap_factory: TapFactory | None = None,
    inbound: InboundHooks | None = None,
    screening: ScreeningFactory | None = None,
) -> Trunk:
    """The trunk; a SIP one taps each answered debtor leg with `tap_factory` (recording:
    the simulated carrier carries no audio), and `inbound` (the daemon's inbound desk)
    takes callers' INVITEs on it, or the simulated carrier's callers."""
    trunk = settings.trunk
    if trunk.kind == "sip":
        from dialer.telephony.sip import SipTrunk

        assert trunk.sip is not None  # the settings refuse kind sip without it
        return SipTrunk(
            trunk.sip,
            on_collector_leg_lost=on_collector_leg_lost,
            on_health=on_health,
            tap_factory=tap_factory,
            inbound=inbound,
            screening=screening,
        )
    sim = trunk.simulated
    carrier = CarrierModel(
        rng,
        parse_distribution(sim.answer_delay, "trunk.simulated.answer_delay"),
        parse_distribution(sim.failure_delay, "trunk.simulated.failure_delay"),
        machine_share=sim.machine_probability,
        busy_share=sim.busy_share,
    )
    talk = SampleBuffer(parse_distribution(settings.collectors.talk, "talk"), rng)
    p = sim.answer_probability
    return SimulatedTrunk(
        carrier,
        talk,
        clock,
        lambda _now: p,
        callers=sim.callers,
        ours=sorted(inbound_routes(settings)),
        inbound=inbound,
        rng=np.random.default_rng(rng.integers(2**63)),
    )


def build_agents(
    settings: Settings, ids: list[str], rng: np.random.Generator, clock: Clock
) -> SimulatedCollectors | None:
    if not ids:
        return None
    c = settings.collectors
    model = AgentModel.build(
        rng,
        parse_distribution(c.talk, "collectors.talk"),
        parse_distribution(c.wrap, "collectors.wrap"),
        c.pause_probability,
        parse_distribution(c.pause, "collectors.pause"),
    )
    return SimulatedCollectors(model, clock, ids, c.team, frozenset(c.skills))


def build_engine(campaign: CampaignSettings, profile: Profile, rng: np.random.Generator) -> Engine:
    """The campaign's engine, always with the abandon-cap guard over the profile's cap and
    window (dialer.engine.cap_guard): whatever the pacing mode, no overdial beyond what
    the budget can absorb."""
    pacing = campaign.pacing
    cap, window = abandon_terms(profile, campaign)
    config = EngineConfig(
        campaign=campaign.name,
        connect_grace=campaign.connect_grace,
        ring_timeout=campaign.ring_timeout,
        max_lines_per_collector=pacing.max_lines_per_collector,
        routing=RoutingPolicy(campaign.routing.owner_wait, campaign.routing.team_wait),
        auto_ready_after_wrap=campaign.wrap_up_seconds,
        max_wrap=campaign.max_wrap_seconds,
        call_id_prefix=f"{campaign.name}.{uuid.uuid4().hex[:8]}.",
        abandon_cap=cap,
        abandon_window=window,
        # A drop only with AMD on: its message is checked at start-up only then.
        on_machine=campaign.amd.on_machine if campaign.amd.enabled else "hangup",
        machine_false_positive_rate=machine_false_positive_rate(campaign, profile),
        inbound_max_wait=(
            campaign.inbound.max_wait_seconds if campaign.inbound is not None else 60.0
        ),
    )
    pacer = build_pacer(campaign, profile)
    guard = ProfileGuard(profile)
    return Engine(config, pacer, np.random.default_rng(rng.integers(2**63)), guard)


def build_pacer(campaign: CampaignSettings, profile: Profile) -> Pacer:
    """The campaign's pacer; the predictive one spends its budget over the compliance
    profile's rolling window, which the gauges' ledger read keeps in step with the store.
    A blended campaign's pacer, whatever its mode, keeps its inbound reservation."""
    pacing = campaign.pacing
    cap, window = abandon_terms(profile, campaign)
    if pacing.mode != "predictive":
        rule = make_pacer(pacing.pacer_spec(), abandon_cap=pacing.target_abandon_rate)
        reservation = inbound_reservation(campaign)
        # A blended campaign on a rule-based mode keeps collectors free for inbound too.
        return rule if reservation is None else ReservingPacer(rule, reservation)
    return make_pacer(
        "predictive",
        abandon_cap=cap,
        target_abandon_rate=min(pacing.target_abandon_rate, cap),
        max_lines_per_collector=pacing.max_lines_per_collector,
        window_seconds=window,
        rolling=True,
        machine_false_positive_rate=machine_false_positive_rate(campaign, profile),
        inbound=inbound_reservation(campaign),
    )


def inbound_reservation(campaign: CampaignSettings) -> ErlangReservation | None:
    """A blended campaign's reservation for return calls (dialer.pacing.blending): the
    predictive pacer keeps collectors free so `campaigns[].inbound`'s service level holds.
    None without an `inbound` block: the pacer is exactly the outbound one."""
    inbound = campaign.inbound
    if inbound is None:
        return None
    return ErlangReservation(
        inbound.service_level,
        inbound.answer_within_seconds,
        expected_per_hour=inbound.expected_calls_per_hour,
    )


def machine_false_positive_rate(campaign: CampaignSettings, profile: Profile) -> float:
    """The share of machine verdicts the abandon ledger counts as people hung up on: none
    with AMD off or under a profile that does not count them; else the campaign's measured
    rate, or the profile's conservative default (UK Ofcom)."""
    rule = profile.abandonment
    if not campaign.amd.enabled or rule is None or not rule.counts_machine_false_positives:
        return 0.0
    measured = campaign.amd.false_positive_rate
    return rule.machine_false_positive_rate if measured is None else measured
